/**
 * OpenAI Realtime (GA) event codec: the server events the bridge acts on,
 * parsed once at the edge, and the client events it sends.
 */

import type { TokenCounts } from "../cost/usage.ts";
import { isRecord, parseTypedEvent, str } from "../json.ts";

export interface RealtimeError {
  type: string;
  code: string;
  message: string;
  /** The client event that caused it, when the API says. */
  eventId: string;
  /** The refused parameter, when the API names one. */
  param: string;
}

export type ServerEvent =
  | { type: "session.created" }
  /** The session as set, with its audio formats (`type`, e.g. `audio/pcmu`). */
  | { type: "session.updated"; formats: { input: string; output: string } }
  | { type: "error"; error: RealtimeError }
  | { type: "input_audio_buffer.speech_started"; itemId: string }
  | { type: "input_audio_buffer.speech_stopped"; itemId: string }
  | {
    type: "input_transcription.completed";
    itemId: string;
    transcript: string;
    /** What the transcription is billed for: seconds of audio, or tokens. */
    usage?: { seconds: number } | { tokens: TokenCounts };
  }
  | {
    type: "response.created";
    responseId: string;
    /** Our tag from `response.metadata`, when the bridge requested it. */
    tag: string | undefined;
  }
  | {
    type: "response.output_audio.delta";
    responseId: string;
    itemId: string;
    /** base64 G.711 µ-law, passed through to Twilio untouched. */
    delta: string;
  }
  | {
    type: "response.output_audio_transcript.delta";
    itemId: string;
    delta: string;
  }
  | {
    type: "response.output_audio_transcript.done";
    itemId: string;
    transcript: string;
  }
  | {
    type: "response.function_call_arguments.done";
    responseId: string;
    callId: string;
    name: string;
    arguments: string;
  }
  | {
    type: "response.done";
    responseId: string;
    status: string;
    /** `mcp_call` items in its output: the API ran them and will not answer by itself. */
    mcpCalls: number;
    /** What the response consumed; absent when the API sent no usage. */
    usage?: TokenCounts;
  }
  | { type: "response.mcp_call.in_progress"; itemId: string }
  | {
    /** A finished tool call: an MCP call run by the API, or a function call for us. */
    type: "tool_call.done";
    kind: "mcp" | "function";
    name: string;
    server: string;
    failed: boolean;
    /** For a failed MCP call: protocol_error, tool_execution_error or http_error. */
    errorType: string | undefined;
    /** What an MCP call returned (a resumed call's context). */
    result?: string;
  }
  | {
    type: "mcp_list_tools.completed" | "mcp_list_tools.failed";
    itemId: string;
  }
  | {
    /** The `mcp_list_tools` item: which server, and (once done) how many tools it offered. */
    type: "mcp_list_tools.item";
    itemId: string;
    server: string;
    tools: number | undefined;
  }
  | {
    type: "mcp_approval_request";
    id: string;
    server: string;
    name: string;
  }
  | { type: "ignored"; name: string };

export type ServerParseResult =
  | { ok: true; event: ServerEvent }
  | { ok: false; reason: string };

