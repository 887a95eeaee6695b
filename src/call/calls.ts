/**
 * The calls this instance carries: pre-warmed upstream sessions waiting for
 * their stream, and live bridges. Owns their lifecycle (start, drain, close).
 */

import type { Config } from "../config.ts";
import { within } from "../http/deadline.ts";
import type { Logger } from "../log.ts";
import type { Memory, MemoryContext } from "../memory/memory.ts";
import type { StreamTokenClaims } from "../stream_token.ts";
import { endCall } from "../tools/end_call.ts";
import { type ServerTool, ToolBox } from "../tools/toolbox.ts";
import {
  PrewarmedSessions,
  type UnclaimedListener,
} from "../upstream/prewarm.ts";
import type { UpstreamPort } from "../upstream/port.ts";
import type { UpstreamSocket } from "../upstream/upstream_socket.ts";
import { CallBridge } from "./bridge.ts";
import type { CallContexts } from "./call_context.ts";
import type { EngineDescriptor, EngineTable, VoiceEngine } from "./engine.ts";
import { combineObservers } from "./observers.ts";
import type { CallLeases } from "./lease.ts";
import type { Verdict, Verdicts } from "./verdicts.ts";
import { webSocketPort } from "./ports.ts";
import {
  type CallContext,
  planResume,
  type ResumePlan,
} from "./resume_plan.ts";
import {
  type CallObserver,
  type CallRecorder,
  endedOnPurpose,
  type EndReason,
  type ResumeCause,
} from "../call_vocabulary.ts";

/** Another listener on every call (the budget): it may end the call with a goodbye. */
export type CallWatcher = (call: {
  callSid: string;
  startedAt: number;
  hangUp(reason: EndReason, goodbye: string): void;
}) => CallObserver;

/** One stream of a call Twilio carries (the first, or a resume), from its lease. */
export interface CallSegment {
  /** 0 for the first stream, then one more per resume. */
  number: number;
  cause?: ResumeCause;
  /** The conversation so far, and what the new session is given (resumes only). */
  context?: CallContext;
  plan?: ResumePlan;
}

/** How long a stream waits for a quiet moment before it is handed over anyway. */
export const HANDOVER_WAIT_MS = 4_000;

/** A slow KV read must not hold the call's first words: it starts without memory. */
const MEMORY_READ_TIMEOUT_MS = 1_000;

export interface CallsOptions {
  config: Config;
  logger: Logger;
  journal: CallRecorder;
  /** The voice engines by name; `config.assistant.engine` picks the one calls use. */
  engines: EngineTable;
  /** Milliseconds allowed for the upstream handshake. */
  upstreamConnectTimeoutMs?: number;
  /** The function tools the server runs for the assistant (end_call at least). */
  tools?: ServerTool[];
  /** What the assistant remembers, read into each call's instructions (MEMORY). */
  memory?: Memory;
  /** Listeners beside the journal on every call. */
  watchers?: CallWatcher[];
  /** What a pre-warmed session that no stream claimed consumed (to be paid for). */
  unclaimed?: UnclaimedListener;
  /** One stream per call and resumes (src/call/lease.ts); none: neither. */
  leases?: CallLeases;
  /** Each call's conversation, for a resume. */
  contexts?: CallContexts;
  /** AMD's verdicts, which may reach another instance than the stream. */
  verdicts?: Verdicts;
}

export class Calls {
  readonly live = new Set<CallBridge>();
  /** Ended calls whose lease and context are still being written. */
  readonly #recording = new Set<Promise<void>>();
  readonly #prewarmed: PrewarmedSessions;
  readonly #options: CallsOptions;
  readonly #tools: ToolBox;
  readonly #engine: EngineDescriptor;
  /** Live calls the server placed whose AMD verdict has not come yet. */
  readonly #awaitingVerdict = new Map<string, CallBridge>();

