/**
 * One call: relays µ-law audio between the Twilio media stream and the
 * OpenAI Realtime socket, handles barge-in, and tears both down together.
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
  type TwilioEncoder as TwilioEncoderType,
  type TwilioMessage,
} from "../twilio/media_stream.ts";
import { PlaybackLedger } from "./playback_ledger.ts";

export interface BridgeOptions {
  /** The accepted media-stream socket. */
  twilio: WebSocket;
  /** The CallSid the stream token was minted for. */
  expectedCallSid: string;
  upstream: RealtimeUpstream;
  /** Whether the upstream was opened at the webhook (for the logs). */
  prewarmed?: boolean;
  logger: Logger;
  now?: () => number;
}

export type EndReason =
  | "caller hung up"
  | "media stream closed"
  | "upstream closed"
  | "upstream error"
  | "call sid mismatch"
  | "protocol violation"
  | "server shutting down";

export interface CallSummary {
  reason: EndReason;
  detail: string;
  callSid: string;
  durationMs: number;
  framesIn: number;
  framesOut: number;
  bargeIns: number;
}

/** Caller audio held while the upstream socket opens: 15 s of 20 ms frames. */
export const MAX_EARLY_FRAMES = 750;
/** Malformed frames tolerated (and logged) before the stream is closed. */
const MAX_BAD_FRAMES = 50;

/** Errors about one refused client event leave the session usable; others end it. */
export function isFatalRealtimeError(error: RealtimeError): boolean {
  return error.type !== "invalid_request_error" ||
    error.code === "session_expired";
}

export class CallBridge {
  readonly #twilio: WebSocket;
  readonly #upstream: RealtimeUpstream;
  readonly #expectedCallSid: string;
  readonly #now: () => number;
  readonly #ledger = new PlaybackLedger();
  readonly #startedAt: number;
  readonly #prewarmed: boolean;
  #logger: Logger;
  #encoder: TwilioEncoderType | undefined;
  #early: string[] = [];
  #earlyDropped = 0;
  /** Assistant audio that arrived before Twilio's `start` named the stream. */
  #beforeStart: { responseId: string; itemId: string; delta: string }[] = [];
  #activeResponse: string | undefined;
  /** Responses interrupted by the caller: their late deltas are dropped. */
  #interrupted: string[] = [];
  #badFrames = 0;
  #framesIn = 0;
  #framesOut = 0;
  #bargeIns = 0;
  #ended: CallSummary | undefined;
  readonly #done = Promise.withResolvers<CallSummary>();

  constructor(options: BridgeOptions) {
    this.#twilio = options.twilio;
    this.#upstream = options.upstream;
    this.#expectedCallSid = options.expectedCallSid;
    this.#now = options.now ?? (() => performance.now());
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
  }

  /** Resolves once the call has ended and both sockets are closing. */
  get done(): Promise<CallSummary> {
    return this.#done.promise;
  }

  /** Resolves once the call has ended and its upstream socket is fully closed. */
  get closed(): Promise<void> {
    return this.#done.promise.then(() => this.#upstream.closed);
  }

  /** Ends the call: closes both sockets. Safe to call more than once. */
  end(reason: EndReason, detail = ""): void {
    if (this.#ended) return;
    const summary: CallSummary = {
      reason,
      detail,
      callSid: this.#expectedCallSid,
      durationMs: Math.round(this.#now() - this.#startedAt),
      framesIn: this.#framesIn,
      framesOut: this.#framesOut,
      bargeIns: this.#bargeIns,
    };
    this.#ended = summary;
    this.#early = [];
    this.#upstream.close();
    if (
      this.#twilio.readyState === WebSocket.OPEN ||
      this.#twilio.readyState === WebSocket.CONNECTING
    ) {
      // Closing the stream lets Twilio continue with the TwiML after <Connect>.
      this.#twilio.close(1000, reason);
    }
    this.#logger.log(
      reason === "upstream error" || reason === "protocol violation"
        ? "error"
        : "info",
      "call.ended",
      {
        reason,
        detail: detail || undefined,
        durationMs: summary.durationMs,
        framesIn: summary.framesIn,
        framesOut: summary.framesOut,
        bargeIns: summary.bargeIns,
        earlyFramesDropped: this.#earlyDropped || undefined,
      },
    );
    this.#done.resolve(summary);
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
    const held = this.#beforeStart;
    this.#beforeStart = [];
    for (const { responseId, itemId, delta } of held) {
      this.#playAudio(responseId, itemId, delta);
    }
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
      case "response.created":
        this.#activeResponse = event.responseId;
        return;
      case "response.done":
        if (this.#activeResponse === event.responseId) {
          this.#activeResponse = undefined;
        }
        if (event.status === "failed") {
          this.#logger.log("warn", "response.failed", {
            responseId: event.responseId,
          });
        }
        return;
      case "error":
        this.#onUpstreamError(event.error);
        return;
      case "session.updated":
        this.#logger.log("info", "session.updated");
        return;
      case "mcp_call.completed":
      case "mcp_call.failed":
        this.#logger.log("info", event.type, { itemId: event.itemId });
        return;
      default:
        return;
    }
  }

  #playAudio(responseId: string, itemId: string, delta: string): void {
    if (this.#interrupted.includes(responseId)) return;
    if (!this.#encoder) {
      if (this.#beforeStart.length < MAX_EARLY_FRAMES) {
        this.#beforeStart.push({ responseId, itemId, delta });
      }
      return;
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