export function parseServerEvent(data: unknown): ServerParseResult {
  const parsed = parseTypedEvent(data);
  if (!parsed.ok) return parsed;
  const { raw } = parsed;
  const type = raw.type;
  switch (type) {
    case "session.created":
      return { ok: true, event: { type } };
    case "session.updated": {
      const session = isRecord(raw.session) ? raw.session : {};
      const audio = isRecord(session.audio) ? session.audio : {};
      const format = (direction: unknown) => {
        const side = isRecord(direction) ? direction : {};
        return isRecord(side.format) ? str(side.format.type) : "";
      };
      return {
        ok: true,
        event: {
          type,
          formats: { input: format(audio.input), output: format(audio.output) },
        },
      };
    }
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
            param: str(error.param),
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
          ...transcriptionUsage(raw.usage),
        },
      };
    case "response.created":
    case "response.done": {
      const response = isRecord(raw.response) ? raw.response : {};
      if (typeof response.id !== "string") {
        return { ok: false, reason: `${type} without response.id` };
      }
      if (type === "response.created") {
        const metadata = isRecord(response.metadata) ? response.metadata : {};
        const tag = typeof metadata[RESPONSE_TAG] === "string"
          ? metadata[RESPONSE_TAG]
          : undefined;
        return { ok: true, event: { type, responseId: response.id, tag } };
      }
      const output = Array.isArray(response.output) ? response.output : [];
      const usage = realtimeUsage(response.usage);
      return {
        ok: true,
        event: {
          type,
          responseId: response.id,
          status: str(response.status),
          mcpCalls:
            output.filter((item) => isRecord(item) && item.type === "mcp_call")
              .length,
          ...(usage ? { usage } : {}),
        },
      };
    }
    case "response.mcp_call.in_progress":
    case "mcp_list_tools.completed":
    case "mcp_list_tools.failed":
      return { ok: true, event: { type, itemId: str(raw.item_id) } };
    case "conversation.item.added":
    case "conversation.item.done": {
      const item = isRecord(raw.item) ? raw.item : {};
      if (item.type !== "mcp_list_tools") {
        return { ok: true, event: { type: "ignored", name: type } };
      }
      return {
        ok: true,
        event: {
          type: "mcp_list_tools.item",
          itemId: str(item.id),
          server: str(item.server_label),
          tools: type === "conversation.item.done" && Array.isArray(item.tools)
            ? item.tools.length
            : undefined,
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
    case "response.output_audio_transcript.delta":
      return {
        ok: true,
        event: { type, itemId: str(raw.item_id), delta: str(raw.delta) },
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
          responseId: str(raw.response_id),
          callId: str(raw.call_id),
          name: str(raw.name),
          arguments: str(raw.arguments),
        },
      };
    case "response.output_item.done": {
      const item = isRecord(raw.item) ? raw.item : {};
      if (item.type === "mcp_approval_request") {
        return {
          ok: true,
          event: {
            type: "mcp_approval_request",
            id: str(item.id),
            server: str(item.server_label),
            name: str(item.name),
          },
        };
      }
      if (item.type !== "mcp_call" && item.type !== "function_call") {
        return { ok: true, event: { type: "ignored", name: type } };
      }
      const error = isRecord(item.error) ? item.error : undefined;
      return {
        ok: true,
        event: {
          type: "tool_call.done",
          kind: item.type === "mcp_call" ? "mcp" : "function",
          name: str(item.name),
          server: str(item.server_label),
          failed: error !== undefined,
          errorType: error ? str(error.type) : undefined,
          ...(typeof item.output === "string" ? { result: item.output } : {}),
        },
      };
    }
    default:
      return { ok: true, event: { type: "ignored", name: type } };
  }
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0
    ? value
    : 0;
}

/**
 * `response.usage` (openai-node `RealtimeResponseUsage`): input and output
 * split into text and audio; cached tokens are part of the input, split by
 * `input_token_details.cached_tokens_details`.
 */
function realtimeUsage(raw: unknown): TokenCounts | undefined {
  if (!isRecord(raw)) return undefined;
  const input = isRecord(raw.input_token_details)
    ? raw.input_token_details
    : {};
  const cached = isRecord(input.cached_tokens_details)
    ? input.cached_tokens_details
    : {};
  const output = isRecord(raw.output_token_details)
    ? raw.output_token_details
    : {};
  return {
    inputText: count(input.text_tokens),
    inputAudio: count(input.audio_tokens),
    cachedText: count(cached.text_tokens),
    cachedAudio: count(cached.audio_tokens),
    outputText: count(output.text_tokens),
    outputAudio: count(output.audio_tokens),
  };
}

/**
 * An input transcription's `usage` (openai-node
 * `TranscriptTextUsageDuration` or `TranscriptTextUsageTokens`): seconds
 * of audio, or tokens with the input split into text and audio.
 */
