/**
 * The calls this instance carries: pre-warmed upstream sessions waiting for
 * their stream, and live bridges. Owns their lifecycle (start, drain, close).
 */

import type { Config } from "../config.ts";
import { within } from "../http/deadline.ts";
import type { Logger } from "../log.ts";
import type { Memory, MemoryContext } from "../memory/memory.ts";
import {
  PrewarmedSessions,
  type UnclaimedListener,
} from "../realtime/prewarm.ts";
import { LiveEngine, type RemoteTools } from "../live/engine.ts";
import { liveEvents } from "../live/events.ts";
import { liveSessionConfig } from "../live/session.ts";
import { RealtimeEngine } from "../realtime/engine.ts";
import { initialEvents } from "../realtime/session.ts";
import { RealtimeUpstream } from "../realtime/upstream.ts";
import type { StreamTokenClaims } from "../stream_token.ts";
import { endCall } from "../tools/end_call.ts";
import { type ServerTool, ToolBox } from "../tools/toolbox.ts";
import { CallBridge } from "./bridge.ts";
import { realClock } from "./clock.ts";
import type { VoiceEngine } from "./engine.ts";
import { combineObservers } from "./observers.ts";
import { type UpstreamPort, webSocketPort } from "./ports.ts";
import type {
  CallObserver,
  CallRecorder,
  EndReason,
} from "../call_vocabulary.ts";

/** Another listener on every call (the budget): it may end the call with a goodbye. */
export type CallWatcher = (call: {
  callSid: string;
  startedAt: number;
  hangUp(reason: EndReason, goodbye: string): void;
}) => CallObserver;

/** A slow KV read must not hold the call's first words: it starts without memory. */
const MEMORY_READ_TIMEOUT_MS = 1_000;

export interface CallsOptions {
  config: Config;
  logger: Logger;
  journal: CallRecorder;
  /** Milliseconds allowed for the upstream handshake. */
  upstreamConnectTimeoutMs?: number;
  /** The function tools the server runs for the assistant (end_call at least). */
  tools?: ServerTool[];
  /** Zapier through the server's own MCP client (the GPT-Live engine only). */
  remoteTools?: RemoteTools;
  /** What the assistant remembers, read into each call's instructions (MEMORY). */
  memory?: Memory;
  /** Listeners beside the journal on every call. */
  watchers?: CallWatcher[];
  /** What a pre-warmed session that no stream claimed consumed (to be paid for). */
  unclaimed?: UnclaimedListener;
}

export class Calls {
  readonly live = new Set<CallBridge>();
  readonly #prewarmed: PrewarmedSessions;
  readonly #options: CallsOptions;
  readonly #tools: ToolBox;

  constructor(options: CallsOptions) {
    this.#options = options;
    const live = options.config.assistant.engine === "live";
    this.#prewarmed = new PrewarmedSessions({
      kind: live ? "live" : "realtime",
      model: live ? options.config.live.model : options.config.realtime.model,
    }, options.unclaimed);
    this.#tools = new ToolBox(options.tools ?? [endCall]);
  }

  /** Calls live or being set up: what MAX_CONCURRENT_CALLS counts. */
  get load(): number {
    return this.live.size + this.#prewarmed.size;
  }

  /**
   * Opens the call's Realtime session now, for the stream that will present
   * this token. `opening`: what the assistant says first on this call (a
   * call the server placed); undefined: GREETING, if set.
   */
  prewarm(claims: StreamTokenClaims, opening?: string): void {
    this.#prewarmed.add(
      claims.nonce,
      claims.callSid,
      this.#openUpstream(opening),
      claims.expiresAt,
    );
    // GPT-Live: list Zapier's tools now (the MCP client caches them), so the
    // engine offers them as soon as the call starts; a failure is handled there.
    this.#options.remoteTools?.list().catch(() => {});
  }

  /**
   * Bridges an accepted media-stream socket to its (pre-warmed or new)
   * upstream session; `opening` as given to `prewarm`.
   */
  start(
    socket: WebSocket,
    claims: StreamTokenClaims,
    opening?: string,
  ): CallBridge {
    const { config, logger, journal } = this.#options;
    const warm = this.#prewarmed.take(claims.nonce);
    const bridge = new CallBridge({
      twilio: webSocketPort(socket),
      expectedCallSid: claims.callSid,
      engine: this.#engineFor(
        warm ?? this.#openUpstream(opening),
        claims.callSid,
        opening,
      ),
      prewarmed: warm !== undefined,
      thinkingSound: config.assistant.thinkingSound,
      logger,
      limits: {
        maxCallMs: config.calls.maxMinutes * 60_000,
        startTimeoutMs: config.calls.streamStartTimeoutSeconds * 1000,
      },
      observer: combineObservers([
        journal.observe(claims.callSid, claims.source),
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
    bridge.done.then(() => this.live.delete(bridge));
    return bridge;
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
  }

  /** The configured voice engine, over a (pre-warmed or new) socket. */
  #engineFor(
    upstream: UpstreamPort,
    callSid: string,
    opening: string | undefined,
  ): VoiceEngine {
    const { config, logger, remoteTools } = this.#options;
    const callLogger = logger.with({ callSid });
    if (config.assistant.engine === "live") {
      return new LiveEngine(upstream, {
        logger: callLogger,
        clock: realClock,
        tools: this.#tools,
        callSid,
        remoteTools,
        greeting: config.assistant.greeting,
        opening,
        model: config.live.model,
        backendModel: config.live.backendModel,
      });
    }
    return new RealtimeEngine(upstream, {
      logger: callLogger,
      tools: this.#tools,
      callSid,
      greetingRequested: opening !== undefined ||
        config.assistant.greeting !== undefined,
      model: config.realtime.model,
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
  #openUpstream(opening?: string): RealtimeUpstream {
    const { config, upstreamConnectTimeoutMs } = this.#options;
    const now = new Date();
    const live = config.assistant.engine === "live";
    const events = (memory?: MemoryContext) =>
      live
        ? [
          liveEvents.start(
            liveSessionConfig(config, now, this.#tools.definitions, memory),
          ),
        ]
        : initialEvents(
          config,
          now,
          this.#tools.definitions,
          memory,
          opening,
        );
    return new RealtimeUpstream({
      url: live ? config.live.url : config.realtime.url,
      apiKey: config.openai.apiKey,
      // The memory is read while the handshake runs; the session waits for it.
      initialEvents: this.#options.memory
        ? this.#memory(this.#options.memory).then(events)
        : events(),
      // A caller waiting longer than this hears the apology instead.
      connectTimeoutMs: upstreamConnectTimeoutMs ?? 5_000,
    });
  }
}
