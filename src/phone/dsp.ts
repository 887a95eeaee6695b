/**
 * The softphone's audio DSP: 8 kHz resampling, and the playback queue that
 * makes `mark` and `clear` behave as on a Twilio call (the µ-law codec is
 * src/audio/mulaw.ts).
 *
 * Every export is self-contained (no module-level constants, and only the
 * codec's names, which the worklet file declares too): `worklet.ts` ships
 * their source text, via `Function.prototype.toString()`, inside the
 * browser's AudioWorklet. So the code the Deno tests check is the code the
 * browser runs, and there is no build step.
 *
 * @module
 */

import { muLawTable } from "../audio/mulaw.ts";

/**
 * Streaming downsampler for the microphone: a 2nd-order Butterworth low-pass
 * at 0.45 × the output rate (so speech up to ~3.6 kHz stays and little above
 * 4 kHz folds back), then the average of the input samples that fall in each
 * output period. Works for any input rate (48 kHz, 44.1 kHz…) and keeps its
 * state across calls, so 128-sample render quanta join seamlessly.
 */
export class Downsampler {
  readonly inputRate: number;
  readonly outputRate: number;
  #b0: number;
  #b1: number;
  #b2: number;
  #a1: number;
  #a2: number;
  #x1 = 0;
  #x2 = 0;
  #y1 = 0;
  #y2 = 0;
  #phase = 0;
  #sum = 0;
  #count = 0;

  constructor(inputRate: number, outputRate = 8000) {
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    // RBJ Audio EQ Cookbook low-pass, Q = 1/√2 (Butterworth).
    const cutoff = Math.min(0.45 * outputRate, 0.45 * inputRate);
    const w0 = 2 * Math.PI * cutoff / inputRate;
    const alpha = Math.sin(w0) / (2 * Math.SQRT1_2);
    const cos = Math.cos(w0);
    const a0 = 1 + alpha;
    this.#b0 = (1 - cos) / 2 / a0;
    this.#b1 = (1 - cos) / a0;
    this.#b2 = this.#b0;
    this.#a1 = -2 * cos / a0;
    this.#a2 = (1 - alpha) / a0;
  }

  /** Filters and decimates `input`; returns the output samples it completed. */
  process(input: Float32Array): Float32Array {
    const out = new Float32Array(
      Math.ceil(input.length * this.outputRate / this.inputRate) + 1,
    );
    let produced = 0;
    for (let i = 0; i < input.length; i++) {
      const x = input[i];
      const y = this.#b0 * x + this.#b1 * this.#x1 + this.#b2 * this.#x2 -
        this.#a1 * this.#y1 - this.#a2 * this.#y2;
      this.#x2 = this.#x1;
      this.#x1 = x;
      this.#y2 = this.#y1;
      this.#y1 = y;
      this.#sum += y;
      this.#count++;
      // Exact long-run rate: one output per inputRate/outputRate inputs.
      this.#phase += this.outputRate;
      if (this.#phase >= this.inputRate) {
        this.#phase -= this.inputRate;
        out[produced++] = this.#sum / this.#count;
        this.#sum = 0;
        this.#count = 0;
      }
    }
    return out.subarray(0, produced);
  }
}

/**
 * The assistant's audio on its way to the speaker: µ-law chunks and marks in
 * arrival order, played at 8 kHz and linearly interpolated up to the output
 * rate. A mark is reached once every byte queued before it has been played,
 * which is when the page echoes it (as Twilio does); `clear` drops what is
 * queued and hands back the marks it skipped, which are echoed at once.
 */
export class PlaybackQueue {
  readonly outputRate: number;
  #entries: (Uint8Array | number)[] = [];
  #chunk: Uint8Array | undefined;
  #offset = 0;
  #pending = 0;
  #table: Float32Array;
  #previous = 0;
  #current = 0;
  #fraction = 0;
  #playing = false;

  constructor(outputRate: number) {
    this.outputRate = outputRate;
    this.#table = muLawTable();
  }

  /** Bytes queued and not yet played. */
  get pendingBytes(): number {
    return this.#pending;
  }

  push(audio: Uint8Array): void {
    if (audio.length === 0) return;
    this.#entries.push(audio);
    this.#pending += audio.length;
  }

  mark(id: number): void {
    this.#entries.push(id);
  }

  /** Drops every queued byte; returns the ids of the marks dropped with them, in order. */
  clear(): number[] {
    const marks = this.#entries.filter((e): e is number =>
      typeof e === "number"
    );
    this.#entries = [];
    this.#chunk = undefined;
    this.#pending = 0;
    this.#stop();
    return marks;
  }

  /**
   * Fills `output` (silence when nothing is queued), appends the ids of the
   * marks reached to `reached`, and returns the number of bytes played.
   */
  render(output: Float32Array, reached: number[]): number {
    const step = 8000 / this.outputRate;
    let played = 0;
    for (let i = 0; i < output.length; i++) {
      if (!this.#playing) {
        const first = this.#nextByte(reached);
        if (first < 0) {
          output[i] = 0;
          continue;
        }
        played++;
        this.#playing = true;
        this.#previous = 0;
        this.#current = this.#table[first];
        this.#fraction = 0;
      }
      output[i] = this.#previous +
        (this.#current - this.#previous) * this.#fraction;
      this.#fraction += step;
      while (this.#fraction >= 1 && this.#playing) {
        this.#fraction -= 1;
        const next = this.#nextByte(reached);
        if (next < 0) {
          // Underrun: this chunk of speech is over; start the next one fresh.
          this.#stop();
        } else {
          played++;
          this.#previous = this.#current;
          this.#current = this.#table[next];
        }
      }
    }
    // Marks queued after the last audio are reached as soon as it has played.
    if (!this.#playing) this.#nextByte(reached, true);
    return played;
  }

  #stop(): void {
    this.#playing = false;
    this.#previous = 0;
    this.#current = 0;
    this.#fraction = 0;
  }

  /** The next byte to play (-1 when none), passing the marks in front of it. */
  #nextByte(reached: number[], marksOnly = false): number {
    while (true) {
      if (this.#chunk && this.#offset < this.#chunk.length) {
        if (marksOnly) return -1;
        this.#pending--;
        return this.#chunk[this.#offset++];
      }
      this.#chunk = undefined;
      const entry = this.#entries.shift();
      if (entry === undefined) return -1;
      if (typeof entry === "number") {
        reached.push(entry);
      } else {
        this.#chunk = entry;
        this.#offset = 0;
        if (marksOnly) {
          // Audio is waiting behind the marks: leave it for the next render.
          return -1;
        }
      }
    }
  }
}

/**
 * Root mean square of `samples`; the page's level meter shows it in dB.
 */
export function rms(samples: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return samples.length === 0 ? 0 : Math.sqrt(sum / samples.length);
}
