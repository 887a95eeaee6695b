import assert from "node:assert/strict";
import { SESSION_SETTINGS } from "./helpers/config.ts";
import {
  clientEvents,
  parseServerEvent,
  RESPONSE_TAG,
  type ServerEvent,
} from "../src/realtime/events.ts";
import { describeNow } from "../src/call/instructions.ts";
import {
  END_CALL_TOOL,
  sessionConfig,
  type SessionSettings,
} from "../src/realtime/session.ts";

/** Parses an event that must be accepted and returns it. */
function accept(data: unknown): ServerEvent {
  const result = parseServerEvent(data);
  if (!result.ok) assert.fail(`refused: ${result.reason}`);
  return result.event;
}

function refuse(data: unknown): string {
  const result = parseServerEvent(data);
  if (result.ok) assert.fail(`accepted: ${JSON.stringify(result.event)}`);
  assert.ok(result.reason.length > 0);
  return result.reason;
}

const json = (value: unknown) => JSON.stringify(value);

// ---- Server events (GA shapes) ----

Deno.test("parseServerEvent() parses session.created and session.updated", () => {
  assert.deepEqual(
    accept(json({ type: "session.created", event_id: "e1", session: {} })),
    { type: "session.created" },
  );
  assert.deepEqual(
    accept(json({ type: "session.updated", event_id: "e2", session: {} })),
    { type: "session.updated", formats: { input: "", output: "" } },
  );
});

Deno.test("parseServerEvent() parses response.output_audio.delta", () => {
  const event = accept(json({
    type: "response.output_audio.delta",
    event_id: "event_1",
    response_id: "resp_1",
    item_id: "item_1",
    output_index: 0,
    content_index: 0,
    delta: "/v7+/f39/A==",
  }));
  assert.deepEqual(event, {
    type: "response.output_audio.delta",
    responseId: "resp_1",
    itemId: "item_1",
    delta: "/v7+/f39/A==",
  });
});

Deno.test("parseServerEvent() refuses an audio delta missing delta, item_id or response_id", () => {
  const full = {
    type: "response.output_audio.delta",
    response_id: "resp_1",
    item_id: "item_1",
    delta: "AAAA",
  };
  for (const field of ["response_id", "item_id", "delta"] as const) {
    const partial: Record<string, unknown> = { ...full };
    delete partial[field];
    refuse(json(partial));
    refuse(json({ ...full, [field]: 1 }));
  }
});

Deno.test("parseServerEvent() does not treat the beta response.audio.delta as audio", () => {
  assert.deepEqual(
    accept(json({
      type: "response.audio.delta",
      response_id: "r",
      item_id: "i",
      delta: "AAAA",
    })),
    { type: "ignored", name: "response.audio.delta" },
  );
});

Deno.test("parseServerEvent() parses response.created with response.id", () => {
  assert.deepEqual(
    accept(json({
      type: "response.created",
      event_id: "e",
      response: {
        id: "resp_9",
        object: "realtime.response",
        status: "in_progress",
      },
    })),
    { type: "response.created", responseId: "resp_9", tag: undefined },
  );
});

Deno.test("parseServerEvent() reads our tag from response.created's metadata", () => {
  assert.deepEqual(
    accept(json({
      type: "response.created",
      response: {
        id: "resp_9",
        status: "in_progress",
        metadata: { [RESPONSE_TAG]: "create_3" },
      },
    })),
    { type: "response.created", responseId: "resp_9", tag: "create_3" },
  );
});

Deno.test("parseServerEvent() parses response.done with response.id and status", () => {
  for (const status of ["completed", "cancelled", "incomplete", "failed"]) {
    assert.deepEqual(
      accept(json({
        type: "response.done",
        response: { id: "resp_9", status, output: [] },
      })),
      { type: "response.done", responseId: "resp_9", status, mcpCalls: 0 },
    );
  }
});

Deno.test("parseServerEvent() counts the mcp_call items in response.done's output", () => {
  assert.deepEqual(
    accept(json({
      type: "response.done",
      response: {
        id: "resp_9",
        status: "completed",
        output: [
          { type: "message", role: "assistant" },
          { type: "mcp_call", name: "a", error: null },
          { type: "mcp_call", name: "b", error: { type: "http_error" } },
          { type: "function_call", name: "end_call" },
        ],
      },
    })),
    {
      type: "response.done",
      responseId: "resp_9",
      status: "completed",
      mcpCalls: 2,
    },
  );
});

