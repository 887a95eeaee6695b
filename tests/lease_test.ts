/**
 * The per-CallSid lease (src/call/lease.ts) on an in-memory KV, with two
 * instances' heartbeats on a fake clock, and the journal's one record
 * across a call's streams with its summary made once, at the real end.
 */
import assert from "node:assert/strict";
import {
  CallLeases,
  finishedLeaseMs,
  LEASE_GRACE_MS,
  MAX_RESUMES,
} from "../src/call/lease.ts";
import { Instances } from "../src/instances.ts";
import { CallJournal } from "../src/journal/journal.ts";
import { memoryLogger } from "./helpers/logs.ts";

const CALL = "CA0123456789abcdef0123456789abcdef";
const TIMINGS = { beatMs: 400, staleMs: 1500 };
const PENDING_MS = 30_000;

async function setup() {
  const kv = await Deno.openKv(":memory:");
  let now = 1_000_000;
  const clock = () => now;
  const a = new Instances(kv, TIMINGS, clock);
  const b = new Instances(kv, TIMINGS, clock);
  await a.start();
  await b.start();
  return {
    kv,
    a: new CallLeases(kv, a, PENDING_MS, { now: clock }),
    b: new CallLeases(kv, b, PENDING_MS, { now: clock }),
    instances: { a, b },
    advance: (ms: number) => now += ms,
    async close() {
      await a.stop();
      await b.stop();
      kv.close();
    },
  };
}

Deno.test("CallLeases.claim() is insert-if-absent across instances: the first webhook wins, a replay on either is refused", async () => {
  const t = await setup();
  try {
    assert.equal(await t.a.claim(CALL), true);
    assert.equal(await t.a.claim(CALL), false);
    assert.equal(await t.b.claim(CALL), false);
  } finally {
    await t.close();
  }
});

Deno.test("continueCall(): a holder that is still alive keeps its live stream (a replay is 'held'); once its heartbeat stops, the call is taken over as a crash", async () => {
  const t = await setup();
  try {
    await t.a.claim(CALL);
    await t.a.goLive(CALL);
    assert.deepEqual(await t.b.continueCall(CALL, 100), { kind: "held" });
    // A dies: its last heartbeat grows old.
    await t.instances.a.stop();
    await t.kv.set(["instances", t.instances.a.id], {
      id: t.instances.a.id,
      beatAt: 1_000_000,
      draining: false,
    });
    t.advance(TIMINGS.staleMs + 1);
    // B, alive, beats at the new time.
    await new Promise((resolve) => setTimeout(resolve, TIMINGS.beatMs + 50));
    assert.deepEqual(await t.b.continueCall(CALL, 100), {
      kind: "resume",
      cause: "crash",
      segment: 1,
    });
    // The continuation claimed it: a second one (a duplicate) is held.
    assert.deepEqual(await t.a.continueCall(CALL, 100), { kind: "held" });
  } finally {
    await t.close();
  }
});

Deno.test("continueCall(): an end on purpose hangs up; a handover resumes with its cause; the limit gives up", async () => {
  const t = await setup();
  try {
    await t.a.claim(CALL);
    await t.a.goLive(CALL);
    await t.a.streamEnded(CALL, 0, "handover");
    assert.deepEqual(await t.b.continueCall(CALL, 100), {
      kind: "resume",
      cause: "handover",
      segment: 1,
    });
    for (let segment = 1; segment <= MAX_RESUMES; segment++) {
      await t.b.goLive(CALL);
      await t.b.streamEnded(CALL, segment, "upstream closed");
      const decision = await t.b.continueCall(CALL, 100);
      if (segment < MAX_RESUMES) assert.equal(decision.kind, "resume");
      else assert.deepEqual(decision, { kind: "give_up", why: "limit" });
    }
    const other = "CA0123456789abcdef0123456789abcde0";
    await t.a.claim(other);
    await t.a.goLive(other);
    await t.a.streamEnded(other, 0, "caller hung up");
    assert.deepEqual(await t.b.continueCall(other, 100), { kind: "hang_up" });
  } finally {
    await t.close();
  }
});

Deno.test("sweep(): a call whose instance died and was never continued is closed as interrupted once the lease runs out, once", async () => {
  const t = await setup();
  try {
    await t.a.claim(CALL);
    await t.a.goLive(CALL);
    await t.instances.a.stop();
    const closed: string[] = [];
    const sweep = () =>
      t.b.sweep((lease) => Promise.resolve(void closed.push(lease.callSid)));
    assert.equal(await sweep(), 0, "not before the lease runs out");
    t.advance(LEASE_GRACE_MS + 1);
    assert.equal(await sweep(), 1);
    assert.equal(await sweep(), 0);
    assert.deepEqual(closed, [CALL]);
    assert.equal((await t.b.get(CALL))?.state, "interrupted");
    assert.deepEqual(await t.b.continueCall(CALL, 100), {
      kind: "give_up",
      why: "interrupted",
    });
  } finally {
    await t.close();
  }
});

