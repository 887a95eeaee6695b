/**
 * Assistant controls and limits over real sockets: end_call, the greeting,
 * the call time limit, the start deadline, the concurrency limit, and what
 * Twilio hears after the stream closes.
 */
import assert from "node:assert/strict";
import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import {
  CALL_PARAMS,
  signedWebhook,
  streamUrlOf,
} from "../peers/twilio_requests.ts";
import {
  delay,
  PUBLIC_ORIGIN,
  randomAudio,
  startTestServer,
  type TestServer,
} from "./helpers/test_server.ts";
import { APOLOGY_MESSAGE, BUSY_MESSAGE } from "../src/server.ts";
import { clientFrame } from "../peers/client_frame.ts";
import { startMessage } from "../peers/twilio_messages.ts";
import { TIME_LIMIT_GOODBYE } from "../src/call/bridge.ts";
import { END_CALL_GOODBYE } from "../src/realtime/engine.ts";

/** A response that says `audio` and then calls end_call, as the model does. */
function sayGoodbyeAndHangUp(session: FakeRealtimeSession, audio: Uint8Array) {
  const responseId = "resp_goodbye";
  session.send({
    type: "response.created",
    response: {
      id: responseId,
      object: "realtime.response",
      status: "in_progress",
      output: [],
    },
  });
  for (let offset = 0; offset < audio.length; offset += 800) {
    session.send({
      type: "response.output_audio.delta",
      response_id: responseId,
      item_id: "item_goodbye",
      output_index: 0,
      content_index: 0,
      delta: audio.subarray(offset, offset + 800).toBase64(),
    });
  }
  session.send({
    type: "response.function_call_arguments.done",
    response_id: responseId,
    item_id: "fc_1",
    output_index: 1,
    call_id: "call_end_1",
    name: "end_call",
    arguments: "{}",
  });
  session.send({
    type: "response.output_item.done",
    response_id: responseId,
    output_index: 1,
    item: {
      id: "fc_1",
      type: "function_call",
      name: "end_call",
      call_id: "call_end_1",
      arguments: "{}",
    },
  });
  session.send({
    type: "response.done",
    response: {
      id: responseId,
      object: "realtime.response",
      status: "completed",
      output: [],
    },
  });
}

async function continueAfterStream(server: TestServer): Promise<string> {
  // Twilio's <Connect action> request, the call still up.
  const signed = signedWebhook(`${PUBLIC_ORIGIN}/call-ended`, {
    ...CALL_PARAMS,
    CallStatus: "in-progress",
  });
  const response = await fetch(`${server.origin}/call-ended`, {
    method: "POST",
    headers: signed.headers,
    body: await signed.text(),
  });
  assert.equal(response.status, 200);
  return await response.text();
}

Deno.test("end_call: the goodbye plays to the end, then the stream closes and Twilio hangs up without an apology", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    const goodbye = randomAudio(8 * 600);
    sayGoodbyeAndHangUp(session, goodbye);
    const output = await session.waitFor("conversation.item.create");
    assert.deepEqual(output.item, {
      type: "function_call_output",
      call_id: "call_end_1",
      output: JSON.stringify({ ok: true }),
    });
    await edge.closed;
    assert.deepEqual(
      edge.playedAudio(),
      goodbye,
      "the whole goodbye was heard",
    );
    assert.equal((await session.closed).byClient, true);
    const twiml = await continueAfterStream(server);
    assert.match(twiml, /<Response><Hangup\/><\/Response>/);
    assert.ok(!twiml.includes("<Say>"));
    const call = await server.app.journal.get(CALL_PARAMS.CallSid);
    assert.equal(call?.record.outcome, "assistant_ended");
  } finally {
    await server.close();
  }
});

Deno.test("end_call without a spoken goodbye asks the assistant for one before hanging up", async () => {
  const server = await startTestServer({}, {
    onResponseCreate: (session) => session.speak(randomAudio(8 * 200)),
  });
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    sayGoodbyeAndHangUp(session, new Uint8Array(0));
    const create = await session.waitFor("response.create");
    assertNoInstructions(create);
    assert.deepEqual(systemNotesBefore(session, create), [END_CALL_GOODBYE]);
    await edge.closed;
    assert.equal(edge.playedAudio().length, 8 * 200);
  } finally {
    await server.close();
  }
});

