/**
 * A local simulator of OpenAI's GPT-Live primary WebSocket
 * (`wss://api.openai.com/v1/live/sessions`), for tests and the benchmark.
 *
 * Written from OpenAI's GPT-Live documentation and the official `openai`
 * package's live types (every server event it emits is typed as the live
 * `ServerEvent`; every client event it accepts is validated by a schema built
 * from that event's own interface), plus a few behaviours measured against
 * the real API by third parties and marked as such. It does not follow our
 * server's code. Inconvenient behaviours are modelled: a strict
 * `session.start`, nothing accepted before `session.started`, no truncate,
 * cancel or commit, no speech-start or output-done event, output paced at
 * real time, function calls wrapped in `response.event`, and a
 * `response.create` refused until every call has its output.
 *
 * Usage mirrors the Realtime simulator:
 *
 * ```ts
 * const live = await FakeLive.start({ onResponseCreate: (s) => s.reply("Hi") });
 * // … point the server at live.url …
 * const session = await live.nextSession();
 * await session.waitStarted();
 * session.speak(ulaw, { transcript: "Hello" });
 * await live.close();
 * ```
 *
 * @module
 */
export {
  APPEND_TOKEN_LIMIT,
  approxTokens,
  INSTRUCTIONS_TOKEN_LIMIT,
  isObject,
  type JsonObject,
  type Problem,
  type ServerEventBody,
} from "./common.ts";
export { audioSpec, DEFAULT_FORMAT } from "./audio.ts";
export type {
  CallOptions,
  FunctionCallHandle,
  FunctionCallSpec,
  FunctionOutput,
} from "./backend.ts";
export { CLIENT_EVENT_TYPES } from "./client_events.ts";
export type {
  AppendKind,
  AppendRecord,
  CloseInfo,
  FakeLiveOptions,
} from "./options.ts";
export { DEFAULT_VOICE } from "./session_config.ts";
export type { SpeakHandle, SpeakOptions, SpeakResult } from "./voice.ts";
export {
  type CloseReason,
  FakeLiveSession,
  type SessionState,
} from "./session.ts";
export { FakeLive, LIVE_PATH } from "./server.ts";
