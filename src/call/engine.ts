/**
 * The voice engine of one call, as the bridge sees it: a small,
 * protocol-neutral interface. The bridge owns the Twilio side (frames,
 * playback, marks, barge-in clearing, limits, the journal); an engine owns
 * one voice API's protocol (OpenAI Realtime today) behind this seam, so
 * another engine plugs in beside it without touching the Twilio side, the
 * journal or the security layers.
 */

import type { Config } from "../config.ts";
import type { VoiceEngineName } from "../config/table.ts";
import type { Logger } from "../log.ts";
import type { MemoryContext } from "../memory/memory.ts";
import type { ToolBox } from "../tools/toolbox.ts";
import type { HeldUsage } from "../upstream/prewarm.ts";
import type { UpstreamPort } from "../upstream/port.ts";
import type { UpstreamSocket } from "../upstream/upstream_socket.ts";
import type { HeardPosition } from "./playback_ledger.ts";
import type { ResumePlan } from "./resume_plan.ts";
import type { ToolCallRecord, UsageReport } from "../call_vocabulary.ts";

/** Why the engine's session is over. */
export type EngineEnd =
  | "upstream closed"
  | "upstream error"
  | "upstream refused";

/**
 * How a closed upstream socket ended the session: a handshake the API
 * refused with a 4xx (a bad key, an unknown or retired model) is refused,
 * and resuming would only be refused again; anything else (a dropped
 * socket, 408, 429, a 5xx) is worth a resume.
 */
export function upstreamClosed(detail: string): EngineEnd {
  const status = /handshake refused with HTTP (\d{3})/.exec(detail)?.[1];
  return status !== undefined && status.startsWith("4") &&
      status !== "408" && status !== "429"
    ? "upstream refused"
    : "upstream closed";
}

/** What an engine tells the bridge. */
export interface EngineListener {
  /** Assistant audio (base64 µ-law) to play; `itemId` names what a barge-in truncates. */
  audio(itemId: string, delta: string): void;
  /** The caller started speaking: stop the assistant now (barge-in). */
  callerStartedSpeaking(): void;
  /** The caller's turn is over: the next audio answers it (turn latency). */
  callerStoppedSpeaking(): void;
  /** A tool started running upstream: the line may be silent for a while. */
  toolStarted(): void;
  transcript(role: "caller" | "assistant", text: string): void;
  /** A piece of the assistant's line in progress (`transcript` follows once it is whole). */
  transcriptDelta?(itemId: string, delta: string): void;
  toolCall(call: ToolCallRecord): void;
  /** The MCP server's tools could not be listed: the call goes on without them. */
  toolsUnavailable(server: string): void;
  /** The model asked to end the call (`end_call`); `goodbyeSaid` follows. */
  hangUpRequested(): void;
  /** The goodbye (asked for, or under way at `end_call`) has been sent in full. */
  goodbyeSaid(): void;
  /** What the session has consumed, as the API reported it: the call's cost comes from these. */
  usage(report: UsageReport): void;
  /** The session is over; `detail` is safe to log. */
  ended(reason: EngineEnd, detail: string): void;
}

/** One call's session with a voice API. */
export interface VoiceEngine {
  /** Starts delivering what the engine heard, first what came before. */
  attach(listener: EngineListener): void;
  readonly isOpen: boolean;
  /** Resolves with performance.now() once open; rejects if it never opens. */
  readonly opened: Promise<number>;
  /** Resolves once the socket is fully closed. */
  readonly closed: Promise<void>;
  /** performance.now() when the handshake began. */
  readonly startedAt: number;
  /**
   * Set for engines that cannot truncate what the caller has not heard
   * (GPT-Live): the bridge keeps at most this much audio queued at Twilio.
   * Undefined: audio goes to Twilio as it comes and barge-in truncates.
   */
  readonly playbackWindowMs?: number;
  callerAudio(payload: string): void;
  /** Key presses, already grouped by the bridge. */
  callerKeys(digits: string): void;
  /** The caller interrupted and Twilio was cleared: these items were heard this far. */
  interrupted(heard: HeardPosition[]): void;
  /** Asks for a goodbye in the assistant's voice; `goodbyeSaid` follows. */
  sayGoodbye(instruction: string): void;
  close(): void;
}

/** One call, as its engine's socket and the engine itself are given it. */
export interface EngineCall {
  config: Config;
  /** The function tools the server runs (end_call at least). */
  tools: ToolBox;
  /** What the assistant says first on a call the server placed; undefined: GREETING, if set. */
  opening?: string;
  /** Set when this session continues a call whose stream ended (src/call/resume_plan.ts). */
  resume?: ResumePlan;
}

/**
 * One voice engine, as `Calls` uses it: open the call's socket (pre-warmed,
 * before the stream exists), then create the engine on it. `services.ts`
 * hands `Calls` a table of these by name (`VOICE_ENGINE` picks one).
 */
export interface EngineDescriptor {
  /**
   * Opens the call's socket: the first events go as soon as it is open.
   * `memory`, when the server remembers, is being read while the handshake
   * runs; the session waits for it.
   */
  open(
    call: EngineCall & {
      memory?: Promise<MemoryContext | undefined>;
      connectTimeoutMs: number;
    },
  ): UpstreamSocket;
  /** The engine of one call, over its (pre-warmed or new) socket. */
  create(
    upstream: UpstreamPort,
    call: EngineCall & { callSid: string; logger: Logger },
  ): VoiceEngine;
  /** What a pre-warmed session that no stream claimed consumed, to be priced. */
  heldUsage(config: Config): HeldUsage;
}

/** The voice engines `Calls` can run, by `VOICE_ENGINE`'s value. */
export type EngineTable = Readonly<
  Record<VoiceEngineName, EngineDescriptor>
>;
