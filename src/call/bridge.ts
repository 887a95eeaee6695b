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
import type { RealtimeUpstream } from "../realtime/upstream.ts";
import {
  base64ByteLength,
  parseTwilioMessage,
  type StartMessage,
  TwilioEncoder,
  type TwilioMessage,
} from "../twilio/media_stream.ts";
import { PlaybackLedger } from "./playback_ledger.ts";

export type EndReason =
  | "caller hung up"
  | "media stream closed"
  | "assistant ended the call"
  | "call time limit"
  | "no start from Twilio"
  | "caller not reading"
  | "upstream closed"
  | "upstream error"
  | "call sid mismatch"
  | "protocol violation"
  | "server shutting down";

/** How a call ended, in the journal's words. */
export type CallOutcome =
  | "caller_hung_up"
  | "assistant_ended"
  | "limit"
  | "error"
  | "shutdown";

const OUTCOMES: Record<EndReason, CallOutcome> = {
  "caller hung up": "caller_hung_up",
  "media stream closed": "caller_hung_up",
  "assistant ended the call": "assistant_ended",
  "call time limit": "limit",
  "no start from Twilio": "error",
  "caller not reading": "error",
  "upstream closed": "error",
  "upstream error": "error",
  "call sid mismatch": "error",
  "protocol violation": "error",
  "server shutting down": "shutdown",
};

export interface CallSummary {
  reason: EndReason;
  outcome: CallOutcome;
  detail: string;
  callSid: string;
  durationMs: number;
  framesIn: number;
  framesOut: number;
  bargeIns: number;
}

/** What a call reports as it goes (the call journal listens). */
export interface CallObserver {
  started?(call: { callSid: string; streamSid: string; caller: string }): void;
  transcript?(role: "caller" | "assistant", text: string): void;
  toolCall?(call: { name: string; server: string; failed: boolean }): void;
  /** End of the caller's speech → first assistant audio of the answer. */
  turnLatency?(ms: number): void;
  ended?(summary: CallSummary): void;
}

export interface CallLimits {
  /** The assistant says goodbye and the call ends after this long. */
  maxCallMs: number;
  /** A stream that sends no `start` within this is closed. */
  startTimeoutMs: number;
}

export interface BridgeOptions {
  /** The accepted media-stream socket. */
  twilio: WebSocket;
  /** The CallSid the stream token was minted for. */
  expectedCallSid: string;
  upstream: RealtimeUpstream;
  /** Whether the upstream was opened at the webhook (for the logs). */
  prewarmed?: boolean;
  logger: Logger;
  limits: CallLimits;
  observer?: CallObserver;
  now?: () => number;
}

/** Caller audio held while the upstream socket opens: 15 s of 20 ms frames. */
const MAX_EARLY_FRAMES = 750;
/** Malformed frames tolerated (and logged) before the stream is closed. */
const MAX_BAD_FRAMES = 50;
/** Twilio not reading: more than this queued on its socket ends the call. */
const MAX_TWILIO_BUFFERED_BYTES = 4 * 1024 * 1024;
/** A goodbye that never finishes playing does not keep the call open. */
const GOODBYE_TIMEOUT_MS = 20_000;

export const TIME_LIMIT_GOODBYE =
  "The call has reached its time limit. Tell the caller so in one short sentence and say goodbye.";
export const END_CALL_GOODBYE = "Say a brief goodbye to the caller.";

/** Errors about one refused client event leave the session usable; others end it. */
function isFatalRealtimeError(error: RealtimeError): boolean {
  return error.type !== "invalid_request_error" ||
    error.code === "session_expired";
}

/**
 * A hang-up in progress. Phases: the answer under way finishes first
 * ("after-answer"); a goodbye was requested and the next response is it
 * ("awaiting-goodbye"); `responseId` is the goodbye ("in-goodbye"); it is
 * done and the call ends once its audio has played ("playing").
 */
interface Hangup {
  reason: EndReason;
  phase: "after-answer" | "awaiting-goodbye" | "in-goodbye" | "playing";
  goodbye: string;
  responseId?: string;
  /** A goodbye was already requested once: never ask twice. */
  requested: boolean;
}

export class CallBridge {
  readonly #twilio: WebSocket;
  readonly #upstream: RealtimeUpstream;
  readonly #expectedCallSid: string;
  readonly #now: () => number;
  readonly #observer: CallObserver;
  readonly #ledger = new PlaybackLedger();
  readonly #startedAt: number;
  readonly #prewarmed: boolean;
  readonly #timers: ReturnType<typeof setTimeout>[] = [];
  readonly #done = Promise.withResolvers<CallSummary>();
  #logger: Logger;
  #encoder: TwilioEncoder | undefined;
  #early: string[] = [];
  #earlyDropped = 0;
  /** Assistant audio that arrived before Twilio's `start` named the stream. */
  #beforeStart: { responseId: string; itemId: string; delta: string }[] = [];
  #activeResponse: string | undefined;
  #lastAudioResponse: string | undefined;
  /** Responses interrupted by the caller: their late deltas are dropped. */
  #interrupted: string[] = [];
  #speechStoppedAt: number | undefined;
  #hangup: Hangup | undefined;
  #badFrames = 0;
  #framesIn = 0;
  #framesOut = 0;
  #bargeIns = 0;
  #ended: CallSummary | undefined;

