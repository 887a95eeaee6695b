/**
 * What a pre-warmed session that no stream claimed consumed: the usage of
 * the responses it ran (Realtime bills tokens) or the seconds it was open
 * (GPT-Live bills time). Priced and counted by the budget (budget_test.ts).
 */
import assert from "node:assert/strict";
import { heldUsage } from "../src/realtime/prewarm.ts";

const RESPONSE_DONE = JSON.stringify({
  type: "response.done",
  event_id: "event_1",
  response: {
    id: "resp_1",
    object: "realtime.response",
    status: "completed",
    output: [],
    usage: {
      total_tokens: 1700,
      input_tokens: 1500,
      output_tokens: 200,
      input_token_details: {
        text_tokens: 1500,
        audio_tokens: 0,
        cached_tokens: 1024,
        cached_tokens_details: { text_tokens: 1024, audio_tokens: 0 },
      },
      output_token_details: { text_tokens: 40, audio_tokens: 160 },
    },
  },
});

Deno.test("heldUsage() reads each held response.done's tokens on Realtime, and nothing else", () => {
  const reports = heldUsage({ kind: "realtime", model: "gpt-realtime-2.1" }, {
    held: [
      JSON.stringify({ type: "session.created", session: {} }),
      RESPONSE_DONE,
      "not json",
      RESPONSE_DONE,
    ],
    openSeconds: 42,
  });
  assert.equal(reports.length, 2);
  assert.deepEqual(reports[0], {
    kind: "tokens",
    model: "gpt-realtime-2.1",
    tokens: {
      inputText: 1500,
      inputAudio: 0,
      cachedText: 1024,
      cachedAudio: 0,
      outputText: 40,
      outputAudio: 160,
    },
  });
});

Deno.test("heldUsage() bills GPT-Live the whole seconds the session was open, none if it never opened", () => {
  const live = { kind: "live", model: "gpt-live-1" } as const;
  assert.deepEqual(heldUsage(live, { held: [], openSeconds: 59.2 }), [
    { kind: "seconds", model: "gpt-live-1", seconds: 60 },
  ]);
  assert.deepEqual(heldUsage(live, { held: [], openSeconds: 0 }), []);
});