Deno.test("GREETING: the assistant speaks first, as soon as the stream starts", async () => {
  const greetingAudio = randomAudio(8 * 300);
  const server = await startTestServer(
    { GREETING: "Hi boss, what can I do?" },
    {
      onResponseCreate: (session) => session.speak(greetingAudio),
    },
  );
  try {
    const streamUrl = await server.answer();
    const session = await server.realtime.nextSession();
    const update = await session.waitFor("session.update");
    const create = await session.waitFor("response.create");
    assert.ok(
      session.received.indexOf(update) < session.received.indexOf(create),
    );
    // The greeting keeps the persona: a system item, no response.instructions.
    assertNoInstructions(create);
    const [note] = systemNotesBefore(session, create);
    assert.match(note, /Hi boss, what can I do\?/);
    const edge = await server.connect(streamUrl);
    await edge.waitForPlayed(greetingAudio.length, 2000);
    assert.deepEqual(edge.playedAudio(), greetingAudio);
    assert.equal(session.inputAudio().length, 0, "no caller audio was needed");
  } finally {
    await server.close();
  }
});

Deno.test("ASSISTANT_TIMEZONE sets the date and time in the instructions", async () => {
  const server = await startTestServer({ ASSISTANT_TIMEZONE: "Asia/Tokyo" });
  try {
    await server.call();
    const session = await server.realtime.nextSession();
    const update = await session.waitFor("session.update");
    const instructions = String(
      (update.session as { instructions: string }).instructions,
    );
    const tokyoDay = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Tokyo",
      day: "numeric",
      month: "long",
    }).format(new Date());
    assert.ok(instructions.includes(tokyoDay), instructions);
    assert.match(instructions, /Asia\/Tokyo/);
  } finally {
    await server.close();
  }
});

Deno.test("MAX_CALL_MINUTES: at the limit the assistant says goodbye and the call ends", async () => {
  const goodbye = randomAudio(8 * 200);
  const server = await startTestServer({ MAX_CALL_MINUTES: "0.05" }, {
    onResponseCreate: (session) => session.speak(goodbye),
  });
  try {
    const started = performance.now();
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    const create = await session.waitFor("response.create", undefined, 5000);
    assertNoInstructions(create);
    assert.deepEqual(systemNotesBefore(session, create), [TIME_LIMIT_GOODBYE]);
    assert.ok(performance.now() - started >= 2900);
    await edge.closed;
    assert.deepEqual(edge.playedAudio(), goodbye);
    const ended = server.logs.events().find((e) => e.event === "call.ended");
    assert.equal(ended?.reason, "call time limit");
    assert.match(
      await continueAfterStream(server),
      /<Response><Hangup\/><\/Response>/,
    );
  } finally {
    await server.close();
  }
});

Deno.test("a stream that never sends start is closed at the deadline with its upstream session", async () => {
  const server = await startTestServer({ STREAM_START_TIMEOUT_SECONDS: "1" });
  try {
    const edge = await server.call({ autoStart: false });
    const session = await server.realtime.nextSession();
    const opened = performance.now();
    await edge.closed;
    assert.ok(performance.now() - opened >= 900);
    assert.equal((await session.closed).byClient, true);
    const ended = server.logs.events().find((e) => e.event === "call.ended");
    assert.equal(ended?.reason, "no start from Twilio");
  } finally {
    await server.close();
  }
});

Deno.test("MAX_CONCURRENT_CALLS: a call beyond the limit hears a polite busy message and opens no upstream session", async () => {
  const server = await startTestServer({ MAX_CONCURRENT_CALLS: "1" });
  try {
    await server.call();
    await server.realtime.nextSession();
    const signed = signedWebhook(`${PUBLIC_ORIGIN}/incoming-call`, {
      ...CALL_PARAMS,
      CallSid: "CA99999999999999999999999999999999",
    });
    const response = await fetch(`${server.origin}/incoming-call`, {
      method: "POST",
      headers: signed.headers,
      body: await signed.text(),
    });
    const twiml = await response.text();
    assert.equal(response.status, 200);
    assert.ok(
      twiml.includes(
        `<Say>${BUSY_MESSAGE.replaceAll("'", "&apos;")}</Say><Hangup/>`,
      ),
      twiml,
    );
    assert.ok(!twiml.includes("<Stream"));
    await delay(50);
    assert.equal(server.realtime.handshakes, 1);
  } finally {
    await server.close();
  }
});

