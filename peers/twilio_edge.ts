/**
 * A simulated Twilio Media Streams edge: the Twilio side of a bidirectional
 * `<Connect><Stream>`. It speaks the documented wire format (JSON text frames,
 * numbers as strings), signs the handshake like Twilio, and plays outbound
 * audio on a real-time clock so marks and `clear` behave as on a real call.
 * Anything real Twilio would reject is recorded in `protocolErrors`.
 *
 * A lean edge (the bench's hundreds of calls) speaks exactly the same wire
 * format but keeps counters instead of every message and byte of audio,
 * connects with TCP_NODELAY (./ws_client.ts), and plays on `tick()` from
 * one clock shared by every call instead of a timer of its own.
 *
 * @module
 */
import twilio from "twilio";
import { isObject, joinBytes, type JsonObject, sleep } from "./common.ts";
import { startMessage } from "./twilio_messages.ts";
import { Waiters } from "./waiters.ts";
import { RawWebSocket } from "./ws_client.ts";

export type { JsonObject };

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
  /**
   * For load: no message, audio or mark is kept (`received`,
   * `receivedAudio`, `playedAudio`, `marksAcked` stay empty and `waitFor`
   * is refused), the socket keeps TCP_NODELAY (Deno's own WebSocket client
   * clears it, so a 20 ms frame would wait for the delayed ACK of the one
   * before), and audio plays on `tick()`, not on a timer of its own.
   */
  lean?: boolean;
  /** Each assistant audio payload, decoded, once queued (the bench reads its tags). */
  onMedia?: (audio: Uint8Array) => void;
  /** Each `clear` from the server, as it arrives. */
  onClear?: () => void;
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

type Queued =
  /** `data` is kept only to record what was played (not when lean). */
  | { kind: "audio"; bytes: number; data: Uint8Array | undefined }
  | { kind: "mark"; name: string };

/** The two sockets an edge can use, seen the same way. */
interface StreamSocket {
  readonly open: boolean;
  send(data: string | Uint8Array): void;
  close(code: number): void;
}

function sid(prefix: string): string {
  return prefix + crypto.randomUUID().replaceAll("-", "");
}

export class TwilioEdge {
  readonly callSid: string;
  readonly accountSid: string;
  readonly streamSid: string;
  /** Every message from the server, parsed, in order (none when lean). */
  readonly received: JsonObject[] = [];
  /** What real Twilio would reject, with its error code where it has one. */
  readonly protocolErrors: string[] = [];
  /** Mark names echoed back to the server, in order (none when lean). */
  readonly marksAcked: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  #socket: StreamSocket;
  #options: TwilioEdgeOptions;
  #keep: boolean;
  #sequence = 0;
  #chunk = 0;
  /** The stream's timeline (ms): where the next frame's `media.timestamp` lies. */
  #timelineMs = 0;
  #clears = 0;
  #isClosed = false;
  #receivedAudio: Uint8Array[] = [];
  #played: Uint8Array[] = [];
  #playedBytes = 0;
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #clock: ReturnType<typeof setInterval> | undefined;
  #consumed = new Set<JsonObject>();
  #waiters = new Waiters<(m: JsonObject) => boolean, JsonObject>();
  /** Waits for a number of bytes played. */
  #playWaiters = new Waiters<number, true>();
  /** Cancels the pacing sleep of sendAudio when the socket closes. */
  #closing = new AbortController();

  private constructor(
    socket: StreamSocket,
    closed: Promise<{ code: number; reason: string }>,
    options: TwilioEdgeOptions,
  ) {
    this.#socket = socket;
    this.#options = options;
    this.#keep = !options.lean;
    this.callSid = options.callSid ?? sid("CA");
    this.accountSid = options.accountSid ?? sid("AC");
    this.streamSid = options.streamSid ?? sid("MZ");
    this.closed = closed.then((info) => {
      this.#onClosed();
      return info;
    });
  }

