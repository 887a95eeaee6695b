/**
 * The GPT-Live engine of one call. GPT-Live has no responses to create,
 * cancel or truncate: the model handles interruptions itself, so the bridge
 * paces playback (`playbackWindowMs`). Tools run through delegation: the
 * backend's function calls arrive wrapped in `response.event`; this engine
 * runs them (the server's own tools, or Zapier's through the server's MCP
 * client), answers each with `response.item.create`, then `response.create`
 * the moment the last output of the delegation is in (`DelegationPlan`). There is no output
 * "done" event, so a goodbye is said once its audio has started and then
 * gone quiet (`QuietGoodbye`); transcript deltas become journal lines
 * (`TranscriptLines`). The planners decide; this class sends, and runs each
 * planner's one timer on the `Clock`.
 */

import type { Cancel, Clock } from "../call/clock.ts";
import {
  type EngineListener,
  upstreamClosed,
  type VoiceEngine,
} from "../call/engine.ts";
import type { HeardPosition } from "../call/playback_ledger.ts";
import type { UpstreamPort } from "../upstream/port.ts";
import { DEFAULT_LIVE_BACKEND_MODEL, DEFAULT_LIVE_MODEL } from "../config.ts";
import type { Logger } from "../log.ts";
import type { ToolBox, ToolOutcome } from "../tools/toolbox.ts";
import { DelegationPlan } from "./delegation_plan.ts";
import { QuietGoodbye } from "./quiet_goodbye.ts";
import { type TranscriptLine, TranscriptLines } from "./transcript_lines.ts";
import {
  liveEvents,
  type LiveFunctionCall,
  type LiveFunctionTool,
  type LiveServerEvent,
  parseLiveEvent,
} from "./events.ts";

/** The server's MCP client, as this engine uses it (src/mcp/). */
export interface RemoteTools {
  list(): Promise<LiveFunctionTool[]>;
  call(
    name: string,
    args: unknown,
  ): Promise<
    { ok: true; output: string } | {
      ok: false;
      error: string;
      errorType: string;
    }
  >;
}

export interface LiveEngineOptions {
  logger: Logger;
  clock: Clock;
  /** The function tools this server runs (end_call and the rest). */
  tools: ToolBox;
  callSid: string;
  /** Zapier through the server's MCP client; undefined without ZAPIER_MCP_PASSWORD. */
  remoteTools?: RemoteTools;
  /** The MCP server's label, for the logs and the journal. */
  remoteLabel?: string;
  /** Said at pickup (GREETING). */
  greeting?: string;
  /** This call's own opening instruction (a call the server placed); wins over `greeting`. */
  opening?: string;
  /** The Live model and the delegation backend's, which price the usage. */
  model?: string;
  backendModel?: string;
}

/** Audio kept queued at Twilio: the caller stops hearing the model within this. */
export const LIVE_PLAYBACK_WINDOW_MS = 240;

export function liveGreeting(greeting: string): string {
  return `Greet the caller now by saying exactly this, and nothing else: "${greeting}"`;
}
export function liveDtmfNote(digits: string): string {
  return `The caller pressed ${digits} on the phone keypad; respond to it.`;
}
export function liveToolsUnavailableNote(server: string): string {
  return `The ${server} tools (Todoist, Gmail and the rest) could not be reached and are unavailable on this call. ` +
    "If the caller asks for something that needs them, say plainly that you cannot reach those tools right now.";
}

export class LiveEngine implements VoiceEngine {
  readonly playbackWindowMs = LIVE_PLAYBACK_WINDOW_MS;
  readonly #upstream: UpstreamPort;
  readonly #options: LiveEngineOptions;
  readonly #logger: Logger;
  readonly #started = Promise.withResolvers<number>();
  #isStarted = false;
  #listener: EngineListener | undefined;
  readonly #delegations = new DelegationPlan();
  /** Delegations by their backend response, for terminal events that name no delegation. */
  readonly #delegationOf = new Map<string, string>();
  #requests = 0;
  readonly #goodbye = new QuietGoodbye();
  readonly #lines = new TranscriptLines();
  /** The planners' timers: each wakes its planner at its `wakeAt`. */
  #goodbyeTimer: Cancel | undefined;
  #linesTimer: Cancel | undefined;
  #over = false;
  /** Clock time of `session.started`, and the seconds reported so far. */
  #startedAtMs: number | undefined;
  #billedSeconds = 0;

