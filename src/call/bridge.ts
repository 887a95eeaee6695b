/**
 * One call, on the Twilio side: relays µ-law audio between the Twilio media
 * stream and the call's voice engine, plays the assistant with a mark after
 * every chunk, clears Twilio on barge-in, plays the thinking sound while a
 * tool runs, groups key presses, enforces the limits, hangs up after the
 * goodbye has played, and tears both sides down together. What is
 * protocol-specific on the voice side is the engine's (src/call/engine.ts).
 */

import type { Logger } from "../log.ts";
import {
  base64ByteLength,
  parseTwilioMessage,
  type StartMessage,
  TwilioEncoder,
  type TwilioMessage,
} from "../twilio/media_stream.ts";
import { CallerGaps, mulawSilence } from "./caller_gaps.ts";
import { type Cancel, type Clock, realClock } from "./clock.ts";
import type { EngineEnd, VoiceEngine } from "./engine.ts";
import { PlaybackLedger } from "./playback_ledger.ts";
import type { TwilioPort } from "./ports.ts";
import { ThinkingSchedule } from "./thinking_sound.ts";
import {
  type CallLimits,
  type CallObserver,
  type CallSummary,
  type EndReason,
  OUTCOMES,
  type Speaker,
} from "../call_vocabulary.ts";

export interface BridgeOptions {
  /** The accepted media-stream socket. */
  twilio: TwilioPort;
  /** The CallSid the stream token was minted for. */
  expectedCallSid: string;
  engine: VoiceEngine;
  /** Whether the engine's session was opened at the webhook (for the logs). */
  prewarmed?: boolean;
  /** A quiet sound while a tool runs and nothing else plays (THINKING_SOUND). */
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
const THINKING_TICK_MS = 100;
/** How often a silent Twilio side is checked for (src/call/caller_gaps.ts). */
const GAP_CHECK_MS = 100;

export const TIME_LIMIT_GOODBYE =
  "The call has reached its time limit. Tell the caller so in one short sentence and say goodbye.";

/** The thinking sound while a tool runs. */
interface Thinking {
  schedule: ThinkingSchedule;
  stop: Cancel;
}

/** A hang-up under way: it ends the call once the goodbye is said and has played. */
interface Hangup {
  reason: EndReason;
  said: boolean;
}

export class CallBridge {
  readonly #twilio: TwilioPort;
  readonly #engine: VoiceEngine;
  readonly #expectedCallSid: string;
  readonly #clock: Clock;
  readonly #observer: CallObserver;
  readonly #ledger = new PlaybackLedger();
  readonly #startedAt: number;
  readonly #prewarmed: boolean;
  readonly #thinkingSound: boolean;
  readonly #timers: Cancel[] = [];
  readonly #done = Promise.withResolvers<CallSummary>();
  #logger: Logger;
  #encoder: TwilioEncoder | undefined;
  /** Caller audio held until the engine's socket is open. */
  #callerAudioHeld: string[] = [];
  #callerAudioDropped = 0;
  /** Assistant audio that arrived before Twilio's `start` named the stream. */
  #assistantAudioHeld: { itemId: string; delta: string }[] = [];
  /** Assistant audio waiting for room in the playback window (paced engines). */
  #paced: { itemId: string; delta: string }[] = [];
  #speechStoppedAt: number | undefined;
  #hangup: Hangup | undefined;
  /** Key presses waiting for the caller to finish typing. */
  #digits = "";
  #digitsTimer: Cancel | undefined;
  #thinking: Thinking | undefined;
  readonly #gaps = new CallerGaps();
  #silenceFilledMs = 0;
  #badFrames = 0;
  #framesIn = 0;
  #framesOut = 0;
  #bargeIns = 0;
  #ended: CallSummary | undefined;
  /** Who is speaking, as the observer was last told (a resume needs it). */
  #speaker: Speaker = "nobody";
  /** Ending at the next quiet moment, for another instance to resume. */
  #handingOver = false;

