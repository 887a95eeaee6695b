import assert from "node:assert/strict";
import {
  ANSWER_PENDING_INSTRUCTION,
  type CallContext,
  LINE_DROPPED_INSTRUCTION,
  MAX_HISTORY_CHARS,
  MAX_HISTORY_MESSAGES,
  MAX_LINE_CHARS,
  planResume,
  RESUMED_NOTE,
  withLine,
} from "../src/call/resume_plan.ts";

const CONVERSATION: CallContext = {
  lines: [
    { kind: "caller", text: "What's on my list today?" },
    {
      kind: "tool",
      name: "todoist_find_tasks",
      server: "zapier",
      failed: false,
      result: '{"tasks":["Call the dentist"]}',
    },
    { kind: "assistant", text: "You have one task: call the dentist." },
  ],
  speaking: "nobody",
};

Deno.test("planResume() carries both sides' lines, tool calls with their results, then the resumed note", () => {
  const plan = planResume(CONVERSATION)!;
  assert.deepEqual(plan.history, [
    { role: "user", text: "What's on my list today?" },
    {
      role: "developer",
      text:
        '(Earlier in this call, zapier tool todoist_find_tasks succeeded: {"tasks":["Call the dentist"]})',
    },
    { role: "assistant", text: "You have one task: call the dentist." },
    { role: "developer", text: RESUMED_NOTE },
  ]);
});

Deno.test("planResume(): mid-answer, the assistant says the line dropped and goes on", () => {
  const plan = planResume({ ...CONVERSATION, speaking: "assistant" })!;
  assert.equal(plan.speakFirst, LINE_DROPPED_INSTRUCTION);
});

Deno.test("planResume(): the caller was speaking, so the assistant listens", () => {
  const plan = planResume({
    lines: [...CONVERSATION.lines, { kind: "caller", text: "And tomorr" }],
    speaking: "caller",
  })!;
  assert.equal(plan.speakFirst, undefined);
});

Deno.test("planResume(): the caller's last words were not answered yet, so the assistant answers them", () => {
  const plan = planResume({
    lines: [...CONVERSATION.lines, { kind: "caller", text: "And tomorrow?" }],
    speaking: "nobody",
  })!;
  assert.equal(plan.speakFirst, ANSWER_PENDING_INSTRUCTION);
});

Deno.test("planResume(): after a finished answer the assistant listens, and never greets again", () => {
  const plan = planResume(CONVERSATION)!;
  assert.equal(plan.speakFirst, undefined);
  assert.ok(plan.history.some((m) => m.text === RESUMED_NOTE));
});

Deno.test("planResume(): a call in which nothing was said yet starts over (undefined: greeting included)", () => {
  assert.equal(planResume({ lines: [], speaking: "nobody" }), undefined);
  assert.equal(planResume({ lines: [], speaking: "assistant" }), undefined);
});

Deno.test("withLine() keeps at most 127 lines (128 with the note) and drops the oldest", () => {
  let context: CallContext = { lines: [], speaking: "nobody" };
  for (let i = 0; i < 300; i++) {
    context = withLine(context, { kind: "caller", text: `line ${i}` });
  }
  assert.equal(context.lines.length, MAX_HISTORY_MESSAGES);
  assert.deepEqual(context.lines.at(-1), { kind: "caller", text: "line 299" });
  assert.deepEqual(context.lines[0], { kind: "caller", text: "line 173" });
  assert.equal(planResume(context)!.history.length, 128);
});

Deno.test("withLine() bounds each line and the total characters", () => {
  let context: CallContext = { lines: [], speaking: "nobody" };
  for (let i = 0; i < 40; i++) {
    context = withLine(context, { kind: "assistant", text: "x".repeat(5000) });
  }
  for (const line of context.lines) {
    assert.ok(line.kind === "assistant" && line.text.length <= MAX_LINE_CHARS);
  }
  const chars = context.lines.reduce(
    (sum, l) => sum + (l.kind === "tool" ? 0 : l.text.length),
    0,
  );
  assert.ok(chars <= MAX_HISTORY_CHARS, `${chars}`);
  assert.ok(context.lines.length >= MAX_HISTORY_CHARS / MAX_LINE_CHARS - 1);
});
