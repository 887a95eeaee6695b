/**
 * How a FakeRealtime is configured.
 *
 * @module
 */
import type { JsonObject } from "./common.ts";
import type { ModelRecordOptions } from "./models.ts";
import type { ResponsesApiOptions } from "./responses_api.ts";
import type { FakeRealtimeSession } from "./session.ts";

/** A tool the simulated MCP server offers (what its `tools/list` returns). */
export interface McpToolSpec {
  name: string;
  description?: string;
  input_schema?: unknown;
  /** MCP annotations, e.g. `{readOnlyHint: true}` (used by read_only filters). */
  annotations?: JsonObject;
}

export interface FakeRealtimeOptions {
  /** Expected bearer key (default "sk-test"). */
  apiKey?: string;
  /** If set, refuse every handshake with this HTTP status (401, 429, 500…). */
  handshakeStatus?: number;
  /** Delay before accepting a handshake (simulates a slow API). */
  handshakeDelayMs?: number;
  /**
   * Scripts what a client `response.create` produces (e.g. call `speak`,
   * `mcpCall` or `functionCall`). Not called when the create is refused
   * because a response is active. Without it the fake answers with an empty
   * completed response.
   */
  onResponseCreate?: (session: FakeRealtimeSession, event: JsonObject) => void;
  /** Tools every MCP server in a session offers (default none). */
  mcpTools?: McpToolSpec[];
  /** Make every MCP tool listing fail (`mcp_list_tools.failed`). */
  mcpListFails?: boolean;
  /** How long an MCP tool listing takes (default 0: the next macrotask). */
  mcpListDelayMs?: number;
  /** Models shut down: a handshake naming one is refused with 404. */
  retiredModels?: string[];
  /** Extra or overriding model records (`GET /v1/models/{id}`). */
  modelRecords?: Record<string, ModelRecordOptions>;
  /** The `POST /v1/responses` stand-in (call summaries): failures, delay, the model's text. */
  responses?: ResponsesApiOptions;
  /**
   * For load (the bench): sessions keep no client events (`received`,
   * `waitFor`) and no input audio (`inputAudio`), and leave `sessions` once
   * closed, so hundreds of calls for minutes cost the load generator
   * little; the server's tallies still count errors and truncates.
   */
  lean?: boolean;
  /** Called with each caller audio chunk appended, decoded (the bench reads its tags). */
  onInputAudio?: (session: FakeRealtimeSession, audio: Uint8Array) => void;
  /**
   * Server VAD from the audio itself (peers/voice_activity.ts): with
   * `server_vad` turn detection, the energy of the appended audio starts
   * speech and `silence_duration_ms` of quiet audio ends it, as the API
   * hears it. Off by default: tests script speechStarted/speechStopped.
   */
  detectSpeech?: boolean;
  /**
   * Server VAD ended a turn and, with `create_response`, answers it: script
   * that response here (e.g. `speak`), as `onResponseCreate` does for a
   * client's create.
   */
  onTurnEnd?: (session: FakeRealtimeSession) => void;
}
