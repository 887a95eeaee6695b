/**
 * A local simulator of the OpenAI Realtime API (GA) WebSocket endpoint.
 *
 * It follows OpenAI's published protocol and the official `openai` npm
 * package's types (see /work/shared/notes/protocols.md), not our server's
 * code, so end-to-end tests catch bridges that would fail against the real
 * API: beta-era session fields, string audio formats, truncating past the
 * audio actually sent, cancelling a response that is no longer active, a
 * second response.create while one is active, answering a call id the model
 * never issued, and waiting for a follow-up response after an MCP call that
 * the API never creates by itself. It never throws on bad client input; it
 * answers with `error` events as the real API does.
 *
 * The implementation lives in ./realtime_sim/, split by concern.
 *
 * @module
 */
export {
  asObject,
  isObject,
  type JsonObject,
  type ServerEventBody,
} from "./realtime_sim/common.ts";
export {
  AUDIO_INPUT_KEYS,
  AUDIO_OUTPUT_KEYS,
  CLIENT_EVENTS,
  defaultSession,
  FORMAT_TYPES,
  GA_KEYS,
  SESSION_KEYS,
  type SimSession,
} from "./realtime_sim/session_schema.ts";
export {
  DEFAULT_MODEL,
  DEFAULT_MODEL_RECORDS,
  type ModelRecordOptions,
} from "./realtime_sim/models.ts";
export type {
  FakeRealtimeOptions,
  McpToolSpec,
} from "./realtime_sim/options.ts";
export type { McpCallError, ResponseStatus } from "./realtime_sim/responses.ts";
export type {
  ApprovalResponse,
  CloseInfo,
  FunctionCallHandle,
  FunctionCallSpec,
  McpCallHandle,
  McpCallSpec,
  McpListing,
  Preamble,
  SpeakHandle,
  SpeakOptions,
  ToolCallOptions,
  Truncation,
} from "./realtime_sim/scripts.ts";
export { FakeRealtimeSession } from "./realtime_sim/session.ts";
export { FakeRealtime } from "./realtime_sim/server.ts";