  constructor(options: CallsOptions) {
    this.#options = options;
    this.#engine = options.engines[options.config.assistant.engine];
    this.#prewarmed = new PrewarmedSessions(
      this.#engine.heldUsage(options.config),
      options.unclaimed,
    );
    this.#tools = new ToolBox(options.tools ?? [endCall]);
  }

  /** Calls live or being set up: what MAX_CONCURRENT_CALLS counts. */
  get load(): number {
    return this.live.size + this.#prewarmed.size;
  }

  /**
   * Opens the call's voice session now, for the stream that will present
   * this token. `opening`: what the assistant says first on this call (a
   * call the server placed); undefined: GREETING, if set.
   */
  prewarm(
    claims: StreamTokenClaims,
    opening?: string,
    resume?: ResumePlan,
  ): void {
    this.#prewarmed.add(
      claims.nonce,
      claims.callSid,
      this.#openUpstream(opening, resume),
      claims.expiresAt,
    );
  }

  /** What a new session resuming this call is given: the plan from its kept conversation. */
  async resumePlan(callSid: string): Promise<ResumePlan | undefined> {
    return planResume(await this.#context(callSid));
  }

  /**
   * A Twilio stream of this call is starting here: this instance now holds
   * its lease. The segment (with the conversation so far when it is a
   * resume); undefined without leases or when the call has none.
   */
  async claimStream(callSid: string): Promise<CallSegment | undefined> {
    const lease = await this.#options.leases?.goLive(callSid);
    if (!lease) return undefined;
    if (lease.segment === 0) return { number: 0 };
    const context = await this.#context(callSid);
    return {
      number: lease.segment,
      cause: lease.cause,
      context,
      plan: planResume(context),
    };
  }

  /** The call is over without a stream of its own to say so: its conversation goes. */
  async forget(callSid: string): Promise<void> {
    await this.#options.contexts?.delete(callSid);
  }

  async #context(callSid: string): Promise<CallContext> {
    return await this.#options.contexts?.read(callSid) ??
      { lines: [], speaking: "nobody" };
  }

  /**
   * Bridges an accepted media-stream socket to its (pre-warmed or new)
   * upstream session; `opening` as given to `prewarm`, `segment` from
   * `claimStream`.
   */
  start(
    socket: WebSocket,
    claims: StreamTokenClaims,
    opening?: string,
    segment?: CallSegment,
  ): CallBridge {
    const { config, logger, journal, leases, contexts } = this.#options;
    const warm = this.#prewarmed.take(claims.nonce);
    const resume = segment?.plan;
    const context = segment && contexts?.recorder(
      claims.callSid,
      segment.context,
    );
    const journaled = journal.observe(claims.callSid, claims.source, segment);
    const bridge = new CallBridge({
      twilio: webSocketPort(socket),
      expectedCallSid: claims.callSid,
      engine: this.#engineFor(
        warm ?? this.#openUpstream(opening, resume),
        claims.callSid,
        opening,
        resume,
      ),
      prewarmed: warm !== undefined,
      thinkingSound: config.assistant.thinkingSound,
      logger,
      limits: {
        maxCallMs: config.calls.maxMinutes * 60_000,
        startTimeoutMs: config.calls.streamStartTimeoutSeconds * 1000,
      },
      observer: combineObservers([
        journaled,
        ...(context ? [context] : []),
        ...(this.#options.watchers ?? []).map((watch) =>
          watch({
            callSid: claims.callSid,
            startedAt: Date.now(),
            hangUp: (reason, goodbye) => bridge.hangUp(reason, goodbye),
          })
        ),
      ]),
    });
    this.live.add(bridge);
    const recorded = bridge.done.then(async ({ outcome, reason }) => {
      // The continuation reads how the call ended (a voicemail) once the lease says so.
      await Promise.all([context?.flushed(), journaled.flushed()]);
      if (segment && leases) {
        await leases.streamEnded(claims.callSid, segment.number, reason);
        // The real end: the conversation is no longer needed.
        if (endedOnPurpose(outcome)) await contexts?.delete(claims.callSid);
      }
    }).catch((error) =>
      logger.log("error", "lease.write_failed", {
        callSid: claims.callSid,
        error: error instanceof Error ? error.message : String(error),
      })
    );
    bridge.done.then(() => this.live.delete(bridge));
    // A drain waits for these writes too: the next instance reads them.
    this.#recording.add(recorded);
    recorded.then(() => this.#recording.delete(recorded));
    // A call the server placed (it has an opening) waits for AMD's verdict,
    // which may have come before its stream: it is read once now, then on
    // each heartbeat until it is in.
    if (opening !== undefined && segment) {
      this.#awaitingVerdict.set(claims.callSid, bridge);
      bridge.done.then(() => this.#awaitingVerdict.delete(claims.callSid));
      this.#readVerdicts([claims.callSid]).catch((error) =>
        logger.log("warn", "verdict.read_failed", {
          callSid: claims.callSid,
          error: error instanceof Error ? error.message : String(error),
        })
      );
    }
    return bridge;
  }

  /**
   * Ends every live stream at its next quiet moment as a handover (another
   * instance resumes it); resolves once they are closed and recorded.
   */
  async handOver(maxWaitMs = HANDOVER_WAIT_MS): Promise<void> {
    const handing = [...this.live];
    for (const call of handing) call.handOver(maxWaitMs);
    await Promise.all(handing.map((call) => call.closed));
    await this.#recorded();
  }

  /** Resolves once every ended call's lease and context are written. */
  async #recorded(): Promise<void> {
    while (this.#recording.size > 0) await Promise.all([...this.#recording]);
  }

  /**
   * AMD's verdict on a call the server placed, wherever it arrived: kept in
   * KV for the instance carrying the stream (which may be another, or may
   * not have started it yet), and acted on at once if it is this one. A
   * machine: the call ends once what the assistant said so far has played.
   */
  async verdict(callSid: string, verdict: Verdict): Promise<void> {
    await this.#options.verdicts?.record(callSid, verdict);
    this.#apply(callSid, verdict);
  }

  /** Reads the verdicts this instance's placed calls still wait for (on a heartbeat). */
  async applyVerdicts(): Promise<void> {
    await this.#readVerdicts([...this.#awaitingVerdict.keys()]);
  }

  async #readVerdicts(callSids: string[]): Promise<void> {
    if (callSids.length === 0 || !this.#options.verdicts) return;
    const found = await this.#options.verdicts.read(callSids);
    for (const [callSid, verdict] of found) this.#apply(callSid, verdict);
  }

  #apply(callSid: string, verdict: Verdict): void {
    const bridge = this.#awaitingVerdict.get(callSid);
    if (!bridge) return;
    this.#awaitingVerdict.delete(callSid);
    if (verdict.end) bridge.endAfterPlayback(verdict.end);
  }

  /** Lets live calls go on for up to `seconds`, then closes what is left. */
  async drain(seconds: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise((resolve) => {
      timer = setTimeout(resolve, seconds * 1000);
    });
    // Calls can still connect during the drain (their webhook came first).
    while (this.live.size > 0) {
      const ended = await Promise.race([
        Promise.all([...this.live].map((call) => call.done)).then(() => true),
        deadline.then(() => false),
      ]);
      if (!ended) break;
    }
    clearTimeout(timer);
    // At the deadline what is left is handed over, not cut: a new process
    // that is up by then resumes it.
    await this.handOver();
    await this.close();
  }

  /** Ends every call and closes every upstream socket; resolves when they are closed. */
  async close(): Promise<void> {
    const ending = [...this.live];
    for (const call of ending) call.end("server shutting down");
    await Promise.all([
      this.#prewarmed.closeAll(),
      ...ending.map((call) => call.closed),
    ]);
    await this.#recorded();
  }

  /** The configured voice engine, over a (pre-warmed or new) socket. */
  #engineFor(
    upstream: UpstreamPort,
    callSid: string,
    opening: string | undefined,
    resume: ResumePlan | undefined,
  ): VoiceEngine {
    const { config, logger } = this.#options;
    return this.#engine.create(upstream, {
      config,
      tools: this.#tools,
      callSid,
      logger: logger.with({ callSid }),
      opening,
      resume,
    });
  }

  /** The memory for a new call's instructions; none if it cannot be read in time. */
  async #memory(memory: Memory): Promise<MemoryContext | undefined> {
    try {
      const context = await within(memory.context(), MEMORY_READ_TIMEOUT_MS);
      if (!context) this.#options.logger.log("warn", "memory.read_slow");
      return context;
    } catch (error) {
      this.#options.logger.log("warn", "memory.read_failed", {
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  /**
   * Opens the configured engine's socket: the first events (the session,
   * the greeting's request on Realtime) go as soon as it is open.
   */
  #openUpstream(opening?: string, resume?: ResumePlan): UpstreamSocket {
    const { config, upstreamConnectTimeoutMs } = this.#options;
    return this.#engine.open({
      config,
      tools: this.#tools,
      opening,
      resume,
      // The memory is read while the handshake runs; the session waits for it.
      memory: this.#options.memory && this.#memory(this.#options.memory),
      // A caller waiting longer than this hears the apology instead.
      connectTimeoutMs: upstreamConnectTimeoutMs ?? 5_000,
    });
  }
}
