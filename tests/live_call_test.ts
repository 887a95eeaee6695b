/**
 * Whole calls on the GPT-Live engine over real sockets: a simulated Twilio
 * edge, the real server, the GPT-Live simulator and, for Zapier, a real MCP
 * server built with the official SDK's server classes.
 */
import assert from "node:assert/strict";
import { GOODBYE_QUIET_MS } from "../src/live/quiet_goodbye.ts";
import { startMcpServer } from "../peers/mcp_server.ts";
import { MCP_TOKEN } from "../peers/mcp_server.ts";
import { assertCallerGapFilled } from "./helpers/caller_gap.ts";
import { delay, randomAudio, startTestServer } from "./helpers/test_server.ts";
import { CALL_PARAMS } from "../peers/twilio_requests.ts";

const LIVE = { VOICE_ENGINE: "live" } as const;

/** Speech-like µ-law (never mistaken for silence): random bytes avoid the silent codes. */
function speech(bytes: number): Uint8Array {
  return randomAudio(bytes).map((b) => b & 0x7f ? b & 0x8f : 0x10);
}

Deno.test("live: caller audio passes through bit-exact to GPT-Live, after session.started", async () => {
  const server = await startTestServer(LIVE, {}, {});
  try {
    const edge = await server.call();
    const session = await server.live!.nextSession();
    await session.waitStarted(3000);
    const start = session.received.find((e) => e.type === "session.start");
    const config = start?.session as Record<string, unknown>;
    assert.deepEqual(
      (config.audio as Record<string, unknown>).format,
      { type: "audio/pcmu", rate: 8000 },
    );
    const audio = randomAudio(160 * 40);
    await edge.sendAudio(audio);
    while (session.inputAudio().length < audio.length) await delay(10);
    assert.deepEqual(session.inputAudio(), audio);
    assert.deepEqual(session.errorsSent, []);
  } finally {
    await server.close();
  }
});

Deno.test("live: assistant audio passes through bit-exact to Twilio, paced", async () => {
  const server = await startTestServer(LIVE, {}, {});
  try {
    const edge = await server.call();
    const session = await server.live!.nextSession();
    await session.waitStarted(3000);
    const audio = speech(8 * 600);
    await session.speak(audio, { realTime: false }).done;
    await edge.waitForPlayed(audio.length, 3000);
    assert.deepEqual(edge.playedAudio(), audio);
    assert.deepEqual(edge.receivedAudio(), audio);
  } finally {
    await server.close();
  }
});

Deno.test("live: the greeting is asked for at pickup and heard", async () => {
  const greeting = speech(8 * 300);
  const server = await startTestServer(
    { ...LIVE, GREETING: "Hi boss" },
    {},
    {
      onAppend: (session, append) => {
        if (append.kind === "commentary") {
          session.speak(greeting, { realTime: false });
        }
      },
    },
  );
  try {
    const edge = await server.call();
    const session = await server.live!.nextSession();
    await session.waitFor("session.commentary.append", undefined, 3000);
    assert.match(session.commentary[0].content, /Hi boss/);
    await edge.waitForPlayed(greeting.length, 3000);
    assert.deepEqual(edge.playedAudio(), greeting);
  } finally {
    await server.close();
  }
});

Deno.test("live: a Zapier tool is listed, called through the server's MCP client and answered; a failing and a timed-out tool are answered too", async () => {
  const mcp = startMcpServer({ slowMs: 10_000 });
  const answer = speech(8 * 200);
  const server = await startTestServer(
    {
      ...LIVE,
      ZAPIER_MCP_URL: mcp.url,
      ZAPIER_MCP_PASSWORD: MCP_TOKEN,
      ZAPIER_MCP_TIMEOUT_SECONDS: "1",
    },
    {},
    {
      onResponseCreate: (session, outputs) => {
        if (outputs.length > 0) {
          session.reply("Done.", { audio: answer, realTime: false });
        }
      },
    },
  );
  try {
    const edge = await server.call();
    const session = await server.live!.nextSession();
    await session.waitStarted(3000);
    // The tools arrive by session.update once the MCP client has listed them.
    const update = await session.waitFor("session.update", undefined, 5000);
    const tools = (update.session as {
      delegation: { responses: { tools: { name: string }[] } };
    }).delegation.responses.tools.map((t) => t.name);
    assert.ok(tools.includes("end_call"));
    assert.ok(tools.includes("todoist_find_tasks"));
    await delay(50);

    const calls = session.callFunction([
      { name: "todoist_find_tasks", arguments: { query: "milk" } },
      { name: "zapier_failing_action" },
      { name: "slow_action" },
    ]);
    const outputs = await calls.answered;
    const byName = new Map(
      outputs.map((o) => [o.name, JSON.parse(String(o.output))]),
    );
    assert.equal(byName.get("todoist_find_tasks").ok, true);
    assert.equal(byName.get("zapier_failing_action").ok, false);
    assert.equal(byName.get("slow_action").ok, false);
    assert.equal(byName.get("slow_action").errorType, "timeout");
    await edge.waitForPlayed(answer.length, 5000);
    await delay(100);
    await server.app.journal.flushed();
    const journal = await server.app.journal.get(CALL_PARAMS.CallSid);
    const tools_ = journal?.lines.filter((l) => l.kind === "tool") ?? [];
    assert.deepEqual(
      tools_.map((l) => l.kind === "tool" && [l.name, l.failed]).sort(),
      [
        ["slow_action", true],
        ["todoist_find_tasks", false],
        ["zapier_failing_action", true],
      ],
    );
    assert.deepEqual(session.errorsSent, []);
  } finally {
    await server.close();
    await mcp.close();
  }
});

