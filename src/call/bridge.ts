/**
 * One call: relays µ-law audio between the Twilio media stream and the
 * OpenAI Realtime socket, handles barge-in, hang-up and limits, and tears
 * both sockets down together.
 */

import type { Logger } from "../log.ts";
import {
  clientEvents,
  parseServerEvent,
  type RealtimeError,
  type ServerEvent,
} from "../realtime/events.ts";
import { GREETING_REQUEST } from "../realtime/session.ts";
import {
  base64ByteLength,
  parseTwilioMessage,
  type StartMessage,
  TwilioEncoder,
  type TwilioMessage,
} from "../twilio/media_stream.ts";
import { HangupPlan, type HangupStep } from "./hangup_plan.ts";
import { FILLER, PlaybackLedger } from "./playback_ledger.ts";
import {
  type ResponseReason,
  type ResponseRequest,
  ResponseScheduler,
} from "./response_scheduler.ts";
import { thinkingChunks } from "./thinking_sound.ts";
import { type Cancel, type Clock, realClock } from "./clock.ts";
import type { TwilioPort, UpstreamPort } from "./ports.ts";
import {
  type CallLimits,
  type CallObserver,
  type CallSummary,
  type EndReason,
  OUTCOMES,
} from "./vocabulary.ts";

export interface BridgeOptions {
  /** The accepted media-stream socket. */
  twilio: TwilioPort;
  /** The CallSid the stream token was minted for. */
  expectedCallSid: string;
  upstream: UpstreamPort;
  /** Whether the upstream was opened at the webhook (for the logs). */
  prewarmed?: boolean;
  /** The greeting's response.create went out with the session (GREETING set). */
  greetingRequested?: boolean;
  /** A quiet sound while an MCP tool runs and nothing else plays (THINKING_SOUND). */
  thinkingSound?: boolean;
  logger: Logger;
  limits: CallLimits;
  observer?: CallObserver;
  /** The real clock unless a test passes its own. */
  clock?: Clock;
}

/** Caller audio held while the upstream socket opens: 15 s of 20 ms frames. */
const MAX_EARLY_FRAMES = 750;
/** Malformed frames tolerated (and logged) before the stream is closed. */
const MAX_BAD_FRAMES = 50;
/** Twilio not reading: more than this queued on its socket ends the call. */
const MAX_TWILIO_BUFFERED_BYTES = 4 * 1024 * 1024;
/** A goodbye that never finishes playing does not keep the call open. */
const GOODBYE_TIMEOUT_MS = 20_000;

/** Key presses this close together go to the model as one input. */
export const DTMF_GAP_MS = 1500;
/** Silence during a tool call before the thinking sound starts. */
export const THINKING_AFTER_MS = 1000;
/** The thinking sound never plays longer than this for one tool call. */
const MAX_THINKING_MS = 30_000;
/** Thinking sound kept queued at Twilio: it stops within this on a clear. */
const THINKING_QUEUE_MS = 400;
const THINKING_TICK_MS = 100;

export const TIME_LIMIT_GOODBYE =
  "The call has reached its time limit. Tell the caller so in one short sentence and say goodbye.";
export const END_CALL_GOODBYE =
  "You are hanging up the call now: say a brief goodbye to the caller.";
export function toolsUnavailableNote(server: string): string {
  return `Your ${server} tools (Todoist, Gmail and the rest) could not be reached and are unavailable on this call. ` +
    "If the caller asks for something that needs them, say plainly that you cannot reach those tools right now; never pretend to have used them.";
}
export function dtmfNote(digits: string): string {
  return `(The caller pressed ${digits} on the phone keypad.)`;
}

/**
 * Errors that really end the session: expiry and authentication. The API
 * documents the rest (server_error, a refused client event...) as
 * recoverable with the session still open, and a socket that closes ends
 * the call by itself.
 */
const FATAL_ERROR_CODES = new Set([
  "session_expired",
  "invalid_api_key",
  "session_not_found",
]);
function isFatalRealtimeError(error: RealtimeError): boolean {
  return FATAL_ERROR_CODES.has(error.code) ||
    error.type === "authentication_error";
}

/** The thinking sound while an MCP tool runs. */
interface Thinking {
  startedAt: number;
  /** Since when nothing but the sound has been playing. */
  quietSince: number | undefined;
  next: number;
  stop: Cancel;
}

