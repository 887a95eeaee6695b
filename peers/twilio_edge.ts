/**
 * A simulated Twilio Media Streams edge: the Twilio side of a bidirectional
 * `<Connect><Stream>`. It speaks the documented wire format (JSON text frames,
 * numbers as strings), signs the handshake like Twilio, and plays outbound
 * audio on a real-time clock so marks and `clear` behave as on a real call.
 * Anything real Twilio would reject is recorded in `protocolErrors`.
 *
 * @module
 */
import { concat } from "../../src/bytes.ts";
import twilio from "twilio";
import { startMessage } from "./twilio_messages.ts";

export type JsonObject = Record<string, unknown>;

export interface TwilioEdgeOptions {
  /** Where to connect, e.g. "ws://127.0.0.1:PORT/media-stream/TOKEN". */
  url: string;
  /** The URL Twilio would sign (its public wss:// URL); default: url. */
  signedUrl?: string;
  /** If given, send X-Twilio-Signature for signedUrl with no params. */
  authToken?: string;
  /** Explicit X-Twilio-Signature value (for forgery tests). */
  signature?: string;
  callSid?: string;
  accountSid?: string;
  streamSid?: string;
  customParameters?: Record<string, string>;
  /** Default true: on open send `connected` then `start`. */
  autoStart?: boolean;
}

export interface SendAudioOptions {
  /** Bytes per media frame (default 160 = 20 ms of 8 kHz µ-law). */
  frameBytes?: number;
  /** Pause between frames (default 20). */
  intervalMs?: number;
}

/** Twilio plays 8 kHz µ-law: 8 bytes per ms, 160 bytes per 20 ms tick. */
const TICK_MS = 20;
const BYTES_PER_TICK = 160;
const DEFAULT_WAIT_MS = 2000;

type Queued = { kind: "audio"; data: Uint8Array } | {
  kind: "mark";
  name: string;
};