  constructor(upstream: UpstreamPort, options: LiveEngineOptions) {
    this.#upstream = upstream;
    this.#options = options;
    this.#logger = options.logger;
    // Nobody may be waiting on a session that never starts.
    this.#started.promise.catch(() => {});
    upstream.opened.catch((error) => this.#started.reject(error));
  }

  get isOpen(): boolean {
    return this.#isStarted && this.#upstream.isOpen;
  }

  /** Resolves at `session.started`: no audio may go before it. */
  get opened(): Promise<number> {
    return this.#started.promise;
  }

  get closed(): Promise<void> {
    return this.#upstream.closed;
  }

  get startedAt(): number {
    return this.#upstream.startedAt;
  }

  attach(listener: EngineListener): void {
    this.#listener = listener;
    this.#upstream.attach({
      message: (data) => this.#onFrame(data),
      closed: (reason) => this.#end(reason),
    });
    this.#offerRemoteTools();
  }

  callerAudio(payload: string): void {
    if (this.#isStarted) this.#upstream.send(liveEvents.appendAudio(payload));
  }

  callerKeys(digits: string): void {
    this.#upstream.send(liveEvents.commentary(liveDtmfNote(digits)));
  }

  /** Nothing to truncate or cancel: GPT-Live stops talking by itself. */
  interrupted(_heard: HeardPosition[]): void {}

  sayGoodbye(instruction: string): void {
    if (this.#goodbye.begun) return;
    this.#upstream.send(liveEvents.commentary(instruction));
    this.#awaitGoodbye();
  }

  /** Ends the session (`session.close`) and the socket: no session outlives its call. */
  close(): void {
    if (!this.#over) {
      this.#upstream.send(liveEvents.close());
      // The final `session.closed` usage comes after the call has ended:
      // bill what the session has run so far, as the API counts it.
      if (this.#startedAtMs !== undefined && this.#listener) {
        const elapsed = (this.#options.clock.now() - this.#startedAtMs) / 1000;
        this.#seconds(
          Math.max(this.#billedSeconds, Math.round(elapsed * 1000) / 1000),
          this.#listener,
        );
      }
    }
    this.#stop();
    this.#upstream.close();
  }

  /** The upstream side ended the session (`session.closed`, or the socket). */
  #end(detail: string): void {
    if (this.#over) return;
    this.#stop();
    this.#started.reject(new Error(detail));
    this.#listener?.ended(upstreamClosed(detail), detail);
  }

  /** The one teardown, however the session ends: last lines out, timers off. */
  #stop(): void {
    this.#over = true;
    this.#writeLines(this.#lines.flush());
    this.#goodbyeTimer?.();
    this.#linesTimer?.();
    this.#goodbyeTimer = this.#linesTimer = undefined;
  }

  #onFrame(data: unknown): void {
    if (this.#over) return;
    const parsed = parseLiveEvent(data);
    if (!parsed.ok) {
      this.#logger.log("warn", "upstream.bad_event", { reason: parsed.reason });
      return;
    }
    this.#onEvent(parsed.event, this.#listener!);
  }

  /** The assistant speaks first: this call's opening, else the greeting. */
  #open(): void {
    const { opening, greeting } = this.#options;
    const first = opening ??
      (greeting === undefined ? undefined : liveGreeting(greeting));
    if (first !== undefined) {
      this.#upstream.send(liveEvents.commentary(first));
    }
  }

  #onEvent(event: LiveServerEvent, listener: EngineListener): void {
    switch (event.type) {
      case "session.started":
        this.#isStarted = true;
        this.#startedAtMs = this.#options.clock.now();
        this.#started.resolve(performance.now());
        this.#open();
        return;
      case "session.output_audio.delta":
        listener.audio("", event.delta);
        if (this.#goodbye.begun) {
          this.#goodbye.audio(event.delta, this.#options.clock.now());
          this.#wakeGoodbye();
        }
        return;
      case "session.input_transcript.delta":
        this.#transcript("caller", event.delta);
        return;
      case "session.output_transcript.delta":
        this.#transcript("assistant", event.delta);
        return;
      case "function_call":
        this.#onFunctionCall(event.call, listener);
        return;
      case "backend_response.done":
        if (event.usage) {
          listener.usage({
            kind: "tokens",
            model: event.model ??
              this.#options.backendModel ?? DEFAULT_LIVE_BACKEND_MODEL,
            tokens: event.usage,
          });
        }
        this.#backendDone(event.delegationId, event.responseId);
        return;
      case "delegation.created":
        if (event.responseId) {
          this.#delegationOf.set(event.responseId, event.delegationId);
        }
        return;
      case "session.usage.updated":
        this.#seconds(event.seconds, listener);
        return;
      case "session.closed":
        if (event.seconds !== undefined) {
          this.#seconds(event.seconds, listener);
        }
        this.#end(`session closed: ${event.reason}`);
        return;
      case "error":
        // Errors are about one client event; the socket closing ends a session.
        this.#logger.log("warn", "upstream.error", {
          type: event.errorType,
          code: event.code || undefined,
          eventId: event.clientEventId || undefined,
          message: event.message.slice(0, 200),
        });
        return;
      case "ignored":
        return;
    }
  }

  /** Billed seconds so far: cumulative, so each report replaces the last. */
  #seconds(seconds: number, listener: EngineListener): void {
    this.#billedSeconds = Math.max(this.#billedSeconds, seconds);
    listener.usage({
      kind: "seconds",
      model: this.#options.model ?? DEFAULT_LIVE_MODEL,
      seconds,
    });
  }

  // --- tools -----------------------------------------------------------

  /** Lists Zapier's tools (cached by the MCP client) and offers them to the backend. */
  #offerRemoteTools(): void {
    const remote = this.#options.remoteTools;
    if (!remote) return;
    const server = this.#options.remoteLabel ?? "zapier";
    // Nothing may go before session.started (the API refuses it): both the
    // tools and the note that there are none wait for it.
    const once = (run: () => void) =>
      this.#started.promise.then(() => {
        if (!this.#over) run();
      }, () => {});
    remote.list().then(
      (tools) =>
        once(() => {
          const ours = this.#options.tools.definitions
            .filter((own) => !tools.some((t) => t.name === own.name));
          this.#logger.log("info", "mcp.tools_listed", {
            server,
            tools: tools.length,
          });
          this.#upstream.send(liveEvents.updateTools([...ours, ...tools]));
        }),
      () =>
        once(() => {
          this.#logger.log("warn", "mcp.tools_unavailable", { server });
          this.#listener?.toolsUnavailable(server);
          this.#upstream.send(
            liveEvents.thinking(liveToolsUnavailableNote(server)),
          );
        }),
    );
  }

  #onFunctionCall(call: LiveFunctionCall, listener: EngineListener): void {
    this.#delegations.called(call.delegationId, call.callId);
    const own = this.#options.tools.has(call.name);
    if (!own) listener.toolStarted();
    const started = this.#options.clock.now();
    const running = own
      ? Promise.resolve(
        this.#options.tools.run(call.name, call.arguments, {
          callSid: this.#options.callSid,
        }),
      )
      : this.#runRemote(call);
    running.then((outcome) => {
      if (!own) {
        const failed = outcome.output.ok === false;
        const errorType = typeof outcome.output.errorType === "string"
          ? outcome.output.errorType
          : undefined;
        this.#logger.log(failed ? "warn" : "info", "tool_call", {
          kind: "mcp",
          name: call.name,
          failed,
          errorType,
          durationMs: Math.round(this.#options.clock.now() - started),
        });
        listener.toolCall({
          name: call.name,
          server: this.#options.remoteLabel ?? "zapier",
          failed,
          errorType,
          result: JSON.stringify(outcome.output),
        });
      }
      this.#answer(call, outcome);
    });
  }

  async #runRemote(call: LiveFunctionCall): Promise<ToolOutcome> {
    const remote = this.#options.remoteTools;
    if (!remote) {
      return { output: { ok: false, error: `unknown tool ${call.name}` } };
    }
    let args: unknown = {};
    try {
      args = call.arguments.trim() ? JSON.parse(call.arguments) : {};
    } catch {
      return { output: { ok: false, error: "arguments are not valid JSON" } };
    }
    const result = await remote.call(call.name, args);
    return result.ok ? { output: { ok: true, result: result.output } } : {
      output: {
        ok: false,
        error: result.error,
        errorType: result.errorType,
      },
    };
  }

  #answer(call: LiveFunctionCall, outcome: ToolOutcome): void {
    if (this.#over) return;
    this.#upstream.send(
      liveEvents.functionCallOutput(
        call.callId,
        JSON.stringify(outcome.output),
      ),
    );
    const goOn = this.#delegations.answered(call.callId);
    if (outcome.hangUp && !this.#goodbye.begun) {
      this.#listener?.hangUpRequested();
      this.#awaitGoodbye();
    }
    if (goOn) this.#continue();
  }

  /** A backend response ended: it makes no more calls in its delegation. */
  #backendDone(delegationId: string, responseId: string): void {
    const delegation = delegationId || this.#delegationOf.get(responseId);
    this.#delegationOf.delete(responseId);
    if (this.#delegations.ended(delegation ?? "")) this.#continue();
  }

  /** Every output the backend waits for is in (DelegationPlan): go on. */
  #continue(): void {
    if (this.#over) return;
    this.#upstream.send(
      liveEvents.createResponse(`create_${++this.#requests}`),
    );
  }

  // --- goodbye -----------------------------------------------------------

  #awaitGoodbye(): void {
    this.#goodbye.begin(this.#options.clock.now());
    this.#wakeGoodbye();
  }

  /** (Re)arms the goodbye's timer for the planner's `wakeAt`. */
  #wakeGoodbye(): void {
    this.#goodbyeTimer?.();
    this.#goodbyeTimer = this.#wake(this.#goodbye.wakeAt, () => {
      this.#goodbyeTimer = undefined;
      if (this.#goodbye.due(this.#options.clock.now())) {
        this.#listener?.goodbyeSaid();
      } else this.#wakeGoodbye();
    });
  }

  // --- transcripts -------------------------------------------------------

  #transcript(role: "caller" | "assistant", delta: string): void {
    this.#writeLines(this.#lines.delta(role, delta, this.#options.clock.now()));
    this.#wakeLines();
  }

  /** (Re)arms the transcript's timer for the planner's `wakeAt`. */
  #wakeLines(): void {
    this.#linesTimer?.();
    this.#linesTimer = this.#wake(this.#lines.wakeAt, () => {
      this.#linesTimer = undefined;
      this.#writeLines(this.#lines.due(this.#options.clock.now()));
      this.#wakeLines();
    });
  }

  #writeLines(lines: TranscriptLine[]): void {
    for (const line of lines) this.#listener?.transcript(line.role, line.text);
  }

  /** A timer that runs `run` at clock time `at`; none once the session is over. */
  #wake(at: number | undefined, run: () => void): Cancel | undefined {
    if (at === undefined || this.#over) return undefined;
    const clock = this.#options.clock;
    return clock.after(Math.max(0, at - clock.now()), run);
  }
}
