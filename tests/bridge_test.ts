/**
 * The bridge in-process: plain objects on both ports and a fake clock, so
 * every phase of a call is driven deterministically, with OpenAI's wire
 * events (type-checked against the `openai` package) on the upstream side.
 */
import assert from "node:assert/strict";
import { DTMF_GAP_MS, TIME_LIMIT_GOODBYE } from "../src/call/bridge.ts";
import { THINKING_AFTER_MS } from "../src/call/thinking_sound.ts";
import { upstreamClosed } from "../src/call/engine.ts";
import {
  dtmfNote,
  END_CALL_GOODBYE,
  toolsUnavailableNote,
} from "../src/realtime/engine.ts";
import { RESPONSE_TAG } from "../src/realtime/events.ts";
import { GREETING_REQUEST } from "../src/realtime/session.ts";
import type { CallSummary } from "../src/call_vocabulary.ts";
import {
  CALL_SID,
  type FakeUpstream,
  type Harness,
  startBridge,
} from "./helpers/bridge_harness.ts";

const AUDIO_100MS = new Uint8Array(800).fill(0x55).toBase64();

function created(upstream: FakeUpstream, id: string, tag?: string): void {
  upstream.emit({
    type: "response.created",
    response: {
      id,
      object: "realtime.response",
      status: "in_progress",
      output: [],
      metadata: tag === undefined ? null : { [RESPONSE_TAG]: tag },
    },
  });
}

function audio(upstream: FakeUpstream, responseId: string, itemId: string) {
  upstream.emit({
    type: "response.output_audio.delta",
    response_id: responseId,
    item_id: itemId,
    output_index: 0,
    content_index: 0,
    delta: AUDIO_100MS,
  });
}

function done(
  upstream: FakeUpstream,
  id: string,
  status: "completed" | "cancelled" | "failed" = "completed",
  output: { name: string; failed?: boolean }[] = [],
): void {
  upstream.emit({
    type: "response.done",
    response: {
      id,
      object: "realtime.response",
      status,
      output: output.map((call, i) => ({
        type: "mcp_call",
        id: `mcp_${i}`,
        server_label: "zapier",
        name: call.name,
        arguments: "{}",
        output: call.failed ? null : "[]",
        error: call.failed
          ? { type: "tool_execution_error", message: "Zapier said no" }
          : null,
      })),
    },
  });
}

function speechStarted(upstream: FakeUpstream): void {
  upstream.emit({
    type: "input_audio_buffer.speech_started",
    audio_start_ms: 0,
    item_id: "item_user",
  });
}

function speechStopped(upstream: FakeUpstream): void {
  upstream.emit({
    type: "input_audio_buffer.speech_stopped",
    audio_end_ms: 500,
    item_id: "item_user",
  });
}

function mcpInProgress(upstream: FakeUpstream): void {
  upstream.emit({
    type: "response.mcp_call.in_progress",
    item_id: "mcp_0",
    output_index: 0,
  });
}

function error(
  upstream: FakeUpstream,
  type: string,
  code: string,
  eventId?: string,
): void {
  upstream.emit({
    type: "error",
    error: { type, code, message: `${code} happened`, event_id: eventId },
  });
}

function logLine(h: Harness, event: string) {
  return h.logs.events().find((e) => e.event === event);
}

function endedWith(h: Harness): CallSummary | undefined {
  return h.observed.find((o) => o.kind === "ended")?.value as
    | CallSummary
    | undefined;
}

/** The text of every system or user message item the bridge created. */
function messages(upstream: FakeUpstream, role: string): string[] {
  return upstream.ofType("conversation.item.create")
    .map((e) => e.item as Record<string, unknown>)
    .filter((item) => item.type === "message" && item.role === role)
    .map((item) => (item.content as { text: string }[])[0].text);
}

Deno.test("bridge: a response that made MCP calls is followed by exactly one response.create", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  mcpInProgress(h.upstream);
  assert.equal(h.upstream.ofType("response.create").length, 0);
  done(h.upstream, "resp_1", "completed", [
    { name: "todoist_find_tasks" },
    { name: "gmail_find_email" },
  ]);
  const creates = h.upstream.ofType("response.create");
  assert.equal(creates.length, 1);
  assert.equal(creates[0].response && typeof creates[0].response, "object");
  assert.equal(
    (creates[0].response as Record<string, unknown>).instructions,
    undefined,
  );
});

Deno.test("bridge: a failed MCP call is answered too", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  done(h.upstream, "resp_1", "completed", [
    { name: "todoist_find_tasks", failed: true },
  ]);
  assert.equal(h.upstream.ofType("response.create").length, 1);
});

