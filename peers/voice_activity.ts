/**
 * Voice activity from the audio bytes, as a server-side VAD hears it: the
 * energy of each 20 ms of decoded audio against a fixed level. Speech starts
 * with the first loud window and stops after `silenceMs` of quiet *audio*:
 * time is counted in the audio received, not on the wall clock, so a client
 * that sends nothing while the caller is silent never ends the turn (which
 * is what a real VAD does with a stream that leaves silent frames out).
 * Used by both simulators.
 *
 * @module
 */

export type AudioEncoding = "pcmu" | "pcm16";
export type VoiceEvent = "speech_started" | "speech_stopped";

/** RMS of 16-bit samples above this is speech (about -36 dBFS). */
const SPEECH_RMS = 500;
const WINDOW_MS = 20;

/** G.711 µ-law to a 16-bit sample (ITU-T G.711), written here so the peers stay independent of src/. */
export function mulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = (((u & 0x0f) << 3) + 0x84) << exponent;
  return u & 0x80 ? 0x84 - magnitude : magnitude - 0x84;
}

export class VoiceActivity {
  readonly #encoding: AudioEncoding;
  readonly #bytesPerMs: number;
  readonly #silenceMs: number;
  #speaking = false;
  #quietMs = 0;

  constructor(encoding: AudioEncoding, bytesPerMs: number, silenceMs: number) {
    this.#encoding = encoding;
    this.#bytesPerMs = bytesPerMs;
    this.#silenceMs = silenceMs;
  }

  get speaking(): boolean {
    return this.#speaking;
  }

  /** Audio received, in order: the turn events it produced. */
  push(bytes: Uint8Array): VoiceEvent[] {
    const events: VoiceEvent[] = [];
    const window = WINDOW_MS * this.#bytesPerMs;
    for (let start = 0; start < bytes.length; start += window) {
      const chunk = bytes.subarray(start, start + window);
      const loud = this.#rms(chunk) > SPEECH_RMS;
      if (loud) {
        this.#quietMs = 0;
        if (!this.#speaking) {
          this.#speaking = true;
          events.push("speech_started");
        }
        continue;
      }
      if (!this.#speaking) continue;
      this.#quietMs += chunk.length / this.#bytesPerMs;
      if (this.#quietMs >= this.#silenceMs) {
        this.#speaking = false;
        this.#quietMs = 0;
        events.push("speech_stopped");
      }
    }
    return events;
  }

  #rms(chunk: Uint8Array): number {
    let sum = 0;
    let count = 0;
    if (this.#encoding === "pcmu") {
      for (const byte of chunk) {
        const sample = mulawToLinear(byte);
        sum += sample * sample;
      }
      count = chunk.length;
    } else {
      const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
      for (let i = 0; i + 1 < chunk.length; i += 2) {
        const sample = view.getInt16(i, true);
        sum += sample * sample;
      }
      count = Math.floor(chunk.length / 2);
    }
    return count ? Math.sqrt(sum / count) : 0;
  }
}
