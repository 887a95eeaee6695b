/**
 * Scheduled calls live in Deno KV's queue, not in a timer: they survive a
 * restart, and with several instances on one KV each is dialled once.
 */
import assert from "node:assert/strict";
import {
  ACCOUNT_SID,
  ADMIN_TOKEN,
  isoIn,
  outboundVariables,
  OWNER_NUMBER,
  PUBLIC_ORIGIN,
  startOutboundServer,
  startTwilioRest,
} from "./helpers/outbound_server.ts";
import {
  type ServerProcess,
  startServerProcess,
} from "../peers/server_process.ts";
import {
  FakeRealtime,
  type FakeRealtimeOptions,
} from "../peers/realtime/mod.ts";
import { TEST_API_KEY, TEST_AUTH_TOKEN } from "./helpers/config.ts";
import { delay, randomAudio } from "./helpers/test_server.ts";
import { OUTBOUND_CALL_JOB } from "../src/outbound/scheduler.ts";

async function peers(realtimeOptions?: FakeRealtimeOptions) {
  const rest = await startTwilioRest();
  const realtime = await FakeRealtime.start({
    apiKey: TEST_API_KEY,
    ...realtimeOptions,
  });
  const dir = await Deno.makeTempDir();
  return {
    rest,
    realtime,
    kvPath: `${dir}/shared.kv`,
    async close() {
      await rest.close();
      await realtime.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("a scheduled call survives a restart: scheduled on one instance, dialled at its time by the next", async () => {
  const shared = await peers();
  try {
    const first = await startOutboundServer(shared);
    const due = Date.now() + 2000;
    const response = await first.schedule({
      when: new Date(due).toISOString(),
      topic: "after the restart",
    });
    assert.equal(response.status, 201);
    const { call } = await response.json();
    await first.close();

    const second = await startOutboundServer(shared);
    try {
      const placed = await shared.rest.call(1, 6000);
      assert.ok(placed.createdAt >= due - 50, "not before its time");
      assert.equal(
        placed.url,
        `https://assistant.example.com/outbound-call/${call.id}`,
      );
      await delay(300);
      assert.equal(shared.rest.calls.length, 1);
    } finally {
      await second.close();
    }
  } finally {
    await shared.close();
  }
});

Deno.test("two instances on one KV dial a scheduled call once, even when its job is delivered again", async () => {
  const shared = await peers();
  const a = await startOutboundServer(shared);
  const b = await startOutboundServer(shared);
  try {
    const response = await a.schedule({ when: isoIn(800), topic: "once" });
    const { call } = await response.json();
    // At-least-once delivery: the same job again, on both instances, at the same time.
    await Promise.all([
      a.app.jobs.enqueue(OUTBOUND_CALL_JOB, { id: call.id, attempt: 1 }, 800),
      b.app.jobs.enqueue(OUTBOUND_CALL_JOB, { id: call.id, attempt: 1 }, 800),
      b.app.jobs.enqueue(OUTBOUND_CALL_JOB, { id: call.id, attempt: 1 }, 800),
    ]);
    await shared.rest.call(1, 5000);
    await delay(1500);
    assert.equal(shared.rest.calls.length, 1);
    const skipped = [...a.logs.events(), ...b.logs.events()].filter((e) =>
      e.event === "outbound.not_dialled"
    );
    assert.equal(skipped.length, 3, "every other delivery lost the claim");
  } finally {
    await a.close();
    await b.close();
    await shared.close();
  }
});

Deno.test("two instances firing the briefing cron on one KV place one briefing call", async () => {
  const shared = await peers();
  const now = new Date();
  const at = `${String(now.getUTCHours()).padStart(2, "0")}:${
    String(now.getUTCMinutes()).padStart(2, "0")
  }`;
  const variables = { BRIEFING_AT: at, BRIEFING_DAYS: "daily" };
  const a = await startOutboundServer({ ...shared, variables });
  const b = await startOutboundServer({ ...shared, variables });
  try {
    // Two handles on one SQLite file may find it locked: a failed tick
    // commits nothing, and the next minute's tick tries again.
    await Promise.all([a.fireCron(), b.fireCron(), a.fireCron()]);
    await a.fireCron();
    await b.fireCron();
    await shared.rest.call(1);
    await delay(800);
    assert.equal(shared.rest.calls.length, 1);
  } finally {
    await a.close();
    await b.close();
    await shared.close();
  }
});

Deno.test("a shutting-down instance leaves a due call in the queue for the next one", async () => {
  const shared = await peers();
  try {
    const first = await startOutboundServer(shared);
    const response = await first.schedule({ when: isoIn(600), topic: "x" });
    assert.equal(response.status, 201);
    await response.body?.cancel();
    await first.app.drain(0);
    await delay(1200);
    assert.equal(shared.rest.calls.length, 0, "not dialled while draining");
    assert.ok(
      first.logs.events().some((e) =>
        e.event === "job.failed" && e.kind === OUTBOUND_CALL_JOB
      ),
    );
    await first.close();
    const second = await startOutboundServer(shared);
    try {
      await shared.rest.call(1, 8000);
    } finally {
      await second.close();
    }
  } finally {
    await shared.close();
  }
});

/** The server processes' environment: outbound on, a briefing cron that is not due. */
function processEnv(shared: Awaited<ReturnType<typeof peers>>) {
  const past = new Date(Date.now() - 45 * 60_000);
  const env: Record<string, string> = {
    OPENAI_API_KEY: TEST_API_KEY,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    KV_PATH: shared.kvPath,
    // A real Deno.cron every minute, under the start task's flags; not due.
    BRIEFING_AT: `${String(past.getUTCHours()).padStart(2, "0")}:${
      String(past.getUTCMinutes()).padStart(2, "0")
    }`,
  };
  for (
    const [name, value] of Object.entries(
      outboundVariables(shared.rest, shared.realtime),
    )
  ) {
    if (value !== undefined) env[name] = value;
  }
  return { env, dir: shared.kvPath.slice(0, shared.kvPath.lastIndexOf("/")) };
}

async function scheduleOver(server: ServerProcess, due: number) {
  const response = await fetch(`${server.origin}/api/calls/scheduled`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({
      when: new Date(due).toISOString(),
      topic: "after the restart",
    }),
  });
  assert.equal(response.status, 201);
  await response.body?.cancel();
}

Deno.test("server processes as deployed: a call scheduled on one is dialled by the next after SIGTERM, with the briefing cron running", async () => {
  const shared = await peers();
  const { env, dir } = processEnv(shared);
  try {
    const first = await startServerProcess(env, dir);
    const due = Date.now() + 2500;
    await scheduleOver(first, due);
    first.kill("SIGTERM");
    assert.equal(await first.exited, 0);
    assert.equal(shared.rest.calls.length, 0);

    const second = await startServerProcess(env, dir);
    try {
      const placed = await shared.rest.call(1, 10_000);
      assert.ok(placed.createdAt >= due - 50, "not before its time");
      assert.equal(placed.to, OWNER_NUMBER);
      await second.waitForLine(/"event":"outbound.dialled"/);
    } finally {
      second.kill("SIGTERM");
      assert.equal(await second.exited, 0);
    }
    const basic = new TextEncoder().encode(`${ACCOUNT_SID}:${TEST_AUTH_TOKEN}`)
      .toBase64();
    assert.ok(
      ![...first.lines, ...second.lines].some((line) =>
        line.includes(TEST_AUTH_TOKEN) || line.includes(basic)
      ),
      "no secret (auth token, Basic header) in the logs",
    );
  } finally {
    await shared.close();
  }
});

Deno.test("SIGKILL between scheduling and dialling: the next process dials the call once, at its time", async () => {
  const shared = await peers();
  const { env, dir } = processEnv(shared);
  try {
    const first = await startServerProcess(env, dir);
    const due = Date.now() + 2500;
    await scheduleOver(first, due);
    first.kill("SIGKILL");
    assert.notEqual(await first.exited, 0);
    assert.equal(shared.rest.calls.length, 0);

    const second = await startServerProcess(env, dir);
    try {
      const placed = await shared.rest.call(1, 10_000);
      assert.ok(placed.createdAt >= due - 50, "not before its time");
      assert.equal(placed.to, OWNER_NUMBER);
      await delay(1000);
      assert.equal(shared.rest.calls.length, 1, "dialled once");
    } finally {
      second.kill("SIGTERM");
      assert.equal(await second.exited, 0);
    }
  } finally {
    await shared.close();
  }
});

Deno.test("AMD's verdict reaching another instance than the one carrying the stream still ends the call once the opening has played, and Twilio leaves the message", async () => {
  const opening = randomAudio(8 * 600);
  const shared = await peers({
    onResponseCreate: (session) => session.speak(opening),
  });
  const a = await startOutboundServer(shared);
  const b = await startOutboundServer(shared);
  try {
    // As main.ts does: each instance beats, and acts on what it reads then.
    await a.app.startHeartbeat();
    await b.app.startHeartbeat();
    const scheduled = await a.schedule({
      when: isoIn(100),
      topic: "the dentist at 3.",
    });
    assert.equal(scheduled.status, 201);
    await scheduled.body?.cancel();
    const placed = await shared.rest.call(1);
    // The answer and its stream reach A; the verdict, 300 ms later, reaches B.
    shared.rest.forward(PUBLIC_ORIGIN, a.origin);
    const answered = await shared.rest.answer(
      placed.sid,
      "machine_end_beep",
      300,
    );
    shared.rest.forward(PUBLIC_ORIGIN, b.origin);
    assert.equal((await answered.amd!).status, 204);
    assert.ok(
      b.logs.events().some((e) => e.event === "outbound.amd"),
      "the verdict reached B",
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      answered.ended.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(resolve, 8000, false)),
    ]);
    clearTimeout(timer);
    assert.ok(ended, "the call ended after the opening, not at the time limit");
    const edge = answered.stream!;
    assert.equal(edge.playedAudio().length, opening.length, "opening whole");
    assert.deepEqual(answered.said, [
      "Hi, it's your assistant, calling about the dentist at 3. Call me back whenever you're free. Bye for now.",
    ]);
    const callEnded = a.logs.events().find((e) => e.event === "call.ended");
    assert.equal(callEnded?.reason, "answering machine");
    assert.equal(answered.streams.length, 1, "not resumed");
  } finally {
    await a.close();
    await b.close();
    await shared.close();
  }
});
