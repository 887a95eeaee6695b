/**
 * The public shapes of what a test scripts on a FakeRealtimeSession (speech,
 * function calls, MCP calls) and of what the session records.
 *
 * @module
 */
import type { RealtimeMcpListTools } from "openai/resources/realtime/realtime";
import type { JsonObject } from "./common.ts";
import type { McpCallError, ResponseStatus } from "./responses.ts";

export interface SpeakOptions {
  /** Bytes per `response.output_audio.delta` (default 800). */
  chunkBytes?: number;
  /** Pause between deltas; 0 means one delta per macrotask (default 0). */
  intervalMs?: number;
  /** Optional transcript, sent as one transcript delta and its done event. */
  transcript?: string;
  /**
   * The base64 each delta carries, made as it is sent (default: the
   * chunk's own bytes); it must encode `chunk.length` bytes. The bench
   * stamps a send-time tag into each delta this way.
   */
  payload?: (index: number, chunk: Uint8Array) => string;
}

export interface SpeakHandle {
  responseId: string;
  itemId: string;
  /** Resolves with the final response status ("completed" or "cancelled"). */
  done: Promise<ResponseStatus>;
}

/** What gpt-realtime-2.x says before a tool call ("let me check…"). */
export interface Preamble extends SpeakOptions {
  audio: Uint8Array;
}

export interface FunctionCallSpec {
  name: string;
  /** JSON text, or a value to JSON-encode (default "{}"). */
  arguments?: string | JsonObject;
  /** Default: a fresh `call_…` id. */
  callId?: string;
}

export interface McpCallSpec {
  name: string;
  /** Default: the only MCP server in the session. */
  serverLabel?: string;
  /** JSON text, or a value to JSON-encode (default "{}"). */
  arguments?: string | JsonObject;
  /** The tool's result text (default "{}"), unless `error` is set. */
  output?: string;
  /** Makes the call fail: `response.mcp_call.failed` and this item error. */
  error?: McpCallError;
  /** How long the MCP server takes (default 0). */
  durationMs?: number;
  /** Spoken before the call; with several calls, put it in the options instead. */
  preamble?: Preamble;
}

export interface ToolCallOptions {
  preamble?: Preamble;
}

export interface FunctionCallHandle {
  responseId: string;
  preambleItemId: string | null;
  /** The function_call item ids, in output order. */
  itemIds: string[];
  callIds: string[];
  done: Promise<ResponseStatus>;
}

export interface McpCallHandle {
  responseId: string;
  preambleItemId: string | null;
  /** One item per call, in order: an mcp_call, or an mcp_approval_request. */
  itemIds: string[];
  /** The subset of `itemIds` that are approval requests. */
  approvalRequestIds: string[];
  done: Promise<ResponseStatus>;
}

export interface Truncation {
  itemId: string;
  audioEndMs: number;
  /** Duration of the item's audio actually sent when the truncate arrived. */
  sentMs: number;
  /** False when the API refused it (audio_end_ms beyond the audio sent). */
  accepted: boolean;
}

export type { CloseInfo } from "../sim_socket.ts";

export interface McpListing {
  serverLabel: string;
  itemId: string;
  status: "in_progress" | "completed" | "failed";
  /** The tools listed (after `allowed_tools`); empty unless completed. */
  tools: RealtimeMcpListTools.Tool[];
}

export interface ApprovalResponse {
  itemId: string;
  approvalRequestId: string;
  approve: boolean;
  reason: string | null;
}