  constructor(options: BridgeOptions) {
    this.#twilio = options.twilio;
    this.#engine = options.engine;
    this.#expectedCallSid = options.expectedCallSid;
    this.#clock = options.clock ?? realClock;
    this.#observer = options.observer ?? {};
    this.#startedAt = this.#clock.now();
    this.#prewarmed = options.prewarmed ?? false;
    this.#thinkingSound = options.thinkingSound ?? true;
    this.#logger = options.logger.with({ callSid: options.expectedCallSid });

    this.#twilio.attach({
      message: (data) => this.#onTwilioFrame(data),
      closed: () => this.end("media stream closed"),
    });
    this.#engine.attach({
      audio: (itemId, delta) => {
        // Once the goodbye is said nothing new is played (GPT-Live may
        // stream silence); audio held before `start` is replayed regardless.
        if (!this.#hangup?.said) this.#playAudio(itemId, delta);
      },
      callerStartedSpeaking: () => {
        this.#speak("caller");
        this.#bargeIn();
      },
      callerStoppedSpeaking: () => {
        this.#speechStoppedAt = this.#clock.now();
        this.#speak("nobody");
        this.#handOverIfQuiet();
      },
      toolStarted: () => this.#startThinking(),
      transcript: (role, text) => this.#observer.transcript?.(role, text),
      transcriptDelta: (itemId, delta) =>
        this.#observer.transcriptDelta?.(itemId, delta),
      toolCall: (call) => this.#observer.toolCall?.(call),
      toolsUnavailable: (server) =>
        this.#observer.mcpToolsUnavailable?.(server),
      usage: (report) => this.#observer.usage?.(report),
      hangUpRequested: () => this.#beginHangup("assistant ended the call"),
      goodbyeSaid: () => {
        if (!this.#hangup) return;
        this.#hangup.said = true;
        this.#playbackMoved();
      },
      ended: (reason: EngineEnd, detail) => this.end(reason, detail),
    });
    this.#engine.opened.then(() => this.#flushCallerAudio(), () => {});
    this.#after(options.limits.startTimeoutMs, () => {
      if (!this.#encoder) this.end("no start from Twilio");
    });
    this.#after(
      options.limits.maxCallMs,
      () => this.hangUp("call time limit", TIME_LIMIT_GOODBYE),
    );
    this.#timers.push(
      this.#clock.every(
        GAP_CHECK_MS,
        () => this.#fillSilence(this.#gaps.idle(this.#clock.now())),
      ),
    );
  }

  /** Resolves once the call has ended and both sockets are closing. */
  get done(): Promise<CallSummary> {
    return this.#done.promise;
  }

  /** Resolves once the call has ended and its engine's socket is fully closed. */
  get closed(): Promise<void> {
    return this.#done.promise.then(() => this.#engine.closed);
  }

  /**
   * Ends the call after a goodbye in the assistant's voice: the stream closes
   * once it has played.
   */
  hangUp(reason: EndReason, goodbye: string): void {
    if (!this.#beginHangup(reason)) return;
    this.#engine.sayGoodbye(goodbye);
  }

  /**
   * Ends the stream at the next quiet moment (nothing playing, the caller
   * not speaking), or after `maxWaitMs`, as a handover: Twilio's
   * continuation then resumes the call on another instance. A goodbye under
   * way is left to finish.
   */
  handOver(maxWaitMs: number): void {
    if (this.#ended || this.#hangup || this.#handingOver) return;
    this.#handingOver = true;
    this.#logger.log("info", "call.handing_over");
    this.#after(maxWaitMs, () => this.end("handover", "no quiet moment"));
    this.#handOverIfQuiet();
  }

  /** The CallSid this call's stream token was minted for. */
  get callSid(): string {
    return this.#expectedCallSid;
  }

  /**
   * Ends the call once what the assistant has said so far has played (the
   * greeting, say); nothing new is played meanwhile.
   */
  endAfterPlayback(reason: EndReason): void {
    if (!this.#beginHangup(reason)) return;
    this.#hangup!.said = true;
    this.#playbackMoved();
  }

  /** Ends the call now: closes both sides. Safe to call more than once. */
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
    this.#paced = [];
    this.#engine.close();
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
        silenceFilledMs: this.#silenceFilledMs || undefined,
      },
    );
    this.#observer.ended?.(summary);
    this.#done.resolve(summary);
  }

  /** Starts a hang-up unless one is under way; false when it changes nothing. */
  #beginHangup(reason: EndReason): boolean {
    if (this.#ended || this.#hangup) return false;
    this.#logger.log("info", "call.hanging_up", { reason });
    this.#hangup = { reason, said: false };
    this.#after(
      GOODBYE_TIMEOUT_MS,
      () => this.end(reason, "goodbye timed out"),
    );
    return true;
  }

  #after(ms: number, run: () => void): void {
    this.#timers.push(this.#clock.after(ms, run));
  }

  // --- Twilio → engine -------------------------------------------------

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
        this.#fillSilence(
          this.#gaps.frame(
            message.timestamp,
            base64ByteLength(message.payload),
            this.#clock.now(),
          ),
        );
        this.#callerAudio(message.payload);
        return;
      case "mark":
        this.#ledger.acknowledged(message.name, this.#clock.now());
        this.#releasePaced();
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
      upstreamReady: this.#engine.isOpen,
      prewarmed: this.#prewarmed,
    });
    this.#observer.started?.({
      callSid: start.callSid,
      streamSid: start.streamSid,
      caller: start.customParameters.caller ?? "",
    });
    const held = this.#assistantAudioHeld;
    this.#assistantAudioHeld = [];
    for (const { itemId, delta } of held) this.#playAudio(itemId, delta);
    this.#playbackMoved();
  }

  #callerAudio(payload: string): void {
    if (this.#callerAudioHeld.length === 0 && this.#engine.isOpen) {
      this.#engine.callerAudio(payload);
    } else {
      this.#holdCallerAudio(payload);
    }
  }

  /** Frames Twilio left out go upstream as silence, so voice detection hears the caller stop. */
  #fillSilence(ms: number): void {
    if (ms <= 0 || this.#ended) return;
    this.#silenceFilledMs += ms;
    this.#callerAudio(mulawSilence(ms));
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
      this.#engine.callerAudio(payload);
    }
    this.#callerAudioHeld = [];
    this.#logger.log("info", "upstream.ready", {
      handshakeMs: Math.round(this.#clock.now() - this.#engine.startedAt),
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
    this.#engine.callerKeys(digits);
  }

  // --- engine → Twilio ------------------------------------------------

  #playAudio(itemId: string, delta: string): void {
    if (!this.#encoder) {
      if (this.#assistantAudioHeld.length < MAX_EARLY_FRAMES) {
        this.#assistantAudioHeld.push({ itemId, delta });
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
    this.#framesOut++;
    if (this.#engine.playbackWindowMs === undefined) {
      this.#sendToCaller(itemId, delta);
      return;
    }
    this.#paced.push({ itemId, delta });
    this.#releasePaced();
  }

  /**
   * Paced playback (engines that cannot truncate): only a short window of
   * audio is queued at Twilio, the rest waits here, so when the model stops
   * talking the caller stops hearing it within the window.
   */
  #releasePaced(): void {
    const windowMs = this.#engine.playbackWindowMs;
    if (windowMs === undefined || !this.#encoder) return;
    const now = this.#clock.now();
    while (this.#paced.length > 0 && this.#ledger.queuedMs(now) < windowMs) {
      const { itemId, delta } = this.#paced.shift()!;
      this.#sendToCaller(itemId, delta);
    }
  }

  #sendToCaller(itemId: string, delta: string): void {
    const mark = this.#ledger.sent(
      itemId,
      base64ByteLength(delta),
      this.#clock.now(),
    );
    this.#sendMarked(delta, mark);
    this.#speak("assistant");
  }

  #sendMarked(payload: string, mark: string): void {
    const encoder = this.#encoder!;
    this.#twilio.send(encoder.media(payload));
    this.#twilio.send(encoder.mark(mark));
  }

  /** The caller started speaking: stop the assistant where the caller stopped hearing it. */
  #bargeIn(): void {
    this.#speechStoppedAt = undefined;
    this.#stopThinking(false);
    const heard = this.#ledger.truncations(this.#clock.now());
    this.#paced = [];
    if (this.#ledger.playing && this.#encoder) {
      this.#twilio.send(this.#encoder.clear());
      this.#ledger.clear();
    }
    if (heard.length > 0) {
      this.#bargeIns++;
      this.#logger.log("info", "barge_in", {
        itemId: heard[0].itemId,
        audioEndMs: heard[0].audioEndMs,
        itemsTruncated: heard.length,
      });
    }
    this.#engine.interrupted(heard);
    this.#playbackMoved();
  }

  /** True while assistant audio is queued at the caller or held until `start`. */
  get #playing(): boolean {
    return this.#ledger.playing || this.#assistantAudioHeld.length > 0 ||
      this.#paced.length > 0;
  }

  /** The goodbye has been said and has played: the call ends. */
  #playbackMoved(): void {
    if (!this.#playing && this.#speaker === "assistant") this.#speak("nobody");
    if (this.#hangup?.said && !this.#playing) this.end(this.#hangup.reason);
    this.#handOverIfQuiet();
  }

  #speak(who: Speaker): void {
    if (this.#speaker === who || this.#ended) return;
    this.#speaker = who;
    this.#observer.speaking?.(who);
  }

  #handOverIfQuiet(): void {
    if (this.#handingOver && !this.#playing && this.#speaker !== "caller") {
      this.end("handover");
    }
  }

  /**
   * From a tool call's start, the caller hears the thinking sound as its
   * schedule says (src/call/thinking_sound.ts) until the answer's first
   * audio, a barge-in or the end of the call.
   */
  #startThinking(): void {
    if (!this.#thinkingSound || this.#thinking || !this.#encoder) return;
    this.#thinking = {
      schedule: new ThinkingSchedule(this.#clock.now(), this.#ledger.playing),
      stop: this.#clock.every(THINKING_TICK_MS, () => this.#thinkingTick()),
    };
  }

  #thinkingTick(): void {
    const thinking = this.#thinking;
    if (!thinking || this.#ended) return;
    const now = this.#clock.now();
    const chunks = thinking.schedule.tick(now, {
      onlyThinking: this.#ledger.onlyThinking,
      queuedMs: this.#ledger.queuedMs(now),
    });
    if (!chunks) {
      this.#stopThinking(false);
      return;
    }
    for (const chunk of chunks) {
      this.#sendMarked(
        chunk,
        this.#ledger.sentThinking(base64ByteLength(chunk), now),
      );
    }
  }

  /** Stops the sound; `flush` also drops what is still queued at Twilio. */
  #stopThinking(flush: boolean): void {
    const thinking = this.#thinking;
    if (!thinking) return;
    thinking.stop();
    this.#thinking = undefined;
    if (
      flush && this.#encoder && this.#ledger.playing &&
      this.#ledger.onlyThinking
    ) {
      this.#twilio.send(this.#encoder.clear());
      this.#ledger.clear();
    }
  }
}
