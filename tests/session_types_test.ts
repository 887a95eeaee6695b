/**
 * The session this server sends, held to openai-node's own description of
 * the GA API. `deno check` is the test: the session type must be assignable
 * to `RealtimeSessionCreateRequest` and carry no key that type does not know,
 * at any depth, so a misspelt or retired field fails before it reaches
 * OpenAI. The few runtime tests below only make `deno test` load the file.
 */

import assert from "node:assert/strict";
import type { RealtimeSessionCreateRequest } from "openai/resources/realtime/realtime";
import type { SessionConfig } from "../src/realtime/session.ts";
import {
  assertType,
  type Equals,
  type ExtraKeys,
} from "./helpers/wire_types.ts";

// The session is a valid request...
type Assignable = [SessionConfig] extends [RealtimeSessionCreateRequest] ? true
  : false;
assertType<Assignable>(true);
// ...with no field OpenAI's types do not name.
assertType<
  Equals<ExtraKeys<SessionConfig, RealtimeSessionCreateRequest>, never>
>(
  true,
);

// The checker itself finds extra keys, nested ones included, and passes
// what the spec allows.
type WithTemperature = SessionConfig & { temperature: number };
assertType<
  Equals<
    ExtraKeys<WithTemperature, RealtimeSessionCreateRequest>,
    ".temperature"
  >
>(true);
type WithBetaInput = SessionConfig & {
  audio: { input: { input_audio_format: string } };
};
assertType<
  Equals<
    ExtraKeys<WithBetaInput, RealtimeSessionCreateRequest>,
    ".audio.input.input_audio_format"
  >
>(true);
type WithToolTypo = Omit<SessionConfig, "tools"> & {
  tools: { type: "mcp"; server_label: string; allowed_tool: string[] }[];
};
assertType<
  Equals<
    ExtraKeys<WithToolTypo, RealtimeSessionCreateRequest>,
    ".tools[].allowed_tool"
  >
>(true);
type WithReasoningTypo = SessionConfig & { reasoning: { level: "low" } };
assertType<
  Equals<
    ExtraKeys<WithReasoningTypo, RealtimeSessionCreateRequest>,
    ".reasoning.level"
  >
>(true);
assertType<
  Equals<ExtraKeys<{ a: { b: 1 } }, { a?: { b?: number } | null }>, never>
>(true);
assertType<Equals<ExtraKeys<{ a: { z: 1 } }, { a?: unknown }>, never>>(true);
assertType<
  Equals<ExtraKeys<{ h: { X: string } }, { h?: Record<string, string> }>, never>
>(true);

Deno.test("the session type checks against openai-node's RealtimeSessionCreateRequest (deno check)", () => {
  // The assertions above are compile-time; reaching here means they passed.
  const fits: Assignable = true;
  assert.equal(fits, true);
});
