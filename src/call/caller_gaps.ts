/**
 * Gaps in the caller's audio. Twilio may leave silent frames out of a media
 * stream; server-side voice detection, which listens to the audio it is
 * given, then never hears the caller stop, and the assistant never answers.
 * A gap shows in two ways: a frame whose `media.timestamp` (its place on the
 * stream's timeline) lies past the audio so far, and no frame at all for
 * more than IDLE_GAP_MS. Either way the missing time goes upstream as µ-law
 * silence, in whole 20 ms frames. Pure: the bridge asks, then sends.
 *
 * Nothing is filled while frames flow (a jump under one frame is jitter),
 * and nothing twice: silence sent for an idle stretch counts against the
 * jump the next frame shows.
 */

import { MULAW_BYTES_PER_MS } from "./playback_ledger.ts";

/** No frame for longer than this: the caller's side is silent, and filled. */
export const IDLE_GAP_MS = 500;
const FRAME_MS = 20;

/** Whole frames of `ms`, rounded down. */
const wholeFrames = (ms: number) => Math.floor(ms / FRAME_MS) * FRAME_MS;

export class CallerGaps {
  /** The caller's timeline (ms) up to which audio, real or filled, went upstream. */
  #sentMs: number | undefined;
  /** When (clock ms) the last frame came, and the timeline then (per frame: no allocation). */
  #lastFrameAt = 0;
  #lastFrameSentMs = 0;

  /** A frame at `timestampMs` of `bytes` µ-law, now: the silence (ms) to send before it. */
  frame(timestampMs: number, bytes: number, now: number): number {
    const start = this.#sentMs ?? timestampMs;
    const fill = wholeFrames(timestampMs - start);
    const silence = fill >= FRAME_MS ? fill : 0;
    this.#sentMs = start + silence + bytes / MULAW_BYTES_PER_MS;
    this.#lastFrameAt = now;
    this.#lastFrameSentMs = this.#sentMs;
    return silence;
  }

  /** Checked every so often: the silence (ms) to send now, after IDLE_GAP_MS without frames. */
  idle(now: number): number {
    if (this.#sentMs === undefined) return 0;
    const quiet = now - this.#lastFrameAt;
    if (quiet <= IDLE_GAP_MS) return 0;
    const fill = wholeFrames(this.#lastFrameSentMs + quiet - this.#sentMs);
    if (fill < FRAME_MS) return 0;
    this.#sentMs += fill;
    return fill;
  }
}

const SILENT_FRAME = new Uint8Array(FRAME_MS * MULAW_BYTES_PER_MS).fill(0xff);
const silencePayloads = new Map<number, string>();

/** `ms` of µ-law silence (0xff), base64, as one payload. */
export function mulawSilence(ms: number): string {
  let payload = silencePayloads.get(ms);
  if (payload === undefined) {
    const frames = ms / FRAME_MS;
    const bytes = new Uint8Array(frames * SILENT_FRAME.length);
    for (let i = 0; i < frames; i++) {
      bytes.set(SILENT_FRAME, i * SILENT_FRAME.length);
    }
    payload = bytes.toBase64();
    if (silencePayloads.size < 64) silencePayloads.set(ms, payload);
  }
  return payload;
}
