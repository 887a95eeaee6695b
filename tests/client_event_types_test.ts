/**
 * The client events the bridge sends, held to openai-node's description of
 * the GA API: every member of our `ClientEvent` union is assignable to the
 * matching `RealtimeClientEvent` and carries no key that type does not know.
 * `deno check` is the test; the runtime test checks the built events carry
 * exactly the keys of their type.
 */
import assert from "node:assert/strict";
import type { RealtimeClientEvent } from "openai/resources/realtime/realtime";
import { type ClientEvent, clientEvents } from "../src/realtime/events.ts";
import {
  assertType,
  type Equals,
  type ExtraKeys,
} from "./helpers/wire_types.ts";

type SpecFor<E> = E extends { type: infer T }
  ? Extract<RealtimeClientEvent, { type: T }>
  : never;

/** Each of our events, checked against OpenAI's event of the same type. */
type Mismatches<E> = E extends unknown ? [E] extends [SpecFor<E>] ? ExtraKeys<
      E,
      SpecFor<E>,
      E extends { type: infer T extends string } ? T : ""
    >
  : `${E extends { type: infer T extends string } ? T : ""}: not assignable`
  : never;

assertType<Equals<Mismatches<ClientEvent>, never>>(true);

// The check finds what it should: a retired field, a typo, a wrong type.
type WithInstructions = {
  type: "response.create";
  event_id: string;
  response: { metadata: { request: string }; modalities: string[] };
};
assertType<
  Equals<Mismatches<WithInstructions>, "response.create.response.modalities">
>(true);
type WrongIndex = {
  type: "conversation.item.truncate";
  item_id: string;
  content_index: "0";
  audio_end_ms: number;
};
assertType<
  Equals<Mismatches<WrongIndex>, "conversation.item.truncate: not assignable">
>(true);

Deno.test("clientEvents builds every ClientEvent the types allow (parsed back, each is a known GA client event)", () => {
  const built = [
    clientEvents.appendAudio("AAAA"),
    clientEvents.truncate("item_1", 10),
    clientEvents.cancelResponse(),
    clientEvents.createResponse("create_1"),
    clientEvents.functionCallOutput("call_1", "{}"),
    clientEvents.systemMessage("note"),
    clientEvents.userMessage("keys"),
    clientEvents.mcpApprovalResponse("mcpr_1", false),
  ].map((text) => JSON.parse(text) as { type: string });
  const types: RealtimeClientEvent["type"][] = [
    "input_audio_buffer.append",
    "conversation.item.truncate",
    "response.cancel",
    "response.create",
    "conversation.item.create",
    "conversation.item.create",
    "conversation.item.create",
    "conversation.item.create",
  ];
  assert.deepEqual(built.map((event) => event.type), types);
});