Deno.test("CallJournal: one record across a call's streams, usage per stream, the resume's cause, and the summary once at the real end", async () => {
  const kv = await Deno.openKv(":memory:");
  const summaries: string[] = [];
  const journal = new CallJournal(kv, {
    retentionDays: 1,
    transcripts: true,
    logger: memoryLogger(),
    afterEnd: (record) => Promise.resolve(void summaries.push(record.callSid)),
  });
  try {
    const model = "gpt-realtime";
    const tokens = (n: number) => ({
      inputText: n,
      inputAudio: 0,
      cachedText: 0,
      cachedAudio: 0,
      outputText: 0,
      outputAudio: 0,
    });
    const first = journal.observe(CALL, "phone", { number: 0 });
    first.started?.({
      callSid: CALL,
      streamSid: "MZ1",
      caller: "+14155550123",
    });
    first.usage?.({ kind: "tokens", model, tokens: tokens(10) });
    first.ended?.({
      reason: "upstream closed",
      outcome: "error",
      detail: "",
      callSid: CALL,
      durationMs: 1000,
      framesIn: 0,
      framesOut: 0,
      bargeIns: 0,
    });
    await first.flushed();
    assert.deepEqual(summaries, [], "a dropped stream is not the real end");

    const second = journal.observe(CALL, "phone", {
      number: 1,
      cause: "crash",
    });
    second.usage?.({ kind: "tokens", model, tokens: tokens(5) });
    second.ended?.({
      reason: "caller hung up",
      outcome: "caller_hung_up",
      detail: "",
      callSid: CALL,
      durationMs: 500,
      framesIn: 0,
      framesOut: 0,
      bargeIns: 0,
    });
    await second.flushed();
    await journal.flushed();
    const { record } = (await journal.get(CALL))!;
    assert.equal(record.caller, "+14155550123");
    assert.equal(record.outcome, "caller_hung_up");
    assert.deepEqual(record.segments?.map((s) => [s.cause, s.outcome]), [
      [undefined, "error"],
      ["crash", "caller_hung_up"],
    ]);
    assert.equal(record.segments?.[0].usage?.[model].tokens.inputText, 10);
    assert.equal(record.segments?.[1].usage?.[model].tokens.inputText, 5);
    assert.equal(record.usage?.[model].tokens.inputText, 15);
    assert.deepEqual(summaries, [CALL]);
    await journal.finish(CALL);
    assert.deepEqual(summaries, [CALL], "once");
  } finally {
    kv.close();
  }
});

/** The KV store, with the `expireIn` of every lease written through it recorded. */
function recordingExpiry(kv: Deno.Kv) {
  const expiries: number[] = [];
  const recording = new Proxy(kv, {
    get(target, property) {
      if (property !== "atomic") {
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return () => {
        const atomic = target.atomic();
        const set = atomic.set.bind(atomic);
        atomic.set = (key, value, options) => {
          if (key[0] === "call_lease") expiries.push(options?.expireIn ?? 0);
          set(key, value, options);
          return atomic;
        };
        return atomic;
      };
    },
  });
  return { kv: recording, expiries };
}

Deno.test("a finished call's lease is kept as long as the journal keeps the call (JOURNAL_RETENTION_DAYS), so a replay stays refused", async () => {
  const kv = await Deno.openKv(":memory:");
  const instances = new Instances(kv, TIMINGS);
  try {
    for (const days of [30, 365]) {
      const { kv: recording, expiries } = recordingExpiry(kv);
      const leases = new CallLeases(recording, instances, PENDING_MS, {
        retentionDays: days,
      });
      const callSid = `CA${String(days).padStart(32, "0")}`;
      assert.equal(await leases.claim(callSid), true);
      await leases.goLive(callSid);
      await leases.streamEnded(callSid, 0, "caller hung up");
      assert.ok(expiries.length >= 3);
      for (const expireIn of expiries) {
        assert.ok(expireIn >= days * 24 * 3_600_000, `${days}: ${expireIn}`);
      }
      assert.equal(await leases.claim(callSid), false);
    }
    assert.ok(finishedLeaseMs(1) >= 24 * 3_600_000);
  } finally {
    kv.close();
  }
});

Deno.test("continueCall(): a stream still pending all through the wait never started (its handshake refused): resumed as dropped, not held", async () => {
  const t = await setup();
  try {
    await t.a.claim(CALL);
    t.advance(200);
    assert.deepEqual(await t.b.continueCall(CALL, 100), {
      kind: "resume",
      cause: "dropped",
      segment: 1,
    });
    // The resume just claimed is pending too, but not for the whole wait.
    assert.deepEqual(await t.a.continueCall(CALL, 100), { kind: "held" });
  } finally {
    await t.close();
  }
});

Deno.test("continueCall(): a session the voice API refused gives up at once (the apology), and no resume is claimed", async () => {
  const t = await setup();
  try {
    await t.a.claim(CALL);
    await t.a.goLive(CALL);
    await t.a.streamEnded(CALL, 0, "upstream refused");
    const started = performance.now();
    assert.deepEqual(await t.b.continueCall(CALL, 2000), {
      kind: "give_up",
      why: "refused",
    });
    assert.ok(performance.now() - started < 1000);
    assert.equal((await t.a.get(CALL))?.state, "ended");
    assert.equal((await t.a.get(CALL))?.segment, 0);
  } finally {
    await t.close();
  }
});