  constructor(options: BridgeOptions) {
    this.#twilio = options.twilio;
    this.#upstream = options.upstream;
    this.#expectedCallSid = options.expectedCallSid;
    this.#now = options.now ?? (() => performance.now());
    this.#observer = options.observer ?? {};
    this.#startedAt = this.#now();
    this.#prewarmed = options.prewarmed ?? false;
    this.#logger = options.logger.with({ callSid: options.expectedCallSid });

    this.#twilio.onmessage = (event) => this.#onTwilioFrame(event.data);
    this.#twilio.onclose = () => this.end("media stream closed");
    this.#twilio.onerror = () => {};
    this.#upstream.attach({
      message: (data) => this.#onUpstreamFrame(data),
      closed: (reason) => this.end("upstream closed", reason),
    });
    this.#upstream.opened.then(() => this.#flushEarlyAudio(), () => {});
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
   * one (once the answer under way is over). The stream closes when the
   * goodbye has played.
   */
  hangUp(
    reason: EndReason,
    goodbye: string,
    goodbyeInResponse?: string,
  ): void {
    if (this.#ended || this.#hangup) return;
    this.#logger.log("info", "call.hanging_up", { reason });
    this.#after(
      GOODBYE_TIMEOUT_MS,
      () => this.end(reason, "goodbye timed out"),
    );
    this.#hangup = {
      reason,
      goodbye,
      phase: "in-goodbye",
      responseId: goodbyeInResponse,
      requested: false,
    };
    if (goodbyeInResponse !== undefined) return;
    if (this.#activeResponse === undefined) this.#requestGoodbye();
    else this.#hangup.phase = "after-answer";
  }

  /** Ends the call now: closes both sockets. Safe to call more than once. */
  end(reason: EndReason, detail = ""): void {
    if (this.#ended) return;
    const summary: CallSummary = {
      reason,
      outcome: OUTCOMES[reason],
      detail,
      callSid: this.#expectedCallSid,
      durationMs: Math.round(this.#now() - this.#startedAt),
      framesIn: this.#framesIn,
      framesOut: this.#framesOut,
      bargeIns: this.#bargeIns,
    };
    this.#ended = summary;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#early = [];
    this.#beforeStart = [];
    this.#upstream.close();
    // Closing the stream lets Twilio continue with the TwiML after <Connect>.
    // From a fresh task: Deno 2.9 never frees a server socket closed inside
    // its own message handler while more messages are queued (the soak
    // found it; tests/socket_release_test.ts guards it).
    setTimeout(() => {
      if (
        this.#twilio.readyState === WebSocket.OPEN ||
        this.#twilio.readyState === WebSocket.CONNECTING
      ) {
        this.#twilio.close(1000, "call ended");
      }
    }, 0);
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
        earlyFramesDropped: this.#earlyDropped || undefined,
      },
    );
    this.#observer.ended?.(summary);
    this.#done.resolve(summary);
  }

  #after(ms: number, run: () => void): void {
    this.#timers.push(setTimeout(run, ms));
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
        if (this.#early.length === 0 && this.#upstream.isOpen) {
          this.#upstream.send(clientEvents.appendAudio(message.payload));
        } else {
          this.#holdEarlyAudio(message.payload);
        }
        return;
      case "mark":
        this.#ledger.acknowledged(message.name, this.#now());
        this.#endIfGoodbyePlayed();
        return;
      case "start":
        this.#onStart(message);
        return;
      case "stop":
        this.end("caller hung up");
        return;
      case "connected":
      case "dtmf":
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
    const held = this.#beforeStart;
    this.#beforeStart = [];
    for (const { responseId, itemId, delta } of held) {
      this.#playAudio(responseId, itemId, delta);
    }
    this.#endIfGoodbyePlayed();
  }

  #holdEarlyAudio(payload: string): void {
    this.#early.push(payload);
    if (this.#early.length > MAX_EARLY_FRAMES) {
      this.#early.shift();
      this.#earlyDropped++;
    }
  }

  #flushEarlyAudio(): void {
    if (this.#ended) return;
    const waited = this.#early.length;
    for (const payload of this.#early) {
      this.#upstream.send(clientEvents.appendAudio(payload));
    }
    this.#early = [];
    this.#logger.log("info", "upstream.ready", {
      handshakeMs: Math.round(this.#now() - this.#upstream.startedAt),
      earlyFrames: waited,
    });
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
        this.#bargeIn();
        return;
      case "input_audio_buffer.speech_stopped":
        this.#speechStoppedAt = this.#now();
        return;
      case "response.created":
        this.#activeResponse = event.responseId;
        if (this.#hangup?.phase === "awaiting-goodbye") {
          this.#hangup.phase = "in-goodbye";
          this.#hangup.responseId = event.responseId;
        }
        return;
      case "response.done":
        this.#onResponseDone(event.responseId, event.status);
        return;
      case "response.function_call_arguments.done":
        this.#onFunctionCall(event.callId, event.name);
        return;
      case "tool_call.done":
        this.#logger.log("info", "tool_call", {
          kind: event.kind,
          name: event.name,
          server: event.server || undefined,
          failed: event.failed,
        });
        this.#observer.toolCall?.(event);
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
      if (this.#beforeStart.length < MAX_EARLY_FRAMES) {
        this.#beforeStart.push({ responseId, itemId, delta });
      }
      return;
    }
    if (this.#twilio.bufferedAmount > MAX_TWILIO_BUFFERED_BYTES) {
      this.end("caller not reading");
      return;
    }
    if (this.#speechStoppedAt !== undefined) {
      this.#observer.turnLatency?.(
        Math.round(this.#now() - this.#speechStoppedAt),
      );
      this.#speechStoppedAt = undefined;
    }
    const mark = this.#ledger.sent(
      itemId,
      base64ByteLength(delta),
      this.#now(),
    );
    this.#twilio.send(this.#encoder.media(delta));
    this.#twilio.send(this.#encoder.mark(mark));
    this.#framesOut++;
  }

  /** The caller started speaking: stop the assistant where the caller stopped hearing it. */
  #bargeIn(): void {
    this.#speechStoppedAt = undefined;
    const heard = this.#ledger.heard(this.#now());
    if (heard && this.#encoder) {
      this.#twilio.send(this.#encoder.clear());
      this.#ledger.clear();
      this.#upstream.send(
        clientEvents.truncate(heard.itemId, heard.audioEndMs),
      );
      this.#bargeIns++;
      this.#logger.log("info", "barge_in", {
        itemId: heard.itemId,
        audioEndMs: heard.audioEndMs,
      });
    }
    if (this.#activeResponse !== undefined) {
      this.#upstream.send(clientEvents.cancelResponse());
      this.#interrupted.push(this.#activeResponse);
      if (this.#interrupted.length > 4) this.#interrupted.shift();
      this.#activeResponse = undefined;
    }
    this.#endIfGoodbyePlayed();
  }

  #onResponseDone(responseId: string, status: string): void {
    if (this.#activeResponse === responseId) this.#activeResponse = undefined;
    if (status === "failed") {
      this.#logger.log("warn", "response.failed", { responseId });
    }
    const hangup = this.#hangup;
    if (hangup?.phase === "after-answer") {
      this.#requestGoodbye();
    } else if (
      hangup?.phase === "in-goodbye" && hangup.responseId === responseId
    ) {
      if (this.#lastAudioResponse === responseId || hangup.requested) {
        hangup.phase = "playing";
        this.#endIfGoodbyePlayed();
      } else {
        // The assistant hung up without a word: ask for a goodbye first.
        this.#requestGoodbye();
      }
    }
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
    // The goodbye is said in the response that called the tool.
    if (known) {
      this.hangUp(
        "assistant ended the call",
        END_CALL_GOODBYE,
        this.#activeResponse,
      );
    }
  }

  #requestGoodbye(): void {
    const hangup = this.#hangup;
    if (!hangup) return;
    hangup.phase = "awaiting-goodbye";
    hangup.responseId = undefined;
    hangup.requested = true;
    this.#upstream.send(clientEvents.createResponse(hangup.goodbye));
  }

  #endIfGoodbyePlayed(): void {
    const hangup = this.#hangup;
    // Audio held until `start` has not even begun to play.
    const playing = this.#ledger.playing || this.#beforeStart.length > 0;
    if (hangup?.phase === "playing" && !playing) {
      this.end(hangup.reason);
    }
  }

  #onUpstreamError(error: RealtimeError): void {
    const fatal = isFatalRealtimeError(error);
    // The API may cancel an interrupted response itself before ours arrives.
    const expected = error.code === "response_cancel_not_active";
    if (!expected) {
      this.#logger.log(fatal ? "error" : "warn", "upstream.error", {
        type: error.type,
        code: error.code,
        message: error.message.slice(0, 200),
      });
    }
    if (fatal) this.end("upstream error", error.code || error.type);
  }
}
