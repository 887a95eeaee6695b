/**
 * A call outlives the process that carries it: two server processes on one
 * KV file, as behind a load balancer. Twilio's `<Connect action>`
 * continuation reaches the other process, which resumes the call with its
 * conversation after a SIGKILL or a SIGTERM handover; an end on purpose
 * still hangs up.
 */
import assert from "node:assert/strict";
import { FakeRealtime } from "../peers/realtime/mod.ts";
import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import {
  type ServerProcess,
  startServerProcess,
} from "../peers/server_process.ts";
import { TwilioEdge } from "../peers/twilio_edge.ts";
import {
  CALL_PARAMS,
  signedWebhook,
  streamUrlOf,
} from "../peers/twilio_requests.ts";
import { CUT_OFF_MARK } from "../src/call/call_context.ts";
import {
  LINE_DROPPED_INSTRUCTION,
  RESUMED_NOTE,
} from "../src/call/resume_plan.ts";
import { TEST_API_KEY, TEST_AUTH_TOKEN } from "./helpers/config.ts";
import { randomAudio } from "./helpers/test_server.ts";

const PUBLIC = "https://assistant.example.com";

async function twoInstances(extra: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir();
  const realtime = await FakeRealtime.start({ apiKey: TEST_API_KEY });
  const env = {
    OPENAI_API_KEY: TEST_API_KEY,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    PUBLIC_URL: PUBLIC,
    OPENAI_REALTIME_URL: realtime.url,
    KV_PATH: `${dir}/shared.kv`,
    ...extra,
  };
  const a = await startServerProcess(env, dir);
  const b = await startServerProcess(env, dir);
  return {
    a,
    b,
    realtime,
    async close() {
      for (const server of [a, b]) {
        server.kill("SIGKILL");
        await server.exited;
      }
      await realtime.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A signed Twilio webhook for the call, to `server`; the TwiML it answers. */
async function webhook(server: ServerProcess, path: string) {
  const params = { ...CALL_PARAMS, CallStatus: "in-progress" };
  const signed = signedWebhook(`${PUBLIC}${path}`, params);
  const response = await fetch(`${server.origin}${path}`, {
    method: "POST",
    headers: signed.headers,
    body: await signed.text(),
  });
  return { status: response.status, twiml: await response.text() };
}

function connectTo(server: ServerProcess, twiml: string) {
  const streamUrl = streamUrlOf(twiml);
  return TwilioEdge.connect({
    url: `ws://127.0.0.1:${server.port}${new URL(streamUrl).pathname}`,
    signedUrl: streamUrl,
    authToken: TEST_AUTH_TOKEN,
    callSid: CALL_PARAMS.CallSid,
  });
}

/** One exchange on the first stream: the caller asks, the assistant answers in full. */
async function converse(session: FakeRealtimeSession, edge: TwilioEdge) {
  await session.waitFor("session.update");
  session.callerSaid("Move my dentist appointment to Friday.");
  const answer = randomAudio(800);
  await session.speak(answer, { transcript: "Done, it is on Friday now." })
    .done;
  await edge.waitForPlayed(answer.length, 3000);
}

function messageTexts(
  session: Pick<FakeRealtimeSession, "received">,
): string[] {
  return session.received
    .filter((e) => e.type === "conversation.item.create")
    .map((e) => e.item as { type: string; content?: { text: string }[] })
    .filter((item) => item.type === "message")
    .map((item) => item.content?.[0]?.text ?? "");
}

Deno.test("SIGKILL: the other instance resumes the call on Twilio's continuation, with the conversation in the new session; a later end on purpose hangs up", async () => {
  const peers = await twoInstances();
  try {
    const first = await webhook(peers.a, "/incoming-call");
    const edge = await connectTo(peers.a, first.twiml);
    const session = await peers.realtime.nextSession();
    await converse(session, edge);
    // Let the conversation's last write land, then the process dies.
    await new Promise((r) => setTimeout(r, 200));
    peers.a.kill("SIGKILL");
    await edge.closed;

    const requested = performance.now();
    const continued = await webhook(peers.b, "/call-ended");
    assert.equal(continued.status, 200);
    assert.match(continued.twiml, /<Connect action="[^"]+\/call-ended"/);
    const resumed = await connectTo(peers.b, continued.twiml);
    const second = await peers.realtime.nextSession();
    await second.waitFor("session.update");
    const readyMs = performance.now() - requested;
    assert.ok(readyMs < 5000, `upstream ready ${readyMs} ms after the request`);
    await resumed.sendAudio(randomAudio(160));
    await peers.b.waitFor((e) => e.event === "call.started", 3000);
    // The history goes in one batch; the simulator may still be reading it.
    await second.waitFor(
      "conversation.item.create",
      (e) => messageTexts({ received: [e] }).includes(RESUMED_NOTE),
    );
    assert.deepEqual(messageTexts(second), [
      "Move my dentist appointment to Friday.",
      "Done, it is on Friday now.",
      RESUMED_NOTE,
    ]);
    const resuming = peers.b.events.find((e) => e.event === "call.resuming");
    assert.equal(resuming?.cause, "crash");

    // The caller hangs up: this end is on purpose, and is not resumed.
    resumed.sendStop();
    await resumed.closed;
    const after = await webhook(peers.b, "/call-ended");
    assert.match(after.twiml, /<Response><Hangup\/><\/Response>$/);
    assert.equal(peers.realtime.handshakes, 2, "no duplicate session");
  } finally {
    await peers.close();
  }
});

Deno.test("SIGKILL mid-answer: the new session has the assistant's line in progress, marked as cut off, and is told the line dropped", async () => {
  const peers = await twoInstances();
  try {
    const first = await webhook(peers.a, "/incoming-call");
    const edge = await connectTo(peers.a, first.twiml);
    const session = await peers.realtime.nextSession();
    await converse(session, edge);
    // A long answer: its transcript arrives as it starts; the process dies while it plays.
    const partial = "Your dentist can also see you on Monday at nine";
    session.speak(randomAudio(8 * 6000), {
      transcript: partial,
      intervalMs: 20,
    });
    await edge.waitForPlayed(800 + 8 * 1000, 5000);
    peers.a.kill("SIGKILL");
    await edge.closed;

    const continued = await webhook(peers.b, "/call-ended");
    const resumed = await connectTo(peers.b, continued.twiml);
    const second = await peers.realtime.nextSession();
    await second.waitFor("response.create");
    assert.deepEqual(messageTexts(second), [
      "Move my dentist appointment to Friday.",
      "Done, it is on Friday now.",
      `${partial}${CUT_OFF_MARK}`,
      RESUMED_NOTE,
      LINE_DROPPED_INSTRUCTION,
    ]);
    resumed.sendStop();
    await resumed.closed;
  } finally {
    await peers.close();
  }
});

Deno.test("SIGTERM with another instance up: the live call is handed over at a quiet moment, resumed there, and the old process exits 0", async () => {
  const peers = await twoInstances({ DRAIN_SECONDS: "60" });
  try {
    const first = await webhook(peers.a, "/incoming-call");
    const edge = await connectTo(peers.a, first.twiml);
    const session = await peers.realtime.nextSession();
    await converse(session, edge);
    const signalled = performance.now();
    peers.a.kill("SIGTERM");
    await edge.closed;
    const handedOverMs = performance.now() - signalled;
    assert.ok(handedOverMs < 5000, `handed over after ${handedOverMs} ms`);

    const continued = await webhook(peers.b, "/call-ended");
    assert.match(continued.twiml, /<Stream url=/);
    const resumed = await connectTo(peers.b, continued.twiml);
    const second = await peers.realtime.nextSession();
    await second.waitFor("session.update");
    assert.ok(messageTexts(second).includes("Done, it is on Friday now."));
    const resuming = peers.b.events.find((e) => e.event === "call.resuming");
    assert.equal(resuming?.cause, "handover");
    assert.equal(await peers.a.exited, 0);
    const ended = peers.a.events.find((e) => e.event === "call.ended");
    assert.equal(ended?.reason, "handover");
    resumed.sendStop();
    await resumed.closed;
  } finally {
    await peers.close();
  }
});

Deno.test("the resume limit holds across instances: after 3 resumes the continuation apologises and opens nothing", async () => {
  const peers = await twoInstances();
  try {
    let answer = await webhook(peers.a, "/incoming-call");
    for (let stream = 0; stream < 4; stream++) {
      const server = stream % 2 === 0 ? peers.a : peers.b;
      const edge = await connectTo(server, answer.twiml);
      const session = await peers.realtime.nextSession();
      await session.waitFor("session.update");
      session.close(1011, "upstream lost");
      await edge.closed;
      answer = await webhook(
        stream % 2 === 0 ? peers.b : peers.a,
        "/call-ended",
      );
    }
    assert.match(answer.twiml, /<Say>[^<]+<\/Say><Hangup\/>/);
    assert.ok(!answer.twiml.includes("<Stream"));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(peers.realtime.handshakes, 4);
  } finally {
    await peers.close();
  }
});
