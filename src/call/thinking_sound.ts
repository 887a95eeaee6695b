/**
 * The quiet "thinking" sound a caller hears while a tool runs: one soft
 * 80 ms tone (a falling 660 → 520 Hz chirp with smooth edges, about -30 dBFS)
 * per second, made as G.711 µ-law in code, so there is no audio file.
 */

import { muLawEncode } from "../audio/mulaw.ts";

const SAMPLE_RATE = 8000;
/** One cycle of the sound: a tone, then silence. */
export const THINKING_CYCLE_MS = 1000;
const TONE_MS = 80;
/** About -30 dBFS: audible in a quiet room, never louder than speech. */
const AMPLITUDE = 1000;

/** One cycle of the sound, µ-law at 8 kHz. */
export function thinkingCycle(): Uint8Array {
  const samples = (SAMPLE_RATE * THINKING_CYCLE_MS) / 1000;
  const toneSamples = (SAMPLE_RATE * TONE_MS) / 1000;
  const out = new Uint8Array(samples);
  let phase = 0;
  for (let i = 0; i < samples; i++) {
    let value = 0;
    if (i < toneSamples) {
      const t = i / toneSamples;
      const frequency = 660 - 140 * t;
      phase += (2 * Math.PI * frequency) / SAMPLE_RATE;
      // A raised-cosine envelope: no click at either edge.
      const envelope = 0.5 - 0.5 * Math.cos(2 * Math.PI * t);
      value = AMPLITUDE * envelope * Math.sin(phase);
    }
    out[i] = muLawEncode(value);
  }
  return out;
}

/** The cycle as base64 payloads of `chunkMs` each, ready for Twilio `media` messages. */
export function thinkingChunks(chunkMs = 200): string[] {
  const cycle = thinkingCycle();
  const chunkBytes = (SAMPLE_RATE * chunkMs) / 1000;
  const chunks: string[] = [];
  for (let offset = 0; offset < cycle.length; offset += chunkBytes) {
    chunks.push(cycle.subarray(offset, offset + chunkBytes).toBase64());
  }
  return chunks;
}

/** Silence during a tool call before the thinking sound starts. */
export const THINKING_AFTER_MS = 1000;
/** The thinking sound never plays longer than this for one tool call. */
const MAX_THINKING_MS = 30_000;
/** Thinking sound kept queued at Twilio: it stops within this on a clear. */
const THINKING_QUEUE_MS = 400;
const CHUNK_MS = 200;
const CHUNKS = thinkingChunks(CHUNK_MS);

/** What the playback ledger holds, as the schedule needs it. */
export interface QueuedAudio {
  /** Nothing but the thinking sound is queued (or nothing at all). */
  onlyThinking: boolean;
  queuedMs: number;
}

/**
 * When the thinking sound plays during one tool call, from its start: once
 * nothing but silence has played for THINKING_AFTER_MS, enough of the sound
 * is kept queued to play on, for at most MAX_THINKING_MS. Pure: the bridge
 * ticks it and sends what it returns.
 */
export class ThinkingSchedule {
  readonly #startedAt: number;
  /** Since when nothing but the sound has been playing. */
  #quietSince: number | undefined;
  #next = 0;

  constructor(now: number, playing: boolean) {
    this.#startedAt = now;
    this.#quietSince = playing ? undefined : now;
  }

  /** The chunks (base64 µ-law) to queue now; undefined once the sound is over. */
  tick(now: number, queued: QueuedAudio): string[] | undefined {
    if (now - this.#startedAt > MAX_THINKING_MS) return undefined;
    if (!queued.onlyThinking) {
      this.#quietSince = undefined;
      return [];
    }
    this.#quietSince ??= now;
    if (now - this.#quietSince < THINKING_AFTER_MS) return [];
    const chunks: string[] = [];
    for (let ms = queued.queuedMs; ms < THINKING_QUEUE_MS; ms += CHUNK_MS) {
      chunks.push(CHUNKS[this.#next]);
      this.#next = (this.#next + 1) % CHUNKS.length;
    }
    return chunks;
  }
}
