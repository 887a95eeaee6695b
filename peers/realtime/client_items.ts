/**
 * Items a client creates with `conversation.item.create`, stored as the API
 * stores them.
 *
 * @module
 */
import type { ConversationItem } from "openai/resources/realtime/realtime";
import { isObject, type JsonObject } from "./common.ts";

/** Item types a client may create (the model makes the others). */
export const CLIENT_ITEM_TYPES = [
  "message",
  "function_call",
  "function_call_output",
  "mcp_approval_response",
];

/**
 * A client item as the API stores it: the fields given, plus id, object
 * and status. `#checkNewItem` has checked the fields the simulator reads.
 */
export function clientItem(
  raw: JsonObject,
  id: string,
): (ConversationItem & { id: string }) | null {
  const base = {
    id,
    object: "realtime.item" as const,
    status: "completed" as const,
  };
  switch (raw.type) {
    case "function_call_output":
      return {
        ...base,
        type: "function_call_output",
        call_id: String(raw.call_id),
        output: String(raw.output),
      };
    case "function_call":
      return {
        ...base,
        type: "function_call",
        name: String(raw.name ?? ""),
        arguments: String(raw.arguments ?? ""),
        ...(typeof raw.call_id === "string" ? { call_id: raw.call_id } : {}),
      };
    case "mcp_approval_response":
      return {
        id,
        type: "mcp_approval_response",
        approval_request_id: String(raw.approval_request_id),
        approve: raw.approve === true,
        ...(typeof raw.reason === "string" ? { reason: raw.reason } : {}),
      };
    case "message": {
      const parts = Array.isArray(raw.content)
        ? raw.content.filter(isObject)
        : [];
      if (raw.role === "user") {
        const content = parts.map((c) => ({
          type: pick(c.type, ["input_text", "input_audio", "input_image"]),
          text: text(c.text),
          audio: text(c.audio),
          transcript: text(c.transcript),
          image_url: text(c.image_url),
          detail: pick(c.detail, ["auto", "low", "high"]),
        }));
        return { ...base, type: "message", role: "user", content };
      }
      if (raw.role === "system") {
        const content = parts.map((c) => ({
          type: pick(c.type, ["input_text"]),
          text: text(c.text),
        }));
        return { ...base, type: "message", role: "system", content };
      }
      if (raw.role === "assistant") {
        const content = parts.map((c) => ({
          type: pick(c.type, ["output_text", "output_audio"]),
          text: text(c.text),
          transcript: text(c.transcript),
        }));
        return { ...base, type: "message", role: "assistant", content };
      }
      return null;
    }
    default:
      return null;
  }
}

// Undefined fields vanish from the JSON, as absent fields do in the API's.
function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function pick<T extends string>(
  value: unknown,
  allowed: readonly T[],
): T | undefined {
  return allowed.find((a) => a === value);
}