  /**
   * Opens the stream socket the way Twilio does. Resolves once it is open (and
   * `connected`/`start` are sent); rejects if the server refuses the upgrade.
   */
  static async connect(options: TwilioEdgeOptions): Promise<TwilioEdge> {
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
    const edge = options.lean
      ? await TwilioEdge.#leanSocket(options, headers)
      : await TwilioEdge.#webSocket(options, headers);
    if (options.autoStart ?? true) {
      edge.sendConnected();
      edge.sendStart();
    }
    return edge;
  }

  static #webSocket(
    options: TwilioEdgeOptions,
    headers: Record<string, string>,
  ): Promise<TwilioEdge> {
    const socket = new WebSocket(options.url, { headers });
    socket.binaryType = "arraybuffer";
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.addEventListener(
        "close",
        (ev) => resolve({ code: ev.code, reason: ev.reason }),
      )
    );
    const edge = new TwilioEdge(
      {
        get open() {
          return socket.readyState === WebSocket.OPEN;
        },
        send: (data) => socket.send(data),
        close: (code) => {
          if (socket.readyState <= WebSocket.OPEN) socket.close(code);
        },
      },
      closed,
      options,
    );
    socket.addEventListener("message", (ev) => edge.#onMessage(ev.data));
    return new Promise((resolve, reject) => {
      const onOpen = () => {
        socket.removeEventListener("error", onError);
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

  static async #leanSocket(
    options: TwilioEdgeOptions,
    headers: Record<string, string>,
  ): Promise<TwilioEdge> {
    const socket = await RawWebSocket.connect(options.url, headers);
    const edge = new TwilioEdge(
      {
        get open() {
          return socket.isOpen;
        },
        send: (data) => {
          if (typeof data !== "string") {
            throw new Error("a lean edge sends text frames only");
          }
          socket.sendText(data);
        },
        close: (code) => socket.close(code),
      },
      socket.closed,
      options,
    );
    socket.onmessage = (data) => edge.#onMessage(data);
    return edge;
  }

  get clears(): number {
    return this.#clears;
  }

  /** Assistant audio queued at the edge and not played yet, in bytes. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  sendConnected(): void {
    this.#send({ event: "connected", protocol: "Call", version: "1.0.0" });
  }

  sendStart(): void {
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
      if (wait > 0) await sleep(wait, this.#closing.signal);
      if (this.#isClosed) return;
      this.sendMediaFrame(audio.subarray(i, i + frameBytes));
    }
  }

  /**
   * Twilio leaves `ms` of the caller's audio out of the stream (as it may do
   * with silent frames): nothing is sent for that long, and the next frame's
   * `media.timestamp` shows the jump.
   */
  async omitAudio(ms: number): Promise<void> {
    this.#timelineMs += ms;
    await sleep(ms, this.#closing.signal);
  }

  sendMediaFrame(payload: Uint8Array): void {
    this.sendMediaPayload(payload.toBase64());
  }

  /** A media frame whose payload is already base64 (the bench's, built once). */
  sendMediaPayload(base64: string): void {
    // Built as text: fifty frames a second per call is the edge's hot path.
    // The timestamp is the frame's place on the stream's timeline: µ-law is
    // 8 bytes a millisecond, and base64 carries 3 bytes in 4 characters.
    const timestamp = Math.round(this.#timelineMs);
    const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
    this.#timelineMs += ((base64.length / 4) * 3 - padding) / 8;
    this.sendRaw(
      `{"event":"media","sequenceNumber":"${this.#nextSequence()}","streamSid":"${this.streamSid}","media":{"track":"inbound","chunk":"${++this
        .#chunk}","timestamp":"${timestamp}","payload":"${base64}"}}`,
    );
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
    if (this.#socket.open) this.#socket.send(data);
  }

  /** Closes the socket without a `stop` (an abrupt drop). */
  close(code = 1000): void {
    this.#stopClock();
    this.#socket.close(code);
  }

  /**
   * Plays 20 ms of the queued audio, echoing the marks whose audio has
   * played: a lean edge's clock, called every 20 ms by its owner.
   */
  tick(): void {
    let budget = BYTES_PER_TICK;
    const queue = this.#queue;
    while (queue.length > 0) {
      const head = queue[0];
      if (head.kind === "mark") {
        queue.shift();
        this.#ackMark(head.name);
        continue;
      }
      if (budget === 0) break;
      const take = Math.min(budget, head.bytes);
      if (head.data) {
        this.#played.push(head.data.subarray(0, take));
        head.data = head.data.subarray(take);
      }
      head.bytes -= take;
      this.#playedBytes += take;
      this.#queuedBytes -= take;
      budget -= take;
      if (head.bytes === 0) queue.shift();
    }
    if (queue.length === 0) this.#stopClock();
    if (this.#playWaiters.size > 0) {
      this.#playWaiters.wake((bytes) =>
        this.#playedBytes >= bytes ? true : undefined
      );
    }
  }

  /** All assistant audio received in `media` messages, in order, decoded. */
  receivedAudio(): Uint8Array {
    return joinBytes(this.#receivedAudio);
  }

  /** Audio the playback clock actually played to the caller. */
  playedAudio(): Uint8Array {
    return joinBytes(this.#played);
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
    if (!this.#keep) {
      return Promise.reject(new Error("a lean edge keeps no messages"));
    }
    const found = this.#take(predicate);
    if (found) return Promise.resolve(found);
    if (this.#isClosed) {
      return Promise.reject(new Error("stream closed before a match"));
    }
    return this.#waiters.add(
      predicate,
      timeoutMs,
      () =>
        new Error(
          `no matching message within ${timeoutMs} ms (received: ${
            this.received.map((m) => m.event).join(", ")
          })`,
        ),
    );
  }

  /** Resolves once at least `bytes` of audio have been played. */
  waitForPlayed(bytes: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    if (this.#playedBytes >= bytes) return Promise.resolve();
    if (this.#isClosed) return Promise.reject(this.#closedAfterPlaying());
    return this.#playWaiters.add(
      bytes,
      timeoutMs,
      () =>
        new Error(
          `only ${this.#playedBytes} of ${bytes} bytes played within ${timeoutMs} ms`,
        ),
    ).then(() => {});
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
    if (this.#keep) this.received.push(message);
    this.#handle(message);
    if (this.#waiters.size > 0) this.#waiters.wake((m) => this.#take(m));
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
      if (this.#keep) this.#receivedAudio.push(audio);
      if (audio.length > 0) {
        this.#queuedBytes += audio.length;
        this.#enqueue({
          kind: "audio",
          bytes: audio.length,
          data: this.#keep ? audio : undefined,
        });
      }
      this.#options.onMedia?.(audio);
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
    if (this.#keep) this.#clock ??= setInterval(() => this.tick(), TICK_MS);
  }

  /** `clear`: queued audio is dropped unplayed; pending marks echo at once. */
  #clear(): void {
    this.#clears++;
    const pending = this.#queue.splice(0);
    this.#queuedBytes = 0;
    this.#stopClock();
    this.#options.onClear?.();
    for (const entry of pending) {
      if (entry.kind === "mark") this.#ackMark(entry.name);
    }
  }

  #ackMark(name: string): void {
    if (this.#keep) this.marksAcked.push(name);
    this.sendRaw(
      `{"event":"mark","sequenceNumber":"${this.#nextSequence()}","streamSid":"${this.streamSid}","mark":{"name":${
        JSON.stringify(name)
      }}}`,
    );
  }

  #stopClock(): void {
    if (this.#clock !== undefined) clearInterval(this.#clock);
    this.#clock = undefined;
  }

  // --- plumbing -----------------------------------------------------------

  #onClosed(): void {
    this.#isClosed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#stopClock();
    this.#closing.abort();
    this.#waiters.failAll(() => new Error("stream closed before a match"));
    this.#playWaiters.failAll(() => this.#closedAfterPlaying());
  }

  #nextSequence(): string {
    return String(++this.#sequence);
  }

  #send(message: JsonObject): void {
    this.sendRaw(JSON.stringify(message));
  }

  #take(predicate: (m: JsonObject) => boolean): JsonObject | undefined {
    const found = this.received.find((m) =>
      !this.#consumed.has(m) && predicate(m)
    );
    if (found) this.#consumed.add(found);
    return found;
  }

  #closedAfterPlaying(): Error {
    return new Error(`stream closed after ${this.#playedBytes} bytes played`);
  }
}
