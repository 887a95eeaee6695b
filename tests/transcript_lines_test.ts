import assert from "node:assert/strict";
import {
  TRANSCRIPT_GAP_MS,
  TranscriptLines,
} from "../src/live/transcript_lines.ts";

Deno.test("TranscriptLines: a speaker's deltas make one line, ended by the other speaker", () => {
  const lines = new TranscriptLines();
  assert.deepEqual(lines.delta("caller", "What's on ", 0), []);
  assert.deepEqual(lines.delta("caller", "my list?", 100), []);
  assert.deepEqual(lines.delta("assistant", "Two tasks.", 200), [
    { role: "caller", text: "What's on my list?" },
  ]);
  assert.deepEqual(lines.flush(), [{ role: "assistant", text: "Two tasks." }]);
  assert.deepEqual(lines.flush(), [], "nothing twice");
});

Deno.test("TranscriptLines: a pause of TRANSCRIPT_GAP_MS ends the line; each delta moves it", () => {
  const lines = new TranscriptLines();
  assert.equal(lines.wakeAt, undefined);
  lines.delta("assistant", "Milk ", 0);
  lines.delta("assistant", "and bread.", 1_000);
  assert.equal(lines.wakeAt, 1_000 + TRANSCRIPT_GAP_MS);
  assert.deepEqual(lines.due(1_000 + TRANSCRIPT_GAP_MS - 1), []);
  assert.deepEqual(lines.due(1_000 + TRANSCRIPT_GAP_MS), [
    { role: "assistant", text: "Milk and bread." },
  ]);
  assert.equal(lines.wakeAt, undefined);
  lines.delta("assistant", "Anything else?", 5_000);
  assert.deepEqual(lines.due(5_000 + TRANSCRIPT_GAP_MS), [
    { role: "assistant", text: "Anything else?" },
  ]);
});

Deno.test("TranscriptLines: empty deltas plan nothing and whitespace-only lines are dropped", () => {
  const lines = new TranscriptLines();
  assert.deepEqual(lines.delta("caller", "", 0), []);
  assert.equal(lines.wakeAt, undefined);
  lines.delta("caller", "  ", 0);
  assert.deepEqual(lines.delta("assistant", " Hello ", 10), []);
  assert.deepEqual(lines.flush(), [{ role: "assistant", text: "Hello" }]);
});
