/**
 * The load: calls placed as Twilio places them (a signed webhook, then the
 * TwiML's stream with Twilio's handshake signature, through lean simulated
 * edges from peers/twilio_edge.ts), and one 1 ms metronome that steps 1/20
 * of the calls per slot, so each call sends a tagged 160-byte frame every
 * 20 ms, plays 20 ms of assistant audio, and steps its simulated model.
 *
 * @module
 */

import { TwilioEdge } from "../peers/twilio_edge.ts";
import {
  CALL_PARAMS,
  streamSignature,
  streamUrlOf,
  webhookTwiml,
} from "../peers/twilio_requests.ts";
import type { Options } from "./options.ts";
import {
  ASSISTANT,
  CallRecord,
  FRAME_TAIL,
  type Probe,
  readTag,
} from "./probe.ts";
import { delay, PUBLIC_ORIGIN } from "./server.ts";

/** 20 ms of every call, spread over `BUCKETS` phases so frames are not all in step. */
export const FRAME_MS = 20;
export const BUCKETS = 20;
const SLOT_MS = FRAME_MS / BUCKETS;
/** A barge-in with no `clear` within this long is counted as missed. */
const BARGE_TIMEOUT_MS = 1000;

/** One call of the load: what is measured, and its Twilio side. */
interface Call {
  record: CallRecord;
  edge: TwilioEdge;
  /**
   * False once the call is winding down: no caller frame, no new answer,
   * but its edge keeps playing, so audio the server paces out still lands.
   */
  sending: boolean;
}

/** One shared timer for every call: each slot steps the calls of one phase. */
class Metronome {
  readonly #buckets: Call[][] = Array.from({ length: BUCKETS }, () => []);
  readonly #probe: Probe;
  /** Run every 5 slots (5 ms): the floor's timestamps. */
  calibrate: (() => void) | undefined;
  #origin = 0;
  #slot = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(probe: Probe) {
    this.#probe = probe;
  }

  add(call: Call): void {
    this.#buckets[call.record.index % BUCKETS].push(call);
  }

  remove(call: Call): void {
    const bucket = this.#buckets[call.record.index % BUCKETS];
    const at = bucket.indexOf(call);
    if (at >= 0) bucket.splice(at, 1);
  }

  start(): void {
    this.#origin = performance.now();
    this.#slot = 0;
    this.#loop();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #loop = (): void => {
    let now = performance.now();
    // Catch up slot by slot if late, so every call keeps 50 frames a second.
    while (this.#origin + this.#slot * SLOT_MS <= now) {
      this.#probe.tickLate.record(now - (this.#origin + this.#slot * SLOT_MS));
      const bucket = this.#buckets[this.#slot % BUCKETS];
      for (let i = 0; i < bucket.length; i++) step(bucket[i], now);
      if (this.#slot % 5 === 0) this.calibrate?.();
      this.#slot++;
      now = performance.now();
    }
    this.#timer = setTimeout(
      this.#loop,
      Math.max(0, this.#origin + this.#slot * SLOT_MS - now),
    );
  };
}

/** One 20 ms step of a call: a caller frame out, 20 ms played, the model's turn. */
function step({ record, edge, sending }: Call, now: number): void {
  if (edge.isClosed) return;
  if (sending) edge.sendMediaPayload(record.nextFrameTag(now) + FRAME_TAIL);
  edge.tick();
  if (record.bargeSentAt >= 0 && now - record.bargeSentAt > BARGE_TIMEOUT_MS) {
    record.bargeInsMissed++;
    record.bargeSentAt = -1;
  }
  if (sending) record.upstreamTick?.();
}

export class Load {
  readonly calls: Call[] = [];
  readonly metronome: Metronome;
  readonly runId = crypto.getRandomValues(new Uint8Array(4)).toHex();
  failedCalls: string[] = [];
  droppedCalls = 0;
  #stopping = false;
  readonly #retired = new Set<Call>();

  constructor(
    readonly port: number,
    readonly options: Options,
    readonly probe: Probe,
  ) {
    this.metronome = new Metronome(probe);
  }

  /** Calls whose stream is still open. */
  liveCalls(): number {
    return this.calls.filter((c) => !c.edge.isClosed).length;
  }

