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
  /** The voice API refused the session (a bad key, an unknown model): no resume helps. */
  | "upstream refused"
  | "call sid mismatch"
  | "protocol violation"
  | "server shutting down"
  /** Ended at a quiet moment so another instance resumes the call (deploys). */
  | "handover"
  /** Answering machine detection's late verdict on a call the server placed. */
  | "answering machine";

/** How a call ended, in the journal's words. */
export type CallOutcome =
  | "caller_hung_up"
  | "assistant_ended"
  | "limit"
  | "error"
  | "shutdown"
  | "handover"
  /** Its instance died and the call was never continued (see src/call/lease.ts). */
  | "interrupted"
  /** A machine answered a call the server placed: Twilio leaves the message. */
  | "voicemail";

export const OUTCOMES: Record<EndReason, CallOutcome> = {
  "caller hung up": "caller_hung_up",
  // Twilio sends `stop` when the caller hangs up: a close without it is a
  // lost connection, and Twilio's continuation resumes the call.
  "media stream closed": "error",
  "assistant ended the call": "assistant_ended",
  "call time limit": "limit",
  "daily budget reached": "limit",
  "no start from Twilio": "error",
  "caller not reading": "error",
  "upstream closed": "error",
  "upstream error": "error",
  "upstream refused": "error",
  "call sid mismatch": "error",
  "protocol violation": "error",
  "server shutting down": "shutdown",
  "handover": "handover",
  "answering machine": "voicemail",
};

/**
 * Outcomes that end the call on purpose: the goodbye, a limit, the caller
 * hanging up, an answering machine. Any other end of a stream resumes the
 * call (src/call/lease.ts).
 */
export function endedOnPurpose(outcome: CallOutcome): boolean {
  return outcome === "assistant_ended" || outcome === "limit" ||
    outcome === "caller_hung_up" || outcome === "voicemail";
}

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
  /** What the tool returned, when the engine sees it (kept for a resume, not journaled). */
  result?: string;
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
  | { kind: "seconds"; model: string; seconds: number }
  /**
   * Audio billed by duration, one piece at a time (a Realtime input
   * transcription's `usage: {type: "duration"}`): it adds to what came before.
   */
  | { kind: "duration"; model: string; seconds: number };

/** Where each call's observer comes from (the journal). */
/** Why a call was resumed: its instance died, it was handed over, or its stream dropped. */
export type ResumeCause = "crash" | "handover" | "dropped";

/** Which stream of a call Twilio carries: 0 for the first, then one more per resume. */
export interface SegmentInfo {
  number: number;
  cause?: ResumeCause;
}

export interface CallRecorder {
  /** `flushed` resolves once what was observed so far is written. */
  observe(
    callSid: string,
    source: string,
    segment?: SegmentInfo,
  ): CallObserver & { flushed(): Promise<void> };
}

export interface CallObserver {
  started?(call: { callSid: string; streamSid: string; caller: string }): void;
  transcript?(role: "caller" | "assistant", text: string): void;
  /** A piece of the assistant's line in progress (`transcript` follows once it is whole). */
  transcriptDelta?(itemId: string, delta: string): void;
  toolCall?(call: ToolCallRecord): void;
  /** The MCP server's tools could not be listed: this call has none of them. */
  mcpToolsUnavailable?(server: string): void;
  /** End of the caller's speech → first assistant audio of the answer. */
  turnLatency?(ms: number): void;
  /** What the voice session consumed (tokens of a response, or seconds so far). */
  usage?(report: UsageReport): void;
  /** Who is speaking now, for a resume: the assistant (audio playing), the caller, or nobody. */
  speaking?(who: Speaker): void;
  ended?(summary: CallSummary): void;
}

export type Speaker = "assistant" | "caller" | "nobody";

export interface CallLimits {
  /** The assistant says goodbye and the call ends after this long. */
  maxCallMs: number;
  /** A stream that sends no `start` within this is closed. */
  startTimeoutMs: number;
}