Deno.test("after an upstream failure Twilio's continuation resumes the call, at most 3 times, then apologises", async () => {
  const server = await startTestServer();
  try {
    let edge = await server.call();
    for (let resume = 1; resume <= 4; resume++) {
      const session = await server.realtime.nextSession();
      await session.waitFor("session.update");
      session.close(1011, "boom");
      await edge.closed;
      const twiml = await continueAfterStream(server);
      if (resume === 4) {
        assert.ok(
          twiml.includes(APOLOGY_MESSAGE.replaceAll("'", "&apos;")),
          twiml,
        );
        assert.match(twiml, /<Hangup\/><\/Response>$/);
        break;
      }
      assert.match(
        twiml,
        /<Connect action="https:\/\/assistant\.example\.com\/call-ended" method="POST"><Stream url="wss:/,
      );
      edge = await server.connect(streamUrlOf(twiml));
    }
    // The first stream and three resumes: four sessions, no more.
    assert.equal(server.realtime.handshakes, 4);
  } finally {
    await server.close();
  }
});

Deno.test("POST /call-ended refuses an unsigned request", async () => {
  const server = await startTestServer();
  try {
    const response = await fetch(`${server.origin}/call-ended`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(CALL_PARAMS).toString(),
    });
    assert.equal(response.status, 403);
    await response.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("a caller who hangs up during the upstream handshake leaves no upstream session open", async () => {
  const server = await startTestServer({}, { handshakeDelayMs: 300 });
  try {
    const edge = await server.call();
    edge.sendStop();
    await edge.closed;
    await delay(500);
    for (const session of server.realtime.sessions) {
      assert.equal((await session.closed).byClient, true);
    }
    assert.equal(server.app.calls.live.size, 0);
  } finally {
    await server.close();
  }
});

Deno.test("the journal records caller and assistant lines, tool calls and the end of the call", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    session.speechStopped();
    session.callerSaid("What's due tomorrow?");
    session.send({
      type: "response.output_item.done",
      response_id: "resp_x",
      output_index: 0,
      item: {
        id: "mcp_1",
        type: "mcp_call",
        server_label: "zapier",
        name: "todoist_find_tasks",
        error: null,
      },
    });
    await session.speak(randomAudio(800), {
      transcript: "Two tasks: taxes and milk.",
    }).done;
    await edge.waitForPlayed(800, 2000);
    edge.sendStop();
    await session.closed;
    await delay(50);
    const call = await server.app.journal.get(CALL_PARAMS.CallSid);
    assert.ok(call);
    assert.equal(call.record.caller, CALL_PARAMS.From);
    assert.equal(call.record.source, "twilio");
    assert.equal(call.record.outcome, "caller_hung_up");
    assert.equal(call.record.toolCalls, 1);
    assert.ok(call.record.durationMs !== null && call.record.durationMs > 0);
    assert.equal(call.record.turnLatenciesMs.length, 1);
    assert.deepEqual(call.lines.map((l) => l.kind), [
      "caller",
      "tool",
      "assistant",
    ]);
    assert.deepEqual(
      call.lines.map((l) => "text" in l ? l.text : l.name),
      [
        "What's due tomorrow?",
        "todoist_find_tasks",
        "Two tasks: taxes and milk.",
      ],
    );
  } finally {
    await server.close();
  }
});

Deno.test("JOURNAL_TRANSCRIPTS=false keeps metadata only", async () => {
  const server = await startTestServer({ JOURNAL_TRANSCRIPTS: "false" });
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    session.callerSaid("secret plans");
    await session.speak(randomAudio(160), { transcript: "noted" }).done;
    edge.sendStop();
    await session.closed;
    await delay(50);
    const call = await server.app.journal.get(CALL_PARAMS.CallSid);
    assert.equal(call?.record.outcome, "caller_hung_up");
    assert.deepEqual(call?.lines, []);
  } finally {
    await server.close();
  }
});

