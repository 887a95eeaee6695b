/**
 * One stream per call and resumes, in one process over real sockets: a
 * replayed webhook mints nothing; Twilio's `<Connect action>` continuation
 * resumes a call whose stream dropped with its conversation in the new
 * session (Realtime items, GPT-Live initial history), without a second
 * greeting; an end on purpose still hangs up.
 */
import assert from "node:assert/strict";
import {
  CALL_PARAMS,
  signedWebhook,
  streamUrlOf,
} from "../peers/twilio_requests.ts";
import {
  LINE_DROPPED_INSTRUCTION,
  RESUMED_NOTE,
} from "../src/call/resume_plan.ts";
import { liveGreeting } from "../src/live/engine.ts";
import { greetingInstruction } from "../src/call/instructions.ts";
import {
  PUBLIC_ORIGIN,
  randomAudio,
  startTestServer,
  type TestServer,
} from "./helpers/test_server.ts";

const GREETING = "Hello, it's your assistant.";
const ADMIN_TOKEN = "owner-admin-token-0123456789";

async function post(server: TestServer, path: string) {
  const signed = signedWebhook(`${PUBLIC_ORIGIN}${path}`, CALL_PARAMS);
  const response = await fetch(`${server.origin}${path}`, {
    method: "POST",
    headers: signed.headers,
    body: await signed.text(),
  });
  return { status: response.status, body: await response.text() };
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The text of each message item the client created, in order. */
function messages(received: Record<string, unknown>[]) {
  return received
    .filter((e) => e.type === "conversation.item.create")
    .map((e) =>
      e.item as { type: string; role?: string; content?: { text: string }[] }
    )
    .filter((item) => item.type === "message")
    .map((item) => ({ role: item.role, text: item.content?.[0]?.text }));
}

Deno.test("a replayed signed /incoming-call for a CallSid with a pending or live stream mints nothing and opens no second upstream session", async () => {
  const server = await startTestServer();
  try {
    const streamUrl = await server.answer();
    const pending = await post(server, "/incoming-call");
    assert.equal(pending.status, 409);
    assert.ok(!pending.body.includes("media-stream"));
    await server.connect(streamUrl);
    await server.realtime.nextSession();
    const live = await post(server, "/incoming-call");
    assert.equal(live.status, 409);
    // A replayed continuation while the stream is live mints nothing either.
    const continued = await post(server, "/call-ended");
    assert.equal(continued.status, 409);
    await delay(100);
    assert.equal(server.realtime.handshakes, 1);
    const refused = server.logs.events().filter((e) =>
      e.event === "webhook.duplicate"
    );
    assert.equal(refused.length, 3);
    assert.equal(refused[0].callSid, CALL_PARAMS.CallSid);
  } finally {
    await server.close();
  }
});

Deno.test("Realtime: a call whose stream dropped mid-answer resumes with its conversation as items before any response, no second greeting, and says the line dropped", async () => {
  const server = await startTestServer({ GREETING, ADMIN_TOKEN });
  try {
    const edge = await server.call();
    const first = await server.realtime.nextSession();
    await first.waitFor("session.update");
    first.callerSaid("What's on my list today?");
    const answer = randomAudio(800);
    await first.speak(answer, { transcript: "You have one task." }).done;
    await edge.waitForPlayed(answer.length, 3000);
    // A long answer, cut while it plays.
    first.speak(randomAudio(8 * 4000), { intervalMs: 20 });
    await edge.waitForPlayed(answer.length + 1600, 3000);
    first.close(1011, "upstream lost");
    await edge.closed;

    const { status, body } = await post(server, "/call-ended");
    assert.equal(status, 200);
    assert.match(body, /<Connect action="[^"]+\/call-ended" method="POST">/);
    await server.connect(streamUrlOf(body));
    const second = await server.realtime.nextSession();
    await second.waitFor("response.create");
    const received = second.received;
    const firstResponse = received.findIndex((e) =>
      e.type === "response.create"
    );
    assert.deepEqual(messages(received.slice(0, firstResponse)), [
      { role: "user", text: "What's on my list today?" },
      { role: "assistant", text: "You have one task." },
      { role: "system", text: RESUMED_NOTE },
      { role: "system", text: LINE_DROPPED_INSTRUCTION },
    ]);
    assert.ok(
      !messages(received).some((m) => m.text === greetingInstruction(GREETING)),
      "no second greeting",
    );
    // One journal record, two streams, the resume marked with its cause.
    await server.app.journal.flushed();
    const record = (await server.app.journal.get(CALL_PARAMS.CallSid))!.record;
    assert.equal(record.segments?.length, 2);
    assert.equal(record.segments?.[0].outcome, "error");
    assert.equal(record.segments?.[1].cause, "dropped");
    const page = await fetch(`${server.origin}/calls/${CALL_PARAMS.CallSid}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.match(await page.text(), /resumed 1× \(dropped\)/);
  } finally {
    await server.close();
  }
});

Deno.test("GPT-Live: a resumed session starts with the conversation as session.start's input history, and no greeting", async () => {
  const server = await startTestServer(
    { VOICE_ENGINE: "live", GREETING },
    {},
    {},
  );
  try {
    const edge = await server.call();
    const first = await server.live!.nextSession();
    await first.waitStarted();
    first.callerSaid("Remind me to buy milk.");
    // The caller's line is complete once the transcript goes quiet.
    await delay(1500);
    first.close();
    await edge.closed;

    const { body } = await post(server, "/call-ended");
    await server.connect(streamUrlOf(body));
    const second = await server.live!.nextSession();
    const session = await second.waitStarted();
    const input = session.input ?? [];
    assert.deepEqual(
      input.map((item) => [item.role, item.content[0].text]),
      [
        ["user", "Remind me to buy milk."],
        ["developer", RESUMED_NOTE],
      ],
    );
    await delay(200);
    assert.ok(
      !second.commentary.some((c) => c.content === liveGreeting(GREETING)),
      "no second greeting",
    );
  } finally {
    await server.close();
  }
});

Deno.test("an end on purpose still hangs up: the continuation answers <Hangup/> and resumes nothing", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    await server.realtime.nextSession();
    edge.sendStop();
    await edge.closed;
    const { status, body } = await post(server, "/call-ended");
    assert.equal(status, 200);
    assert.match(body, /<Response><Hangup\/><\/Response>$/);
    await delay(100);
    assert.equal(server.realtime.handshakes, 1);
  } finally {
    await server.close();
  }
});
