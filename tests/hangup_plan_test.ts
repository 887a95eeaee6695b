import assert from "node:assert/strict";
import { HangupPlan } from "../src/call/hangup_plan.ts";

Deno.test("HangupPlan.begin() without a response asks for the goodbye", () => {
  const plan = new HangupPlan();
  assert.deepEqual(plan.begin("call time limit", "Say bye."), {
    kind: "request_goodbye",
    goodbye: "Say bye.",
  });
  assert.ok(plan.started);
  assert.equal(plan.reason, "call time limit");
});

Deno.test("HangupPlan.begin() a second time changes nothing", () => {
  const plan = new HangupPlan();
  plan.begin("assistant ended the call", "Bye.", "resp_1");
  assert.equal(plan.begin("call time limit", "Other."), undefined);
  assert.equal(plan.reason, "assistant ended the call");
});

Deno.test("HangupPlan: the goodbye said in the response under way plays out, then the call ends", () => {
  const plan = new HangupPlan();
  assert.equal(
    plan.begin("assistant ended the call", "Bye.", "resp_1"),
    undefined,
  );
  assert.equal(plan.responseDone("resp_other", true, true), undefined);
  assert.equal(plan.responseDone("resp_1", true, true), undefined);
  assert.ok(plan.saidGoodbye);
  assert.equal(plan.playback(true), undefined);
  assert.deepEqual(plan.playback(false), {
    kind: "end",
    reason: "assistant ended the call",
  });
});

Deno.test("HangupPlan: a goodbye that has already played when its response is done ends at once", () => {
  const plan = new HangupPlan();
  plan.begin("assistant ended the call", "Bye.", "resp_1");
  assert.deepEqual(plan.responseDone("resp_1", true, false), {
    kind: "end",
    reason: "assistant ended the call",
  });
});

Deno.test("HangupPlan: a silent hang-up asks for a goodbye once, and ends after it even if it is silent too", () => {
  const plan = new HangupPlan();
  plan.begin("assistant ended the call", "Bye.", "resp_1");
  assert.deepEqual(plan.responseDone("resp_1", false, false), {
    kind: "request_goodbye",
    goodbye: "Bye.",
  });
  // A response that is not the goodbye's does not count.
  plan.responseCreated("resp_vad", false);
  assert.equal(plan.responseDone("resp_vad", true, false), undefined);
  plan.responseCreated("resp_2", true);
  assert.deepEqual(plan.responseDone("resp_2", false, false), {
    kind: "end",
    reason: "assistant ended the call",
  });
});

Deno.test("HangupPlan: playback changes nothing before the goodbye is said", () => {
  const plan = new HangupPlan();
  assert.equal(plan.playback(false), undefined);
  plan.begin("call time limit", "Bye.");
  assert.equal(plan.playback(false), undefined);
  assert.equal(plan.saidGoodbye, false);
});
