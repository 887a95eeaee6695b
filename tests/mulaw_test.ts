/**
 * G.711 µ-law (src/audio/mulaw.ts) against the reference values, and the
 * softphone's DSP (src/phone/dsp.ts): the microphone downsampler and the
 * playback queue's mark and clear semantics.
 */
import assert from "node:assert/strict";
import {
  floatsToMuLaw,
  muLawDecode,
  muLawEncode,
  muLawTable,
} from "../src/audio/mulaw.ts";
import { Downsampler, PlaybackQueue, rms } from "../src/phone/dsp.ts";

/** The G.711 µ-law segment (exponent) of a code: its step is 2^(segment+3). */
function segment(code: number): number {
  return ((~code & 0xff) >> 4) & 0x07;
}

function sine(
  frequency: number,
  rate: number,
  seconds: number,
  amplitude = 0.5,
): Float32Array {
  const samples = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < samples.length; i++) {
    samples[i] = amplitude * Math.sin(2 * Math.PI * frequency * i / rate);
  }
  return samples;
}

function zeroCrossings(samples: Float32Array): number {
  let count = 0;
  for (let i = 1; i < samples.length; i++) {
    if ((samples[i - 1] < 0) !== (samples[i] < 0)) count++;
  }
  return count;
}

Deno.test("µ-law encodes the G.711 reference values", () => {
  // Silence is 0xFF (all bits inverted), "negative zero" 0x7F.
  assert.equal(muLawEncode(0), 0xff);
  assert.equal(muLawEncode(-1), 0x7f);
  // Full scale: 0x80 positive, 0x00 negative; beyond 32635 it clips.
  assert.equal(muLawEncode(32767), 0x80);
  assert.equal(muLawEncode(32124), 0x80);
  assert.equal(muLawEncode(-32768), 0x00);
  assert.equal(muLawEncode(-32124), 0x00);
  // 1000 + bias 132 = 1132: segment 3, mantissa 1 → ~0x31.
  assert.equal(muLawEncode(1000), 0xce);
  assert.equal(muLawEncode(-1000), 0x4e);
  // The first segment is 8 wide: 0…3 → level 0, 4…11 → level 8.
  assert.equal(muLawEncode(3), 0xff);
  assert.equal(muLawEncode(4), 0xfe);
  assert.equal(muLawEncode(11), 0xfe);
  assert.equal(muLawEncode(12), 0xfd);
});

Deno.test("µ-law decodes to the G.711 table", () => {
  // ITU-T G.711 µ-law, 16-bit scaled reconstruction values.
  const expected: Record<number, number> = {
    0x00: -32124,
    0x01: -31100,
    0x0f: -16764,
    0x10: -15996,
    0x70: -120,
    0x7e: -8,
    0x7f: 0,
    0x80: 32124,
    0x8f: 16764,
    0xce: 988,
    0xf0: 120,
    0xfe: 8,
    0xff: 0,
  };
  for (const [code, value] of Object.entries(expected)) {
    assert.equal(muLawDecode(Number(code)), value, `code 0x${code}`);
  }
  assert.ok(Object.is(muLawDecode(0x7f), 0), "no negative zero");
  const table = muLawTable();
  for (let code = 0; code < 256; code++) {
    assert.equal(table[code], muLawDecode(code) / 32768);
  }
});

Deno.test("µ-law round trips every code and stays within half a step of every sample", () => {
  for (let code = 0; code < 256; code++) {
    // 0x7F is the second code for 0; zero encodes as 0xFF.
    const expected = code === 0x7f ? 0xff : code;
    assert.equal(muLawEncode(muLawDecode(code)), expected, `code ${code}`);
  }
  let previous = muLawDecode(muLawEncode(-32635));
  for (let x = -32635; x <= 32635; x++) {
    const code = muLawEncode(x);
    const decoded = muLawDecode(code);
    const halfStep = 1 << (segment(code) + 2);
    assert.ok(
      Math.abs(decoded - x) <= halfStep,
      `${x} → 0x${code.toString(16)} → ${decoded}`,
    );
    // Monotonic: a louder sample never decodes quieter.
    assert.ok(decoded >= previous, `not monotonic at ${x}`);
    previous = decoded;
  }
});

