/**
 * The words a call is described in: how it ended, what it reports as it
 * goes. The bridge speaks them and the journal records them, so they live
 * apart from both.
 */

export type EndReason =
  | "caller hung up"
  | "media stream closed"
  | "assistant ended the call"
  | "call time limit"
  | "daily budget reached"
  | "no start from Twilio"
  | "caller not reading"
  | "upstream closed"
  | "upstream error"
  | "call sid mismatch"
  | "protocol violation"
  | "server shutting down";

/** How a call ended, in the journal's words. */
export type CallOutcome =
  | "caller_hung_up"
  | "assistant_ended"
  | "limit"
  | "error"
  | "shutdown";

export const OUTCOMES: Record<EndReason, CallOutcome> = {
  "caller hung up": "caller_hung_up",
  "media stream closed": "caller_hung_up",
  "assistant ended the call": "assistant_ended",
  "call time limit": "limit",
  "daily budget reached": "limit",
  "no start from Twilio": "error",
  "caller not reading": "error",
  "upstream closed": "error",
  "upstream error": "error",
  "call sid mismatch": "error",
  "protocol violation": "error",
  "server shutting down": "shutdown",
};

export interface CallSummary {
  reason: EndReason;
  outcome: CallOutcome;
  detail: string;
  callSid: string;
  durationMs: number;
  framesIn: number;
  framesOut: number;
  bargeIns: number;
}

/** A finished tool call, as the journal records it. */
export interface ToolCallRecord {
  name: string;
  /** The MCP server's label; empty for a function tool. */
  server: string;
  failed: boolean;
  /** For a failed MCP call: protocol_error, tool_execution_error or http_error. */
  errorType: string | undefined;
}

/** What a call reports as it goes (the call journal listens). */
/**
 * Tokens as the APIs count them: `input*` include their cached part
 * (`cached*` is a subset), as in Realtime's `usage.input_token_details`
 * and Responses' `usage.input_tokens_details.cached_tokens`.
 */
export interface TokenCounts {
  inputText: number;
  inputAudio: number;
  cachedText: number;
  cachedAudio: number;
  outputText: number;
  outputAudio: number;
}

/** One usage report from an engine or a background job. */
export type UsageReport =
  /** The tokens of one response: they add to what came before. */
  | { kind: "tokens"; model: string; tokens: TokenCounts }
  /**
   * A session's billed seconds so far: GPT-Live reports a cumulative total
   * ("do not sum this value across usage events"), so it replaces the last.
   */
  | { kind: "seconds"; model: string; seconds: number };

/** Where each call's observer comes from (the journal). */
export interface CallRecorder {
  observe(callSid: string, source: string): CallObserver;
}

export interface CallObserver {
  started?(call: { callSid: string; streamSid: string; caller: string }): void;
  transcript?(role: "caller" | "assistant", text: string): void;
  toolCall?(call: ToolCallRecord): void;
  /** The MCP server's tools could not be listed: this call has none of them. */
  mcpToolsUnavailable?(server: string): void;
  /** End of the caller's speech → first assistant audio of the answer. */
  turnLatency?(ms: number): void;
  /** What the voice session consumed (tokens of a response, or seconds so far). */
  usage?(report: UsageReport): void;
  ended?(summary: CallSummary): void;
}

export interface CallLimits {
  /** The assistant says goodbye and the call ends after this long. */
  maxCallMs: number;
  /** A stream that sends no `start` within this is closed. */
  startTimeoutMs: number;
}
