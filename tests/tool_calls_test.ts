/**
 * The GA response lifecycle over real sockets: the real server between a
 * simulated Twilio edge and the Realtime simulator, which models what the
 * API does (MCP calls end their response and nothing follows by itself; one
 * active response per conversation; recoverable errors).
 */
import assert from "node:assert/strict";
import type {
  FakeRealtimeOptions,
  FakeRealtimeSession,
} from "../peers/realtime/mod.ts";
import type { TwilioEdge } from "../peers/twilio_edge.ts";
import type { ConfigVariable } from "../src/config.ts";
import {
  delay,
  randomAudio,
  startTestServer,
  type TestServer,
} from "./helpers/test_server.ts";
import { CALL_PARAMS } from "../peers/twilio_requests.ts";
import { toolsUnavailableNote } from "../src/realtime/engine.ts";
import { THINKING_AFTER_MS } from "../src/call/thinking_sound.ts";

const ZAPIER = {
  ZAPIER_MCP_PASSWORD: "zap-secret-pw",
};
const TOOLS = [{ name: "todoist_find_tasks" }, { name: "gmail_send_email" }];

/** The model answers every response.create by speaking `audio`. */
function answersWith(audio: Uint8Array) {
  return (session: FakeRealtimeSession) => {
    session.speak(audio, { transcript: "You have two tasks today." });
  };
}

/**
 * A call with Zapier's MCP tool in the session, once the simulator has
 * listed its tools: what most tests here start from.
 */
async function zapierCall(
  options: FakeRealtimeOptions,
  run: (call: {
    server: TestServer;
    edge: TwilioEdge;
    session: FakeRealtimeSession;
  }) => Promise<void>,
  variables: Partial<Record<ConfigVariable, string>> = {},
): Promise<void> {
  const server = await startTestServer({ ...ZAPIER, ...variables }, {
    mcpTools: TOOLS,
    ...options,
  });
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    await delay(50);
    await run({ server, edge, session });
  } finally {
    await server.close();
  }
}

function systemNotes(session: FakeRealtimeSession): string[] {
  return session.received
    .filter((e) => e.type === "conversation.item.create")
    .map((e) => e.item as Record<string, unknown>)
    .filter((item) => item.type === "message" && item.role === "system")
    .map((item) => (item.content as { text: string }[])[0].text);
}

Deno.test("after a completed Zapier MCP call the assistant answers: one response.create, and the caller hears it", async () => {
  const answer = randomAudio(8 * 300);
  await zapierCall(
    { onResponseCreate: answersWith(answer) },
    async ({ server, edge, session }) => {
      const preamble = randomAudio(8 * 200);
      const call = session.mcpCall({
        name: "todoist_find_tasks",
        output: '[{"content":"buy milk"}]',
        preamble: { audio: preamble },
      });
      assert.equal(await call.done, "completed");
      const create = await session.waitFor("response.create");
      assert.equal(
        (create.response as Record<string, unknown> | undefined)?.instructions,
        undefined,
      );
      await edge.waitForPlayed(preamble.length + answer.length, 4000);
      assert.deepEqual(
        edge.playedAudio().subarray(edge.playedAudio().length - answer.length),
        answer,
      );
      await delay(200);
      assert.equal(
        session.received.filter((e) => e.type === "response.create").length,
        1,
        "exactly one follow-up",
      );
      assert.deepEqual(session.refusedCreates, []);
      await server.app.journal.flushed();
      const journal = await server.app.journal.get(CALL_PARAMS.CallSid);
      const tool = journal?.lines.find((l) => l.kind === "tool");
      assert.deepEqual(
        tool && { ...tool, at: 0 },
        {
          at: 0,
          kind: "tool",
          name: "todoist_find_tasks",
          server: "zapier",
          failed: false,
        },
      );
    },
  );
});

