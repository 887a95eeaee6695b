import assert from "node:assert/strict";
import { DelegationPlan } from "../src/live/delegation_plan.ts";

Deno.test("DelegationPlan: go on once the response has ended and the last output is in", () => {
  const plan = new DelegationPlan();
  plan.called("d1", "call_1");
  plan.called("d1", "call_2");
  assert.equal(plan.ended("d1"), false);
  assert.equal(plan.answered("call_1"), false);
  assert.equal(plan.answered("call_2"), true);
  // Nothing twice.
  assert.equal(plan.answered("call_2"), false);
  assert.equal(plan.ended("d1"), false);
});

Deno.test("DelegationPlan: outputs before the response's end wait for it", () => {
  const plan = new DelegationPlan();
  plan.called("d1", "call_1");
  assert.equal(plan.answered("call_1"), false);
  assert.equal(plan.ended("d1"), true);
});

Deno.test("DelegationPlan: another delegation's missing output holds the request (the API refuses it)", () => {
  const plan = new DelegationPlan();
  plan.called("d1", "call_1");
  plan.called("d2", "call_2");
  assert.equal(plan.ended("d1"), false);
  assert.equal(plan.ended("d2"), false);
  assert.equal(plan.answered("call_2"), false);
  assert.equal(plan.answered("call_1"), true);
});

Deno.test("DelegationPlan: a second round of calls in the same delegation is planned anew", () => {
  const plan = new DelegationPlan();
  plan.called("d1", "call_1");
  assert.equal(plan.ended("d1"), false);
  assert.equal(plan.answered("call_1"), true);
  plan.called("d1", "call_2");
  assert.equal(plan.answered("call_2"), false);
  assert.equal(plan.ended("d1"), true);
});

Deno.test("DelegationPlan: the end of a delegation that made no calls asks for nothing", () => {
  const plan = new DelegationPlan();
  assert.equal(plan.ended("d1"), false);
  assert.equal(plan.answered("call_x"), false);
});
