/**
 * The GPT-Live client events and session this server sends, held to the
 * `openai` package's live types: every event is assignable to the
 * `ClientEvent` of its type and carries no key that type does not know.
 * `deno check` is the test.
 */
import assert from "node:assert/strict";
import type { ClientEvent, SessionConfig } from "openai/resources/live/live";
import {
  type LiveClientEvent,
  liveEvents,
  type LiveSessionConfig,
} from "../src/live/events.ts";
import { liveSessionConfig } from "../src/live/session.ts";
import { endCall } from "../src/tools/end_call.ts";
import { testConfig } from "./helpers/config.ts";
import {
  assertType,
  type Equals,
  type ExtraKeys,
} from "./helpers/wire_types.ts";

type SpecFor<E> = E extends { type: infer T }
  ? Extract<ClientEvent, { type: T }>
  : never;
type NameOf<E> = E extends { type: infer T extends string } ? T : "";
type Mismatches<E> = E extends unknown
  ? [E] extends [SpecFor<E>] ? ExtraKeys<E, SpecFor<E>, NameOf<E>>
  : `${NameOf<E>}: not assignable`
  : never;

assertType<Equals<Mismatches<LiveClientEvent>, never>>(true);
assertType<
  Equals<
    [LiveSessionConfig] extends [SessionConfig] ? true : false,
    true
  >
>(true);
assertType<Equals<ExtraKeys<LiveSessionConfig, SessionConfig>, never>>(true);

// The check catches what it should: a Realtime-only event, a key GPT-Live lacks.
type Truncate = { type: "conversation.item.truncate"; item_id: string };
assertType<
  Equals<Mismatches<Truncate>, "conversation.item.truncate: not assignable">
>(true);
type WithTurnDetection = LiveSessionConfig & {
  audio: { turn_detection: { type: "server_vad" } };
};
assertType<
  Equals<
    ExtraKeys<WithTurnDetection, SessionConfig>,
    ".audio.turn_detection"
  >
>(true);

Deno.test("liveSessionConfig() is µ-law at 8 kHz both ways, with the backend model and the server's tools", () => {
  const config = testConfig({
    VOICE_ENGINE: "live",
    LIVE_BACKEND_MODEL: "gpt-5.4-mini",
    VOICE: "marin",
  });
  const session = liveSessionConfig(config, new Date(), [endCall.definition]);
  assert.equal(session.model, "gpt-live-1");
  assert.deepEqual(session.audio, {
    format: { type: "audio/pcmu", rate: 8000 },
    output: { voice: "marin" },
  });
  assert.equal(session.delegation.responses.model, "gpt-5.4-mini");
  assert.deepEqual(
    session.delegation.responses.tools.map((t) => t.name),
    ["end_call"],
  );
  const start = JSON.parse(liveEvents.start(session));
  assert.equal(start.type, "session.start");
  assert.deepEqual(start.session, session);
});
