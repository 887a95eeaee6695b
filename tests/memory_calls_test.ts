/**
 * Memory across calls over real sockets: the real server between a
 * simulated Twilio edge and the Realtime simulator, whose HTTP side also
 * stands in for the Responses API that writes the summaries.
 */
import assert from "node:assert/strict";
import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import {
  callSidFor,
  hangUp,
  placeCall,
  type PlacedCall,
  waitForSummary,
} from "./helpers/placed_call.ts";
import { delay, randomAudio, startTestServer } from "./helpers/test_server.ts";
import { testConfig } from "./helpers/config.ts";
import { CALL_PARAMS } from "../peers/twilio_requests.ts";
import { assistantInstructions } from "../src/call/instructions.ts";
import {
  ASSISTANT_NOTES_HEADING,
  CALLS_HEADING,
  NOTES_HEADING,
} from "../src/memory/prompt.ts";
import { SUMMARY_INSTRUCTIONS } from "../src/memory/summarizer.ts";

const FACT = "My dentist is Dr. Lee, Tuesdays";
const MILK_SUMMARY = {
  summary: "The owner asked to add milk to the shopping list; it was added.",
  open_loops: ["whether to buy oat or dairy milk"],
  todos: ["buy milk (done)"],
};

/** The model calls a function tool; resolves with the output the server sent back. */
async function modelCalls(
  session: FakeRealtimeSession,
  name: string,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { callIds } = session.functionCall({ name, arguments: args });
  const output = await session.waitFor(
    "conversation.item.create",
    (e) => (e.item as { call_id?: string }).call_id === callIds[0],
  );
  await session.waitFor("response.create");
  return JSON.parse((output.item as { output: string }).output);
}

/** A short exchange, so the call has a transcript to summarise. */
async function talk(call: PlacedCall, caller: string, assistant: string) {
  await call.edge.sendAudio(randomAudio(160 * 5));
  call.session.callerSaid(caller);
  const spoken = call.session.speak(randomAudio(8 * 200), {
    transcript: assistant,
  });
  assert.equal(await spoken.done, "completed");
  await call.edge.waitForPlayed(8 * 200, 3000);
}

Deno.test("a fact stored with remember in one call is in the next call's session.update; forget removes it", async () => {
  const server = await startTestServer({ JOURNAL_TRANSCRIPTS: "false" });
  try {
    const first = await placeCall(server, 1);
    assert.ok(!first.instructions.includes(NOTES_HEADING));
    const stored = await modelCalls(first.session, "remember", { fact: FACT });
    assert.equal(stored.stored, FACT);
    assert.equal(stored.already_known, false);
    await hangUp(server, first);

    const second = await placeCall(server, 2);
    // The assistant's own note, quoted as information, never as the owner's.
    assert.ok(
      second.instructions.includes(
        `${ASSISTANT_NOTES_HEADING}\n- ${JSON.stringify(FACT)}`,
      ),
      second.instructions,
    );
    assert.ok(!second.instructions.includes(NOTES_HEADING));
    const forgotten = await modelCalls(second.session, "forget", {
      description: "the dentist",
    });
    assert.deepEqual(forgotten.forgotten, [FACT]);
    await hangUp(server, second);

    const third = await placeCall(server, 3);
    assert.ok(!third.instructions.includes(FACT));
    assert.ok(!third.instructions.includes(NOTES_HEADING));
    await hangUp(server, third);
  } finally {
    await server.close();
  }
});

Deno.test("a summary made from the transcript after the hang-up is in the next call's instructions", async () => {
  const server = await startTestServer({}, {
    responses: { reply: () => JSON.stringify(MILK_SUMMARY) },
  });
  try {
    const first = await placeCall(server, 1);
    await talk(first, "Add milk to my shopping list.", "Done, milk is on it.");
    // Nothing is asked of the summary model while the caller is on the line.
    await delay(100);
    assert.equal(server.realtime.responsesApi.requests.length, 0);
    await hangUp(server, first);
    const record = await waitForSummary(server, first.callSid);
    assert.deepEqual(record.summary, {
      status: "done",
      attempts: 1,
      text: MILK_SUMMARY.summary,
      openLoops: MILK_SUMMARY.open_loops,
      todos: MILK_SUMMARY.todos,
      at: record.summary?.at,
    });

    const [request] = server.realtime.responsesApi.requests;
    assert.equal(request.model, "gpt-5.4-mini");
    assert.equal(request.instructions, SUMMARY_INSTRUCTIONS);
    assert.equal(request.store, false);
    assert.match(
      String(request.input),
      /Owner: Add milk to my shopping list\.\nAssistant: Done, milk is on it\./,
    );

    const second = await placeCall(server, 2);
    assert.ok(second.instructions.includes(CALLS_HEADING));
    assert.ok(
      second.instructions.includes(
        `${MILK_SUMMARY.summary} To-dos: buy milk (done). Still open: whether to buy oat or dairy milk.`,
      ),
      second.instructions,
    );
    // One voice session each: the summary opened none.
    assert.equal(server.realtime.handshakes, 2);
    await hangUp(server, second);
  } finally {
    await server.close();
  }
});

Deno.test("a summary whose first request fails is retried later and made", async () => {
  const server = await startTestServer(
    {},
    {
      responses: { failTimes: 1, reply: () => JSON.stringify(MILK_SUMMARY) },
    },
    undefined,
    { retryDelayMs: 50 },
  );
  try {
    const call = await placeCall(server, 1);
    await talk(call, "Add milk.", "Added.");
    await hangUp(server, call);
    const record = await waitForSummary(server, call.callSid);
    assert.equal(record.summary?.attempts, 2);
    assert.equal(server.realtime.responsesApi.failures, 1);
    assert.equal(server.realtime.responsesApi.requests.length, 2);
    const retry = server.logs.events().find((e) => e.event === "summary.retry");
    assert.equal(retry?.error, "HTTP 500");
    assert.equal(retry?.delayMs, 50);
    assert.equal(
      await server.app.memory?.summaries.recent().then((s) => s.length),
      1,
    );
  } finally {
    await server.close();
  }
});

