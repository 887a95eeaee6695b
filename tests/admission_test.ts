import assert from "node:assert/strict";
import { Admission } from "../src/admission.ts";

Deno.test("Admission refuses a new call as busy at MAX_CONCURRENT_CALLS and admits again below it", () => {
  let load = 1;
  const admission = new Admission(() => load, 2);
  assert.equal(admission.refusal(), undefined);
  load = 2;
  assert.equal(admission.refusal(), "busy");
  load = 1;
  assert.equal(admission.refusal(), undefined);
});

Deno.test("Admission refuses every new call once draining, whatever the load", () => {
  const admission = new Admission(() => 0, 10);
  assert.equal(admission.draining, false);
  admission.drain();
  assert.equal(admission.draining, true);
  assert.equal(admission.refusal(), "draining");
});
