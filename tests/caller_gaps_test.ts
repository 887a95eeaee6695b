import assert from "node:assert/strict";
import {
  CallerGaps,
  IDLE_GAP_MS,
  mulawSilence,
} from "../src/call/caller_gaps.ts";

const FRAME = 160;

Deno.test("CallerGaps: frames flowing (with jitter under a frame) need no silence", () => {
  const gaps = new CallerGaps();
  for (let i = 0; i < 50; i++) {
    const jitter = i % 3 === 0 ? 7 : 0;
    assert.equal(gaps.frame(i * 20 + jitter, FRAME, i * 20 + 40), 0);
    assert.equal(gaps.idle(i * 20 + 45), 0);
  }
});

Deno.test("CallerGaps: a media.timestamp jump is filled with the missing whole frames", () => {
  const gaps = new CallerGaps();
  assert.equal(gaps.frame(1000, FRAME, 0), 0);
  assert.equal(gaps.frame(1020, FRAME, 20), 0);
  // 300 ms of frames left out: the next frame says 1340.
  assert.equal(gaps.frame(1340, FRAME, 340), 300);
  assert.equal(gaps.frame(1360, FRAME, 360), 0);
});

Deno.test("CallerGaps: no frame for over IDLE_GAP_MS fills as time passes; the resuming frame's jump is not filled twice", () => {
  const gaps = new CallerGaps();
  gaps.frame(0, FRAME, 0); // timeline 0..20
  assert.equal(gaps.idle(IDLE_GAP_MS), 0);
  assert.equal(gaps.idle(IDLE_GAP_MS + 100), 600);
  assert.equal(gaps.idle(IDLE_GAP_MS + 200), 100);
  assert.equal(gaps.idle(IDLE_GAP_MS + 210), 0);
  // Frames resume: the timeline says 1500 ms were left out, 700 already sent.
  assert.equal(gaps.frame(1520, FRAME, 1520), 800);
  // A frame whose timestamp lags what the idle fill already sent adds none.
  const again = new CallerGaps();
  again.frame(0, FRAME, 0);
  assert.equal(again.idle(1000) + again.idle(1100), 1100);
  assert.equal(again.frame(900, FRAME, 1110), 0);
});

Deno.test("CallerGaps: nothing before the first frame", () => {
  const gaps = new CallerGaps();
  assert.equal(gaps.idle(10_000), 0);
  assert.equal(gaps.frame(5000, FRAME, 10_000), 0);
});

Deno.test("mulawSilence() is whole frames of 0xff", () => {
  const bytes = Uint8Array.fromBase64(mulawSilence(60));
  assert.equal(bytes.length, 480);
  assert.ok(bytes.every((b) => b === 0xff));
});
