/**
 * A lean Twilio Media Streams edge for the benchmark.
 *
 * tests/helpers/twilio_edge.ts keeps every message and every byte of audio
 * and runs one setInterval per call; this edge speaks the same wire format
 * (signed handshake, `connected`, `start`, `media` with string numbers,
 * `mark` echoed by a playback clock, `clear` that flushes the buffer and
 * echoes its pending marks, `stop`) but keeps only counters, and is driven by
 * the benchmark's shared metronome: one `tick()` per call every 20 ms sends
 * a caller frame and plays 20 ms of assistant audio. It connects with
 * bench/ws_client.ts (TCP_NODELAY set), not Deno's WebSocket (Nagle on).
 *
 * @module
 */

import { RawWebSocket } from "./ws_client.ts";
import { startMessage } from "../tests/helpers/twilio_messages.ts";
import {
  ASSISTANT,
  type CallRecord,
  FRAME_TAIL,
  type Probe,
  readTag,
} from "./probe.ts";

/** Twilio plays 8 kHz µ-law: 160 bytes per 20 ms. */
const BYTES_PER_TICK = 160;
/** A barge-in with no `clear` within this long is counted as missed. */
const BARGE_TIMEOUT_MS = 1000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class TwilioPeer {
  readonly record: CallRecord;
  readonly closed: Promise<{ code: number; reason: string }>;
  #socket: RawWebSocket;
  #probe: Probe;
  #accountSid: string;
  #sequence = 0;
  #chunk = 0;
  #startedAt = 0;
  /** Playback buffer: audio byte counts and mark names, in order. */
  #queue: (number | string)[] = [];
  #isClosed = false;
  #hungUp = false;

  private constructor(
    socket: RawWebSocket,
    record: CallRecord,
    probe: Probe,
    accountSid: string,
  ) {
    this.#socket = socket;
    this.record = record;
    this.#probe = probe;
    this.#accountSid = accountSid;
    socket.onmessage = (data) => this.#onMessage(data);
    this.closed = socket.closed.then((info) => {
      this.#isClosed = true;
      this.#queue = [];
      this.record.playQueuedBytes = 0;
      return info;
    });
  }

  /**
   * Opens the stream as Twilio does (X-Twilio-Signature over the public wss
   * URL), then sends `connected`, `start` and the first media frame at once,
   * as Twilio does when the call is answered.
   */
  static async connect(
    url: string,
    signature: string,
    record: CallRecord,
    probe: Probe,
    accountSid: string,
  ): Promise<TwilioPeer> {
    const socket = await RawWebSocket.connect(url, {
      "X-Twilio-Signature": signature,
    });
    const peer = new TwilioPeer(socket, record, probe, accountSid);
    peer.#send('{"event":"connected","protocol":"Call","version":"1.0.0"}');
    peer.#sendStart();
    peer.#sendFrame();
    return peer;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** One 20 ms step: a caller frame out, 20 ms of assistant audio played. */
  tick(now: number): void {
    if (this.#isClosed || this.#hungUp) return;
    this.#sendFrame();
    this.#play();
    const record = this.record;
    if (
      record.bargeSentAt >= 0 && now - record.bargeSentAt > BARGE_TIMEOUT_MS
    ) {
      record.bargeInsMissed++;
      record.bargeSentAt = -1;
    }
  }

  /** The caller hangs up: `stop`, then the socket closes. */
  hangUp(): void {
    if (this.#isClosed || this.#hungUp) return;
    this.#hungUp = true;
    this.#send(
      `{"event":"stop","sequenceNumber":"${++this
        .#sequence}","streamSid":"${this.record.streamSid}","stop":{"accountSid":"${this.#accountSid}","callSid":"${this.record.callSid}"}}`,
    );
    this.#socket.close(1000);
  }

  #sendStart(): void {
    const record = this.record;
    this.#startedAt = performance.now();
    record.startSentAt = this.#startedAt;
    this.#send(JSON.stringify(startMessage({
      sequenceNumber: String(++this.#sequence),
      streamSid: record.streamSid,
      accountSid: this.#accountSid,
      callSid: record.callSid,
      customParameters: { caller: "+14155550123" },
    })));
  }

  #sendFrame(): void {
    const now = performance.now();
    const record = this.record;
    const tag = record.nextFrameTag(now);
    this.#send(
      `{"event":"media","sequenceNumber":"${++this
        .#sequence}","streamSid":"${record.streamSid}","media":{"track":"inbound","chunk":"${++this
        .#chunk}","timestamp":"${
        Math.round(now - this.#startedAt)
      }","payload":"${tag}${FRAME_TAIL}"}}`,
    );
  }

  /** Plays one tick of audio; marks at the head echo once the audio before them has played. */
  #play(): void {
    const queue = this.#queue;
    let budget = BYTES_PER_TICK;
    while (queue.length > 0) {
      const head = queue[0];
      if (typeof head === "string") {
        queue.shift();
        this.#ackMark(head);
        continue;
      }
      if (budget === 0) break;
      const take = Math.min(budget, head);
      budget -= take;
      this.record.playQueuedBytes -= take;
      if (take === head) queue.shift();
      else queue[0] = head - take;
    }
  }

  #onMessage(data: unknown): void {
    const now = performance.now();
    const probe = this.#probe;
    if (typeof data !== "string") {
      probe.protocolError("twilio 31950: binary frame");
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      probe.protocolError("twilio 31951: message is not JSON");
      return;
    }
    if (!isObject(message)) {
      probe.protocolError("twilio 31951: message is not an object");
      return;
    }
    const record = this.record;
    if (message.streamSid !== record.streamSid) {
      probe.protocolError("twilio 31951: wrong streamSid");
      return;
    }
    switch (message.event) {
      case "media": {
        const payload = isObject(message.media)
          ? message.media.payload
          : undefined;
        let audio: Uint8Array;
        try {
          if (typeof payload !== "string") throw new Error("no payload");
          audio = Uint8Array.fromBase64(payload);
        } catch {
          probe.protocolError("twilio 31951: media.payload is not base64");
          return;
        }
        const tag = readTag(audio);
        if (tag && tag.direction === ASSISTANT && tag.call === record.index) {
          probe.deltaArrived(record, tag.seq, now);
        } else {
          probe.protocolError("twilio: media that no peer sent to this call");
        }
        if (audio.length > 0) {
          this.#queue.push(audio.length);
          record.playQueuedBytes += audio.length;
        }
        return;
      }
      case "mark": {
        const name = isObject(message.mark) ? message.mark.name : undefined;
        if (typeof name !== "string") {
          probe.protocolError("twilio 31951: mark.name is not a string");
          return;
        }
        // Nothing queued: the audio before this mark has already played.
        if (this.#queue.length === 0) this.#ackMark(name);
        else this.#queue.push(name);
        return;
      }
      case "clear": {
        record.clears++;
        if (record.bargeSentAt >= 0) probe.bargeInAnswered(record, now);
        const pending = this.#queue;
        this.#queue = [];
        record.playQueuedBytes = 0;
        for (const entry of pending) {
          if (typeof entry === "string") this.#ackMark(entry);
        }
        return;
      }
      default:
        probe.protocolError(
          `twilio 31951: unknown event ${JSON.stringify(message.event)}`,
        );
    }
  }

  #ackMark(name: string): void {
    this.#send(
      `{"event":"mark","sequenceNumber":"${++this
        .#sequence}","streamSid":"${this.record.streamSid}","mark":{"name":${
        JSON.stringify(name)
      }}}`,
    );
  }

  #send(text: string): void {
    this.#socket.sendText(text);
  }
}