Deno.test("live: parallel Zapier calls in one delegation: response.create follows the last output at once, with caller audio flowing", async () => {
  const mcp = startMcpServer();
  const server = await startTestServer(
    { ...LIVE, ZAPIER_MCP_URL: mcp.url, ZAPIER_MCP_PASSWORD: MCP_TOKEN },
    {},
    {},
  );
  try {
    const edge = await server.call();
    const session = await server.live!.nextSession();
    await session.waitStarted(3000);
    await session.waitFor("session.update", undefined, 5000);
    // The caller's audio keeps flowing (50 frames a second), so any wait
    // between the last output and the request shows as appends between them.
    const talking = edge.sendAudio(speech(8 * 1500));
    const calls = session.callFunction([
      { name: "todoist_find_tasks", arguments: { query: "milk" } },
      { name: "gmail_find_email", arguments: { query: "invoice" } },
    ]);
    await calls.answered;
    await talking;
    const sent = session.received.map((e) => e.type);
    const create = sent.indexOf("response.create");
    assert.equal(sent.lastIndexOf("response.item.create"), create - 1);
    assert.equal(sent.filter((t) => t === "response.item.create").length, 2);
    assert.ok(sent.includes("session.input_audio.append"));
    assert.deepEqual(session.errorsSent, []);
  } finally {
    await server.close();
    await mcp.close();
  }
});

Deno.test("live: Twilio leaving 1.5 s of frames out mid-turn: the gap goes up as silence, the model hears the turn end and answers; nothing is filled twice", async () => {
  const answer = speech(8 * 200);
  const server = await startTestServer(LIVE, {}, {
    detectSpeechSilenceMs: 500,
    onTurnEnd: (session) => {
      session.speak(answer, { realTime: false });
    },
  });
  try {
    const edge = await server.call();
    const session = await server.live!.nextSession();
    await session.waitStarted(3000);
    await assertCallerGapFilled(edge, session, {
      speech,
      answerBytes: answer.length,
    });
  } finally {
    await server.close();
  }
});

Deno.test("live: when GPT-Live stops talking, the caller stops hearing it within the playback window", async () => {
  const server = await startTestServer(LIVE, {}, {});
  try {
    const edge = await server.call();
    const session = await server.live!.nextSession();
    await session.waitStarted(3000);
    // Real-time speech, interrupted by the model itself after 600 ms.
    const spoken = session.speak(speech(8 * 5000));
    await delay(600);
    spoken.stop();
    const stoppedAt = edge.playedAudio().length;
    await delay(800);
    const heardAfter = edge.playedAudio().length - stoppedAt;
    assert.ok(
      heardAfter <= 8 * 300,
      `${heardAfter / 8} ms heard after the model stopped`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("live: end_call ends the call after the goodbye has played, with session.close", async () => {
  const goodbye = speech(8 * 400);
  const server = await startTestServer(LIVE, {}, {
    onResponseCreate: (session, outputs) => {
      if (outputs.some((o) => o.name === "end_call")) {
        session.reply("Bye!", { audio: goodbye, realTime: false });
      }
    },
  });
  try {
    const edge = await server.call();
    const session = await server.live!.nextSession();
    await session.waitStarted(3000);
    session.callFunction({ name: "end_call" });
    await edge.closed;
    assert.deepEqual(
      edge.playedAudio(),
      goodbye,
      "the whole goodbye was heard",
    );
    await session.waitFor("session.close", undefined, 2000);
    // The journal writes in the background: wait for the call's end to land.
    await server.app.journal.flushed();
    const journal = await server.app.journal.get(CALL_PARAMS.CallSid);
    assert.equal(journal?.record.outcome, "assistant_ended");
    assert.ok(GOODBYE_QUIET_MS > 0);
  } finally {
    await server.close();
  }
});

for (const reason of ["expired", "content", "connection_lost"] as const) {
  Deno.test(`live: session.closed (${reason}) ends the call and the stream`, async () => {
    const server = await startTestServer(LIVE, {}, {});
    try {
      const edge = await server.call();
      const session = await server.live!.nextSession();
      await session.waitStarted(3000);
      session.end(reason);
      await edge.closed;
      const ended = server.logs.events().find((e) => e.event === "call.ended");
      assert.equal(ended?.reason, "upstream closed");
      assert.match(String(ended?.detail), new RegExp(reason));
    } finally {
      await server.close();
    }
  });
}

Deno.test("live: a dropped socket ends the call", async () => {
  const server = await startTestServer(LIVE, {}, {});
  try {
    const edge = await server.call();
    const session = await server.live!.nextSession();
    await session.waitStarted(3000);
    session.drop();
    await edge.closed;
    assert.equal(server.app.calls.live.size, 0);
  } finally {
    await server.close();
  }
});

Deno.test("live: no session outlives its call (short call, abrupt hang-up, no stream at all)", async () => {
  const server = await startTestServer(
    { ...LIVE, STREAM_TOKEN_TTL_SECONDS: "5" },
    {},
    {},
  );
  try {
    // A caller who hangs up at once.
    const edge = await server.call();
    const first = await server.live!.nextSession();
    edge.close();
    const closed = await first.closed;
    assert.equal(closed.byClient, true);
    // A call whose stream never comes: the pre-warmed session is closed at token expiry.
    await server.answer({
      ...CALL_PARAMS,
      CallSid: "CA00000000000000000000000000000002",
    });
    const second = await server.live!.nextSession();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const info = await Promise.race([
      second.closed,
      new Promise<undefined>((resolve) =>
        timer = setTimeout(() => resolve(undefined), 8000)
      ),
    ]);
    clearTimeout(timer);
    assert.ok(info, "the unclaimed session was closed");
    assert.equal(server.app.calls.load, 0);
  } finally {
    await server.close();
  }
});
