/**
 * The Live model's voice: output audio deltas paced at real time (the live
 * model paces its own output), the transcript of what it says on the
 * session timeline, one utterance after another, and — optionally — the
 * continuous silence a third-party probe of the real API observed between
 * utterances. There is no done event: an utterance simply stops.
 *
 * @module
 */
import type { AudioSpec } from "./audio.ts";

export interface SpeakOptions {
  /** Bytes per `session.output_audio.delta` (default: 100 ms of audio). */
  chunkBytes?: number;
  /**
   * Pace deltas at real time (default true). False sends one delta per
   * macrotask, for tests that do not care about timing.
   */
  realTime?: boolean;
  /** What the model says, streamed as `session.output_transcript.delta`. */
  transcript?: string;
  /**
   * The base64 each delta carries, made as it is sent (default: the
   * chunk's own bytes); it must encode `chunk.length` bytes. The bench
   * stamps a send-time tag into each delta this way.
   */
  payload?: (index: number, chunk: Uint8Array) => string;
}

export interface SpeakResult {
  /** Audio bytes actually sent before the utterance ended. */
  bytesSent: number;
  /** True when stopped early (stop(), an interruption, or the session ended). */
  stopped: boolean;
  /** Session timeline position of the first delta (ms). */
  startMs: number;
}

export interface SpeakHandle {
  /** Resolves when the utterance ends (its audio has been paced out). */
  done: Promise<SpeakResult>;
  /** The model stops talking by itself (e.g. the caller interrupted). */
  stop(): void;
}

export interface VoiceSink {
  audio(base64: string): void;
  transcript(delta: string, startMs: number, endMs: number): void;
  /** The session timeline (ms since session.started). */
  now(): number;
}

interface Utterance {
  chunks: Uint8Array[];
  chunkMs: number[];
  realTime: boolean;
  pieces: string[];
  payload: SpeakOptions["payload"];
  stopped: boolean;
  ended: boolean;
  bytesSent: number;
  startMs: number;
  resolve: (result: SpeakResult) => void;
}

/** Chunks of ~`words` words that concatenate back to `text` exactly. */
export function transcriptPieces(text: string, words = 3): string[] {
  const tokens = text.match(/\S+\s*/g) ?? [];
  const lead = text.match(/^\s*/)?.[0] ?? "";
  const pieces: string[] = [];
  for (let i = 0; i < tokens.length; i += words) {
    pieces.push(tokens.slice(i, i + words).join(""));
  }
  if (pieces.length && lead) pieces[0] = lead + pieces[0];
  return pieces;
}

export class Voice {
  #sink: VoiceSink;
  #spec: AudioSpec;
  #queue: Utterance[] = [];
  #current: Utterance | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #idleSilence = false;
  #closed = false;

  constructor(sink: VoiceSink, spec: AudioSpec) {
    this.#sink = sink;
    this.#spec = spec;
  }

  get speaking(): boolean {
    return this.#current !== null;
  }

