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
 * The implementation lives beside this file, split by concern. For load
 * (the bench), `lean: true` keeps no client events or audio and drops
 * closed sessions; `onInputAudio` and `SpeakOptions.payload` let a load
 * generator read and stamp the audio as it passes.
 *
 * @module
 */
export {
  asObject,
  errorEvent,
  isObject,
  type JsonObject,
  SERVER_ERROR_MESSAGE,
  type ServerEventBody,
} from "./common.ts";
export {
  CLIENT_EVENTS,
  defaultSession,
  type SimSession,
  TRANSCRIPTION_MODELS,
} from "./session_schema.ts";
export {
  DEFAULT_MODEL,
  DEFAULT_MODEL_RECORDS,
  type ModelRecordOptions,
} from "./models.ts";
export type { FakeRealtimeOptions, McpToolSpec } from "./options.ts";
export type { McpCallError, ResponseStatus } from "./responses.ts";
export type { ResponseBody, ResponsesApiOptions } from "./responses_api.ts";
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
} from "./scripts.ts";
export { FakeRealtimeSession, type SessionTally } from "./session.ts";
export { FakeRealtime } from "./server.ts";
