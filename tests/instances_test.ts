/**
 * Several server processes and restarts: stream tokens minted by one
 * instance work once on another sharing the KV store, and SIGTERM drains
 * live calls before exiting 0.
 */
import assert from "node:assert/strict";
import { FakeRealtime } from "../peers/realtime/mod.ts";
import { TEST_API_KEY, TEST_AUTH_TOKEN } from "./helpers/config.ts";
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
import { randomAudio } from "./helpers/test_server.ts";
import { RESTARTING_MESSAGE } from "../src/server.ts";

const PUBLIC = "https://assistant.example.com";

function serverEnv(realtime: FakeRealtime, kvPath: string, extra = {}) {
  return {
    OPENAI_API_KEY: TEST_API_KEY,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    PUBLIC_URL: PUBLIC,
    OPENAI_REALTIME_URL: realtime.url,
    KV_PATH: kvPath,
    ...extra,
  };
}

async function webhook(server: ServerProcess, callSid: string) {
  const params = { ...CALL_PARAMS, CallSid: callSid };
  const signed = signedWebhook(`${PUBLIC}/incoming-call`, params);
  const response = await fetch(`${server.origin}/incoming-call`, {
    method: "POST",
    headers: signed.headers,
    body: await signed.text(),
  });
  return { status: response.status, twiml: await response.text() };
}

function connectTo(server: ServerProcess, streamUrl: string, callSid: string) {
  return TwilioEdge.connect({
    url: `ws://127.0.0.1:${server.port}${new URL(streamUrl).pathname}`,
    signedUrl: streamUrl,
    authToken: TEST_AUTH_TOKEN,
    callSid,
  });
}

async function stop(server: ServerProcess): Promise<number> {
  server.kill("SIGTERM");
  return await server.exited;
}

Deno.test("a stream token minted by one instance is accepted once by another on the same KV, and refused on replay by either", async () => {
  const dir = await Deno.makeTempDir();
  const realtime = await FakeRealtime.start({ apiKey: TEST_API_KEY });
  const kvPath = `${dir}/shared.kv`;
  const a = await startServerProcess(serverEnv(realtime, kvPath), dir);
  const b = await startServerProcess(serverEnv(realtime, kvPath), dir);
  try {
    const callSid = "CA11111111111111111111111111111111";
    const { status, twiml } = await webhook(a, callSid);
    assert.equal(status, 200);
    const streamUrl = streamUrlOf(twiml);
    const edge = await connectTo(b, streamUrl, callSid);
    await edge.sendAudio(randomAudio(160 * 2));
    await b.waitForLine(/"event":"call.started"/);
    await assert.rejects(connectTo(a, streamUrl, callSid), "replay on A");
    await assert.rejects(connectTo(b, streamUrl, callSid), "replay on B");
    edge.sendStop();
    await edge.closed;
  } finally {
    assert.equal(await stop(a), 0);
    assert.equal(await stop(b), 0);
    await realtime.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM: new calls hear 'restarting', the live call goes on until it ends, then the process exits 0", async () => {
  const dir = await Deno.makeTempDir();
  const realtime = await FakeRealtime.start({ apiKey: TEST_API_KEY });
  const server = await startServerProcess(
    serverEnv(realtime, `${dir}/kv`, { DRAIN_SECONDS: "30" }),
    dir,
  );
  try {
    const callSid = "CA22222222222222222222222222222222";
    const streamUrl = streamUrlOf((await webhook(server, callSid)).twiml);
    const edge = await connectTo(server, streamUrl, callSid);
    const session = await realtime.nextSession();
    await session.waitFor("session.update");
    server.kill("SIGTERM");
    await server.waitForLine(/"event":"server.draining"/);

    const refused = await webhook(server, "CA33333333333333333333333333333333");
    assert.equal(refused.status, 200);
    assert.ok(refused.twiml.includes("<Say>"));
    assert.ok(refused.twiml.includes(RESTARTING_MESSAGE.slice(0, 30)));
    assert.ok(!refused.twiml.includes("<Stream"));

    // The live call still works both ways during the drain.
    const audio = randomAudio(160 * 5);
    await edge.sendAudio(audio);
    const answer = randomAudio(800);
    await session.speak(answer).done;
    await edge.waitForPlayed(answer.length, 3000);
    assert.deepEqual(edge.playedAudio(), answer);

    edge.sendStop();
    assert.equal(await server.exited, 0);
    assert.equal((await session.closed).byClient, true);
  } finally {
    await stop(server);
    await realtime.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM with no other instance: a call still live after DRAIN_SECONDS is handed over (both sides closed, for the next process to resume) and the process exits 0", async () => {
  const dir = await Deno.makeTempDir();
  const realtime = await FakeRealtime.start({ apiKey: TEST_API_KEY });
  const server = await startServerProcess(
    serverEnv(realtime, `${dir}/kv`, { DRAIN_SECONDS: "1" }),
    dir,
  );
  try {
    const callSid = "CA44444444444444444444444444444444";
    const streamUrl = streamUrlOf((await webhook(server, callSid)).twiml);
    const edge = await connectTo(server, streamUrl, callSid);
    const session = await realtime.nextSession();
    await session.waitFor("session.update");
    const signalled = performance.now();
    server.kill("SIGTERM");
    await edge.closed;
    const closedAfter = performance.now() - signalled;
    assert.ok(closedAfter >= 900 && closedAfter < 5000, `${closedAfter} ms`);
    assert.equal((await session.closed).byClient, true);
    assert.equal(await server.exited, 0);
    const ended = server.lines.map((l) => JSON.parse(l)).find((e) =>
      e.event === "call.ended"
    );
    assert.equal(ended.reason, "handover");
  } finally {
    await stop(server);
    await realtime.close();
    await Deno.remove(dir, { recursive: true });
  }
});
