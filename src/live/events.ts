/**
 * OpenAI GPT-Live event codec: the server events the Live engine acts on,
 * parsed once at the edge, and the client events it sends (tests hold both
 * to the `openai` package's live types).
 */

import { responsesUsage, type TokenCounts } from "../cost/usage.ts";
import { isRecord, parseTypedEvent, str } from "../json.ts";

/** A function call the delegation backend made, unwrapped from `response.event`. */
export interface LiveFunctionCall {
  callId: string;
  name: string;
  arguments: string;
  /** The delegation whose backend response made it ("" when the API names none). */
  delegationId: string;
}

export type LiveServerEvent =
  | { type: "session.started" }
  | { type: "session.output_audio.delta"; delta: string }
  | { type: "session.input_transcript.delta"; delta: string }
  | { type: "session.output_transcript.delta"; delta: string }
  | { type: "function_call"; call: LiveFunctionCall }
  /** The Live model delegated: `delegation.response_id` is its backend response. */
  | { type: "delegation.created"; delegationId: string; responseId: string }
  /**
   * The backend response ended (completed, failed, incomplete, cancelled),
   * with its tokens and model when the wrapped response carries them.
   */
  | {
    type: "backend_response.done";
    /** The outer `delegation_id`, "" when the event names none. */
    delegationId: string;
    responseId: string;
    usage?: TokenCounts;
    model?: string;
  }
  | { type: "session.usage.updated"; seconds: number }
  | { type: "session.closed"; reason: string; seconds: number | undefined }
  | {
    type: "error";
    code: string;
    errorType: string;
    message: string;
    clientEventId: string;
  }
  | { type: "ignored"; name: string };

export type LiveParseResult =
  | { ok: true; event: LiveServerEvent }
  | { ok: false; reason: string };

/** Responses stream events that end a response. */
const TERMINAL_RESPONSE_EVENTS = new Set([
  "response.completed",
  "response.failed",
  "response.incomplete",
  "response.cancelled",
  "response.done",
]);

export function parseLiveEvent(data: unknown): LiveParseResult {
  const parsed = parseTypedEvent(data);
  if (!parsed.ok) return parsed;
  const { raw } = parsed;
  const type = raw.type;
  switch (type) {
    case "session.started":
      return { ok: true, event: { type } };
    case "session.output_audio.delta":
      if (typeof raw.delta !== "string") {
        return { ok: false, reason: "audio delta without delta" };
      }
      return { ok: true, event: { type, delta: raw.delta } };
    case "session.input_transcript.delta":
    case "session.output_transcript.delta":
      return { ok: true, event: { type, delta: str(raw.delta) } };
    case "session.usage.updated": {
      const usage = isRecord(raw.usage) ? raw.usage : {};
      return typeof usage.seconds === "number"
        ? { ok: true, event: { type, seconds: usage.seconds } }
        : { ok: false, reason: "usage without seconds" };
    }
    case "session.closed": {
      const usage = isRecord(raw.usage) ? raw.usage : {};
      return {
        ok: true,
        event: {
          type,
          reason: str(raw.reason),
          seconds: typeof usage.seconds === "number"
            ? usage.seconds
            : undefined,
        },
      };
    }
    case "error": {
      const error = isRecord(raw.error) ? raw.error : {};
      return {
        ok: true,
        event: {
          type,
          code: str(error.code),
          errorType: str(error.type),
          message: str(error.message),
          clientEventId: str(error.client_event_id) ||
            str(raw.client_event_id),
        },
      };
    }
    case "session.delegation.created": {
      const delegation = isRecord(raw.delegation) ? raw.delegation : {};
      if (typeof delegation.id !== "string") {
        return { ok: false, reason: "delegation without id" };
      }
      return {
        ok: true,
        event: {
          type: "delegation.created",
          delegationId: delegation.id,
          responseId: str(delegation.response_id),
        },
      };
    }
    case "response.event":
      // The outer delegation_id correlates the nested Responses event: the
      // nested stream events themselves carry no response id.
      return parseResponseEvent(raw.event, str(raw.delegation_id));
    default:
      return { ok: true, event: { type: "ignored", name: type } };
  }
}

