import assert from "node:assert/strict";
import {
  GOODBYE_QUIET_MS,
  GOODBYE_START_MS,
  isSilence,
  QuietGoodbye,
} from "../src/live/quiet_goodbye.ts";

/** 20 ms of a loud µ-law sample: speech. */
const SPEECH = new Uint8Array(160).fill(0x10).toBase64();
/** 20 ms of µ-law silence (0xff decodes to 0). */
const SILENCE = new Uint8Array(160).fill(0xff).toBase64();

Deno.test("QuietGoodbye: said once its speech has gone quiet", () => {
  const goodbye = new QuietGoodbye();
  assert.equal(goodbye.begin(0), true);
  goodbye.audio(SPEECH, 100);
  goodbye.audio(SPEECH, 300);
  assert.equal(goodbye.wakeAt, 300 + GOODBYE_QUIET_MS);
  assert.equal(
    goodbye.due(300 + GOODBYE_QUIET_MS - 1),
    false,
    "still quiet too briefly",
  );
  assert.equal(goodbye.due(300 + GOODBYE_QUIET_MS), true);
  // Once: speech after it is said changes nothing.
  goodbye.audio(SPEECH, 2_000);
  assert.equal(goodbye.wakeAt, undefined);
  assert.equal(goodbye.due(10_000), false);
});

Deno.test("QuietGoodbye: a goodbye that never starts is said after its bound", () => {
  const goodbye = new QuietGoodbye();
  goodbye.begin(1_000);
  assert.equal(goodbye.due(1_000 + GOODBYE_START_MS - 1), false);
  assert.equal(goodbye.due(1_000 + GOODBYE_START_MS), true);
});

Deno.test("QuietGoodbye: streamed silence neither starts nor extends the goodbye", () => {
  const goodbye = new QuietGoodbye();
  goodbye.begin(0);
  goodbye.audio(SILENCE, 100);
  assert.equal(goodbye.wakeAt, GOODBYE_START_MS, "silence is not its start");
  goodbye.audio(SPEECH, 200);
  goodbye.audio(SILENCE, 600);
  assert.equal(goodbye.due(200 + GOODBYE_QUIET_MS), true);
});

Deno.test("QuietGoodbye: audio before a goodbye is asked for plans nothing; a second begin changes nothing", () => {
  const goodbye = new QuietGoodbye();
  goodbye.audio(SPEECH, 0);
  assert.equal(goodbye.begun, false);
  assert.equal(goodbye.wakeAt, undefined);
  assert.equal(goodbye.due(60_000), false);
  assert.equal(goodbye.begin(10), true);
  assert.equal(goodbye.begin(20), false);
  assert.equal(goodbye.wakeAt, 10 + GOODBYE_START_MS);
});

Deno.test("isSilence() tells µ-law silence from speech", () => {
  assert.ok(isSilence(SILENCE));
  assert.ok(isSilence(new Uint8Array(160).fill(0x7f).toBase64()));
  assert.ok(!isSilence(SPEECH));
});