Deno.test("a failed Zapier MCP call is answered too (never silence) and journaled with its error type", async () => {
  const apology = randomAudio(8 * 200);
  await zapierCall(
    { onResponseCreate: answersWith(apology) },
    async ({ server, edge, session }) => {
      const call = session.mcpCall({
        name: "gmail_send_email",
        error: { type: "http_error", code: 502, message: "Bad gateway" },
      });
      await call.done;
      await session.waitFor("response.create");
      await edge.waitForPlayed(apology.length, 3000);
      await server.app.journal.flushed();
      const journal = await server.app.journal.get(CALL_PARAMS.CallSid);
      const tool = journal?.lines.find((l) => l.kind === "tool");
      assert.equal(tool?.kind === "tool" && tool.failed, true);
      assert.equal(tool?.kind === "tool" && tool.errorType, "http_error");
    },
  );
});

Deno.test("parallel MCP calls in one response get a single follow-up", async () => {
  const server = await startTestServer(ZAPIER, {
    mcpTools: TOOLS,
    onResponseCreate: answersWith(randomAudio(8 * 100)),
  });
  try {
    await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    await delay(50);
    const call = session.mcpCall([
      { name: "todoist_find_tasks", durationMs: 20 },
      { name: "gmail_send_email", durationMs: 40 },
    ]);
    await call.done;
    await session.waitFor("response.create");
    await delay(300);
    assert.equal(
      session.received.filter((e) => e.type === "response.create").length,
      1,
    );
  } finally {
    await server.close();
  }
});

Deno.test("no follow-up after an MCP call when the caller has started talking: their turn makes the next response", async () => {
  const server = await startTestServer(ZAPIER, { mcpTools: TOOLS });
  try {
    await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    await delay(50);
    const call = session.mcpCall({
      name: "todoist_find_tasks",
      durationMs: 100,
    });
    session.speechStarted();
    await call.done;
    await delay(50);
    session.speechStopped();
    await delay(200);
    assert.equal(
      session.received.filter((e) => e.type === "response.create").length,
      0,
    );
  } finally {
    await server.close();
  }
});

Deno.test("while a slow MCP tool runs the caller hears the thinking sound, which stops at the answer's first audio", async () => {
  const answer = randomAudio(8 * 200);
  await zapierCall(
    { onResponseCreate: answersWith(answer) },
    async ({ edge, session }) => {
      const call = session.mcpCall({
        name: "todoist_find_tasks",
        durationMs: THINKING_AFTER_MS + 900,
      });
      await delay(THINKING_AFTER_MS + 500);
      const thinking = edge.receivedAudio().length;
      assert.ok(thinking > 0, "the thinking sound plays during the tool call");
      await call.done;
      await edge.waitFor((m) => m.event === "clear", 3000);
      // Everything still queued is the answer: it plays out whole after the sound.
      const deadline = Date.now() + 3000;
      const endsWithAnswer = () => {
        const played = edge.playedAudio();
        return played.length >= answer.length &&
          played.subarray(played.length - answer.length).every((b, i) =>
            b === answer[i]
          );
      };
      while (!endsWithAnswer() && Date.now() < deadline) await delay(20);
      assert.ok(endsWithAnswer(), "the answer is heard whole after the sound");
      const received = edge.receivedAudio();
      assert.deepEqual(
        received.subarray(received.length - answer.length),
        answer,
        "no thinking sound after the answer started",
      );
    },
  );
});

Deno.test("THINKING_SOUND=false: nothing plays while a tool runs", async () => {
  await zapierCall({}, async ({ edge, session }) => {
    const call = session.mcpCall({
      name: "todoist_find_tasks",
      durationMs: THINKING_AFTER_MS + 500,
    });
    await call.done;
    assert.equal(edge.receivedAudio().length, 0);
  }, { THINKING_SOUND: "false" });
});

Deno.test("a failing Zapier tool list is logged (label, never the key), journaled, shown on /calls/<sid>, and told to the assistant", async () => {
  const server = await startTestServer(
    { ...ZAPIER, ADMIN_TOKEN: "an-admin-token-of-some-length" },
    { mcpListFails: true },
  );
  try {
    await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    const note = await session.waitFor(
      "conversation.item.create",
      (e) => (e.item as Record<string, unknown>).role === "system",
    );
    assert.deepEqual(systemNotes(session), [toolsUnavailableNote("zapier")]);
    assert.ok(note);
    const warning = server.logs.events().find((e) =>
      e.event === "mcp.tools_unavailable"
    );
    assert.equal(warning?.server, "zapier");
    assert.ok(!server.logs.lines.join("\n").includes("zap-secret-pw"));
    await delay(100);
    await server.app.journal.flushed();
    const journal = await server.app.journal.get(CALL_PARAMS.CallSid);
    assert.deepEqual(journal?.record.toolsUnavailable, ["zapier"]);
    const page = await fetch(
      `${server.origin}/calls/${CALL_PARAMS.CallSid}`,
      { headers: { authorization: "Bearer an-admin-token-of-some-length" } },
    );
    assert.match(await page.text(), /zapier tools could not be listed/);
  } finally {
    await server.close();
  }
});

