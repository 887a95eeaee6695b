/**
 * What the assistant reads of its memory: notes and recent calls at the end
 * of the instructions, for both engines, bounded; nothing without memory.
 */
import assert from "node:assert/strict";
import { assistantInstructions } from "../src/call/instructions.ts";
import { liveSessionConfig } from "../src/live/session.ts";
import {
  MAX_NOTES_CHARS,
  MAX_SUMMARIES,
  MAX_SUMMARIES_CHARS,
} from "../src/memory/bounds.ts";
import type { MemoryContext } from "../src/memory/memory.ts";
import {
  CALLS_HEADING,
  memoryInstructions,
  NOTES_HEADING,
} from "../src/memory/prompt.ts";
import { parseRecap } from "../src/memory/recap.ts";
import type { RememberedCall } from "../src/memory/summaries.ts";
import { sessionConfig } from "../src/realtime/session.ts";
import { testConfig } from "./helpers/config.ts";

const NOW = new Date("2026-11-24T09:30:00Z");
const SETTINGS = testConfig({ ASSISTANT_TIMEZONE: "Europe/Paris" });

function call(n: number, summary: string, extra: Partial<RememberedCall> = {}) {
  const at = NOW.getTime() - n * 3_600_000;
  return {
    id: `${at}-CA${n}`,
    callSid: `CA${n}`,
    at,
    summary,
    openLoops: [],
    todos: [],
    ...extra,
  };
}

const MEMORY: MemoryContext = {
  notes: ["My dentist is Dr. Lee, Tuesdays", "Anna's birthday is 3 May"],
  calls: [
    call(1, "The owner asked to add milk to the shopping list; it was added.", {
      todos: ["buy milk (done)"],
      openLoops: ["check the oven timer"],
    }),
  ],
};

Deno.test("both engines' instructions carry the notes and the last calls after the date", () => {
  const realtime = sessionConfig(SETTINGS, NOW, undefined, MEMORY).instructions;
  const live = liveSessionConfig(SETTINGS, NOW, [], MEMORY);
  for (const instructions of [realtime, live.instructions]) {
    assert.ok(instructions.startsWith(SETTINGS.assistant.instructions));
    assert.match(instructions, /It is now .*\n\nNotes your owner/s);
    assert.ok(
      instructions.includes(
        `${NOTES_HEADING}\n- My dentist is Dr. Lee, Tuesdays\n- Anna's birthday is 3 May`,
      ),
    );
    assert.ok(instructions.includes(CALLS_HEADING));
    assert.ok(instructions.includes(
      "- Tuesday 24 November at 09:30: The owner asked to add milk to the shopping list; it was added. To-dos: buy milk (done). Still open: check the oven timer.",
    ));
  }
  // GPT-Live's delegation backend (which runs the tools) knows them too.
  assert.ok(live.delegation.responses.instructions.includes("Dr. Lee"));
});

Deno.test("without memory, or with nothing remembered, the instructions are exactly as before", () => {
  const plain = assistantInstructions(SETTINGS, NOW);
  assert.equal(assistantInstructions(SETTINGS, NOW, undefined), plain);
  assert.equal(
    assistantInstructions(SETTINGS, NOW, { notes: [], calls: [] }),
    plain,
  );
  assert.equal(sessionConfig(SETTINGS, NOW).instructions, plain);
});

Deno.test(`at most ${MAX_SUMMARIES} calls and ${MAX_SUMMARIES_CHARS} characters of them, newest first`, () => {
  const many = Array.from(
    { length: 10 },
    (_, i) => call(i + 1, `Call ${i + 1}.`),
  );
  const few = memoryInstructions({ notes: [], calls: many }, "UTC");
  assert.equal(few.split("\n").length, 1 + MAX_SUMMARIES);
  assert.ok(few.includes("Call 1.") && few.includes("Call 5."));
  assert.ok(!few.includes("Call 6."));
  const long = Array.from(
    { length: 5 },
    (_, i) => call(i + 1, `${i + 1}`.padEnd(590, "y")),
  );
  const lines = memoryInstructions({ notes: [], calls: long }, "UTC")
    .split("\n").slice(1);
  assert.equal(lines.length, 3);
  assert.ok(lines.join("\n").length <= MAX_SUMMARIES_CHARS);
  const notes = Array.from({ length: 30 }, (_, i) => `${i}`.padEnd(100, "n"));
  const noteLines = memoryInstructions({ notes, calls: [] }, "UTC")
    .split("\n").slice(1).map((line) => line.slice(2));
  assert.equal(noteLines.length, 20);
  assert.ok(noteLines.join("").length <= MAX_NOTES_CHARS);
});

Deno.test("parseRecap() takes the model's JSON, bounded; anything else is no summary", () => {
  assert.deepEqual(
    parseRecap(JSON.stringify({
      summary: "  The owner   asked about milk. ",
      open_loops: ["call the plumber", 3, ""],
      todos: Array.from({ length: 12 }, (_, i) => `todo ${i}`),
    })),
    {
      summary: "The owner asked about milk.",
      openLoops: ["call the plumber"],
      todos: Array.from({ length: 8 }, (_, i) => `todo ${i}`),
    },
  );
  assert.equal(parseRecap("not json"), undefined);
  assert.equal(parseRecap('{"summary": ""}'), undefined);
  assert.equal(parseRecap('{"todos": []}'), undefined);
  const long = parseRecap(JSON.stringify({ summary: "z".repeat(2000) }));
  assert.equal(long?.summary.length, 600);
});
