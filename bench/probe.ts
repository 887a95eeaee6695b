/**
 * What the two peers share to measure the server between them: tagged audio
 * and one record per simulated call.
 *
 * Every caller frame and every assistant delta starts with a 9-byte tag
 * (magic, direction, call index, sequence number). Nine bytes are exactly
 * twelve base64 characters, so the tag can be read from the first twelve
 * characters of a payload that the server passes through untouched.
 *
 * @module
 */

import { Histogram } from "./stats.ts";

export const TAG_MAGIC = 0xb7;
export const CALLER = 1;
export const ASSISTANT = 2;
/** Base64 characters holding the tag. */
export const TAG_CHARS = 12;
const TAG_BYTES = 9;
/** Send times kept per call and direction (a power of two). */
const RING = 1024;

export interface Tag {
  direction: number;
  call: number;
  seq: number;
}

const tagScratch = new Uint8Array(TAG_BYTES);

/** The 12 base64 characters of a tag. */
export function encodeTag(
  direction: number,
  call: number,
  seq: number,
): string {
  tagScratch[0] = TAG_MAGIC;
  tagScratch[1] = direction;
  tagScratch[2] = (call >>> 8) & 0xff;
  tagScratch[3] = call & 0xff;
  tagScratch[4] = (seq >>> 24) & 0xff;
  tagScratch[5] = (seq >>> 16) & 0xff;
  tagScratch[6] = (seq >>> 8) & 0xff;
  tagScratch[7] = seq & 0xff;
  tagScratch[8] = 0x7f;
  return tagScratch.toBase64();
}

/** Reads the tag at the start of decoded audio; undefined when there is none. */
export function readTag(audio: Uint8Array): Tag | undefined {
  if (audio.length < TAG_BYTES || audio[0] !== TAG_MAGIC) return undefined;
  return {
    direction: audio[1],
    call: (audio[2] << 8) | audio[3],
    seq: ((audio[4] << 24) | (audio[5] << 16) | (audio[6] << 8) | audio[7]) >>>
      0,
  };
}

/** Base64 of `bytes` of quiet µ-law noise, to follow a tag (bytes counted after the tag). */
export function audioTail(bytes: number): string {
  const tail = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) tail[i] = 0xf0 | ((i * 7) & 0x0f);
  return tail.toBase64();
}

/** 8 kHz µ-law: 8 bytes per millisecond. */
export const BYTES_PER_MS = 8;
/** Caller frames: 20 ms of 8 kHz µ-law. */
export const FRAME_BYTES = 160;
export const FRAME_TAIL = audioTail(FRAME_BYTES - TAG_BYTES);
/** Assistant deltas: 100 ms. */
export const DELTA_BYTES = 800;
export const DELTA_TAIL = audioTail(DELTA_BYTES - TAG_BYTES);

/** Measurements of one simulated call, written by both peers. */
export class CallRecord {
  readonly index: number;
  readonly callSid: string;
  readonly streamSid: string;
  /** performance.now() of each caller frame by sequence number. */
  readonly frameSentAt = new Float64Array(RING);
  /** performance.now() of each assistant delta by sequence number. */
  readonly deltaSentAt = new Float64Array(RING);

  // Caller → OpenAI.
  framesSent = 0;
  framesReceived = 0;
  /** Sequence numbers skipped at the fake Realtime peer. */
  framesGap = 0;
  framesOutOfOrder = 0;
  lastFrameSeq = -1;
  // OpenAI → caller.
  deltasSent = 0;
  deltasReceived = 0;
  deltasGap = 0;
  deltasOutOfOrder = 0;
  lastDeltaSeq = -1;

  // Call set-up.
  webhookAt = -1;
  startSentAt = -1;
  firstFrameSentAt = -1;
  firstFrameAcceptedAt = -1;
  /** When the fake received this call's session.update (known once linked). */
  sessionReadyAt = -1;

  /** Assistant audio queued at the call's edge and not yet played, in bytes. */
  queuedBytes: () => number = () => 0;
  /** Drives the simulated model of this call every 20 ms, once linked. */
  upstreamTick: (() => void) | undefined;

  // Barge-in.
  /** When speech_started was sent while audio was playing; -1: none pending. */
  bargeSentAt = -1;
  bargeIns = 0;
  bargeInsMissed = 0;
  /** speech_started sent while nothing was playing (no clear expected). */
  bargesNotPlaying = 0;
  clears = 0;