Deno.test("parseServerEvent() parses the MCP list and call progress events", () => {
  for (
    const type of [
      "response.mcp_call.in_progress",
      "mcp_list_tools.completed",
      "mcp_list_tools.failed",
    ]
  ) {
    assert.deepEqual(
      accept(json({ type, event_id: "e", item_id: "it_1", output_index: 0 })),
      { type, itemId: "it_1" },
    );
  }
});

Deno.test("parseServerEvent() reads the server and tool count of an mcp_list_tools item", () => {
  const item = {
    id: "it_1",
    type: "mcp_list_tools",
    server_label: "zapier",
    tools: [{ name: "a", input_schema: {} }, { name: "b", input_schema: {} }],
  };
  assert.deepEqual(
    accept(json({ type: "conversation.item.done", item })),
    {
      type: "mcp_list_tools.item",
      itemId: "it_1",
      server: "zapier",
      tools: 2,
    },
  );
  // While listing, the item is added with no tools yet: no count.
  assert.deepEqual(
    accept(
      json({ type: "conversation.item.added", item: { ...item, tools: [] } }),
    ),
    {
      type: "mcp_list_tools.item",
      itemId: "it_1",
      server: "zapier",
      tools: undefined,
    },
  );
  assert.deepEqual(
    accept(json({
      type: "conversation.item.added",
      item: { type: "message", role: "user" },
    })),
    { type: "ignored", name: "conversation.item.added" },
  );
});

Deno.test("parseServerEvent() parses an mcp_approval_request item", () => {
  assert.deepEqual(
    accept(json({
      type: "response.output_item.done",
      item: {
        id: "mcpr_1",
        type: "mcp_approval_request",
        server_label: "zapier",
        name: "gmail_send_email",
        arguments: "{}",
      },
    })),
    {
      type: "mcp_approval_request",
      id: "mcpr_1",
      server: "zapier",
      name: "gmail_send_email",
    },
  );
});

Deno.test("parseServerEvent() refuses response.created/done without response.id", () => {
  for (const type of ["response.created", "response.done"]) {
    refuse(json({ type }));
    refuse(json({ type, response: {} }));
    refuse(json({ type, response: { id: 5 } }));
    refuse(json({ type, response_id: "resp_1" }));
  }
});

Deno.test("parseServerEvent() parses error with type, code, message and event_id", () => {
  assert.deepEqual(
    accept(json({
      type: "error",
      event_id: "event_890",
      error: {
        type: "invalid_request_error",
        code: "response_cancel_not_active",
        message: "Cancellation failed: no active response found",
        param: null,
        event_id: "evt_client_1",
      },
    })),
    {
      type: "error",
      error: {
        type: "invalid_request_error",
        code: "response_cancel_not_active",
        message: "Cancellation failed: no active response found",
        eventId: "evt_client_1",
        param: "",
      },
    },
  );
});

Deno.test("parseServerEvent() parses an error with null or missing fields as empty strings", () => {
  assert.deepEqual(
    accept(json({
      type: "error",
      error: { type: "server_error", code: null, message: "boom" },
    })),
    {
      type: "error",
      error: {
        type: "server_error",
        code: "",
        message: "boom",
        eventId: "",
        param: "",
      },
    },
  );
  assert.deepEqual(accept(json({ type: "error" })), {
    type: "error",
    error: { type: "", code: "", message: "", eventId: "", param: "" },
  });
});

Deno.test("parseServerEvent() parses speech_started and speech_stopped with item_id", () => {
  assert.deepEqual(
    accept(json({
      type: "input_audio_buffer.speech_started",
      audio_start_ms: 1000,
      item_id: "item_u1",
    })),
    { type: "input_audio_buffer.speech_started", itemId: "item_u1" },
  );
  assert.deepEqual(
    accept(json({
      type: "input_audio_buffer.speech_stopped",
      audio_end_ms: 2000,
      item_id: "item_u1",
    })),
    { type: "input_audio_buffer.speech_stopped", itemId: "item_u1" },
  );
});

