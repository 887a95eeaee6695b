/**
 * OpenAI Realtime (GA) event codec: the server events the bridge acts on,
 * parsed once at the edge, and the client events it sends.
 */

export interface RealtimeError {
  type: string;
  code: string;
  message: string;
  /** The client event that caused it, when the API says. */
  eventId: string;
}

export type ServerEvent =
  | { type: "session.created" }
  | { type: "session.updated" }
  | { type: "error"; error: RealtimeError }
  | { type: "input_audio_buffer.speech_started"; itemId: string }
  | { type: "input_audio_buffer.speech_stopped"; itemId: string }
  | {
    type: "input_transcription.completed";
    itemId: string;
    transcript: string;
  }
  | { type: "response.created"; responseId: string }
  | {
    type: "response.output_audio.delta";
    responseId: string;
    itemId: string;
    /** base64 G.711 µ-law, passed through to Twilio untouched. */
    delta: string;
  }
  | {
    type: "response.output_audio_transcript.done";
    itemId: string;
    transcript: string;
  }
  | {
    type: "response.function_call_arguments.done";
    callId: string;
    name: string;
    arguments: string;
  }
  | { type: "response.done"; responseId: string; status: string }
  | {
    /** A finished tool call: an MCP call run by the API, or a function call for us. */
    type: "tool_call.done";
    kind: "mcp" | "function";
    name: string;
    server: string;
    failed: boolean;
  }
  | { type: "ignored"; name: string };

export type ServerParseResult =
  | { ok: true; event: ServerEvent }
  | { ok: false; reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

export function parseServerEvent(data: unknown): ServerParseResult {
  if (typeof data !== "string") return { ok: false, reason: "binary frame" };
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, reason: "event is not JSON" };
  }
  if (!isRecord(raw) || typeof raw.type !== "string") {
    return { ok: false, reason: "event has no type" };
  }
  const type = raw.type;
  switch (type) {
    case "session.created":
    case "session.updated":
      return { ok: true, event: { type } };
    case "error": {
      const error = isRecord(raw.error) ? raw.error : {};
      return {
        ok: true,
        event: {
          type,
          error: {
            type: str(error.type),
            code: str(error.code),
            message: str(error.message),
            eventId: str(error.event_id),
          },
        },
      };
    }
    case "input_audio_buffer.speech_started":
    case "input_audio_buffer.speech_stopped":
      return { ok: true, event: { type, itemId: str(raw.item_id) } };
    case "conversation.item.input_audio_transcription.completed":
      return {
        ok: true,
        event: {
          type: "input_transcription.completed",
          itemId: str(raw.item_id),
          transcript: str(raw.transcript),
        },
      };
    case "response.created":
    case "response.done": {
      const response = isRecord(raw.response) ? raw.response : {};
      if (typeof response.id !== "string") {
        return { ok: false, reason: `${type} without response.id` };
      }
      return type === "response.created"
        ? { ok: true, event: { type, responseId: response.id } }
        : {
          ok: true,
          event: {
            type,
            responseId: response.id,
            status: str(response.status),
          },
        };
    }
    case "response.output_audio.delta":
      if (
        typeof raw.delta !== "string" || typeof raw.item_id !== "string" ||
        typeof raw.response_id !== "string"
      ) {
        return {
          ok: false,
          reason: "audio delta without delta, item_id or response_id",
        };
      }
      return {
        ok: true,
        event: {
          type,
          responseId: raw.response_id,
          itemId: raw.item_id,
          delta: raw.delta,
        },
      };
    case "response.output_audio_transcript.done":
      return {
        ok: true,
        event: {
          type,
          itemId: str(raw.item_id),
          transcript: str(raw.transcript),
        },
      };
    case "response.function_call_arguments.done":
      return {
        ok: true,
        event: {
          type,
          callId: str(raw.call_id),
          name: str(raw.name),
          arguments: str(raw.arguments),
        },
      };
    case "response.output_item.done": {
      const item = isRecord(raw.item) ? raw.item : {};
      if (item.type !== "mcp_call" && item.type !== "function_call") {
        return { ok: true, event: { type: "ignored", name: type } };
      }
      return {
        ok: true,
        event: {
          type: "tool_call.done",
          kind: item.type === "mcp_call" ? "mcp" : "function",
          name: str(item.name),
          server: str(item.server_label),
          failed: item.error !== undefined && item.error !== null,
        },
      };
    }
    default:
      return { ok: true, event: { type: "ignored", name: type } };
  }
}

/** Client events, serialised for the socket. */
export const clientEvents = {
  /** Built by concatenation: base64 needs no JSON escaping, so the payload is never re-serialised. */
  appendAudio(base64Audio: string): string {
    return `{"type":"input_audio_buffer.append","audio":"${base64Audio}"}`;
  },
  truncate(itemId: string, audioEndMs: number): string {
    return JSON.stringify({
      type: "conversation.item.truncate",
      item_id: itemId,
      content_index: 0,
      audio_end_ms: audioEndMs,
    });
  },
  cancelResponse(): string {
    return '{"type":"response.cancel"}';
  },
  createResponse(instructions?: string): string {
    return JSON.stringify(
      instructions === undefined
        ? { type: "response.create" }
        : { type: "response.create", response: { instructions } },
    );
  },
  functionCallOutput(callId: string, output: string): string {
    return JSON.stringify({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: callId, output },
    });
  },
  sessionUpdate(session: Record<string, unknown>): string {
    return JSON.stringify({ type: "session.update", session });
  },
};