  constructor(index: number, callSid: string, streamSid: string) {
    this.index = index;
    this.callSid = callSid;
    this.streamSid = streamSid;
  }

  nextFrameTag(now: number): string {
    const seq = this.framesSent++;
    this.frameSentAt[seq & (RING - 1)] = now;
    if (seq === 0) this.firstFrameSentAt = now;
    return encodeTag(CALLER, this.index, seq);
  }

  nextDeltaTag(now: number): string {
    const seq = this.deltasSent++;
    this.deltaSentAt[seq & (RING - 1)] = now;
    return encodeTag(ASSISTANT, this.index, seq);
  }
}

/** Everything measured, shared by the peers and reset for each window. */
export class Probe {
  readonly calls: CallRecord[] = [];
  /** Caller frame sent by the edge → its append received by the fake. */
  readonly inbound = new Histogram();
  /** Assistant delta sent by the fake → its media received by the edge. */
  readonly outbound = new Histogram();
  /**
   * Assistant audio queued at the edge just after each delta arrived, in
   * ms: how far ahead of the caller's ear the server keeps the audio (the
   * GPT-Live engine paces it to a playback window).
   */
  readonly playbackQueue = new Histogram(5000, 10);
  /** The same over the whole run. */
  readonly playbackQueueRun = new Histogram(5000, 10);
  /** speech_started sent by the fake → clear received by the edge. */
  readonly bargeIn = new Histogram();
  /** The same over the whole run. */
  readonly bargeInRun = new Histogram();
  /** Over the whole run: stream `start` sent → first caller frame accepted upstream. */
  readonly firstFrame = new Histogram();
  /** Over the whole run: first caller frame sent → accepted upstream. */
  readonly firstFrameTransit = new Histogram();
  /** Metronome lateness (the load generator's own health). */
  readonly tickLate = new Histogram();
  /**
   * The same two socket paths with no server between them: a raw client
   * (like an edge) → the Realtime peer's listener, and back. The floor that
   * loopback and the generator's own event loop put under both figures.
   */
  readonly floorInbound = new Histogram();
  readonly floorOutbound = new Histogram();
  /** Messages a real peer would have refused, by description. */
  readonly protocolErrors = new Map<string, number>();

  protocolError(what: string): void {
    this.protocolErrors.set(what, (this.protocolErrors.get(what) ?? 0) + 1);
  }

  /** The fake received a caller frame. */
  frameArrived(record: CallRecord, seq: number, now: number): void {
    record.framesReceived++;
    if (seq > record.lastFrameSeq) {
      record.framesGap += seq - record.lastFrameSeq - 1;
      record.lastFrameSeq = seq;
    } else {
      record.framesOutOfOrder++;
    }
    if (record.framesSent - seq > RING) return; // too old to time
    this.inbound.record(now - record.frameSentAt[seq & (RING - 1)]);
    if (record.firstFrameAcceptedAt < 0) {
      record.firstFrameAcceptedAt = now;
      if (record.startSentAt >= 0) {
        this.firstFrame.record(now - record.startSentAt);
      }
      if (record.firstFrameSentAt >= 0) {
        this.firstFrameTransit.record(now - record.firstFrameSentAt);
      }
    }
  }

  /** The edge received an assistant delta. */
  deltaArrived(record: CallRecord, seq: number, now: number): void {
    record.deltasReceived++;
    if (seq > record.lastDeltaSeq) {
      record.deltasGap += seq - record.lastDeltaSeq - 1;
      record.lastDeltaSeq = seq;
    } else {
      record.deltasOutOfOrder++;
    }
    const queuedMs = record.queuedBytes() / BYTES_PER_MS;
    this.playbackQueue.record(queuedMs);
    this.playbackQueueRun.record(queuedMs);
    if (record.deltasSent - seq > RING) return;
    this.outbound.record(now - record.deltaSentAt[seq & (RING - 1)]);
  }

  /** The edge received the `clear` answering a barge-in. */
  bargeInAnswered(record: CallRecord, now: number): void {
    const ms = now - record.bargeSentAt;
    this.bargeIn.record(ms);
    this.bargeInRun.record(ms);
    record.bargeIns++;
    record.bargeSentAt = -1;
  }

  resetWindow(): void {
    this.inbound.reset();
    this.outbound.reset();
    this.bargeIn.reset();
    this.playbackQueue.reset();
    this.tickLate.reset();
    this.floorInbound.reset();
    this.floorOutbound.reset();
  }
}