Deno.test("parseServerEvent() parses a completed input transcription", () => {
  assert.deepEqual(
    accept(json({
      type: "conversation.item.input_audio_transcription.completed",
      item_id: "item_u1",
      content_index: 0,
      transcript: "What's on my list today?",
    })),
    {
      type: "input_transcription.completed",
      itemId: "item_u1",
      transcript: "What's on my list today?",
    },
  );
});

Deno.test("parseServerEvent() parses response.output_audio_transcript.done", () => {
  assert.deepEqual(
    accept(json({
      type: "response.output_audio_transcript.done",
      response_id: "r",
      item_id: "item_a1",
      output_index: 0,
      content_index: 0,
      transcript: "You have three tasks.",
    })),
    {
      type: "response.output_audio_transcript.done",
      itemId: "item_a1",
      transcript: "You have three tasks.",
    },
  );
});

Deno.test("parseServerEvent() parses response.output_audio_transcript.delta (the line in progress)", () => {
  assert.deepEqual(
    accept(json({
      type: "response.output_audio_transcript.delta",
      event_id: "e",
      response_id: "r",
      item_id: "item_a1",
      output_index: 0,
      content_index: 0,
      delta: "You have ",
    })),
    {
      type: "response.output_audio_transcript.delta",
      itemId: "item_a1",
      delta: "You have ",
    },
  );
});

Deno.test("parseServerEvent() parses response.function_call_arguments.done", () => {
  assert.deepEqual(
    accept(json({
      type: "response.function_call_arguments.done",
      response_id: "r",
      item_id: "item_f",
      output_index: 0,
      call_id: "call_1",
      name: "end_call",
      arguments: '{"reason":"bye"}',
    })),
    {
      type: "response.function_call_arguments.done",
      responseId: "r",
      callId: "call_1",
      name: "end_call",
      arguments: '{"reason":"bye"}',
    },
  );
});

Deno.test("parseServerEvent() reports finished MCP and function calls from response.output_item.done", () => {
  assert.deepEqual(
    accept(json({
      type: "response.output_item.done",
      response_id: "resp_1",
      output_index: 0,
      item: {
        id: "mcp_1",
        type: "mcp_call",
        server_label: "zapier",
        name: "todoist_find_tasks",
        arguments: "{}",
        output: "[]",
        error: null,
      },
    })),
    {
      type: "tool_call.done",
      kind: "mcp",
      name: "todoist_find_tasks",
      server: "zapier",
      failed: false,
      errorType: undefined,
      result: "[]",
    },
  );
  assert.deepEqual(
    accept(json({
      type: "response.output_item.done",
      item: {
        type: "mcp_call",
        server_label: "zapier",
        name: "gmail_send",
        error: { type: "tool_execution_error", message: "nope" },
      },
    })),
    {
      type: "tool_call.done",
      kind: "mcp",
      name: "gmail_send",
      server: "zapier",
      failed: true,
      errorType: "tool_execution_error",
    },
  );
  assert.deepEqual(
    accept(json({
      type: "response.output_item.done",
      item: { type: "function_call", name: "end_call", call_id: "c1" },
    })),
    {
      type: "tool_call.done",
      kind: "function",
      name: "end_call",
      server: "",
      failed: false,
      errorType: undefined,
    },
  );
  assert.deepEqual(
    accept(json({
      type: "response.output_item.done",
      item: { type: "message", role: "assistant" },
    })),
    { type: "ignored", name: "response.output_item.done" },
  );
});

Deno.test("parseServerEvent() reports other event types as ignored, by name", () => {
  for (
    const type of [
      "mcp_list_tools.in_progress",
      "response.mcp_call.completed",
      "response.mcp_call.failed",
      "rate_limits.updated",
      "response.output_item.added",
      "response.output_audio.done",
      "input_audio_buffer.committed",
      "some.future.event",
    ]
  ) {
    assert.deepEqual(accept(json({ type, item_id: "x" })), {
      type: "ignored",
      name: type,
    });
  }
});

Deno.test("parseServerEvent() refuses bad input", () => {
  refuse(new Uint8Array([123, 125]));
  refuse(undefined);
  refuse("");
  refuse("not json");
  refuse("{}");
  refuse("[]");
  refuse("null");
  refuse('"error"');
  refuse('{"type":7}');
  refuse('{"event":"error"}');
});

// ---- Client events ----

