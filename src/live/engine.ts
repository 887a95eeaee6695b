/**
 * The GPT-Live engine of one call. GPT-Live has no responses to create,
 * cancel or truncate: the model handles interruptions itself, so the bridge
 * paces playback (`playbackWindowMs`). Tools run through delegation: the
 * backend's function calls arrive wrapped in `response.event`; this engine
 * runs them (the server's own tools, or Zapier's through the server's MCP
 * client), answers each with `response.item.create`, then `response.create`
 * the moment the last output of the delegation is in (`DelegationPlan`). There is no output
 * "done" event, so a goodbye is said once its audio has started and then
 * gone quiet.
 */

import type { Clock } from "../call/clock.ts";
import type { EngineListener, VoiceEngine } from "../call/engine.ts";
import type { HeardPosition } from "../call/playback_ledger.ts";
import type { UpstreamPort } from "../upstream/port.ts";
import { DEFAULT_LIVE_BACKEND_MODEL, DEFAULT_LIVE_MODEL } from "../config.ts";
import type { Logger } from "../log.ts";
import { muLawDecode } from "../audio/mulaw.ts";
import type { ToolBox, ToolOutcome } from "../tools/toolbox.ts";
import { DelegationPlan } from "./delegation_plan.ts";
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
/** After end_call or a goodbye request, how long to wait for the goodbye to start. */
export const GOODBYE_START_MS = 5_000;
/** No delta for this long: the goodbye has been said. */
export const GOODBYE_QUIET_MS = 800;
/** Transcript deltas this far apart start a new journal line. */
export const TRANSCRIPT_GAP_MS = 1_500;

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
  /** A goodbye under way: waiting for its audio to start, then to go quiet. */
  #goodbye: { heard: boolean; cancel?: () => void } | undefined;
  #lines: {
    role: "caller" | "assistant";
    text: string;
    flush?: () => void;
  }[] = [];
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
    if (this.#goodbye) return;
    this.#upstream.send(liveEvents.commentary(instruction));
    this.#awaitGoodbye();
  }

  /** Ends the session (`session.close`) and the socket: no session outlives its call. */
  close(): void {
    if (!this.#over) {
      this.#over = true;
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
    this.#flushLines();
    this.#goodbye?.cancel?.();
    this.#upstream.close();
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
        if (this.#goodbye) this.#goodbyeAudio(event.delta);
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
    if (outcome.hangUp && !this.#goodbye) {
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

  /**
   * There is no output "done" event: the goodbye is said once its audio has
   * started arriving and then gone quiet (or never started within a bound).
   */
  #awaitGoodbye(): void {
    this.#goodbye = { heard: false };
    this.#goodbye.cancel = this.#options.clock.after(
      GOODBYE_START_MS,
      () => this.#goodbyeSaid(),
    );
  }

  #goodbyeAudio(delta: string): void {
    const goodbye = this.#goodbye!;
    // The API may stream silence while the model is not speaking: only
    // speech starts or extends the goodbye.
    if (isSilence(delta)) return;
    goodbye.heard = true;
    goodbye.cancel?.();
    goodbye.cancel = this.#options.clock.after(
      GOODBYE_QUIET_MS,
      () => this.#goodbyeSaid(),
    );
  }

  #goodbyeSaid(): void {
    if (this.#over || !this.#goodbye) return;
    this.#goodbye.cancel = undefined;
    this.#listener?.goodbyeSaid();
  }

  // --- transcripts -------------------------------------------------------

  /** Deltas are grouped into lines: a new line when the speaker changes or after a pause. */
  #transcript(role: "caller" | "assistant", delta: string): void {
    if (!delta) return;
    let line = this.#lines.find((l) => l.role === role);
    if (!line) {
      line = { role, text: "" };
      this.#lines.push(line);
    }
    // The other speaker's line is complete once this one speaks.
    for (const other of this.#lines) {
      if (other.role !== role) this.#flushLine(other);
    }
    line.text += delta;
    line.flush?.();
    const current = line;
    line.flush = this.#options.clock.after(
      TRANSCRIPT_GAP_MS,
      () => this.#flushLine(current),
    );
  }

  #flushLine(
    line: { role: "caller" | "assistant"; text: string; flush?: () => void },
  ): void {
    line.flush?.();
    line.flush = undefined;
    const text = line.text.trim();
    line.text = "";
    if (text) this.#listener?.transcript(line.role, text);
  }

  #flushLines(): void {
    for (const line of this.#lines) this.#flushLine(line);
  }

  #end(detail: string): void {
    if (this.#over) return;
    this.#over = true;
    this.#flushLines();
    this.#goodbye?.cancel?.();
    this.#started.reject(new Error(detail));
    this.#listener?.ended("upstream closed", detail);
  }
}

/** Below this µ-law amplitude a sample is silence (comfort noise included). */
const SILENCE_LEVEL = 100;

/** True when a base64 µ-law delta carries no speech. */
export function isSilence(delta: string): boolean {
  const bytes = Uint8Array.fromBase64(delta);
  return bytes.every((byte) => Math.abs(muLawDecode(byte)) < SILENCE_LEVEL);
}
