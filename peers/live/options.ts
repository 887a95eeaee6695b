/**
 * How a FakeLive is configured, and the records a session keeps of what the
 * client sent.
 *
 * @module
 */
import type { FunctionOutput } from "./backend.ts";
import type { FakeLiveSession } from "./session.ts";

export interface FakeLiveOptions {
  /** Expected bearer key (default "sk-test"). */
  apiKey?: string;
  /** If set, refuse every handshake with this HTTP status (401, 429, 500…). */
  handshakeStatus?: number;
  /** Network latency in front of the server before a handshake connects. */
  handshakeDelayMs?: number;
  /** Models session.start may name (default ["gpt-live-1"]). */
  models?: string[];
  /**
   * From a valid session.start to session.started (default 100 ms; a probe
   * of the real API measured 0.5–1.2 s). Anything the client sends in that
   * window is refused, as before session.start.
   */
  startDelayMs?: number;
  /**
   * After a session.start error the real API aborted the socket ~2 s later
   * (no close frame, no session.closed). Default 2000.
   */
  startupErrorCloseMs?: number;
  /** Session lifetime reported in `expires_at` (default 3600 s). */
  sessionSeconds?: number;
  /** Delay of `session.*.appended` acknowledgements (default 0). */
  appendAckDelayMs?: number;
  /**
   * Stream silence deltas whenever the model is not speaking, as a
   * third-party probe of the real API observed (default false).
   */
  idleSilence?: boolean;
  /** Emit session.usage.updated with the elapsed seconds this often. */
  usageEveryMs?: number;
  /** Per-session response.item.create budget (default 128 items, 32768 B). */
  responseInputLimits?: { items: number; bytes: number };
  /** A response.create queued behind a running response starts this long
   * after it ends (default 150 ms, as measured). */
  queuedResponseDelayMs?: number;
  /**
   * Scripts the backend's work after an accepted client `response.create`:
   * the continuation after function outputs (`outputs` non-empty) or a new
   * delegation. Call `session.reply(…)` or `session.callFunction(…)`. Without
   * it the response completes with no output.
   */
  onResponseCreate?: (
    session: FakeLiveSession,
    outputs: FunctionOutput[],
  ) => void | Promise<void>;
  /** Called after each accepted instructions/thinking/commentary append. */
  onAppend?: (session: FakeLiveSession, append: AppendRecord) => void;
  /** Called right after session.started (e.g. to script a greeting). */
  onStarted?: (session: FakeLiveSession) => void;
  /**
   * For load (the bench): sessions keep no client events (`received`,
   * `waitFor`), no server events (`emitted`) and no input audio
   * (`inputAudio`), and leave `sessions` once closed, so hundreds of calls
   * for minutes cost the load generator little. Clients connect straight to
   * it, not through the relay, so `drop()` is not available (unless
   * `handshakeDelayMs` asks for the relay).
   */
  lean?: boolean;
  /** Called with each caller audio chunk appended, decoded (the bench reads its tags). */
  onInputAudio?: (session: FakeLiveSession, audio: Uint8Array) => void;
  /**
   * The Live model hears the caller stop from the audio itself
   * (peers/voice_activity.ts): after this much quiet audio (ms) following
   * speech, `onTurnEnd` scripts its answer. Off by default.
   */
  detectSpeechSilenceMs?: number;
  /** The caller's turn ended (detectSpeechSilenceMs): script the model's answer (e.g. `speak`). */
  onTurnEnd?: (session: FakeLiveSession) => void;
}

export type AppendKind = "instructions" | "thinking" | "commentary";

export interface AppendRecord {
  kind: AppendKind;
  content: string;
  delegationId: string | null;
  clientEventId: string | null;
  /** Session timeline position when it was accepted (ms). */
  atMs: number;
}

export type { CloseInfo } from "../sim_socket.ts";
