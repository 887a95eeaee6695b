/**
 * The heartbeat's pace (src/instances.ts): fast while an instance carries
 * calls or is named on a lease, slow while idle, and every record judged
 * by the pace it announced, so an idle instance still counts as live.
 */
import assert from "node:assert/strict";
import {
  beatPace,
  INSTANCE_TIMINGS,
  type InstanceRecord,
  Instances,
} from "../src/instances.ts";
import { CallLeases } from "../src/call/lease.ts";

const FAST = { beatMs: 400, staleMs: 1500 };
const IDLE = { beatMs: 10_000, staleMs: 15_000 };
const TIMINGS = { ...FAST, idle: IDLE };

Deno.test("beatPace() is fast while the instance carries calls or pending streams, and slow when idle", () => {
  assert.deepEqual(
    beatPace(TIMINGS, { busy: true, heldUntil: 0, now: 1000 }),
    FAST,
  );
  assert.deepEqual(
    beatPace(TIMINGS, { busy: false, heldUntil: 0, now: 1000 }),
    IDLE,
  );
});

Deno.test("beatPace() stays fast until a lease's hold runs out, then slows down", () => {
  const held = { busy: false, heldUntil: 31_000 };
  assert.deepEqual(beatPace(TIMINGS, { ...held, now: 30_999 }), FAST);
  assert.deepEqual(beatPace(TIMINGS, { ...held, now: 31_000 }), IDLE);
});

Deno.test("beatPace() without an idle pace is always fast", () => {
  assert.deepEqual(
    beatPace(FAST, { busy: false, heldUntil: 0, now: 1000 }),
    FAST,
  );
});

Deno.test("the default pace notices a crashed call holder within 1.5 s and writes 25× less while idle", () => {
  assert.equal(INSTANCE_TIMINGS.staleMs, 1500);
  const day = 86_400_000;
  const fastWrites = day / INSTANCE_TIMINGS.beatMs;
  const idleWrites = day / INSTANCE_TIMINGS.idle!.beatMs;
  assert.equal(fastWrites, 216_000);
  assert.equal(idleWrites, 8_640);
  assert.ok(INSTANCE_TIMINGS.idle!.staleMs > INSTANCE_TIMINGS.idle!.beatMs);
});

async function pair() {
  const kv = await Deno.openKv(":memory:");
  let now = 1_000_000;
  const clock = () => now;
  const a = new Instances(kv, TIMINGS, clock);
  const b = new Instances(kv, TIMINGS, clock);
  const record = async (instance: Instances) =>
    (await kv.get<InstanceRecord>(["instances", instance.id])).value!;
  return {
    kv,
    a,
    b,
    record,
    advance: (ms: number) => now += ms,
    async close() {
      await a.stop();
      await b.stop();
      kv.close();
    },
  };
}

Deno.test("an idle instance announces its slow pace: at SIGTERM another counts it live until that pace's staleness, then not", async () => {
  const t = await pair();
  try {
    await t.a.start();
    await t.b.start();
    assert.equal((await t.record(t.b)).staleMs, IDLE.staleMs);
    // Silent for longer than the fast pace's staleness: still a live idle instance.
    t.advance(FAST.staleMs * 4);
    assert.equal(await t.a.others(), 1);
    assert.equal(await t.a.alive(t.b.id), true);
    t.advance(IDLE.staleMs);
    assert.equal(await t.a.others(), 0);
    assert.equal(await t.a.alive(t.b.id), false);
  } finally {
    await t.close();
  }
});

Deno.test("hold(): an idle instance about to be named on a lease writes a fast beat first, so its crash is noticed within the fast staleness", async () => {
  const t = await pair();
  try {
    await t.a.start();
    await t.b.start();
    await t.b.hold(30_000);
    assert.equal((await t.record(t.b)).staleMs, FAST.staleMs);
    // B dies without another beat.
    t.advance(FAST.staleMs + 1);
    assert.equal(await t.a.alive(t.b.id), false);
  } finally {
    await t.close();
  }
});

Deno.test("a lease claimed by an idle instance names a fast beater: its crash mid-call is taken over after the fast staleness", async () => {
  const t = await pair();
  const call = "CA0123456789abcdef0123456789abcdef";
  try {
    await t.a.start();
    await t.b.start();
    const leasesA = new CallLeases(t.kv, t.a, 30_000, { now: () => 1_000_000 });
    assert.equal(await leasesA.claim(call), true);
    await leasesA.goLive(call);
    // A dies: its last record stays as it was.
    const last = await t.record(t.a);
    await t.a.stop();
    await t.kv.set(["instances", t.a.id], last);
    t.advance(FAST.staleMs + 1);
    const leasesB = new CallLeases(t.kv, t.b, 30_000, { now: () => 1_000_000 });
    assert.deepEqual(await leasesB.continueCall(call, 100), {
      kind: "resume",
      cause: "crash",
      segment: 1,
    });
  } finally {
    await t.close();
  }
});

Deno.test("a record from before the pace (no staleMs) is judged by the fast staleness", async () => {
  const t = await pair();
  try {
    await t.a.start();
    await t.kv.set(["instances", "old"], {
      id: "old",
      beatAt: 1_000_000,
      draining: false,
    });
    t.advance(FAST.staleMs - 1);
    assert.equal(await t.a.alive("old"), true);
    t.advance(2);
    assert.equal(await t.a.alive("old"), false);
  } finally {
    await t.close();
  }
});

/** Waits for `condition` (real timers, a loaded machine), failing after 10 s. */
async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!await condition()) {
    assert.ok(Date.now() < deadline, `never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("Instances beats fast while busy and slows down once idle", async () => {
  const kv = await Deno.openKv(":memory:");
  const timings = {
    beatMs: 20,
    staleMs: 75,
    idle: { beatMs: 60_000, staleMs: 90_000 },
  };
  const instance = new Instances(kv, timings);
  let busy = true;
  const beats: number[] = [];
  try {
    await instance.start(() => {
      beats.push(Date.now());
      return Promise.resolve();
    }, () => busy);
    const record = async () =>
      (await kv.get<InstanceRecord>(["instances", instance.id])).value!;
    assert.equal((await record()).staleMs, 75);
    await until(() => beats.length >= 3, "3 fast beats");
    busy = false;
    await until(
      async () => (await record()).staleMs === 90_000,
      "a slow beat once idle",
    );
    const idleSince = beats.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(
      beats.length,
      idleSince,
      "no beat while idle, within its pace",
    );
    // Named on a lease: fast again at once.
    await instance.hold(1000);
    assert.equal((await record()).staleMs, 75);
    await until(() => beats.length > idleSince, "fast beats again");
  } finally {
    await instance.stop();
    kv.close();
  }
});
