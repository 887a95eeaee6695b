/**
 * One scenario for both engines (issue 21, item 7): the caller speaks, then
 * Twilio sends no frames for 1.5 s mid-turn, the assistant answers, the
 * caller speaks again. What reached the upstream must be that whole
 * timeline, the gap as µ-law silence.
 */

import assert from "node:assert/strict";
import type { TwilioEdge } from "../../peers/twilio_edge.ts";
import { delay } from "./test_server.ts";

const SPOKEN_MS = 600;
const GAP_MS = 1500;
const AGAIN_MS = 200;
/** How long the upstream may take to receive the timeline before the test fails. */
const ARRIVAL_DEADLINE_MS = 5000;

export async function assertCallerGapFilled(
  edge: TwilioEdge,
  upstream: { inputAudio(): Uint8Array },
  options: { speech(bytes: number): Uint8Array; answerBytes: number },
): Promise<void> {
  await edge.sendAudio(options.speech(8 * SPOKEN_MS));
  await edge.omitAudio(GAP_MS);
  // The turn ended in the gap: the assistant's answer reaches the caller.
  await edge.waitForPlayed(options.answerBytes, 5000);
  // The resumed frames' timestamps jump 1.5 s, which the silence sent covers.
  await edge.sendAudio(options.speech(8 * AGAIN_MS));
  const timelineMs = SPOKEN_MS + GAP_MS + AGAIN_MS;
  const deadline = Date.now() + ARRIVAL_DEADLINE_MS;
  while (upstream.inputAudio().length < timelineMs * 8 - 800) {
    assert.ok(
      Date.now() < deadline,
      `only ${upstream.inputAudio().length / 8} ms of audio upstream`,
    );
    await delay(10);
  }
  await delay(100);
  const sentMs = upstream.inputAudio().length / 8;
  assert.ok(
    Math.abs(sentMs - timelineMs) <= 100,
    `${sentMs} ms of audio upstream for a ${timelineMs} ms timeline`,
  );
  const gap = upstream.inputAudio().subarray(
    SPOKEN_MS * 8,
    (SPOKEN_MS + GAP_MS - 200) * 8,
  );
  assert.ok(gap.every((byte) => byte === 0xff), "the gap is µ-law silence");
}