Deno.test("clientEvents.appendAudio() is input_audio_buffer.append with the audio", () => {
  assert.deepEqual(JSON.parse(clientEvents.appendAudio("/v7+/f39/A==")), {
    type: "input_audio_buffer.append",
    audio: "/v7+/f39/A==",
  });
});

Deno.test("clientEvents.truncate() is conversation.item.truncate with content_index 0", () => {
  assert.deepEqual(JSON.parse(clientEvents.truncate("item_a1", 1234)), {
    type: "conversation.item.truncate",
    item_id: "item_a1",
    content_index: 0,
    audio_end_ms: 1234,
  });
  const odd = `it"em\\😀`;
  assert.equal(
    (JSON.parse(clientEvents.truncate(odd, 0)) as { item_id: string }).item_id,
    odd,
  );
});

Deno.test("clientEvents.cancelResponse() is response.cancel", () => {
  assert.deepEqual(JSON.parse(clientEvents.cancelResponse()), {
    type: "response.cancel",
  });
});

Deno.test("clientEvents.createResponse() is response.create tagged with its event id, never with instructions", () => {
  assert.deepEqual(JSON.parse(clientEvents.createResponse("create_7")), {
    type: "response.create",
    event_id: "create_7",
    response: { metadata: { [RESPONSE_TAG]: "create_7" } },
  });
});

Deno.test("clientEvents.systemMessage() and userMessage() create input_text message items", () => {
  assert.deepEqual(JSON.parse(clientEvents.systemMessage('Say "bye"')), {
    type: "conversation.item.create",
    item: {
      type: "message",
      role: "system",
      content: [{ type: "input_text", text: 'Say "bye"' }],
    },
  });
  assert.deepEqual(JSON.parse(clientEvents.userMessage("pressed 1")), {
    type: "conversation.item.create",
    item: {
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "pressed 1" }],
    },
  });
});

Deno.test("clientEvents.mcpApprovalResponse() answers an approval request by its id", () => {
  const event = JSON.parse(clientEvents.mcpApprovalResponse("mcpr_req", true));
  assert.equal(event.type, "conversation.item.create");
  assert.equal(event.item.type, "mcp_approval_response");
  assert.equal(event.item.approval_request_id, "mcpr_req");
  assert.equal(event.item.approve, true);
  assert.match(event.item.id, /^mcpr_/);
});

Deno.test("clientEvents.functionCallOutput() creates a function_call_output item", () => {
  const output = JSON.stringify({ ok: true, note: 'a "quoted" value' });
  assert.deepEqual(
    JSON.parse(clientEvents.functionCallOutput("call_1", output)),
    {
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: "call_1", output },
    },
  );
});

Deno.test("clientEvents.sessionUpdate() wraps the session in session.update, with its event_id", () => {
  const session = { type: "realtime", instructions: "x" };
  assert.deepEqual(JSON.parse(clientEvents.sessionUpdate(session, "e1")), {
    type: "session.update",
    event_id: "e1",
    session,
  });
});

// ---- Session configuration ----

const NOW = new Date("2026-11-24T09:30:00Z");

const SETTINGS = SESSION_SETTINGS;

/** Every key at any depth of a JSON-like value. */
function allKeys(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const v of value) allKeys(v, out);
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      allKeys(v, out);
    }
  }
  return out;
}

/** The config as it goes on the wire, so the test sees exactly what is sent. */
function wire(settings: SessionSettings): Record<string, unknown> {
  const sent = JSON.parse(
    clientEvents.sessionUpdate(sessionConfig(settings, NOW), "e1"),
  ) as { type: string; session: Record<string, unknown> };
  assert.equal(sent.type, "session.update");
  return sent.session;
}

Deno.test("sessionConfig() is a GA realtime session with µ-law both ways", () => {
  const session = wire(SETTINGS);
  assert.equal(session.type, "realtime");
  assert.deepEqual(session.output_modalities, ["audio"]);
  assert.deepEqual(session.audio, {
    input: {
      format: { type: "audio/pcmu" },
      turn_detection: { type: "server_vad" },
      transcription: { model: "gpt-live-transcribe" },
    },
    output: {
      format: { type: "audio/pcmu" },
      voice: "marin",
    },
  });
  assert.equal(session.tool_choice, "auto");
});

