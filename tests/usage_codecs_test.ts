/**
 * Usage at the edges, parsed once: Realtime's `response.done`, GPT-Live's
 * wrapped Responses events, and the Responses API answer of a summary,
 * each fed a body typed by the `openai` package.
 */
import assert from "node:assert/strict";
import type { RealtimeResponse } from "openai/resources/realtime/realtime";
import type {
  ResponseCreateParamsNonStreaming,
} from "openai/resources/responses/responses";
import { parseLiveEvent } from "../src/live/events.ts";
import {
  parseResponse,
  type ResponsesRequest,
  responsesUrl,
} from "../src/memory/responses_client.ts";
import { parseServerEvent } from "../src/realtime/events.ts";
import type { ResponseBody } from "../peers/realtime/mod.ts";

Deno.test("response.done carries its usage: text and audio, cached inside input", () => {
  const response: RealtimeResponse = {
    object: "realtime.response",
    id: "resp_1",
    status: "completed",
    output: [],
    usage: {
      total_tokens: 1_500,
      input_tokens: 1_200,
      output_tokens: 300,
      input_token_details: {
        text_tokens: 400,
        audio_tokens: 800,
        image_tokens: 0,
        cached_tokens: 900,
        cached_tokens_details: {
          text_tokens: 300,
          audio_tokens: 600,
          image_tokens: 0,
        },
      },
      output_token_details: { text_tokens: 50, audio_tokens: 250 },
    },
  };
  const parsed = parseServerEvent(
    JSON.stringify({ type: "response.done", event_id: "e1", response }),
  );
  assert.ok(parsed.ok && parsed.event.type === "response.done");
  assert.deepEqual(parsed.event.usage, {
    inputText: 400,
    inputAudio: 800,
    cachedText: 300,
    cachedAudio: 600,
    outputText: 50,
    outputAudio: 250,
  });
});

Deno.test("a wrapped response.completed carries the delegation backend's tokens and model", () => {
  const parsed = parseLiveEvent(JSON.stringify({
    type: "response.event",
    delegation_id: "item_d1",
    event: {
      type: "response.completed",
      response: {
        id: "resp_b1",
        model: "gpt-5.4-mini-2026-03-17",
        status: "completed",
        usage: {
          input_tokens: 900,
          input_tokens_details: { cached_tokens: 100, cache_write_tokens: 0 },
          output_tokens: 60,
          output_tokens_details: { reasoning_tokens: 20 },
          total_tokens: 960,
        },
      },
    },
  }));
  assert.deepEqual(parsed, {
    ok: true,
    event: {
      type: "backend_response.done",
      delegationId: "item_d1",
      responseId: "resp_b1",
      model: "gpt-5.4-mini-2026-03-17",
      usage: {
        inputText: 900,
        inputAudio: 0,
        cachedText: 100,
        cachedAudio: 0,
        outputText: 60,
        outputAudio: 0,
      },
    },
  });
});

Deno.test("the summary request is a ResponseCreateParamsNonStreaming, sent to the voice endpoint's host", () => {
  // A compile-time check: the request type fits openai-node's.
  const fits: ResponsesRequest extends ResponseCreateParamsNonStreaming ? true
    : false = true;
  assert.ok(fits);
  assert.equal(
    responsesUrl("wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1"),
    "https://api.openai.com/v1/responses",
  );
  assert.equal(
    responsesUrl("ws://127.0.0.1:9000/v1/realtime"),
    "http://127.0.0.1:9000/v1/responses",
  );
});

Deno.test("parseResponse() takes the message's output_text and the usage; an incomplete answer is a failure", () => {
  const body: ResponseBody = {
    id: "resp_s1",
    object: "response",
    created_at: 0,
    status: "completed",
    access_programs: null,
    error: null,
    incomplete_details: null,
    instructions: null,
    metadata: {},
    model: "gpt-5.4-mini-2026-03-17",
    output: [
      { id: "rs_1", type: "reasoning", summary: [] },
      {
        id: "msg_1",
        type: "message",
        role: "assistant",
        status: "completed",
        content: [
          { type: "output_text", text: '{"summary":', annotations: [] },
          { type: "output_text", text: '"ok"}', annotations: [] },
        ],
      },
    ],
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: "auto",
    tools: [],
    top_p: 1,
    usage: {
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: 15,
    },
  };
  assert.deepEqual(parseResponse(JSON.stringify(body)), {
    ok: true,
    text: '{"summary":"ok"}',
    model: "gpt-5.4-mini-2026-03-17",
    usage: {
      inputText: 10,
      inputAudio: 0,
      cachedText: 0,
      cachedAudio: 0,
      outputText: 5,
      outputAudio: 0,
    },
  });
  assert.deepEqual(
    parseResponse(JSON.stringify({ ...body, status: "incomplete" })),
    { ok: false, error: "response incomplete" },
  );
  assert.deepEqual(parseResponse("<html>"), {
    ok: false,
    error: "answer is not JSON",
  });
});