const THINKING_CHUNKS = thinkingChunks();

export class CallBridge {
  readonly #twilio: TwilioPort;
  readonly #upstream: UpstreamPort;
  readonly #expectedCallSid: string;
  readonly #clock: Clock;
  readonly #observer: CallObserver;
  readonly #ledger = new PlaybackLedger();
  readonly #responses: ResponseScheduler;
  readonly #startedAt: number;
  readonly #prewarmed: boolean;
  readonly #thinkingSound: boolean;
  readonly #timers: Cancel[] = [];
  readonly #done = Promise.withResolvers<CallSummary>();
  #logger: Logger;
  #encoder: TwilioEncoder | undefined;
  /** Caller audio held until the upstream socket is open. */
  #callerAudioHeld: string[] = [];
  #callerAudioDropped = 0;
  /** Assistant audio that arrived before Twilio's `start` named the stream. */
  #assistantAudioHeld: { responseId: string; itemId: string; delta: string }[] =
    [];
  #lastAudioResponse: string | undefined;
  /** Responses interrupted by the caller: their late deltas are dropped. */
  #interrupted: string[] = [];
  #speechStoppedAt: number | undefined;
  readonly #hangup = new HangupPlan();
  /** Key presses waiting for the caller to finish typing. */
  #digits = "";
  #digitsTimer: Cancel | undefined;
  #thinking: Thinking | undefined;
  /** The server of each `mcp_list_tools` item, and its tool count once known. */
  #toolLists = new Map<
    string,
    { server: string; tools?: number; completed?: boolean }
  >();
  #badFrames = 0;
  #framesIn = 0;
  #framesOut = 0;
  #bargeIns = 0;
  #ended: CallSummary | undefined;

  constructor(options: BridgeOptions) {
    this.#twilio = options.twilio;
    this.#upstream = options.upstream;
    this.#expectedCallSid = options.expectedCallSid;
    this.#clock = options.clock ?? realClock;
    this.#observer = options.observer ?? {};
    this.#startedAt = this.#clock.now();
    this.#prewarmed = options.prewarmed ?? false;
    this.#thinkingSound = options.thinkingSound ?? true;
    this.#responses = new ResponseScheduler(
      options.greetingRequested
        ? { eventId: GREETING_REQUEST, reasons: ["greeting"] }
        : undefined,
    );
    this.#logger = options.logger.with({ callSid: options.expectedCallSid });

