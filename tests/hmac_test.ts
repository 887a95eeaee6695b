import assert from "node:assert/strict";
import { timingSafeEqual } from "../src/hmac.ts";

// Twilio's documented signatures of one URL without and with :443.
const DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
const DOC_SIGNATURE_443 = "kvajT1Ptam85bY51eRf/AJRuM3w=";

Deno.test("timingSafeEqual() is true exactly for equal strings", () => {
  const cases: [string, string, boolean][] = [
    ["", "", true],
    ["a", "a", true],
    [DOC_SIGNATURE, DOC_SIGNATURE, true],
    ["é漢😀", "é漢😀", true],
    ["a", "b", false],
    ["a", "", false],
    ["", "a", false],
    ["a", "ab", false],
    ["ab", "a", false],
    ["a\0", "a", false],
    ["abc", "abd", false],
    ["é", "e", false],
    [DOC_SIGNATURE, DOC_SIGNATURE_443, false],
  ];
  for (const [a, b, expected] of cases) {
    assert.equal(timingSafeEqual(a, b), expected, `${a} vs ${b}`);
  }
});