Deno.test("bridge: no MCP follow-up once the caller has started talking", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  speechStarted(h.upstream);
  done(h.upstream, "resp_1", "cancelled", [{ name: "todoist_find_tasks" }]);
  speechStopped(h.upstream);
  assert.equal(h.upstream.ofType("response.create").length, 0);
});

Deno.test("bridge: a response without MCP calls asks for nothing", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  audio(h.upstream, "resp_1", "item_a");
  done(h.upstream, "resp_1");
  assert.equal(h.upstream.ofType("response.create").length, 0);
});

Deno.test("bridge: a follow-up waits while another response is active and is never sent twice", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  done(h.upstream, "resp_1", "completed", [{ name: "a" }]);
  const [first] = h.upstream.ofType("response.create");
  // Server VAD answered a caller's turn first: our create is refused.
  created(h.upstream, "resp_vad");
  error(
    h.upstream,
    "invalid_request_error",
    "conversation_already_has_active_response",
    String(first.event_id),
  );
  assert.equal(h.upstream.ofType("response.create").length, 1);
  assert.equal(endedWith(h), undefined);
  done(h.upstream, "resp_vad");
  const creates = h.upstream.ofType("response.create");
  assert.equal(creates.length, 2);
  assert.notEqual(creates[1].event_id, first.event_id);
});

Deno.test("bridge: a recoverable server_error is logged with type, code and event_id, and the call goes on", () => {
  const h = startBridge();
  error(h.upstream, "server_error", "internal", "evt_7");
  assert.equal(endedWith(h), undefined);
  assert.equal(h.upstream.wasClosed, false);
  const line = logLine(h, "upstream.error");
  assert.equal(line?.type, "server_error");
  assert.equal(line?.code, "internal");
  assert.equal(line?.eventId, "evt_7");
  // Audio still flows both ways.
  created(h.upstream, "resp_1");
  audio(h.upstream, "resp_1", "item_a");
  assert.equal(h.twilio.mediaBytes(), 800);
});

Deno.test("bridge: an expired session or a refused key ends the call; a refused key as refused (no resume helps)", () => {
  for (
    const [type, code, reason] of [
      ["invalid_request_error", "session_expired", "upstream error"],
      ["invalid_request_error", "invalid_api_key", "upstream refused"],
      ["authentication_error", "", "upstream refused"],
    ]
  ) {
    const h = startBridge();
    error(h.upstream, type, code);
    assert.equal(endedWith(h)?.reason, reason, `${type}/${code}`);
    assert.ok(h.upstream.wasClosed);
    assert.ok(h.twilio.closed);
  }
});

Deno.test("bridge: the upstream socket closing ends the call", () => {
  const h = startBridge();
  h.upstream.dropped();
  assert.equal(endedWith(h)?.reason, "upstream closed");
  assert.ok(h.twilio.closed);
});

Deno.test("bridge: key presses within the gap reach the model as one user item and one response", () => {
  const h = startBridge();
  h.twilio.dtmf("1");
  h.clock.advance(DTMF_GAP_MS - 100);
  h.twilio.dtmf("2");
  h.clock.advance(DTMF_GAP_MS - 100);
  h.twilio.dtmf("#");
  assert.deepEqual(messages(h.upstream, "user"), []);
  h.clock.advance(DTMF_GAP_MS);
  assert.deepEqual(messages(h.upstream, "user"), [dtmfNote("12#")]);
  assert.equal(h.upstream.ofType("response.create").length, 1);
  // The item goes in before the response is asked for.
  const types = h.upstream.types();
  assert.ok(
    types.lastIndexOf("conversation.item.create") <
      types.indexOf("response.create"),
  );
  assert.ok(
    h.observed.some((o) => o.kind === "caller" && o.value === "[keypad: 12#]"),
  );
});

Deno.test("bridge: a key press during an answer is sent after it, never while a response is active", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  h.twilio.dtmf("5");
  h.clock.advance(DTMF_GAP_MS);
  assert.deepEqual(messages(h.upstream, "user"), [dtmfNote("5")]);
  assert.equal(h.upstream.ofType("response.create").length, 0);
  done(h.upstream, "resp_1");
  assert.equal(h.upstream.ofType("response.create").length, 1);
});