interface Waiter {
  matches: (m: JsonObject) => boolean;
  resolve: (m: JsonObject) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface PlayWaiter {
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sid(prefix: string): string {
  return prefix + crypto.randomUUID().replaceAll("-", "");
}

export class TwilioEdge {
  readonly callSid: string;
  readonly accountSid: string;
  readonly streamSid: string;
  /** Every message from the server, parsed, in order. */
  readonly received: JsonObject[] = [];
  /** What real Twilio would reject, with its error code where it has one. */
  readonly protocolErrors: string[] = [];
  /** Mark names echoed back to the server, in order. */
  readonly marksAcked: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  #socket: WebSocket;
  #options: TwilioEdgeOptions;
  #sequence = 0;
  #chunk = 0;
  #startedAt = 0;
  #clears = 0;
  #isClosed = false;
  #receivedAudio: Uint8Array[] = [];
  #played: Uint8Array[] = [];
  #playedBytes = 0;
  #queue: Queued[] = [];
  #clock: ReturnType<typeof setInterval> | undefined;
  #consumed = new Set<JsonObject>();
  #waiters: Waiter[] = [];
  #playWaiters: PlayWaiter[] = [];
  /** Cancels the pacing sleep of sendAudio when the socket closes. */
  #closing = new AbortController();

  private constructor(socket: WebSocket, options: TwilioEdgeOptions) {
    this.#socket = socket;
    this.#options = options;
    this.callSid = options.callSid ?? sid("CA");
    this.accountSid = options.accountSid ?? sid("AC");
    this.streamSid = options.streamSid ?? sid("MZ");
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (ev) => this.#onMessage(ev.data));
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (ev) => {
        this.#onClosed();
        resolve({ code: ev.code, reason: ev.reason });
      });
    });
  }

  /**
   * Opens the stream socket the way Twilio does. Resolves once it is open (and
   * `connected`/`start` are sent); rejects if the server refuses the upgrade.
   */
  static connect(options: TwilioEdgeOptions): Promise<TwilioEdge> {
    // Twilio signs the stream URL with no params; npm:twilio is the oracle.
    const signature = options.signature ??
      (options.authToken === undefined
        ? undefined
        : twilio.getExpectedTwilioSignature(
          options.authToken,
          options.signedUrl ?? options.url,
          {},
        ));
    const headers: Record<string, string> = signature === undefined
      ? {}
      : { "X-Twilio-Signature": signature };
    const socket = new WebSocket(options.url, { headers });
    const edge = new TwilioEdge(socket, options);
    return new Promise((resolve, reject) => {
      const onOpen = () => {
        socket.removeEventListener("error", onError);
        if (options.autoStart ?? true) {
          edge.sendConnected();
          edge.sendStart();
        }
        resolve(edge);
      };
      const onError = (ev: Event) => {
        socket.removeEventListener("open", onOpen);
        const detail = ev instanceof ErrorEvent ? `: ${ev.message}` : "";
        // Wait for the close event so no resource outlives the rejection.
        edge.closed.then(() =>
          reject(new Error(`stream handshake refused${detail}`))
        );
      };
      socket.addEventListener("open", onOpen, { once: true });
      socket.addEventListener("error", onError, { once: true });
    });
  }

  get clears(): number {
    return this.#clears;
  }

  sendConnected(): void {
    this.#send({ event: "connected", protocol: "Call", version: "1.0.0" });
  }

  sendStart(): void {
    this.#startedAt = performance.now();
    this.#send(startMessage({
      sequenceNumber: this.#nextSequence(),
      streamSid: this.streamSid,
      accountSid: this.accountSid,
      callSid: this.callSid,
      customParameters: this.#options.customParameters ?? {},
    }));
  }

  /**
   * Sends caller audio as media frames paced like a live call. Ends early,
   * without error, if the socket closes (the call went away).
   */
  async sendAudio(
    audio: Uint8Array,
    opts: SendAudioOptions = {},
  ): Promise<void> {
    const frameBytes = opts.frameBytes ?? BYTES_PER_TICK;
    const intervalMs = opts.intervalMs ?? TICK_MS;
    if (!(frameBytes > 0)) throw new Error("frameBytes must be positive");
    const begin = performance.now();
    for (let i = 0, frame = 0; i < audio.length; i += frameBytes, frame++) {
      if (this.#isClosed) return;
      // Schedule against the start time so pacing does not drift.
      const wait = begin + frame * intervalMs - performance.now();
      if (wait > 0) await this.#sleep(wait);
      if (this.#isClosed) return;
      this.sendMediaFrame(audio.subarray(i, i + frameBytes));
    }
  }

  sendMediaFrame(payload: Uint8Array): void {
    this.#send({
      event: "media",
      sequenceNumber: this.#nextSequence(),
      streamSid: this.streamSid,
      media: {
        track: "inbound",
        chunk: String(++this.#chunk),
        timestamp: String(Math.round(performance.now() - this.#startedAt)),
        payload: payload.toBase64(),
      },
    });
  }

  sendDtmf(digit: string): void {
    this.#send({
      event: "dtmf",
      streamSid: this.streamSid,
      sequenceNumber: this.#nextSequence(),
      dtmf: { track: "inbound_track", digit },
    });
  }

  /** The caller hung up: Twilio sends `stop`, then closes the socket. */
  sendStop(): void {
    this.#send({
      event: "stop",
      sequenceNumber: this.#nextSequence(),
      streamSid: this.streamSid,
      stop: { accountSid: this.accountSid, callSid: this.callSid },
    });
    this.close(1000);
  }

  sendRaw(data: string | Uint8Array): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(data);
  }

  /** Closes the socket without a `stop` (an abrupt drop). */
  close(code = 1000): void {
    this.#stopClock();
    if (this.#socket.readyState <= WebSocket.OPEN) this.#socket.close(code);
  }

  /** All assistant audio received in `media` messages, in order, decoded. */
  receivedAudio(): Uint8Array {
    return concat(this.#receivedAudio);
  }

  /** Audio the playback clock actually played to the caller. */
  playedAudio(): Uint8Array {
    return concat(this.#played);
  }

  /**
   * The first server message (already received or future) matching
   * `predicate` that no earlier waitFor returned, so repeated calls with the
   * same predicate yield successive messages.
   */
  waitFor(
    predicate: (m: JsonObject) => boolean,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<JsonObject> {
    const found = this.#take(predicate);
    if (found) return Promise.resolve(found);
    if (this.#isClosed) {
      return Promise.reject(new Error("stream closed before a match"));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        matches: predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          const seen = this.received.map((m) => m.event).join(", ");
          reject(
            new Error(
              `no matching message within ${timeoutMs} ms (received: ${seen})`,
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Resolves once at least `bytes` of audio have been played. */
  waitForPlayed(bytes: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    if (this.#playedBytes >= bytes) return Promise.resolve();
    if (this.#isClosed) {
      return Promise.reject(
        new Error(`stream closed after ${this.#playedBytes} bytes played`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: PlayWaiter = {
        bytes,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#playWaiters.splice(this.#playWaiters.indexOf(waiter), 1);
          reject(
            new Error(
              `only ${this.#playedBytes} of ${bytes} bytes played within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs),
      };
      this.#playWaiters.push(waiter);
    });
  }

  // --- messages from the server -------------------------------------------

  #onMessage(data: unknown): void {
    if (typeof data !== "string") {
      this.protocolErrors.push("31950: binary frame (only text frames)");
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      this.protocolErrors.push(
        `31951: message is not JSON: ${data.slice(0, 80)}`,
      );
      return;
    }
    if (!isObject(message)) {
      this.protocolErrors.push(
        `31951: message is not a JSON object: ${data.slice(0, 80)}`,
      );
      return;
    }
    this.received.push(message);
    this.#handle(message);
    this.#notifyWaiters();
  }

  #handle(message: JsonObject): void {
    if (message.streamSid !== this.streamSid) {
      this.protocolErrors.push(
        `31951: streamSid ${
          JSON.stringify(message.streamSid)
        } is not ${this.streamSid}`,
      );
      return;
    }
    const event = message.event;
    if (event === "media") {
      const payload = isObject(message.media)
        ? message.media.payload
        : undefined;
      let audio: Uint8Array;
      try {
        if (typeof payload !== "string") throw new Error("missing");
        audio = Uint8Array.fromBase64(payload);
      } catch {
        this.protocolErrors.push("31951: media.payload is not base64 audio");
        return;
      }
      this.#receivedAudio.push(audio);
      if (audio.length > 0) this.#enqueue({ kind: "audio", data: audio });
    } else if (event === "mark") {
      const name = isObject(message.mark) ? message.mark.name : undefined;
      if (typeof name !== "string") {
        this.protocolErrors.push("31951: mark.name is not a string");
        return;
      }
      // Nothing pending: the audio before the mark has already played.
      if (this.#queue.length === 0) this.#ackMark(name);
      else this.#enqueue({ kind: "mark", name });
    } else if (event === "clear") {
      this.#clear();
    } else {
      this.protocolErrors.push(`31951: unknown event ${JSON.stringify(event)}`);
    }
  }

  // --- playback clock -----------------------------------------------------

  #enqueue(entry: Queued): void {
    this.#queue.push(entry);
    this.#clock ??= setInterval(() => this.#tick(), TICK_MS);
  }

  /** Plays one 20 ms tick of audio, echoing marks whose audio has played. */
  #tick(): void {
    let budget = BYTES_PER_TICK;
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      if (head.kind === "mark") {
        this.#queue.shift();
        this.#ackMark(head.name);
        continue;
      }
      if (budget === 0) break;
      const take = Math.min(budget, head.data.length);
      this.#played.push(head.data.subarray(0, take));
      this.#playedBytes += take;
      budget -= take;
      if (take === head.data.length) this.#queue.shift();
      else head.data = head.data.subarray(take);
    }
    if (this.#queue.length === 0) this.#stopClock();
    for (const waiter of [...this.#playWaiters]) {
      if (this.#playedBytes < waiter.bytes) continue;
      clearTimeout(waiter.timer);
      this.#playWaiters.splice(this.#playWaiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  /** `clear`: queued audio is dropped unplayed; pending marks echo at once. */
  #clear(): void {
    this.#clears++;
    const pending = this.#queue.splice(0);
    this.#stopClock();
    for (const entry of pending) {
      if (entry.kind === "mark") this.#ackMark(entry.name);
    }
  }

  #ackMark(name: string): void {
    this.marksAcked.push(name);
    this.#send({
      event: "mark",
      sequenceNumber: this.#nextSequence(),
      streamSid: this.streamSid,
      mark: { name },
    });
  }

  #stopClock(): void {
    if (this.#clock !== undefined) clearInterval(this.#clock);
    this.#clock = undefined;
  }

  // --- plumbing -----------------------------------------------------------

  #onClosed(): void {
    this.#isClosed = true;
    this.#stopClock();
    this.#closing.abort();
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error("stream closed before a match"));
    }
    for (const waiter of this.#playWaiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(
        new Error(`stream closed after ${this.#playedBytes} bytes played`),
      );
    }
  }

  #nextSequence(): string {
    return String(++this.#sequence);
  }

  #send(message: JsonObject): void {
    if (this.#socket.readyState === WebSocket.OPEN) {
      this.#socket.send(JSON.stringify(message));
    }
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#closing.signal;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
    });
  }

  #take(predicate: (m: JsonObject) => boolean): JsonObject | null {
    const found = this.received.find((m) =>
      !this.#consumed.has(m) && predicate(m)
    );
    if (!found) return null;
    this.#consumed.add(found);
    return found;
  }

  #notifyWaiters(): void {
    for (const waiter of [...this.#waiters]) {
      const found = this.#take(waiter.matches);
      if (!found) continue;
      clearTimeout(waiter.timer);
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(found);
    }
  }
}