Deno.test("a caller that stops reading is cut off at a bounded buffer, not with unbounded memory", async () => {
  const server = await startTestServer();
  const { streamSignature } = await import("../peers/twilio_requests.ts");
  try {
    const streamUrl = await server.answer();
    const path = new URL(streamUrl).pathname;
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: Number(new URL(server.origin).port),
    });
    const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
    await conn.write(new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: assistant.example.com\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        `X-Twilio-Signature: ${streamSignature(streamUrl)}\r\n\r\n`,
    ));
    const head = new Uint8Array(1024);
    const read = await conn.read(head);
    assert.match(
      new TextDecoder().decode(head.subarray(0, read ?? 0)),
      /^HTTP\/1.1 101/,
    );
    await conn.write(clientFrame(
      0x1,
      new TextEncoder().encode(JSON.stringify(startMessage({
        sequenceNumber: "1",
        streamSid: "MZ00000000000000000000000000000000",
        accountSid: CALL_PARAMS.AccountSid,
        callSid: CALL_PARAMS.CallSid,
        customParameters: {},
      }))),
    ));
    const session = await server.realtime.nextSession();
    // From here on the "caller" never reads: 24 MB of answer cannot all fit.
    session.speak(randomAudio(24 * 1024 * 1024), { chunkBytes: 8000 });
    assert.equal((await session.closed).byClient, true);
    const ended = server.logs.events().find((e) => e.event === "call.ended");
    assert.equal(ended?.reason, "caller not reading");
    conn.close();
  } finally {
    await server.close();
  }
});

Deno.test("floods of forged, replayed and unsigned requests are refused cheaply: no upstream session, few log lines", async () => {
  const server = await startTestServer();
  try {
    const streamUrl = await server.answer();
    await server.connect(streamUrl); // spends the token
    await server.realtime.nextSession();
    const handshakes = server.realtime.handshakes;
    const tokenPath = new URL(streamUrl).pathname;
    const attempts: Promise<number>[] = [];
    const upgrade = {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    };
    for (let i = 0; i < 300; i++) {
      const path = i % 3 === 0
        ? tokenPath // replayed
        : i % 3 === 1
        ? `/media-stream/${crypto.randomUUID()}` // garbage
        : `${tokenPath.slice(0, -3)}AAA`; // forged MAC
      attempts.push(
        fetch(`${server.origin}${path}`, { headers: upgrade }).then(
          async (r) => {
            await r.body?.cancel();
            return r.status;
          },
        ),
      );
      attempts.push(
        fetch(`${server.origin}/incoming-call`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(CALL_PARAMS).toString(),
        }).then(async (r) => {
          await r.body?.cancel();
          return r.status;
        }),
      );
    }
    const statuses = await Promise.all(attempts);
    assert.ok(
      statuses.every((s) => s === 401 || s === 403),
      `${new Set(statuses)}`,
    );
    assert.equal(server.realtime.handshakes, handshakes);
    assert.equal(server.app.calls.live.size, 1);
    const rejectedLines = server.logs.events().filter((e) =>
      e.event === "stream.rejected"
    );
    assert.ok(rejectedLines.length < 50, `${rejectedLines.length} log lines`);
  } finally {
    await server.close();
  }
});

/** A response.create that keeps the session's instructions: none of its own. */
function assertNoInstructions(create: Record<string, unknown>): void {
  const response = create.response as Record<string, unknown> | undefined;
  assert.equal(response?.instructions, undefined);
}

/** The system items the server added before `create`. */
function systemNotesBefore(
  session: FakeRealtimeSession,
  create: Record<string, unknown>,
): string[] {
  return session.received.slice(0, session.received.indexOf(create))
    .filter((e) => e.type === "conversation.item.create")
    .map((e) => e.item as Record<string, unknown>)
    .filter((item) => item.type === "message" && item.role === "system")
    .map((item) => (item.content as { text: string }[])[0].text);
}