    this.#twilio.attach({
      message: (data) => this.#onTwilioFrame(data),
      closed: () => this.end("media stream closed"),
    });
    this.#upstream.attach({
      message: (data) => this.#onUpstreamFrame(data),
      closed: (reason) => this.end("upstream closed", reason),
    });
    this.#upstream.opened.then(() => this.#flushCallerAudio(), () => {});
    this.#after(options.limits.startTimeoutMs, () => {
      if (!this.#encoder) this.end("no start from Twilio");
    });
    this.#after(
      options.limits.maxCallMs,
      () => this.hangUp("call time limit", TIME_LIMIT_GOODBYE),
    );
  }

  /** Resolves once the call has ended and both sockets are closing. */
  get done(): Promise<CallSummary> {
    return this.#done.promise;
  }

  /** Resolves once the call has ended and its upstream socket is fully closed. */
  get closed(): Promise<void> {
    return this.#done.promise.then(() => this.#upstream.closed);
  }

  /**
   * Ends the call after a goodbye: when `goodbyeInResponse` names the
   * response saying it, after that one; otherwise the assistant is asked for
   * one (after the answer under way). The stream closes when the goodbye has
   * played.
   */
  hangUp(
    reason: EndReason,
    goodbye: string,
    goodbyeInResponse?: string,
  ): void {
    if (this.#ended || this.#hangup.started) return;
    this.#logger.log("info", "call.hanging_up", { reason });
    this.#after(
      GOODBYE_TIMEOUT_MS,
      () => this.end(reason, "goodbye timed out"),
    );
    this.#take(this.#hangup.begin(reason, goodbye, goodbyeInResponse));
  }

  /** Ends the call now: closes both sockets. Safe to call more than once. */
  end(reason: EndReason, detail = ""): void {
    if (this.#ended) return;
    const summary: CallSummary = {
      reason,
      outcome: OUTCOMES[reason],
      detail,
      callSid: this.#expectedCallSid,
      durationMs: Math.round(this.#clock.now() - this.#startedAt),
      framesIn: this.#framesIn,
      framesOut: this.#framesOut,
      bargeIns: this.#bargeIns,
    };
    this.#ended = summary;
    for (const cancel of this.#timers) cancel();
    this.#digitsTimer?.();
    this.#stopThinking(false);
    this.#callerAudioHeld = [];
    this.#assistantAudioHeld = [];
    this.#upstream.close();
    // Closing the stream lets Twilio continue with the TwiML after <Connect>.
    this.#twilio.close();
    this.#logger.log(
      summary.outcome === "error" ? "warn" : "info",
      "call.ended",
      {
        reason,
        outcome: summary.outcome,
        detail: detail || undefined,
        durationMs: summary.durationMs,
        framesIn: summary.framesIn,
        framesOut: summary.framesOut,
        bargeIns: summary.bargeIns,
        earlyFramesDropped: this.#callerAudioDropped || undefined,
      },
    );
    this.#observer.ended?.(summary);
    this.#done.resolve(summary);
  }

  #after(ms: number, run: () => void): void {
    this.#timers.push(this.#clock.after(ms, run));
  }

  // --- Twilio → OpenAI -------------------------------------------------

  #onTwilioFrame(data: unknown): void {
    if (this.#ended) return;
    const parsed = parseTwilioMessage(data);
    if (!parsed.ok) {
      this.#badFrame(parsed.reason, parsed.oversized ?? false);
      return;
    }
    this.#onTwilioMessage(parsed.message);
  }

  #badFrame(reason: string, fatal: boolean): void {
    this.#badFrames++;
    if (this.#badFrames <= 5) {
      this.#logger.log("warn", "twilio.bad_frame", { reason });
    }
    if (fatal || this.#badFrames > MAX_BAD_FRAMES) {
      this.end("protocol violation", reason);
    }
  }

  #onTwilioMessage(message: TwilioMessage): void {
    switch (message.event) {
      case "media":
        if (!this.#encoder) {
          this.#badFrame("media before start", false);
          return;
        }
        this.#framesIn++;
        if (this.#callerAudioHeld.length === 0 && this.#upstream.isOpen) {
          this.#upstream.send(clientEvents.appendAudio(message.payload));
        } else {
          this.#holdCallerAudio(message.payload);
        }
        return;
      case "mark":
        this.#ledger.acknowledged(message.name, this.#clock.now());
        this.#playbackMoved();
        return;
      case "start":
        this.#onStart(message);
        return;
      case "stop":
        this.end("caller hung up");
        return;
      case "dtmf":
        this.#onDigit(message.digit);
        return;
      case "connected":
        return;
    }
  }

  #onStart(start: StartMessage): void {
    if (this.#encoder) {
      this.#badFrame("second start", false);
      return;
    }
    if (start.callSid !== this.#expectedCallSid) {
      this.#logger.log("warn", "twilio.call_sid_mismatch", {
        streamCallSid: start.callSid,
      });
      this.end("call sid mismatch");
      return;
    }
    if (
      start.mediaFormat.encoding !== "audio/x-mulaw" ||
      start.mediaFormat.sampleRate !== 8000
    ) {
      this.end(
        "protocol violation",
        `unsupported media format ${start.mediaFormat.encoding}/${start.mediaFormat.sampleRate}`,
      );
      return;
    }
    this.#encoder = new TwilioEncoder(start.streamSid);
    this.#logger = this.#logger.with({ streamSid: start.streamSid });
    this.#logger.log("info", "call.started", {
      upstreamReady: this.#upstream.isOpen,
      prewarmed: this.#prewarmed,
    });
    this.#observer.started?.({
      callSid: start.callSid,
      streamSid: start.streamSid,
      caller: start.customParameters.caller ?? "",
    });
    const held = this.#assistantAudioHeld;
    this.#assistantAudioHeld = [];
    for (const { responseId, itemId, delta } of held) {
      this.#playAudio(responseId, itemId, delta);
    }
    this.#playbackMoved();
  }

  #holdCallerAudio(payload: string): void {
    this.#callerAudioHeld.push(payload);
    if (this.#callerAudioHeld.length > MAX_EARLY_FRAMES) {
      this.#callerAudioHeld.shift();
      this.#callerAudioDropped++;
    }
  }

  #flushCallerAudio(): void {
    if (this.#ended) return;
    const waited = this.#callerAudioHeld.length;
    for (const payload of this.#callerAudioHeld) {
      this.#upstream.send(clientEvents.appendAudio(payload));
    }
    this.#callerAudioHeld = [];
    this.#logger.log("info", "upstream.ready", {
      handshakeMs: Math.round(this.#clock.now() - this.#upstream.startedAt),
      earlyFrames: waited,
    });
  }

  /** A key press: digits typed together reach the model as one user item. */
  #onDigit(digit: string): void {
    this.#digits += digit;
    this.#digitsTimer?.();
    this.#digitsTimer = this.#clock.after(
      DTMF_GAP_MS,
      () => this.#sendDigits(),
    );
  }

  #sendDigits(): void {
    const digits = this.#digits;
    this.#digits = "";
    if (this.#ended || !digits) return;
    this.#logger.log("info", "dtmf", { digits: digits.length });
    this.#observer.transcript?.("caller", `[keypad: ${digits}]`);
    this.#upstream.send(clientEvents.userMessage(dtmfNote(digits)));
    this.#requestResponse("dtmf");
  }

  // --- OpenAI → Twilio -------------------------------------------------

  #onUpstreamFrame(data: unknown): void {
    if (this.#ended) return;
    const parsed = parseServerEvent(data);
    if (!parsed.ok) {
      this.#logger.log("warn", "upstream.bad_event", { reason: parsed.reason });
      return;
    }
    this.#onUpstreamEvent(parsed.event);
  }

  #onUpstreamEvent(event: ServerEvent): void {
    switch (event.type) {
      case "response.output_audio.delta":
        this.#playAudio(event.responseId, event.itemId, event.delta);
        return;
      case "input_audio_buffer.speech_started":
        this.#responses.speechStarted();
        this.#bargeIn();
        return;
      case "input_audio_buffer.speech_stopped":
        this.#speechStoppedAt = this.#clock.now();
        this.#sendCreate(this.#responses.speechStopped());
        return;
      case "response.created":
        this.#responses.created(event.responseId, event.tag);
        this.#hangup.responseCreated(
          event.responseId,
          this.#responses.reasonsOf(event.responseId).includes("goodbye"),
        );
        return;
      case "response.done":
        this.#onResponseDone(event);
        return;
      case "response.function_call_arguments.done":
        this.#onFunctionCall(event.callId, event.name);
        return;
      case "response.mcp_call.in_progress":
        this.#startThinking();
        return;
      case "tool_call.done":
        this.#logger.log(event.failed ? "warn" : "info", "tool_call", {
          kind: event.kind,
          name: event.name,
          server: event.server || undefined,
          failed: event.failed,
          errorType: event.errorType,
        });
        this.#observer.toolCall?.(event);
        return;
      case "mcp_list_tools.item":
        this.#onToolList(event.itemId, event.server, event.tools);
        return;
      case "mcp_list_tools.completed":
        this.#onToolList(event.itemId, undefined, undefined, true);
        return;
      case "mcp_list_tools.failed":
        this.#onToolListFailed(event.itemId);
        return;
      case "mcp_approval_request":
        // The session asks for no approvals (require_approval: "never"), so
        // one that arrives anyway is approved as configured, never left pending.
        this.#logger.log("warn", "mcp.approval_request", {
          server: event.server,
          name: event.name,
          approved: true,
        });
        this.#upstream.send(clientEvents.mcpApprovalResponse(event.id, true));
        this.#requestResponse("mcp_follow_up");
        return;
      case "input_transcription.completed":
        if (event.transcript) {
          this.#observer.transcript?.("caller", event.transcript);
        }
        return;
      case "response.output_audio_transcript.done":
        if (event.transcript) {
          this.#observer.transcript?.("assistant", event.transcript);
        }
        return;
      case "error":
        this.#onUpstreamError(event.error);
        return;
      case "session.created":
      case "session.updated":
      case "ignored":
        return;
    }
  }

  #playAudio(responseId: string, itemId: string, delta: string): void {
    if (this.#interrupted.includes(responseId)) return;
    this.#lastAudioResponse = responseId;
    if (!this.#encoder) {
      if (this.#assistantAudioHeld.length < MAX_EARLY_FRAMES) {
        this.#assistantAudioHeld.push({ responseId, itemId, delta });
      }
      return;
    }
    if (this.#twilio.bufferedAmount > MAX_TWILIO_BUFFERED_BYTES) {
      this.end("caller not reading");
      return;
    }
    if (this.#thinking) this.#stopThinking(true);
    if (this.#speechStoppedAt !== undefined) {
      this.#observer.turnLatency?.(
        Math.round(this.#clock.now() - this.#speechStoppedAt),
      );
      this.#speechStoppedAt = undefined;
    }
    this.#sendToCaller(itemId, delta);
    this.#framesOut++;
  }

  #sendToCaller(itemId: string, delta: string): void {
    const encoder = this.#encoder!;
    const mark = this.#ledger.sent(
      itemId,
      base64ByteLength(delta),
      this.#clock.now(),
    );
    this.#twilio.send(encoder.media(delta));
    this.#twilio.send(encoder.mark(mark));
  }

  /** The caller started speaking: stop the assistant where the caller stopped hearing it. */
  #bargeIn(): void {
    this.#speechStoppedAt = undefined;
    this.#stopThinking(false);
    const now = this.#clock.now();
    const truncations = this.#ledger.truncations(now);
    if (this.#ledger.playing && this.#encoder) {
      this.#twilio.send(this.#encoder.clear());
      this.#ledger.clear();
    }
    // Every item still queued at the caller: the playing one at what was
    // heard, later ones at 0, so the model's context holds only what was said.
    for (const { itemId, audioEndMs } of truncations) {
      this.#upstream.send(clientEvents.truncate(itemId, audioEndMs));
    }
    if (truncations.length > 0) {
      this.#bargeIns++;
      this.#logger.log("info", "barge_in", {
        itemId: truncations[0].itemId,
        audioEndMs: truncations[0].audioEndMs,
        itemsTruncated: truncations.length,
      });
    }
    const active = this.#responses.activeResponseId;
    if (active !== undefined) {
      this.#upstream.send(clientEvents.cancelResponse());
      this.#interrupted.push(active);
      if (this.#interrupted.length > 4) this.#interrupted.shift();
      this.#responses.cancelled();
    }
    this.#playbackMoved();
  }

  #onResponseDone(
    event: Extract<ServerEvent, { type: "response.done" }>,
  ): void {
    const { responseId, status } = event;
    if (status === "failed") {
      this.#logger.log("warn", "response.failed", { responseId });
    }
    this.#take(
      this.#hangup.responseDone(
        responseId,
        this.#lastAudioResponse === responseId,
        this.#playing,
      ),
    );
    // The API ran the MCP calls and ended the response; it does not answer
    // by itself (completed or failed), so one follow-up is asked for.
    if (event.mcpCalls > 0) this.#requestResponse("mcp_follow_up");
    this.#sendCreate(this.#responses.done(responseId));
  }

  #onFunctionCall(callId: string, name: string): void {
    const known = name === "end_call";
    this.#upstream.send(
      clientEvents.functionCallOutput(
        callId,
        JSON.stringify(
          known ? { ok: true } : { ok: false, error: `unknown tool ${name}` },
        ),
      ),
    );
    if (known) {
      // The goodbye is said in the response that called the tool; a second
      // end_call (parallel tool calls) changes nothing.
      this.hangUp(
        "assistant ended the call",
        END_CALL_GOODBYE,
        this.#responses.activeResponseId,
      );
    } else {
      this.#requestResponse("function_output");
    }
  }

  /** Carries out what the hang-up plan says. */
  #take(step: HangupStep | undefined): void {
    if (step?.kind === "request_goodbye") {
      this.#upstream.send(clientEvents.systemMessage(step.goodbye));
      this.#requestResponse("goodbye");
    } else if (step?.kind === "end") {
      this.end(step.reason);
    }
  }

  /** Every response.create goes through the scheduler. */
  #requestResponse(reason: ResponseReason): void {
    // Once the goodbye is said, nothing more is asked of the model.
    if (this.#hangup.saidGoodbye) return;
    this.#sendCreate(this.#responses.request(reason));
  }

  #sendCreate(request: ResponseRequest | undefined): void {
    if (!request || this.#ended) return;
    this.#upstream.send(clientEvents.createResponse(request.eventId));
  }

  /** True while assistant audio is queued at the caller or held until `start`. */
  get #playing(): boolean {
    return this.#ledger.playing || this.#assistantAudioHeld.length > 0;
  }

  #playbackMoved(): void {
    this.#take(this.#hangup.playback(this.#playing));
  }

  // --- MCP tools ----------------------------------------------------------

  #onToolList(
    itemId: string,
    server: string | undefined,
    tools: number | undefined,
    completed = false,
  ): void {
    const list = this.#toolLists.get(itemId) ?? { server: "" };
    if (server) list.server = server;
    if (tools !== undefined) list.tools = tools;
    const logNow = (completed || list.completed) && list.tools !== undefined;
    list.completed ||= completed;
    this.#toolLists.set(itemId, list);
    if (logNow) {
      this.#logger.log("info", "mcp.tools_listed", {
        server: list.server || undefined,
        tools: list.tools,
      });
      this.#toolLists.delete(itemId);
    }
  }

  #onToolListFailed(itemId: string): void {
    const server = this.#toolLists.get(itemId)?.server || "MCP";
    this.#toolLists.delete(itemId);
    this.#logger.log("warn", "mcp.tools_unavailable", { server });
    this.#observer.mcpToolsUnavailable?.(server);
    this.#upstream.send(
      clientEvents.systemMessage(toolsUnavailableNote(server)),
    );
  }

  /**
   * From an MCP call's start: once nothing but silence has played for
   * THINKING_AFTER_MS, the caller hears the thinking sound until the answer's
   * first audio, a barge-in or the end of the call.
   */
  #startThinking(): void {
    if (!this.#thinkingSound || this.#thinking || !this.#encoder) return;
    const now = this.#clock.now();
    this.#thinking = {
      startedAt: now,
      quietSince: this.#ledger.playing ? undefined : now,
      next: 0,
      stop: this.#clock.every(THINKING_TICK_MS, () => this.#thinkingTick()),
    };
  }

  #thinkingTick(): void {
    const thinking = this.#thinking;
    if (!thinking || this.#ended) return;
    const now = this.#clock.now();
    if (now - thinking.startedAt > MAX_THINKING_MS) {
      this.#stopThinking(false);
      return;
    }
    if (!this.#ledger.onlyFiller) {
      thinking.quietSince = undefined;
      return;
    }
    thinking.quietSince ??= now;
    if (now - thinking.quietSince < THINKING_AFTER_MS) return;
    while (this.#ledger.queuedMs(now) < THINKING_QUEUE_MS) {
      const chunk = THINKING_CHUNKS[thinking.next];
      thinking.next = (thinking.next + 1) % THINKING_CHUNKS.length;
      this.#sendToCaller(FILLER, chunk);
    }
  }

  /** Stops the sound; `flush` also drops what is still queued at Twilio. */
  #stopThinking(flush: boolean): void {
    const thinking = this.#thinking;
    if (!thinking) return;
    thinking.stop();
    this.#thinking = undefined;
    if (
      flush && this.#encoder && this.#ledger.playing && this.#ledger.onlyFiller
    ) {
      this.#twilio.send(this.#encoder.clear());
      this.#ledger.clear();
    }
  }

  #onUpstreamError(error: RealtimeError): void {
    if (error.code === "conversation_already_has_active_response") {
      // Our create lost a race (server VAD answered first): it waits again.
      this.#logger.log("info", "response.deferred", { eventId: error.eventId });
      this.#sendCreate(this.#responses.refused(error.eventId));
      return;
    }
    const fatal = isFatalRealtimeError(error);
    // The API may cancel an interrupted response itself before ours arrives.
    if (error.code !== "response_cancel_not_active") {
      this.#logger.log(fatal ? "error" : "warn", "upstream.error", {
        type: error.type,
        code: error.code || undefined,
        eventId: error.eventId || undefined,
        message: error.message.slice(0, 200),
      });
    }
    if (fatal) {
      this.end("upstream error", error.code || error.type);
      return;
    }
    // A create refused for another reason must not leave the scheduler waiting.
    if (error.eventId) this.#sendCreate(this.#responses.failed(error.eventId));
  }
}