Deno.test("bridge: with a greeting sent with the session, nothing else is requested until it is done", () => {
  const h = startBridge({ greetingRequested: true });
  h.twilio.dtmf("1");
  h.clock.advance(DTMF_GAP_MS);
  assert.equal(h.upstream.ofType("response.create").length, 0);
  created(h.upstream, "resp_greeting", GREETING_REQUEST);
  done(h.upstream, "resp_greeting");
  assert.equal(h.upstream.ofType("response.create").length, 1);
});

Deno.test("bridge: the time-limit goodbye keeps the session's instructions (a system item, no response.instructions)", () => {
  const h = startBridge({
    limits: { maxCallMs: 60_000, startTimeoutMs: 10_000 },
  });
  h.clock.advance(60_000);
  assert.deepEqual(messages(h.upstream, "system"), [TIME_LIMIT_GOODBYE]);
  const [create] = h.upstream.ofType("response.create");
  assert.deepEqual(Object.keys(create.response as object), ["metadata"]);
});

Deno.test("bridge: a time limit while an answer is still playing waits for it, then the goodbye, then ends once played", () => {
  const h = startBridge({
    limits: { maxCallMs: 60_000, startTimeoutMs: 10_000 },
  });
  created(h.upstream, "resp_answer");
  audio(h.upstream, "resp_answer", "item_answer");
  h.clock.advance(60_000);
  // The answer is still active: the goodbye waits for it.
  assert.equal(h.upstream.ofType("response.create").length, 0);
  done(h.upstream, "resp_answer");
  const [create] = h.upstream.ofType("response.create");
  assert.ok(create);
  created(h.upstream, "resp_goodbye", String(create.event_id));
  audio(h.upstream, "resp_goodbye", "item_goodbye");
  done(h.upstream, "resp_goodbye");
  assert.equal(
    endedWith(h),
    undefined,
    "ends only once the goodbye has played",
  );
  h.twilio.playAll();
  assert.equal(endedWith(h)?.reason, "call time limit");
});

Deno.test("bridge: end_call while its goodbye is still playing ends the call once it has played", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  audio(h.upstream, "resp_1", "item_bye");
  h.upstream.emit({
    type: "response.function_call_arguments.done",
    response_id: "resp_1",
    item_id: "item_fc",
    output_index: 1,
    call_id: "call_1",
    name: "end_call",
    arguments: "{}",
  });
  const outputs = h.upstream.ofType("conversation.item.create");
  assert.equal(outputs.length, 1);
  done(h.upstream, "resp_1");
  assert.equal(endedWith(h), undefined);
  assert.equal(h.upstream.ofType("response.create").length, 0);
  h.twilio.playAll();
  assert.equal(endedWith(h)?.reason, "assistant ended the call");
});

Deno.test("bridge: end_call twice in one response (parallel tool calls) answers both and hangs up once", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  audio(h.upstream, "resp_1", "item_bye");
  for (const callId of ["call_1", "call_2"]) {
    h.upstream.emit({
      type: "response.function_call_arguments.done",
      response_id: "resp_1",
      item_id: `item_${callId}`,
      output_index: 1,
      call_id: callId,
      name: "end_call",
      arguments: "{}",
    });
  }
  const outputs = h.upstream.ofType("conversation.item.create")
    .map((e) => (e.item as { call_id: string }).call_id);
  assert.deepEqual(outputs, ["call_1", "call_2"]);
  assert.equal(
    h.logs.events().filter((e) => e.event === "call.hanging_up").length,
    1,
  );
  done(h.upstream, "resp_1");
  h.twilio.playAll();
  assert.equal(endedWith(h)?.reason, "assistant ended the call");
});

Deno.test("bridge: end_call without a word asks for a goodbye as a system item", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  h.upstream.emit({
    type: "response.function_call_arguments.done",
    response_id: "resp_1",
    item_id: "item_fc",
    output_index: 0,
    call_id: "call_1",
    name: "end_call",
    arguments: "{}",
  });
  done(h.upstream, "resp_1");
  assert.deepEqual(messages(h.upstream, "system"), [END_CALL_GOODBYE]);
  assert.equal(h.upstream.ofType("response.create").length, 1);
});

Deno.test("bridge: barge-in truncates every queued item: the playing one at what was heard, later ones at 0", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  audio(h.upstream, "resp_1", "item_a");
  audio(h.upstream, "resp_1", "item_a");
  audio(h.upstream, "resp_1", "item_b");
  h.clock.advance(50);
  speechStarted(h.upstream);
  const truncates = h.upstream.ofType("conversation.item.truncate");
  assert.deepEqual(
    truncates.map((t) => [t.item_id, t.audio_end_ms, t.content_index]),
    [["item_a", 50, 0], ["item_b", 0, 0]],
  );
  assert.ok(h.twilio.events().includes("clear"));
  assert.equal(h.upstream.ofType("response.cancel").length, 1);
});