Deno.test({
  name: "µ-law decoding matches sox's G.711 decoder for all 256 codes",
  ignore: !(() => {
    try {
      return Deno.statSync("/usr/bin/sox").isFile;
    } catch {
      return false;
    }
  })(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await Deno.writeFile(`${dir}/codes.ul`, codes);
      const { success, stderr } = await new Deno.Command("sox", {
        args: [
          ...["-t", "raw", "-r", "8000", "-e", "u-law", "-b", "8", "-c", "1"],
          `${dir}/codes.ul`,
          ...["-t", "raw", "-e", "signed", "-b", "16", "-L", `${dir}/pcm.raw`],
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(success, new TextDecoder().decode(stderr));
      const pcm = await Deno.readFile(`${dir}/pcm.raw`);
      const view = new DataView(pcm.buffer);
      for (let code = 0; code < 256; code++) {
        assert.equal(muLawDecode(code), view.getInt16(code * 2, true));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("floats are scaled to 16 bits and clipped before encoding", () => {
  const bytes = floatsToMuLaw(Float32Array.of(0, 1, -1, 2, -2, 1000 / 32768));
  assert.deepEqual([...bytes], [0xff, 0x80, 0x00, 0x80, 0x00, 0xce]);
});

Deno.test("the downsampler keeps speech-band tones and produces exactly 8000 samples a second", () => {
  for (const rate of [48000, 44100, 16000]) {
    const tone = sine(1000, rate, 1);
    const whole = new Downsampler(rate).process(tone);
    assert.equal(whole.length, 8000, `${rate} Hz`);
    // Fed as 128-sample render quanta, the result is the same.
    const streaming = new Downsampler(rate);
    const pieces: number[] = [];
    for (let i = 0; i < tone.length; i += 128) {
      pieces.push(...streaming.process(tone.subarray(i, i + 128)));
    }
    assert.deepEqual(pieces, [...whole]);
    // 1 kHz: 2000 zero crossings a second, amplitude within 1 dB.
    assert.ok(Math.abs(zeroCrossings(whole) - 2000) <= 2, `${rate} Hz`);
    const level = rms(whole.subarray(800)) / rms(tone);
    assert.ok(level > 0.89 && level < 1.12, `${rate} Hz: gain ${level}`);
  }
});

Deno.test("the downsampler attenuates what would alias above 4 kHz", () => {
  const tone = sine(6000, 48000, 0.5);
  const out = new Downsampler(48000).process(tone);
  const gain = rms(out.subarray(400)) / rms(tone);
  assert.ok(gain < 0.15, `6 kHz leaks through at ${gain}`);
});

function render(queue: PlaybackQueue, samples: number, reached: number[]) {
  const output = new Float32Array(samples);
  const played = queue.render(output, reached);
  return { output, played };
}

Deno.test("playback reaches a mark when the audio before it has played, not before", () => {
  const queue = new PlaybackQueue(48000);
  const reached: number[] = [];
  queue.push(new Uint8Array(800).fill(0xff));
  queue.mark(1);
  queue.push(new Uint8Array(400).fill(0xff));
  queue.mark(2);
  assert.equal(queue.pendingBytes, 1200);
  let played = 0;
  let samples = 0;
  const reachedAt: Record<number, number> = {};
  while (queue.pendingBytes > 0 || reached.length < 2) {
    played += render(queue, 128, reached).played;
    samples += 128;
    for (const id of reached) reachedAt[id] ??= samples;
    assert.ok(samples < 48000, "never finished");
  }
  assert.equal(played, 1200);
  assert.deepEqual(reached, [1, 2]);
  // 800 bytes = 100 ms = 4800 samples at 48 kHz; within one render quantum.
  assert.ok(Math.abs(reachedAt[1] - 4800) <= 128, `mark 1 at ${reachedAt[1]}`);
  assert.ok(Math.abs(reachedAt[2] - 7200) <= 128, `mark 2 at ${reachedAt[2]}`);
});

Deno.test("a mark with nothing queued is reached at the next render", () => {
  const queue = new PlaybackQueue(44100);
  const reached: number[] = [];
  queue.mark(7);
  const { output, played } = render(queue, 128, reached);
  assert.deepEqual(reached, [7]);
  assert.equal(played, 0);
  assert.ok(output.every((s) => s === 0));
});

Deno.test("clear drops queued audio at once and hands back the skipped marks in order", () => {
  const queue = new PlaybackQueue(48000);
  const reached: number[] = [];
  queue.push(new Uint8Array(800).fill(0x80));
  queue.mark(1);
  queue.push(new Uint8Array(800).fill(0x80));
  queue.mark(2);
  render(queue, 1200, reached); // 25 ms: 200 bytes in
  assert.deepEqual(reached, []);
  assert.deepEqual(queue.clear(), [1, 2]);
  assert.equal(queue.pendingBytes, 0);
  const after = render(queue, 128, reached);
  assert.equal(after.played, 0);
  assert.ok(after.output.every((s) => s === 0), "silence after clear");
  assert.deepEqual(reached, []);
});

Deno.test("playback upsamples 8 kHz µ-law to the output rate without changing pitch or level", () => {
  const tone = sine(440, 8000, 0.5, 0.5);
  const queue = new PlaybackQueue(48000);
  queue.push(floatsToMuLaw(tone));
  const { output, played } = render(queue, 24000, []);
  assert.equal(played, 4000);
  assert.ok(Math.abs(zeroCrossings(output) - 440) <= 2);
  const level = rms(output.subarray(480)) / rms(tone);
  assert.ok(level > 0.95 && level < 1.05, `gain ${level}`);
});
