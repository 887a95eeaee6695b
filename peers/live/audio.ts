/**
 * The session's audio formats: bytes per millisecond, what silence is, and
 * the conversion of an audio fixture (always PCM16 24 kHz) into the
 * session's format, since GPT-Live plays fixtures through the session output.
 *
 * @module
 */
import type { AudioFormat } from "openai/resources/live/live";

export interface AudioSpec {
  format: AudioFormat;
  bytesPerMs: number;
  /** The byte value of digital silence (PCM16 is little-endian zeros). */
  silenceByte: number;
}

/** GPT-Live's default when session.start names no format (an assumption). */
export const DEFAULT_FORMAT: AudioFormat = { type: "audio/pcm", rate: 24000 };

export function audioSpec(format: AudioFormat): AudioSpec {
  switch (format.type) {
    case "audio/pcm":
      return { format, bytesPerMs: (format.rate * 2) / 1000, silenceByte: 0 };
    case "audio/pcmu":
      return { format, bytesPerMs: format.rate / 1000, silenceByte: 0xff };
    case "audio/pcma":
      return { format, bytesPerMs: format.rate / 1000, silenceByte: 0xd5 };
  }
}

/** Fixtures are mono PCM16 LE at 24 kHz: 48 bytes per millisecond. */
export const FIXTURE_BYTES_PER_MS = 48;

function linearToMulaw(value: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let sample = value;
  const sign = sample < 0 ? 0x80 : 0;
  if (sign) sample = -sample;
  if (sample > CLIP) sample = CLIP;
  sample += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (sample & mask) === 0 && exponent > 0; mask >>= 1) {
    exponent--;
  }
  const mantissa = (sample >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

const ALAW_SEGMENT_ENDS = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

function linearToAlaw(value: number): number {
  let pcm = value >> 3;
  let mask: number;
  if (pcm >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  const segment = ALAW_SEGMENT_ENDS.findIndex((end) => pcm <= end);
  if (segment < 0) return 0x7f ^ mask;
  const mantissa = segment < 2 ? (pcm >> 1) & 0x0f : (pcm >> segment) & 0x0f;
  return ((segment << 4) | mantissa) ^ mask;
}

/**
 * PCM16 24 kHz → the session format. Nearest-sample resampling: fidelity
 * does not matter here, only byte counts and timing.
 */
export function fixtureToSessionFormat(
  pcm24k: Uint8Array,
  format: AudioFormat,
): Uint8Array {
  const view = new DataView(pcm24k.buffer, pcm24k.byteOffset, pcm24k.length);
  const inSamples = Math.floor(pcm24k.length / 2);
  const rate = format.rate;
  const outSamples = Math.floor((inSamples * rate) / 24000);
  const sampleAt = (i: number) =>
    view.getInt16(
      Math.min(inSamples - 1, Math.floor((i * 24000) / rate)) * 2,
      true,
    );
  if (format.type === "audio/pcm") {
    const out = new Uint8Array(outSamples * 2);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < outSamples; i++) {
      outView.setInt16(i * 2, sampleAt(i), true);
    }
    return out;
  }
  const encode = format.type === "audio/pcmu" ? linearToMulaw : linearToAlaw;
  const out = new Uint8Array(outSamples);
  for (let i = 0; i < outSamples; i++) out[i] = encode(sampleAt(i));
  return out;
}