Deno.test("a summary that times out every time is retried, then marked failed in the journal and logged", async () => {
  const server = await startTestServer(
    {},
    {
      responses: { delayMs: 2000 },
    },
    undefined,
    { timeoutMs: 100, retryDelayMs: 20, maxAttempts: 3 },
  );
  try {
    const call = await placeCall(server, 1);
    await talk(call, "What's on today?", "Nothing much.");
    await hangUp(server, call);
    const record = await waitForSummary(server, call.callSid, ["failed"]);
    assert.equal(record.summary?.attempts, 3);
    assert.equal(record.summary?.error, "timed out after 100 ms");
    const events = server.logs.events();
    assert.equal(events.filter((e) => e.event === "summary.retry").length, 2);
    const failed = events.find((e) => e.event === "summary.failed");
    assert.equal(failed?.level, "error");
    assert.equal(failed?.callSid, call.callSid);
    assert.deepEqual(await server.app.memory?.summaries.recent(), []);
    // The secret key never reaches a log line.
    assert.ok(!server.logs.lines.join("\n").includes("sk-test-openai-key"));
  } finally {
    await server.close();
  }
});

Deno.test("summaries in the instructions stay within their bound: the newest five of seven calls", async () => {
  let n = 0;
  const server = await startTestServer({}, {
    responses: {
      reply: () =>
        JSON.stringify({
          summary: `Call number ${++n} went fine.`,
          open_loops: [],
          todos: [],
        }),
    },
  });
  try {
    for (let i = 1; i <= 7; i++) {
      const call = await placeCall(server, i);
      await talk(call, `Hello ${i}.`, "Hi.");
      await hangUp(server, call);
      await waitForSummary(server, call.callSid);
    }
    const next = await placeCall(server, 8);
    const section = next.instructions.slice(
      next.instructions.indexOf(CALLS_HEADING),
    );
    const lines = section.split("\n").slice(1);
    assert.equal(lines.length, 5, section);
    assert.match(lines[0], /Call number 7 went fine\./);
    assert.match(lines[4], /Call number 3 went fine\./);
    assert.ok(section.length <= CALLS_HEADING.length + 1 + 2000);
    await hangUp(server, next);
  } finally {
    await server.close();
  }
});

Deno.test("MEMORY=false: the instructions are untouched, no memory tools, no summary", async () => {
  const server = await startTestServer({ MEMORY: "false" });
  try {
    const call = await placeCall(server, 1);
    const tools = (call.sessionUpdate.tools as { name?: string }[])
      .map((t) => t.name);
    assert.deepEqual(tools, ["end_call"]);
    assert.throws(
      () => call.session.functionCall({ name: "remember" }),
      /cannot call function 'remember'/,
    );
    // The same instructions the configuration gives, word for word (the date aside).
    const expected = assistantInstructions(testConfig(), new Date());
    assert.equal(
      call.instructions.replace(/It is now .*\(time zone UTC\)\./, ""),
      expected.replace(/It is now .*\(time zone UTC\)\./, ""),
    );
    await talk(call, "Remember my dentist.", "I can't keep notes.");
    await hangUp(server, call);
    await delay(200);
    assert.equal(server.realtime.responsesApi.requests.length, 0);
    const record = (await server.app.journal.get(callSidFor(1)))?.record;
    assert.equal(record?.summary, undefined);
    assert.equal(server.app.memory, undefined);
  } finally {
    await server.close();
  }
});

Deno.test("GPT-Live: a remembered fact and the last call's summary are in the next session.start", async () => {
  const server = await startTestServer({ VOICE_ENGINE: "live" }, {
    responses: { reply: () => JSON.stringify(MILK_SUMMARY) },
  }, {});
  try {
    const live = server.live!;
    const firstSid = callSidFor(1);
    const firstUrl = await server.answer({ ...CALL_PARAMS, CallSid: firstSid });
    const first = await live.nextSession();
    const edge = await server.connect(firstUrl, { callSid: firstSid });
    await first.waitStarted(3000);
    const startOf = (session: typeof first) =>
      String(
        (session.received.find((e) => e.type === "session.start")
          ?.session as { instructions: string }).instructions,
      );
    assert.ok(!startOf(first).includes(NOTES_HEADING));
    first.callerSaid("Remember my dentist is Dr. Lee, Tuesdays.");
    const [output] = await first.callFunction({
      name: "remember",
      arguments: { fact: FACT },
    }).answered;
    assert.equal(JSON.parse(String(output.output)).stored, FACT);
    edge.sendStop();
    await edge.closed;
    await waitForSummary(server, firstSid);

    const secondSid = callSidFor(2);
    await server.answer({ ...CALL_PARAMS, CallSid: secondSid });
    const second = await live.nextSession();
    await second.waitFor("session.start", undefined, 3000);
    const instructions = startOf(second);
    assert.ok(
      instructions.includes(
        `${ASSISTANT_NOTES_HEADING}\n- ${JSON.stringify(FACT)}`,
      ),
    );
    assert.ok(!instructions.includes(NOTES_HEADING));
    assert.ok(instructions.includes(MILK_SUMMARY.summary));
    // The summary went to the Responses API beside the Realtime endpoint.
    assert.equal(server.realtime.responsesApi.requests.length, 1);
    assert.match(
      String(server.realtime.responsesApi.requests[0].input),
      /Owner: Remember my dentist/,
    );
  } finally {
    await server.close();
  }
});
