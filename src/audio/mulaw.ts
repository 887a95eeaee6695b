/**
 * G.711 µ-law, the audio of Twilio's Media Streams and of both voice engines'
 * sessions: the softphone, the Live engine and the thinking sound use it.
 *
 * Every export is self-contained (no imports, no module-level constants):
 * the softphone's worklet (src/phone/worklet.ts) ships their source text,
 * via `Function.prototype.toString()`, inside the browser's AudioWorklet.
 *
 * @module
 */

/**
 * G.711 µ-law encoding of one 16-bit linear sample (the ITU/Sun reference
 * algorithm: bias 0x84, clip 32635, bits inverted on the wire).
 */
export function muLawEncode(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let magnitude = Math.round(sample);
  const sign = magnitude < 0 ? 0x80 : 0;
  if (sign) magnitude = -magnitude;
  if (magnitude > CLIP) magnitude = CLIP;
  magnitude += BIAS;
  // The segment (exponent) is the position of the highest set bit above bit 7.
  let exponent = 7;
  for (let bit = 0x4000; (magnitude & bit) === 0 && exponent > 0; bit >>= 1) {
    exponent--;
  }
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** G.711 µ-law decoding of one byte to a 16-bit linear sample (±32124 at most). */
export function muLawDecode(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  // `0 - 0` is +0: byte 0x7F ("negative zero") decodes to a plain 0.
  return u & 0x80 ? 0 - magnitude : magnitude;
}

/** The 256 decoded values scaled to [-1, 1), for per-sample lookups. */
export function muLawTable(): Float32Array {
  const table = new Float32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    table[byte] = muLawDecode(byte) / 32768;
  }
  return table;
}

/** Web Audio floats in [-1, 1] to µ-law bytes. */
export function floatsToMuLaw(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    out[i] = muLawEncode(s >= 1 ? 32767 : s <= -1 ? -32768 : s * 32768);
  }
  return out;
}
