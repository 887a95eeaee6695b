import assert from "node:assert/strict";
import { GoodbyePlan } from "../src/realtime/goodbye_plan.ts";

Deno.test("GoodbyePlan.begin() without a response asks for the goodbye", () => {
  const plan = new GoodbyePlan();
  assert.deepEqual(plan.begin("Say bye."), {
    kind: "request",
    instruction: "Say bye.",
  });
  assert.ok(plan.started);
  assert.equal(plan.said, false);
});

Deno.test("GoodbyePlan.begin() a second time changes nothing", () => {
  const plan = new GoodbyePlan();
  assert.equal(plan.begin("Bye.", "resp_1"), undefined);
  assert.equal(plan.begin("Other."), undefined);
  assert.deepEqual(plan.responseDone("resp_1", true), { kind: "said" });
});

Deno.test("GoodbyePlan: the goodbye said in the response under way is said once that response is done", () => {
  const plan = new GoodbyePlan();
  plan.begin("Bye.", "resp_1");
  assert.equal(plan.responseDone("resp_other", true), undefined);
  assert.equal(plan.said, false);
  assert.deepEqual(plan.responseDone("resp_1", true), { kind: "said" });
  assert.ok(plan.said);
});

Deno.test("GoodbyePlan: a silent hang-up asks for a goodbye once, and is said after it even if that is silent too", () => {
  const plan = new GoodbyePlan();
  plan.begin("Bye.", "resp_1");
  assert.deepEqual(plan.responseDone("resp_1", false), {
    kind: "request",
    instruction: "Bye.",
  });
  // A response that is not the goodbye's does not count.
  plan.responseCreated("resp_vad", false);
  assert.equal(plan.responseDone("resp_vad", true), undefined);
  plan.responseCreated("resp_2", true);
  assert.deepEqual(plan.responseDone("resp_2", false), { kind: "said" });
});

Deno.test("GoodbyePlan: nothing is said before a goodbye begins", () => {
  const plan = new GoodbyePlan();
  plan.responseCreated("resp_1", true);
  assert.equal(plan.responseDone("resp_1", true), undefined);
  assert.equal(plan.said, false);
  assert.equal(plan.started, false);
});
