import assert from "node:assert/strict";
import {
  abortable,
  Deadline,
  withDeadline,
  within,
} from "../src/http/deadline.ts";

const never = () => new Promise<never>(() => {});

Deno.test("Deadline aborts its signal once the time has passed, as a timeout", async () => {
  const deadline = new Deadline(5);
  await assert.rejects(abortable(never(), deadline.signal), {
    name: "TimeoutError",
  });
  assert.equal(deadline.timedOut, true);
  assert.equal(deadline.cancelled, false);
  deadline.clear();
});

Deno.test("Deadline follows the caller's signal, already aborted or later, as a cancellation", async () => {
  const before = new AbortController();
  before.abort(new Error("caller gone"));
  const early = new Deadline(60_000, before.signal);
  assert.equal(early.signal.aborted, true);
  assert.equal(early.cancelled, true);
  early.clear();

  const later = new AbortController();
  const deadline = new Deadline(60_000, later.signal);
  assert.equal(deadline.signal.aborted, false);
  later.abort(new Error("hung up"));
  await assert.rejects(abortable(never(), deadline.signal), /hung up/);
  assert.equal(deadline.timedOut, false);
  assert.equal(deadline.cancelled, true);
  deadline.clear();
});

Deno.test("Deadline.clear() stops the clock: the signal never fires", async () => {
  const deadline = new Deadline(5);
  deadline.clear();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(deadline.signal.aborted, false);
});

Deno.test("within() gives the value in time, undefined when late, and the error of a failure", async () => {
  assert.equal(await within(Promise.resolve(7), 1000), 7);
  assert.equal(await within(never(), 5), undefined);
  await assert.rejects(within(Promise.reject(new Error("broken")), 1000), {
    message: "broken",
  });
});

Deno.test("withDeadline() says why a request gave up: timeout, aborted, not_allowed, network_error", async () => {
  assert.deepEqual(
    await withDeadline(1000, undefined, () => Promise.resolve("x")),
    {
      ok: true,
      value: "x",
    },
  );
  assert.deepEqual(
    await withDeadline(5, undefined, (signal) => abortable(never(), signal)),
    { ok: false, failure: "timeout" },
  );
  const caller = new AbortController();
  caller.abort();
  assert.deepEqual(
    await withDeadline(
      1000,
      caller.signal,
      (signal) => abortable(never(), signal),
    ),
    { ok: false, failure: "aborted" },
  );
  assert.deepEqual(
    await withDeadline(1000, undefined, () => {
      throw new Deno.errors.NotCapable("net");
    }),
    { ok: false, failure: "not_allowed" },
  );
  assert.deepEqual(
    await withDeadline(
      1000,
      undefined,
      () => Promise.reject(new TypeError("refused")),
    ),
    { ok: false, failure: "network_error" },
  );
});
