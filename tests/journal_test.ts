import assert from "node:assert/strict";
import { CallJournal } from "../src/journal/journal.ts";
import { memoryLogger } from "./helpers/logs.ts";

const DAY = 86_400_000;

async function withJournal(
  options: { retentionDays: number; transcripts: boolean },
  run: (journal: CallJournal, clock: { now: number }) => Promise<void>,
) {
  const kv = await Deno.openKv(":memory:");
  const clock = { now: Date.UTC(2026, 10, 24, 9) };
  try {
    await run(
      new CallJournal(kv, {
        ...options,
        logger: memoryLogger(),
        now: () => clock.now,
      }),
      clock,
    );
  } finally {
    kv.close();
  }
}

async function recordCall(journal: CallJournal, callSid: string) {
  const observer = journal.observe(callSid, "twilio");
  observer.started?.({ callSid, streamSid: "MZ1", caller: "+14155550123" });
  observer.transcript?.("caller", "hello");
  observer.transcript?.("assistant", "hi");
  observer.turnLatency?.(420);
  observer.ended?.({
    reason: "caller hung up",
    outcome: "caller_hung_up",
    detail: "",
    callSid,
    durationMs: 61_000,
    framesIn: 1,
    framesOut: 1,
    bargeIns: 0,
  });
  await observer.flushed();
}

Deno.test("CallJournal.list() returns calls newest first", async () => {
  await withJournal(
    { retentionDays: 30, transcripts: true },
    async (journal, clock) => {
      await recordCall(journal, "CA1");
      clock.now += 60_000;
      await recordCall(journal, "CA2");
      const calls = await journal.list();
      assert.deepEqual(calls.map((c) => c.callSid), ["CA2", "CA1"]);
      assert.equal(calls[0].durationMs, 61_000);
      assert.deepEqual(calls[0].turnLatenciesMs, [420]);
    },
  );
});

Deno.test("CallJournal hides calls older than JOURNAL_RETENTION_DAYS even before KV expires them", async () => {
  await withJournal(
    { retentionDays: 2, transcripts: true },
    async (journal, clock) => {
      await recordCall(journal, "CAold");
      clock.now += 3 * DAY;
      await recordCall(journal, "CAnew");
      assert.deepEqual((await journal.list()).map((c) => c.callSid), ["CAnew"]);
      assert.equal(await journal.get("CAold"), undefined);
      assert.ok(await journal.get("CAnew"));
    },
  );
});

Deno.test("CallJournal keeps no transcript lines when transcripts are off", async () => {
  await withJournal(
    { retentionDays: 30, transcripts: false },
    async (journal) => {
      await recordCall(journal, "CA1");
      const call = await journal.get("CA1");
      assert.equal(call?.record.caller, "+14155550123");
      assert.deepEqual(call?.lines, []);
    },
  );
});

Deno.test("CallJournal stores transcripts longer than one KV value allows", async () => {
  await withJournal(
    { retentionDays: 30, transcripts: true },
    async (journal) => {
      const observer = journal.observe("CAlong", "twilio");
      const line = "x".repeat(1000);
      for (let i = 0; i < 200; i++) observer.transcript?.("assistant", line);
      await observer.flushed();
      assert.equal((await journal.get("CAlong"))?.lines.length, 200);
    },
  );
});