Deno.test("sessionConfig() uses the configured voice", () => {
  const session = wire({
    ...SETTINGS,
    assistant: { ...SETTINGS.assistant, voice: "cedar" },
  }) as {
    audio: { output: { voice: string } };
  };
  assert.equal(session.audio.output.voice, "cedar");
});

Deno.test("sessionConfig() instructions contain the configured instructions and today's date", () => {
  const session = wire(SETTINGS);
  const instructions = session.instructions;
  assert.equal(typeof instructions, "string");
  if (typeof instructions !== "string") return;
  assert.ok(instructions.startsWith(SETTINGS.assistant.instructions));
  assert.ok(instructions.includes(describeNow(NOW)), instructions);
  assert.match(instructions, /Tuesday/);
  assert.match(instructions, /24 November 2026/);
  assert.match(instructions, /09:30/);
});

Deno.test("sessionConfig() instructions follow the given date", () => {
  const later = sessionConfig(SETTINGS, new Date("2027-01-01T18:05:00Z"));
  assert.match(String(later.instructions), /Friday, 1 January 2027/);
  assert.doesNotMatch(String(later.instructions), /November 2026/);
});

Deno.test("sessionConfig() sends the configured model", () => {
  assert.equal(wire(SETTINGS).model, "gpt-realtime-2.1");
  assert.equal(
    wire({
      ...SETTINGS,
      realtime: { ...SETTINGS.realtime, model: "gpt-realtime-2.1-mini" },
    }).model,
    "gpt-realtime-2.1-mini",
  );
});

Deno.test("sessionConfig() offers only end_call without a Zapier MCP password", () => {
  const session = wire(SETTINGS);
  assert.deepEqual(session.tools, [END_CALL_TOOL]);
  assert.ok(!JSON.stringify(session).includes("zapier"));
});

Deno.test("sessionConfig() adds the Zapier MCP tool when a password is set", () => {
  const session = wire({
    ...SETTINGS,
    zapier: {
      ...SETTINGS.zapier,
      url: "https://mcp.zapier.com/api/mcp/s/abc/mcp",
      password: "zap-secret-123",
    },
  });
  assert.deepEqual(session.tools, [END_CALL_TOOL, {
    type: "mcp",
    server_label: "zapier",
    server_url: "https://mcp.zapier.com/api/mcp/s/abc/mcp",
    headers: { Authorization: "Bearer zap-secret-123" },
    require_approval: "never",
  }]);
});

Deno.test("sessionConfig() carries no beta or removed fields anywhere", () => {
  const removedAnywhere = [
    "temperature",
    "modalities",
    "input_audio_format",
    "output_audio_format",
    "input_audio_transcription",
    "max_response_output_tokens",
  ];
  for (
    const settings of [SETTINGS, {
      ...SETTINGS,
      zapier: { ...SETTINGS.zapier, password: "p" },
    }]
  ) {
    const session = wire(settings);
    const keys = allKeys(session);
    for (const field of removedAnywhere) {
      assert.ok(!keys.includes(field), `${field} must not be sent`);
    }
    for (const field of ["voice", "turn_detection"]) {
      assert.ok(!(field in session), `top-level ${field} must not be sent`);
    }
  }
});

Deno.test("parseServerEvent() reads an input transcription's billed seconds or tokens", () => {
  const completed = (usage: unknown) =>
    accept(json({
      type: "conversation.item.input_audio_transcription.completed",
      event_id: "e9",
      item_id: "item_1",
      content_index: 0,
      transcript: "Hi",
      usage,
    }));
  assert.deepEqual(completed({ type: "duration", seconds: 2.4 }), {
    type: "input_transcription.completed",
    itemId: "item_1",
    transcript: "Hi",
    usage: { seconds: 2.4 },
  });
  assert.deepEqual(
    completed({
      type: "tokens",
      input_tokens: 30,
      output_tokens: 4,
      total_tokens: 34,
      input_token_details: { audio_tokens: 28, text_tokens: 2 },
    }),
    {
      type: "input_transcription.completed",
      itemId: "item_1",
      transcript: "Hi",
      usage: {
        tokens: {
          inputText: 2,
          inputAudio: 28,
          cachedText: 0,
          cachedAudio: 0,
          outputText: 4,
          outputAudio: 0,
        },
      },
    },
  );
});