  /** Places calls until `target` are live, at `connectRate` per second. */
  async grow(target: number): Promise<void> {
    const first = this.probe.calls.length;
    const end = first + target - this.calls.length;
    const begin = performance.now();
    const pending: Promise<void>[] = [];
    for (let index = first; index < end; index++) {
      const due = begin + ((index - first) * 1000) / this.options.connectRate;
      const wait = due - performance.now();
      if (wait > 0) await delay(wait);
      pending.push(
        this.#place(index).catch((error) => {
          this.failedCalls.push(`call ${index}: ${error.message ?? error}`);
        }),
      );
    }
    await Promise.all(pending);
    // Each call is live once its first frame reached the simulator.
    const deadline = performance.now() + 10_000;
    while (
      performance.now() < deadline &&
      this.probe.calls.some((c) => c.firstFrameAcceptedAt < 0)
    ) {
      await delay(50);
    }
  }

  async #place(index: number): Promise<void> {
    const id = `${this.runId}${index.toString(16).padStart(24, "0")}`;
    const record = new CallRecord(index, `CA${id}`, `MZ${id}`);
    const probe = this.probe;
    probe.calls[index] = record;
    record.webhookAt = performance.now();
    const streamUrl = streamUrlOf(
      await webhookTwiml(
        `http://127.0.0.1:${this.port}`,
        `${PUBLIC_ORIGIN}/incoming-call`,
        { ...CALL_PARAMS, CallSid: record.callSid },
      ),
    );
    if (this.options.answerGapMs > 0) await delay(this.options.answerGapMs);
    const edge = await TwilioEdge.connect({
      url: `ws://127.0.0.1:${this.port}${new URL(streamUrl).pathname}`,
      signature: streamSignature(streamUrl),
      callSid: record.callSid,
      accountSid: CALL_PARAMS.AccountSid,
      streamSid: record.streamSid,
      customParameters: { caller: CALL_PARAMS.From },
      lean: true,
      onMedia: (audio) => {
        const now = performance.now();
        const tag = readTag(audio);
        if (tag && tag.direction === ASSISTANT && tag.call === record.index) {
          probe.deltaArrived(record, tag.seq, now);
        } else {
          probe.protocolError("twilio: media that no peer sent to this call");
        }
      },
      onClear: () => {
        record.clears++;
        if (record.bargeSentAt >= 0) {
          probe.bargeInAnswered(record, performance.now());
        }
      },
    });
    // `connected` and `start` are sent; Twilio's first frame follows at once.
    record.startSentAt = performance.now();
    record.queuedBytes = () => edge.queuedBytes;
    edge.sendMediaPayload(record.nextFrameTag(record.startSentAt) + FRAME_TAIL);
    const call = { record, edge, sending: true };
    this.calls.push(call);
    this.metronome.add(call);
    edge.closed.then(() => {
      this.metronome.remove(call);
      for (const error of edge.protocolErrors) {
        probe.protocolError(`twilio ${error.slice(0, 60)}`);
      }
      if (!this.#stopping && !this.#retired.has(call)) this.droppedCalls++;
    });
  }

  /**
   * The live calls stop sending, let what is in flight land, then hang up and
   * leave the load; resolves when their streams are closed.
   */
  async retire(): Promise<void> {
    const leaving = this.calls.splice(0);
    for (const call of leaving) {
      this.#retired.add(call);
      call.sending = false;
    }
    await this.#settle();
    for (const call of leaving) call.edge.sendStop();
    await Promise.all(leaving.map((c) => c.edge.closed));
  }

  /** Stops sending and lets what is in flight land: a late frame is not a lost one. */
  async quiesce(): Promise<void> {
    for (const call of this.calls) call.sending = false;
    await this.#settle();
  }

  /** Waits until no frame or delta has arrived for 500 ms (at most 10 s). */
  async #settle(): Promise<void> {
    const deadline = performance.now() + 10_000;
    let arrived = -1;
    while (performance.now() < deadline) {
      let now = 0;
      for (const c of this.probe.calls) {
        now += c.framesReceived + c.deltasReceived;
      }
      if (now === arrived) return;
      arrived = now;
      await delay(500);
    }
  }

  /** Every caller hangs up (`stop`, close); resolves when every stream is closed. */
  async hangUp(): Promise<void> {
    this.#stopping = true;
    for (const call of this.calls) call.edge.sendStop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.calls.map((c) => c.edge.closed)),
      new Promise((resolve) => timer = setTimeout(resolve, 5000)),
    ]);
    clearTimeout(timer);
    this.metronome.stop();
  }
}