function transcriptionUsage(
  raw: unknown,
): { usage?: { seconds: number } | { tokens: TokenCounts } } {
  if (!isRecord(raw)) return {};
  if (raw.type === "duration") {
    return typeof raw.seconds === "number" && raw.seconds > 0
      ? { usage: { seconds: raw.seconds } }
      : {};
  }
  if (raw.type !== "tokens") return {};
  const input = isRecord(raw.input_token_details)
    ? raw.input_token_details
    : {};
  const split = input.text_tokens !== undefined ||
    input.audio_tokens !== undefined;
  return {
    usage: {
      tokens: {
        // Without the split, transcription input is audio.
        inputText: count(input.text_tokens),
        inputAudio: split ? count(input.audio_tokens) : count(raw.input_tokens),
        cachedText: 0,
        cachedAudio: 0,
        outputText: count(raw.output_tokens),
        outputAudio: 0,
      },
    },
  };
}

/** The `response.metadata` key that carries the bridge's tag for a `response.create`. */
export const RESPONSE_TAG = "request";

type InputText = { type: "input_text"; text: string };

/** The client events the bridge sends, as the wire has them (tests hold them to OpenAI's types). */
export type ClientEvent =
  | { type: "input_audio_buffer.append"; audio: string }
  | {
    type: "conversation.item.truncate";
    item_id: string;
    content_index: 0;
    audio_end_ms: number;
  }
  | { type: "response.cancel" }
  | {
    type: "response.create";
    event_id: string;
    response: { metadata: { [RESPONSE_TAG]: string } };
  }
  | {
    type: "conversation.item.create";
    item:
      | { type: "function_call_output"; call_id: string; output: string }
      | { type: "message"; role: "system" | "user"; content: [InputText] }
      | {
        type: "message";
        role: "assistant";
        content: [{ type: "output_text"; text: string }];
      }
      | {
        type: "mcp_approval_response";
        id: string;
        approval_request_id: string;
        approve: boolean;
      };
  };

/** Client events, serialised for the socket. */
export const clientEvents = {
  /** Built by concatenation: base64 needs no JSON escaping, so the payload is never re-serialised. */
  appendAudio(base64Audio: string): string {
    return `{"type":"input_audio_buffer.append","audio":"${base64Audio}"}`;
  },
  truncate(itemId: string, audioEndMs: number): string {
    return encode({
      type: "conversation.item.truncate",
      item_id: itemId,
      content_index: 0,
      audio_end_ms: audioEndMs,
    });
  },
  cancelResponse(): string {
    return encode({ type: "response.cancel" });
  },
  /**
   * Never with `response.instructions`: they would replace the session's
   * (persona, date, time zone) for that response. What to say goes in as a
   * conversation item first. `eventId` comes back in a refusal's `event_id`
   * and, as metadata, in the `response.created` it produced.
   */
  createResponse(eventId: string): string {
    return encode({
      type: "response.create",
      event_id: eventId,
      response: { metadata: { [RESPONSE_TAG]: eventId } },
    });
  },
  functionCallOutput(callId: string, output: string): string {
    return encode({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: callId, output },
    });
  },
  /** A system note in the conversation: guidance the model sees without the caller saying it. */
  systemMessage(text: string): string {
    return encode({
      type: "conversation.item.create",
      item: {
        type: "message",
        role: "system",
        content: [{ type: "input_text", text }],
      },
    });
  },
  /** Caller input that did not come as speech (key presses). */
  userMessage(text: string): string {
    return encode({
      type: "conversation.item.create",
      item: {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text }],
      },
    });
  },
  /** What the assistant said earlier in the call (a resumed call's history). */
  assistantMessage(text: string): string {
    return encode({
      type: "conversation.item.create",
      item: {
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text }],
      },
    });
  },
  mcpApprovalResponse(approvalRequestId: string, approve: boolean): string {
    return encode({
      type: "conversation.item.create",
      item: {
        type: "mcp_approval_response",
        id: `mcpr_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`,
        approval_request_id: approvalRequestId,
        approve,
      },
    });
  },
  /** `eventId` comes back in a refusal's `event_id` (src/realtime/session_setup.ts). */
  sessionUpdate(session: object, eventId: string): string {
    return JSON.stringify({
      type: "session.update",
      event_id: eventId,
      session,
    });
  },
};

function encode(event: ClientEvent): string {
  return JSON.stringify(event);
}