Deno.test("bridge: the thinking sound starts after a second of silence during an MCP call and stops at the answer's first audio", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  mcpInProgress(h.upstream);
  h.clock.advance(THINKING_AFTER_MS - 200);
  assert.equal(h.twilio.mediaBytes(), 0, "not before a second of silence");
  h.clock.advance(400);
  const filler = h.twilio.mediaBytes();
  assert.ok(filler > 0, "the thinking sound plays");
  // Bounded: a few hundred ms queued at most, however long the tool runs.
  h.clock.advance(5_000);
  assert.ok(h.twilio.mediaBytes() - filler < 8 * 1000);
  done(h.upstream, "resp_1", "completed", [{ name: "todoist_find_tasks" }]);
  const [create] = h.upstream.ofType("response.create");
  created(h.upstream, "resp_2", String(create.event_id));
  const before = h.twilio.sent.length;
  audio(h.upstream, "resp_2", "item_answer");
  // The sound is flushed before the answer, and no more of it follows.
  assert.deepEqual(
    h.twilio.sent.slice(before).map((m) => m.event),
    ["clear", "media", "mark"],
  );
  const sent = h.twilio.sent.length;
  h.clock.advance(3_000);
  assert.equal(h.twilio.sent.length, sent);
});

Deno.test("bridge: the thinking sound waits for a preamble to finish playing", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  for (let i = 0; i < 20; i++) audio(h.upstream, "resp_1", "item_preamble");
  mcpInProgress(h.upstream);
  h.clock.advance(1_500);
  assert.equal(h.twilio.mediaBytes(), 20 * 800, "preamble only");
  h.twilio.playAll();
  h.clock.advance(THINKING_AFTER_MS + 200);
  assert.ok(h.twilio.mediaBytes() > 20 * 800);
});

Deno.test("bridge: a barge-in stops the thinking sound", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  mcpInProgress(h.upstream);
  h.clock.advance(THINKING_AFTER_MS + 200);
  assert.ok(h.twilio.mediaBytes() > 0);
  speechStarted(h.upstream);
  assert.ok(h.twilio.events().includes("clear"));
  // The sound is no assistant item: nothing to truncate.
  assert.equal(h.upstream.ofType("conversation.item.truncate").length, 0);
  const sent = h.twilio.sent.length;
  h.clock.advance(3_000);
  assert.equal(h.twilio.sent.length, sent);
});

Deno.test("bridge: THINKING_SOUND=false plays nothing while a tool runs", () => {
  const h = startBridge({ thinkingSound: false });
  created(h.upstream, "resp_1");
  mcpInProgress(h.upstream);
  h.clock.advance(5_000);
  assert.equal(h.twilio.mediaBytes(), 0);
});

Deno.test("bridge: a failed MCP tool list is logged, journaled and told to the assistant", () => {
  const h = startBridge();
  h.upstream.emit({
    type: "conversation.item.added",
    item: {
      type: "mcp_list_tools",
      id: "list_1",
      server_label: "zapier",
      tools: [],
    },
  });
  h.upstream.emit({ type: "mcp_list_tools.failed", item_id: "list_1" });
  const line = logLine(h, "mcp.tools_unavailable");
  assert.equal(line?.level, "warn");
  assert.equal(line?.server, "zapier");
  assert.deepEqual(
    h.observed.filter((o) => o.kind === "tools_unavailable").map((o) =>
      o.value
    ),
    ["zapier"],
  );
  assert.deepEqual(messages(h.upstream, "system"), [
    toolsUnavailableNote("zapier"),
  ]);
  assert.equal(endedWith(h), undefined);
});

Deno.test("bridge: a completed MCP tool list logs how many tools the server offered", () => {
  const h = startBridge();
  h.upstream.emit({ type: "mcp_list_tools.in_progress", item_id: "list_1" });
  h.upstream.emit({
    type: "conversation.item.done",
    item: {
      type: "mcp_list_tools",
      id: "list_1",
      server_label: "zapier",
      tools: [
        { name: "todoist_find_tasks", input_schema: {} },
        { name: "gmail_send_email", input_schema: {} },
      ],
    },
  });
  h.upstream.emit({ type: "mcp_list_tools.completed", item_id: "list_1" });
  const line = logLine(h, "mcp.tools_listed");
  assert.equal(line?.tools, 2);
  assert.equal(line?.server, "zapier");
});