/** The Responses stream event inside a `response.event`. */
function parseResponseEvent(
  inner: unknown,
  delegationId: string,
): LiveParseResult {
  if (!isRecord(inner) || typeof inner.type !== "string") {
    return { ok: false, reason: "response.event without an event" };
  }
  const response = isRecord(inner.response) ? inner.response : {};
  if (TERMINAL_RESPONSE_EVENTS.has(inner.type)) {
    const usage = responsesUsage(response.usage);
    const model = str(response.model);
    return {
      ok: true,
      event: {
        type: "backend_response.done",
        delegationId,
        responseId: str(response.id),
        ...(usage ? { usage } : {}),
        ...(model ? { model } : {}),
      },
    };
  }
  const item = isRecord(inner.item) ? inner.item : {};
  if (
    inner.type !== "response.output_item.done" || item.type !== "function_call"
  ) {
    return {
      ok: true,
      event: { type: "ignored", name: `response.event/${inner.type}` },
    };
  }
  if (typeof item.call_id !== "string" || typeof item.name !== "string") {
    return { ok: false, reason: "function_call without call_id or name" };
  }
  return {
    ok: true,
    event: {
      type: "function_call",
      call: {
        callId: item.call_id,
        name: item.name,
        arguments: str(item.arguments),
        delegationId,
      },
    },
  };
}

/** A function tool offered to the delegation backend (ours, or Zapier's as listed over MCP). */
export type LiveFunctionTool = {
  type: "function";
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  /** False for Zapier's schemas, whose optional fields strict mode would refuse. */
  strict?: boolean;
};

/** The `session` of `session.start`, exactly as sent. */
/** A text message of `session.start`'s initial history (openai-node `InitialItem`). */
export type LiveInitialItem =
  | {
    type: "message";
    role: "user" | "developer";
    content: [{ type: "input_text"; text: string }];
  }
  | {
    type: "message";
    role: "assistant";
    content: [{ type: "output_text"; text: string }];
  };

export type LiveSessionConfig = {
  model: string;
  instructions: string;
  /** A resumed call's conversation so far. */
  input?: LiveInitialItem[];
  audio: {
    format: { type: "audio/pcmu"; rate: 8000 };
    output: { voice: string };
  };
  delegation: {
    type: "responses";
    responses: {
      model: string;
      instructions: string;
      tools: LiveFunctionTool[];
      tool_choice: "auto";
      parallel_tool_calls: true;
    };
  };
};

type Nullable = { delegation_id: null };

/** The client events the Live engine sends, as the wire has them. */
export type LiveClientEvent =
  | { type: "session.start"; session: LiveSessionConfig }
  | { type: "session.input_audio.append"; audio: string }
  | ({ type: "session.commentary.append"; content: string } & Nullable)
  | ({ type: "session.thinking.append"; content: string } & Nullable)
  | {
    type: "session.update";
    session: {
      delegation: {
        type: "responses";
        responses: { tools: LiveFunctionTool[] };
      };
    };
  }
  | {
    type: "response.item.create";
    item: { type: "function_call_output"; call_id: string; output: string };
  }
  | { type: "response.create"; event_id: string }
  | { type: "session.close" };

export const liveEvents = {
  start(session: LiveSessionConfig): string {
    return encode({ type: "session.start", session });
  },
  /** Built by concatenation: base64 needs no JSON escaping. */
  appendAudio(base64Audio: string): string {
    return `{"type":"session.input_audio.append","audio":"${base64Audio}"}`;
  },
  /** Speakable context: what the model should say now (greeting, goodbye, key presses). */
  commentary(content: string): string {
    return encode({
      type: "session.commentary.append",
      content,
      delegation_id: null,
    });
  },
  /** Silent context: it shapes later speech without asking for any. */
  thinking(content: string): string {
    return encode({
      type: "session.thinking.append",
      content,
      delegation_id: null,
    });
  },
  updateTools(tools: LiveFunctionTool[]): string {
    return encode({
      type: "session.update",
      session: { delegation: { type: "responses", responses: { tools } } },
    });
  },
  functionCallOutput(callId: string, output: string): string {
    return encode({
      type: "response.item.create",
      item: { type: "function_call_output", call_id: callId, output },
    });
  },
  createResponse(eventId: string): string {
    return encode({ type: "response.create", event_id: eventId });
  },
  close(): string {
    return encode({ type: "session.close" });
  },
};

function encode(event: LiveClientEvent): string {
  return JSON.stringify(event);
}
