/**
 * What a pre-warmed session that no stream claimed consumed: the usage of
 * the responses it ran (Realtime bills tokens) or the seconds it was open
 * (GPT-Live bills time). Priced and counted by the budget (budget_test.ts).
 */
import assert from "node:assert/strict";
import { liveEngine } from "../src/live/mod.ts";
import { realtimeEngine } from "../src/realtime/mod.ts";
import { testConfig } from "./helpers/config.ts";

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

Deno.test("realtimeEngine.heldUsage() reads each held response.done's tokens, and nothing else", () => {
  const heldUsage = realtimeEngine.heldUsage(
    testConfig({ OPENAI_REALTIME_MODEL: "gpt-realtime-2.1" }),
  );
  const reports = heldUsage({
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

Deno.test("liveEngine().heldUsage() bills the whole seconds the session was open, none if it never opened", () => {
  const heldUsage = liveEngine().heldUsage(
    testConfig({ VOICE_ENGINE: "live", LIVE_MODEL: "gpt-live-1" }),
  );
  assert.deepEqual(heldUsage({ held: [RESPONSE_DONE], openSeconds: 59.2 }), [
    { kind: "seconds", model: "gpt-live-1", seconds: 60 },
  ]);
  assert.deepEqual(heldUsage({ held: [], openSeconds: 0 }), []);
});
