import assert from "node:assert/strict";
import { maskCaller } from "../src/caller_number.ts";

Deno.test("maskCaller() keeps only the last four digits", () => {
  assert.equal(maskCaller("+14155550123"), "•••0123");
  assert.equal(maskCaller("+447700900123"), "•••0123");
});

Deno.test("maskCaller() leaves a short number as it is and names a missing one", () => {
  assert.equal(maskCaller("1234"), "1234");
  assert.equal(maskCaller(""), "unknown");
});
