/**
 * The journal's side of cost and summaries: usage priced into the record
 * and the day ledger in one commit, the summary job started once the final
 * record has landed, nothing written over it afterwards.
 */
import assert from "node:assert/strict";
import { DEFAULT_PRICES } from "../src/cost/prices.ts";
import { SpendLedger } from "../src/cost/spend.ts";
import { noTokens } from "../src/cost/usage.ts";
import { CallJournal, type CallRecord } from "../src/journal/journal.ts";
import { memoryLogger } from "./helpers/logs.ts";

const SUMMARY = {
  reason: "caller hung up" as const,
  outcome: "caller_hung_up" as const,
  detail: "",
  callSid: "CA1",
  durationMs: 1000,
  framesIn: 0,
  framesOut: 0,
  bargeIns: 0,
};

Deno.test("usage is priced into the record and the day ledger; the summary job starts after the final record; later usage is ignored", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const spend = new SpendLedger(kv, "Europe/Paris");
    const ended: CallRecord[] = [];
    const journal: CallJournal = new CallJournal(kv, {
      retentionDays: 30,
      transcripts: true,
      logger: memoryLogger(),
      prices: DEFAULT_PRICES,
      spend,
      afterEnd: async (record): Promise<void> => {
        // The final record is in KV by now.
        assert.equal(
          (await journal.get("CA1"))?.record.outcome,
          "caller_hung_up",
        );
        ended.push(record);
      },
    });
    const observer = journal.observe("CA1", "phone");
    observer.usage?.({
      kind: "tokens",
      model: "gpt-realtime-2.1",
      tokens: { ...noTokens(), outputAudio: 100 },
    });
    observer.ended?.(SUMMARY);
    observer.usage?.({
      kind: "tokens",
      model: "gpt-realtime-2.1",
      tokens: { ...noTokens(), outputAudio: 999 },
    });
    await observer.flushed();
    const { record } = (await journal.get("CA1"))!;
    assert.equal(record.costMicroUsd, 6_400); // 100 × $64/1M
    assert.equal(await spend.day(record.startedAt), 6_400);
    assert.equal(await spend.day(record.startedAt, "CA1"), 0);
    assert.deepEqual(ended.map((r) => r.costMicroUsd), [6_400]);

    // The summary's own tokens add to the call's cost, atomically.
    await journal.recordSummary("CA1", { status: "done", attempts: 1 }, {
      kind: "tokens",
      model: "gpt-5.4-mini",
      tokens: { ...noTokens(), inputText: 1_000, outputText: 100 },
    });
    const after = (await journal.get("CA1"))!.record;
    assert.equal(after.costMicroUsd, 6_400 + 750 + 450);
    assert.equal(after.summary?.status, "done");
    assert.equal(await spend.monthToDate(after.startedAt), 7_600);
    assert.equal(
      await journal.recordSummary("CAnone", { status: "done", attempts: 1 }),
      undefined,
    );
  } finally {
    kv.close();
  }
});