Deno.test("bridge: a failed MCP call is journaled with its error type", () => {
  const h = startBridge();
  h.upstream.emit({
    type: "response.output_item.done",
    response_id: "resp_1",
    output_index: 0,
    item: {
      type: "mcp_call",
      id: "mcp_1",
      server_label: "zapier",
      name: "gmail_send_email",
      arguments: "{}",
      error: { type: "http_error", code: 502, message: "Bad gateway" },
    },
  });
  assert.deepEqual(h.observed.find((o) => o.kind === "tool")?.value, {
    name: "gmail_send_email",
    server: "zapier",
    failed: true,
    errorType: "http_error",
  });
});

Deno.test("bridge: an MCP approval request is answered explicitly and the model asked to go on", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  h.upstream.emit({
    type: "response.output_item.done",
    response_id: "resp_1",
    output_index: 0,
    item: {
      type: "mcp_approval_request",
      id: "mcpr_1",
      server_label: "zapier",
      name: "gmail_send_email",
      arguments: "{}",
    },
  });
  const [approval] = h.upstream.ofType("conversation.item.create");
  assert.deepEqual(
    {
      ...(approval.item as Record<string, unknown>),
      id: undefined,
    },
    {
      type: "mcp_approval_response",
      id: undefined,
      approval_request_id: "mcpr_1",
      approve: true,
    },
  );
  done(h.upstream, "resp_1");
  assert.equal(h.upstream.ofType("response.create").length, 1);
});

Deno.test("bridge: the call's stream ends both sides when Twilio closes", () => {
  const h = startBridge();
  h.twilio.hangUp();
  assert.equal(endedWith(h)?.reason, "media stream closed");
  assert.ok(h.upstream.wasClosed);
  assert.equal(endedWith(h)?.callSid, CALL_SID);
});

function functionCall(
  upstream: FakeUpstream,
  responseId: string,
  callId: string,
  name: string,
  args = "{}",
): void {
  upstream.emit({
    type: "response.function_call_arguments.done",
    response_id: responseId,
    item_id: `item_${callId}`,
    output_index: 0,
    call_id: callId,
    name,
    arguments: args,
  });
}

Deno.test("bridge: an unknown function gets an error output and the model is asked to answer", () => {
  const h = startBridge();
  created(h.upstream, "resp_1");
  functionCall(h.upstream, "resp_1", "call_1", "launch_rockets");
  const [output] = h.upstream.ofType("conversation.item.create");
  assert.deepEqual(output.item, {
    type: "function_call_output",
    call_id: "call_1",
    output: JSON.stringify({ ok: false, error: "unknown tool launch_rockets" }),
  });
  assert.equal(h.upstream.ofType("response.create").length, 0);
  done(h.upstream, "resp_1");
  assert.equal(h.upstream.ofType("response.create").length, 1);
});

Deno.test("bridge: an async tool's output is sent when it resolves, then one answer is asked for", async () => {
  const finished = Promise.withResolvers<void>();
  const h = startBridge({
    tools: [{
      definition: {
        type: "function",
        name: "remember",
        description: "Remember a fact",
        parameters: { type: "object", properties: {}, required: [] },
      },
      run: async () => {
        await finished.promise;
        return { output: { ok: true, stored: "milk" } };
      },
    }],
  });
  created(h.upstream, "resp_1");
  functionCall(h.upstream, "resp_1", "call_1", "remember");
  functionCall(h.upstream, "resp_1", "call_2", "remember");
  done(h.upstream, "resp_1");
  assert.equal(h.upstream.ofType("conversation.item.create").length, 0);
  finished.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const outputs = h.upstream.ofType("conversation.item.create")
    .map((e) => (e.item as { call_id: string }).call_id);
  assert.deepEqual(outputs, ["call_1", "call_2"]);
  assert.equal(h.upstream.ofType("response.create").length, 1);
});

Deno.test("upstreamClosed(): a handshake refused with a 4xx is refused (no resume helps); 408, 429, a 5xx or a dropped socket stay resumable", () => {
  assert.equal(
    upstreamClosed("upstream handshake refused with HTTP 401"),
    "upstream refused",
  );
  assert.equal(
    upstreamClosed("upstream handshake refused with HTTP 404"),
    "upstream refused",
  );
  for (
    const detail of [
      "upstream handshake refused with HTTP 429",
      "upstream handshake refused with HTTP 408",
      "upstream handshake refused with HTTP 503",
      "upstream closed (1011 upstream lost)",
      "no handshake within 5000 ms",
    ]
  ) {
    assert.equal(upstreamClosed(detail), "upstream closed", detail);
  }
});
