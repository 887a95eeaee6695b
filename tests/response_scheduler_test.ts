import assert from "node:assert/strict";
import { ResponseScheduler } from "../src/realtime/response_scheduler.ts";

Deno.test("ResponseScheduler.request() sends at once when nothing is active", () => {
  const scheduler = new ResponseScheduler();
  const request = scheduler.request("dtmf");
  assert.deepEqual(request?.reasons, ["dtmf"]);
  assert.ok(scheduler.busy);
});

Deno.test("ResponseScheduler never requests while a response is active, then sends one merged request", () => {
  const scheduler = new ResponseScheduler();
  scheduler.created("resp_vad");
  assert.equal(scheduler.request("mcp_follow_up"), undefined);
  assert.equal(scheduler.request("mcp_follow_up"), undefined);
  assert.equal(scheduler.request("goodbye"), undefined);
  const next = scheduler.done("resp_vad");
  assert.deepEqual(next?.reasons, ["mcp_follow_up", "goodbye"]);
  // The merged request is in flight: nothing else goes until it is done.
  assert.equal(scheduler.request("dtmf"), undefined);
  scheduler.created("resp_ours", next!.eventId);
  assert.deepEqual(scheduler.reasonsOf("resp_ours"), [
    "mcp_follow_up",
    "goodbye",
  ]);
  assert.deepEqual(scheduler.done("resp_ours")?.reasons, ["dtmf"]);
});

Deno.test("ResponseScheduler waits while a request is in flight (before response.created)", () => {
  const scheduler = new ResponseScheduler();
  const first = scheduler.request("dtmf");
  assert.ok(first);
  assert.equal(scheduler.request("function_output"), undefined);
  scheduler.created("resp_1", first.eventId);
  assert.deepEqual(scheduler.done("resp_1")?.reasons, ["function_output"]);
});

Deno.test("ResponseScheduler recovers from conversation_already_has_active_response without losing the request", () => {
  const scheduler = new ResponseScheduler();
  const sent = scheduler.request("goodbye");
  assert.ok(sent);
  // Server VAD answered first: its response.created (no tag) arrives, then our refusal.
  scheduler.created("resp_vad", undefined);
  assert.deepEqual(scheduler.reasonsOf("resp_vad"), ["goodbye"]);
  assert.equal(scheduler.refused(sent.eventId), undefined);
  assert.deepEqual(scheduler.reasonsOf("resp_vad"), []);
  const retry = scheduler.done("resp_vad");
  assert.deepEqual(retry?.reasons, ["goodbye"]);
  assert.notEqual(retry?.eventId, sent.eventId);
});

Deno.test("ResponseScheduler attributes a tagged response.created exactly", () => {
  const scheduler = new ResponseScheduler();
  const sent = scheduler.request("mcp_follow_up");
  assert.ok(sent);
  // A response with another tag is not ours; ours stays in flight.
  scheduler.created("resp_other", "create_other");
  assert.deepEqual(scheduler.reasonsOf("resp_other"), []);
  scheduler.done("resp_other");
  scheduler.created("resp_ours", sent.eventId);
  assert.deepEqual(scheduler.reasonsOf("resp_ours"), ["mcp_follow_up"]);
});

Deno.test("ResponseScheduler: a refused request that is still in flight is queued again", () => {
  const scheduler = new ResponseScheduler();
  scheduler.created("resp_a");
  scheduler.done("resp_a");
  const sent = scheduler.request("dtmf");
  assert.ok(sent);
  // Refused before any response.created: nothing is active, so it goes again.
  const retry = scheduler.refused(sent.eventId);
  assert.deepEqual(retry?.reasons, ["dtmf"]);
});

Deno.test("ResponseScheduler: a caller's turn supersedes follow-ups but not a goodbye", () => {
  const scheduler = new ResponseScheduler();
  scheduler.speechStarted();
  assert.equal(scheduler.request("mcp_follow_up"), undefined);
  assert.equal(scheduler.request("dtmf"), undefined);
  assert.equal(scheduler.request("function_output"), undefined);
  assert.equal(scheduler.request("goodbye"), undefined);
  const after = scheduler.speechStopped();
  assert.deepEqual(after?.reasons, ["goodbye"]);
});

Deno.test("ResponseScheduler: nothing is sent while the caller speaks, and nothing is owed after their turn", () => {
  const scheduler = new ResponseScheduler();
  scheduler.speechStarted();
  assert.equal(scheduler.request("mcp_follow_up"), undefined);
  assert.equal(scheduler.speechStopped(), undefined);
  assert.equal(scheduler.busy, false);
});

Deno.test("ResponseScheduler starts with the greeting in flight when it was sent with the session", () => {
  const scheduler = new ResponseScheduler({
    eventId: "greeting",
    reasons: ["greeting"],
  });
  assert.ok(scheduler.busy);
  assert.equal(scheduler.request("dtmf"), undefined);
  scheduler.created("resp_greeting", "greeting");
  assert.deepEqual(scheduler.reasonsOf("resp_greeting"), ["greeting"]);
  assert.deepEqual(scheduler.done("resp_greeting")?.reasons, ["dtmf"]);
});

Deno.test("ResponseScheduler.failed() drops a request the API refused for another reason", () => {
  const scheduler = new ResponseScheduler();
  const sent = scheduler.request("dtmf");
  assert.ok(sent);
  assert.equal(scheduler.failed(sent.eventId), undefined);
  assert.equal(scheduler.busy, false);
  assert.ok(scheduler.request("goodbye"));
});

Deno.test("ResponseScheduler.cancelled() frees the scheduler after a barge-in", () => {
  const scheduler = new ResponseScheduler();
  scheduler.created("resp_1");
  scheduler.cancelled();
  assert.equal(scheduler.busy, false);
  assert.equal(scheduler.activeResponseId, undefined);
  // The late response.done of the cancelled response changes nothing.
  assert.equal(scheduler.done("resp_1"), undefined);
});

Deno.test("ResponseScheduler: each request gets its own event id", () => {
  const scheduler = new ResponseScheduler();
  const ids = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const sent = scheduler.request("dtmf");
    assert.ok(sent);
    ids.add(sent.eventId);
    scheduler.created(`resp_${i}`, sent.eventId);
    scheduler.done(`resp_${i}`);
  }
  assert.equal(ids.size, 5);
});