  speak(audio: Uint8Array, options: SpeakOptions = {}): SpeakHandle {
    const chunkBytes = options.chunkBytes ??
      Math.max(1, Math.round(this.#spec.bytesPerMs * 100));
    if (!(chunkBytes > 0)) throw new Error("chunkBytes must be positive");
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < audio.length; i += chunkBytes) {
      chunks.push(audio.slice(i, i + chunkBytes));
    }
    let resolve: (result: SpeakResult) => void = () => {};
    const done = new Promise<SpeakResult>((r) => resolve = r);
    const utterance: Utterance = {
      chunks,
      chunkMs: chunks.map((c) => c.length / this.#spec.bytesPerMs),
      realTime: options.realTime ?? true,
      pieces: transcriptPieces(options.transcript ?? ""),
      payload: options.payload,
      stopped: false,
      ended: false,
      bytesSent: 0,
      startMs: 0,
      resolve,
    };
    if (this.#closed) {
      resolve({ bytesSent: 0, stopped: true, startMs: this.#sink.now() });
    } else {
      this.#queue.push(utterance);
      if (!this.#current) this.#next();
    }
    return { done, stop: () => this.#stop(utterance) };
  }

  /** Stops what is playing and drops what is queued. */
  stopAll(): void {
    for (const u of this.#queue.splice(0)) this.#end(u, true);
    if (this.#current) this.#stop(this.#current);
  }

  /** Streams silence while nothing is said (the real API's observed habit). */
  setIdleSilence(on: boolean): void {
    this.#idleSilence = on;
    if (!this.#current) {
      this.#clearTimer();
      if (on && !this.#closed) this.#silenceTick();
    }
  }

  close(): void {
    this.#closed = true;
    this.stopAll();
    this.#clearTimer();
  }

  #stop(utterance: Utterance): void {
    if (utterance.stopped || utterance.ended) return;
    utterance.stopped = true;
    const queued = this.#queue.indexOf(utterance);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      this.#end(utterance, true);
    } else if (this.#current === utterance) {
      this.#clearTimer();
      this.#end(utterance, true);
      this.#current = null;
      this.#next();
    }
  }

  #next(): void {
    this.#clearTimer();
    const utterance = this.#queue.shift();
    if (!utterance) {
      this.#current = null;
      if (this.#idleSilence && !this.#closed) this.#silenceTick();
      return;
    }
    this.#current = utterance;
    utterance.startMs = this.#sink.now();
    this.#play(utterance, 0, performance.now());
  }

  /** Sends chunk `k` (and its transcript pieces), then schedules the next. */
  #play(u: Utterance, k: number, t0: number): void {
    const n = u.chunks.length;
    if (k < n) {
      const chunk = u.chunks[k];
      this.#sink.audio(u.payload?.(k, chunk) ?? chunk.toBase64());
      u.bytesSent += chunk.length;
    }
    this.#sendPieces(u, k);
    const elapsedMs = u.chunkMs.slice(0, k + 1).reduce((a, b) => a + b, 0);
    if (k + 1 >= n) {
      // Real time: the utterance lasts until its last chunk has played.
      const wait = u.realTime ? t0 + elapsedMs - performance.now() : 0;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#end(u, false);
        this.#current = null;
        this.#next();
      }, Math.max(0, wait));
      return;
    }
    const wait = u.realTime ? t0 + elapsedMs - performance.now() : 0;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#play(u, k + 1, t0);
    }, Math.max(0, wait));
  }

  /** Transcript pieces are spread over the chunks, sent after their chunk. */
  #sendPieces(u: Utterance, k: number): void {
    const n = Math.max(1, u.chunks.length);
    const total = u.chunkMs.reduce((a, b) => a + b, 0);
    const offset = (chunk: number) =>
      u.chunkMs.slice(0, chunk).reduce((a, b) => a + b, 0);
    const chunkOf = (j: number) => Math.floor((j * n) / u.pieces.length);
    u.pieces.forEach((piece, j) => {
      if (chunkOf(j) !== k) return;
      const start = u.startMs + offset(chunkOf(j));
      const end = j + 1 < u.pieces.length
        ? u.startMs + offset(chunkOf(j + 1))
        : u.startMs + total;
      this.#sink.transcript(
        piece,
        Math.round(start),
        Math.round(Math.max(start, end)),
      );
    });
  }

  #end(u: Utterance, stopped: boolean): void {
    if (u.ended) return;
    u.ended = true;
    u.resolve({ bytesSent: u.bytesSent, stopped, startMs: u.startMs });
  }

  #silenceTick(): void {
    const bytes = Math.max(1, Math.round(this.#spec.bytesPerMs * 100));
    this.#sink.audio(
      new Uint8Array(bytes).fill(this.#spec.silenceByte).toBase64(),
    );
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#current && this.#idleSilence && !this.#closed) {
        this.#silenceTick();
      }
    }, 100);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