Deno.test("a completed tool list logs how many tools Zapier offered, after ZAPIER_MCP_ALLOWED_TOOLS", async () => {
  const server = await startTestServer(
    { ...ZAPIER, ZAPIER_MCP_ALLOWED_TOOLS: "todoist_find_tasks" },
    { mcpTools: TOOLS },
  );
  try {
    await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    for (let i = 0; i < 40; i++) {
      if (server.logs.events().some((e) => e.event === "mcp.tools_listed")) {
        break;
      }
      await delay(25);
    }
    const listed = server.logs.events().find((e) =>
      e.event === "mcp.tools_listed"
    );
    assert.equal(listed?.tools, 1);
    assert.deepEqual(
      session.mcpListings.map((l) => l.tools.map((t) => t.name)),
      [["todoist_find_tasks"]],
    );
  } finally {
    await server.close();
  }
});

Deno.test("a recoverable server_error is logged and the call goes on; an expired session ends it", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    session.serverError(
      "The server had an error while processing your request.",
    );
    await delay(100);
    assert.equal(server.app.calls.live.size, 1);
    const audio = randomAudio(8 * 100);
    session.speak(audio);
    await edge.waitForPlayed(audio.length, 2000);
    const logged = server.logs.events().find((e) =>
      e.event === "upstream.error"
    );
    assert.equal(logged?.type, "server_error");
    session.send({
      type: "error",
      event_id: "event_9",
      error: {
        type: "invalid_request_error",
        code: "session_expired",
        message: "Your session hit the maximum duration of 60 minutes.",
      },
    });
    await edge.closed;
  } finally {
    await server.close();
  }
});

Deno.test("a key press reaches the model as a user item naming the digits, and it answers", async () => {
  const answer = randomAudio(8 * 100);
  const server = await startTestServer({}, {
    onResponseCreate: answersWith(answer),
  });
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    edge.sendDtmf("4");
    edge.sendDtmf("2");
    const item = await session.waitFor(
      "conversation.item.create",
      (e) => (e.item as Record<string, unknown>).role === "user",
      4000,
    );
    const content = (item.item as { content: { text: string }[] }).content;
    assert.match(content[0].text, /42/);
    await session.waitFor("response.create");
    await edge.waitForPlayed(answer.length, 2000);
    assert.deepEqual(session.refusedCreates, []);
  } finally {
    await server.close();
  }
});

Deno.test("barge-in truncates every assistant item still queued at the caller, never past what was sent", async () => {
  const first = randomAudio(8 * 600);
  const second = randomAudio(8 * 600);
  await zapierCall(
    { onResponseCreate: (session) => session.speak(second) },
    async ({ edge, session }) => {
      // A preamble item, then (after the tool) the answer: both queue at Twilio.
      const call = session.mcpCall({
        name: "todoist_find_tasks",
        preamble: { audio: first },
      });
      await call.done;
      await session.waitFor("response.create");
      while (edge.receivedAudio().length < first.length + second.length) {
        await delay(10);
      }
      await delay(100);
      session.speechStarted();
      const truncates = [
        await session.waitFor("conversation.item.truncate"),
        await session.waitFor("conversation.item.truncate"),
      ];
      assert.equal(truncates[0].item_id, call.preambleItemId);
      assert.ok(Number(truncates[0].audio_end_ms) > 0);
      assert.equal(truncates[1].audio_end_ms, 0);
      await delay(100);
      assert.ok(session.truncations.every((t) => t.accepted), "none refused");
      assert.equal(session.truncations.length, 2);
    },
  );
});
