import assert from "node:assert/strict";
import { JobQueue } from "../src/jobs/queue.ts";
import { memoryLogger } from "./helpers/logs.ts";

Deno.test("JobQueue delivers each job to the handler of its kind, after its delay", async () => {
  const kv = await Deno.openKv(":memory:");
  const jobs = new JobQueue(kv, memoryLogger());
  const seen: [string, unknown, number][] = [];
  const both = Promise.withResolvers<void>();
  const started = performance.now();
  const record = (kind: string) => (payload: Record<string, unknown>) => {
    seen.push([kind, payload.n, performance.now() - started]);
    if (seen.length === 2) both.resolve();
    return Promise.resolve();
  };
  jobs.on("summary", record("summary"));
  jobs.on("outbound_call", record("outbound_call"));
  const listening = jobs.listen();
  await jobs.enqueue("outbound_call", { n: 2 }, 300);
  await jobs.enqueue("summary", { n: 1 });
  await both.promise;
  assert.deepEqual(seen.map(([kind, n]) => [kind, n]), [
    ["summary", 1],
    ["outbound_call", 2],
  ]);
  assert.ok(seen[1][2] >= 250, `delayed job ran after ${seen[1][2]} ms`);
  kv.close();
  await listening;
});

Deno.test("JobQueue retries a job whose handler throws (at least once delivery)", async () => {
  const kv = await Deno.openKv(":memory:");
  const logs = memoryLogger();
  const jobs = new JobQueue(kv, logs);
  let attempts = 0;
  const succeeded = Promise.withResolvers<void>();
  jobs.on("summary", () => {
    attempts++;
    if (attempts === 1) return Promise.reject(new Error("responses api 500"));
    succeeded.resolve();
    return Promise.resolve();
  });
  const listening = jobs.listen();
  await jobs.enqueue("summary", { callSid: "CA1" });
  await succeeded.promise;
  assert.equal(attempts, 2);
  assert.ok(logs.events().some((e) => e.event === "job.failed"));
  kv.close();
  await listening;
});

Deno.test("JobQueue drops a job of an unknown kind with a warning instead of retrying it", async () => {
  const kv = await Deno.openKv(":memory:");
  const logs = memoryLogger();
  const jobs = new JobQueue(kv, logs);
  const known = Promise.withResolvers<void>();
  jobs.on("summary", () => {
    known.resolve();
    return Promise.resolve();
  });
  const listening = jobs.listen();
  await jobs.enqueue("mystery", {});
  await jobs.enqueue("summary", {}, 50);
  await known.promise;
  assert.ok(
    logs.events().some((e) =>
      e.event === "job.unknown_kind" && e.kind === "mystery"
    ),
  );
  kv.close();
  await listening;
});

Deno.test("JobQueue.on() refuses a second handler for one kind", async () => {
  const kv = await Deno.openKv(":memory:");
  const jobs = new JobQueue(kv, memoryLogger());
  jobs.on("summary", () => Promise.resolve());
  assert.throws(() => jobs.on("summary", () => Promise.resolve()), /already/);
  kv.close();
});
