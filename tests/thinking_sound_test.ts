import assert from "node:assert/strict";
import { muLawDecode } from "../src/audio/mulaw.ts";
import {
  THINKING_AFTER_MS,
  THINKING_CYCLE_MS,
  thinkingChunks,
  thinkingCycle,
  ThinkingSchedule,
} from "../src/call/thinking_sound.ts";

function decode(bytes: Uint8Array): number[] {
  return [...bytes].map(muLawDecode);
}

Deno.test("thinkingCycle() is one second of 8 kHz µ-law", () => {
  assert.equal(thinkingCycle().length, (8000 * THINKING_CYCLE_MS) / 1000);
});

Deno.test("thinkingCycle() is quiet: a short tone well below speech level, then silence", () => {
  const samples = decode(thinkingCycle());
  const peak = Math.max(...samples.map(Math.abs));
  // Audible (not digital silence) but far below full scale (32767).
  assert.ok(peak > 300, `peak ${peak}`);
  assert.ok(peak < 1200, `peak ${peak}`);
  const tone = samples.filter((s) => Math.abs(s) > 40).length;
  assert.ok(tone > 200 && tone < 1000, `${tone} loud samples`);
  // No click at the edges: the tone starts and ends near zero.
  assert.ok(Math.abs(samples[0]) < 40);
  assert.ok(samples.slice(700).every((s) => Math.abs(s) < 40));
});

Deno.test("thinkingChunks() splits the cycle into base64 payloads that decode back to it", () => {
  const chunks = thinkingChunks(200);
  assert.equal(chunks.length, 5);
  const joined = chunks.flatMap((chunk) => [...Uint8Array.fromBase64(chunk)]);
  assert.deepEqual(new Uint8Array(joined), thinkingCycle());
});

Deno.test("ThinkingSchedule: quiet for THINKING_AFTER_MS, then 400 ms kept queued; speech resets the wait; over after 30 s", () => {
  const schedule = new ThinkingSchedule(0, false);
  const quiet = { onlyThinking: true, queuedMs: 0 };
  assert.deepEqual(schedule.tick(THINKING_AFTER_MS - 100, quiet), []);
  assert.equal(schedule.tick(THINKING_AFTER_MS, quiet)?.length, 2);
  assert.equal(
    schedule.tick(THINKING_AFTER_MS + 100, { ...quiet, queuedMs: 300 })
      ?.length,
    1,
  );
  assert.deepEqual(
    schedule.tick(2000, { onlyThinking: false, queuedMs: 200 }),
    [],
  );
  assert.deepEqual(schedule.tick(2000 + THINKING_AFTER_MS - 1, quiet), []);
  assert.equal(schedule.tick(30_001, quiet), undefined);
});
