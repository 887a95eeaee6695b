import assert from "node:assert/strict";
import {
  RealtimeSetup,
  SESSION_RETRY_EVENT,
  SESSION_SETUP_EVENT,
} from "../src/realtime/session_setup.ts";
import { initialEvents } from "../src/realtime/session.ts";
import { testConfig } from "./helpers/config.ts";

const PCMU = { type: "audio/pcmu" };
const updated = (input: unknown, output: unknown) =>
  JSON.stringify({
    type: "session.updated",
    event_id: "event_2",
    session: {
      audio: { input: { format: input }, output: { format: output } },
    },
  });
const refusal = (eventId: string, param: string) =>
  JSON.stringify({
    type: "error",
    event_id: "event_1",
    error: {
      type: "invalid_request_error",
      code: "unsupported_parameter",
      message: "Unsupported parameter",
      param,
      event_id: eventId,
    },
  });

function setUp(greeting?: string) {
  const initial = initialEvents(
    testConfig(greeting ? { GREETING: greeting } : {}),
    new Date(),
  );
  return { initial, setup: new RealtimeSetup(initial) };
}

Deno.test("RealtimeSetup: ready only once session.updated shows audio/pcmu both ways", () => {
  const { initial, setup } = setUp();
  assert.equal(JSON.parse(initial[0]).event_id, SESSION_SETUP_EVENT);
  assert.deepEqual(
    setup.onMessage(JSON.stringify({ type: "session.created", session: {} })),
    { kind: "wait" },
  );
  assert.deepEqual(setup.onMessage(updated(PCMU, PCMU)), { kind: "ready" });
  assert.equal(
    setup.onMessage(updated({ type: "audio/pcm", rate: 24000 }, PCMU)).kind,
    "failed",
  );
});

Deno.test("RealtimeSetup: one retry without reasoning and transcription, the greeting cancelled and asked again; a second refusal fails", () => {
  const { initial, setup } = setUp("Hello");
  assert.deepEqual(setup.onMessage(refusal("other", "x")), { kind: "wait" });
  const step = setup.onMessage(
    refusal(SESSION_SETUP_EVENT, "session.reasoning"),
  );
  assert.equal(step.kind, "retry");
  if (step.kind !== "retry") return;
  const [cancel, retry, greeting] = step.send.map((e) => JSON.parse(e));
  assert.equal(cancel.type, "response.cancel");
  assert.equal(retry.event_id, SESSION_RETRY_EVENT);
  assert.ok(!("reasoning" in retry.session));
  assert.ok(!("transcription" in retry.session.audio.input));
  const first = JSON.parse(initial[0]).session;
  assert.deepEqual(retry.session.audio.output, first.audio.output);
  assert.equal(retry.session.instructions, first.instructions);
  assert.deepEqual(greeting, JSON.parse(initial.at(-1)!));
  const failed = setup.onMessage(
    refusal(SESSION_RETRY_EVENT, "session.voice"),
  );
  assert.deepEqual(failed, {
    kind: "failed",
    reason: "session.update refused twice (session.voice)",
  });
});
