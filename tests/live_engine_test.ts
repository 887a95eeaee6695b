/**
 * The GPT-Live engine in-process, behind the bridge: plain objects on both
 * ports and a fake clock; the upstream side speaks GPT-Live's wire events,
 * type-checked against the `openai` package's live types.
 */
import assert from "node:assert/strict";
import type { ServerEvent as LiveWireEvent } from "openai/resources/live/live";
import { CallBridge, TIME_LIMIT_GOODBYE } from "../src/call/bridge.ts";
import type { CallSummary } from "../src/call_vocabulary.ts";
import {
  LIVE_PLAYBACK_WINDOW_MS,
  LiveEngine,
  liveGreeting,
  liveToolsUnavailableNote,
  type RemoteTools,
} from "../src/live/engine.ts";
import {
  GOODBYE_QUIET_MS,
  GOODBYE_START_MS,
} from "../src/live/quiet_goodbye.ts";
import { TRANSCRIPT_GAP_MS } from "../src/live/transcript_lines.ts";
import type { LiveFunctionTool } from "../src/live/events.ts";
import { THINKING_AFTER_MS } from "../src/call/thinking_sound.ts";
import { endCall } from "../src/tools/end_call.ts";
import { ToolBox } from "../src/tools/toolbox.ts";
import {
  CALL_SID,
  FakeClock,
  FakeTwilio,
  FakeUpstream,
} from "./helpers/bridge_harness.ts";
import { memoryLogger } from "./helpers/logs.ts";

/** 20 ms of a loud µ-law sample: speech, not silence. */
const CHUNK_20MS = new Uint8Array(160).fill(0x10).toBase64();
/** 20 ms of µ-law silence (0xff decodes to 0). */
const SILENCE_20MS = new Uint8Array(160).fill(0xff).toBase64();
const SESSION = {
  id: "sess_1",
  expires_at: 0,
  model: "gpt-live-1",
  status: "active" as const,
};

function setUp(
  options: { remoteTools?: RemoteTools; greeting?: string; started?: boolean } =
    {},
) {
  const clock = new FakeClock();
  const twilio = new FakeTwilio();
  const upstream = new FakeUpstream<LiveWireEvent>();
  const logs = memoryLogger();
  const observed: { kind: string; value: unknown }[] = [];
  const engine = new LiveEngine(upstream, {
    logger: logs,
    clock,
    tools: new ToolBox([endCall]),
    callSid: CALL_SID,
    remoteTools: options.remoteTools,
    greeting: options.greeting,
  });
  const bridge = new CallBridge({
    twilio,
    engine,
    clock,
    expectedCallSid: CALL_SID,
    logger: logs,
    limits: { maxCallMs: 60_000, startTimeoutMs: 10_000 },
    observer: {
      transcript: (role, text) => observed.push({ kind: role, value: text }),
      toolCall: (call) => observed.push({ kind: "tool", value: call }),
      mcpToolsUnavailable: (server) =>
        observed.push({ kind: "tools_unavailable", value: server }),
      usage: (report) => observed.push({ kind: "usage", value: report }),
      ended: (summary) => observed.push({ kind: "ended", value: summary }),
    },
  });
  twilio.start(CALL_SID);
  if (options.started !== false) started(upstream);
  return { bridge, clock, twilio, upstream, logs, observed, engine };
}

function started(upstream: FakeUpstream<LiveWireEvent>): void {
  upstream.emit({ type: "session.started", session: SESSION });
}

function audio(
  upstream: FakeUpstream<LiveWireEvent>,
  delta = CHUNK_20MS,
): void {
  upstream.emit({ type: "session.output_audio.delta", delta });
}

function functionCall(
  upstream: FakeUpstream<LiveWireEvent>,
  callId: string,
  name: string,
  args = "{}",
  delegationId = "item_d1",
): void {
  // As the API sends it: the nested ResponseOutputItemDoneEvent has no
  // response id; the outer delegation_id correlates it.
  upstream.emit({
    type: "response.event",
    delegation_id: delegationId,
    event: {
      type: "response.output_item.done",
      output_index: 0,
      sequence_number: 3,
      item: {
        type: "function_call",
        id: `fc_${callId}`,
        call_id: callId,
        name,
        arguments: args,
        status: "completed",
      },
    },
  });
}

function responseCompleted(
  upstream: FakeUpstream<LiveWireEvent>,
  delegationId: string | null = "item_d1",
  responseId = "resp_b1",
): void {
  upstream.emit({
    type: "response.event",
    delegation_id: delegationId,
    event: {
      type: "response.completed",
      response: { id: responseId, status: "completed" },
    },
  });
}

function delegationCreated(
  upstream: FakeUpstream<LiveWireEvent>,
  delegationId = "item_d1",
  responseId = "resp_b1",
): void {
  upstream.emit({
    type: "session.delegation.created",
    offset_ms: 0,
    delegation: {
      id: delegationId,
      type: "delegation",
      target: "responses",
      response_id: responseId,
    },
  });
}

function endedWith(observed: { kind: string; value: unknown }[]) {
  return observed.find((o) => o.kind === "ended")?.value as
    | CallSummary
    | undefined;
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("live: no caller audio goes before session.started; held audio follows in order", async () => {
  const { twilio, upstream } = setUp({ started: false });
  const frames = [1, 2, 3].map((n) => new Uint8Array(160).fill(n).toBase64());
  for (const payload of frames) {
    twilio.receive({
      event: "media",
      sequenceNumber: "2",
      streamSid: "MZ00000000000000000000000000000001",
      media: { track: "inbound", chunk: "1", timestamp: "0", payload },
    });
  }
  assert.equal(upstream.ofType("session.input_audio.append").length, 0);
  started(upstream);
  await settle();
  assert.deepEqual(
    upstream.ofType("session.input_audio.append").map((e) => e.audio),
    frames,
  );
});

Deno.test("live: the greeting goes in as commentary once the session has started", () => {
  const { upstream } = setUp({ greeting: "Hi boss", started: false });
  assert.equal(upstream.ofType("session.commentary.append").length, 0);
  started(upstream);
  assert.deepEqual(upstream.ofType("session.commentary.append"), [{
    type: "session.commentary.append",
    content: liveGreeting("Hi boss"),
    delegation_id: null,
  }]);
});

Deno.test("live: assistant audio is paced: only the playback window is queued at Twilio", () => {
  const { twilio, upstream } = setUp();
  for (let i = 0; i < 100; i++) audio(upstream);
  assert.equal(twilio.mediaBytes(), LIVE_PLAYBACK_WINDOW_MS * 8);
});

Deno.test("live: a function call is answered, then one response.create once the backend response is done", async () => {
  const remote: RemoteTools = {
    list: () => Promise.resolve([]),
    call: (name) =>
      Promise.resolve({ ok: true, output: `${name}: 2 tasks due today` }),
  };
  const { upstream, observed } = setUp({ remoteTools: remote });
  functionCall(upstream, "call_1", "todoist_find_tasks");
  functionCall(upstream, "call_2", "gmail_find_email");
  await settle();
  assert.deepEqual(
    upstream.ofType("response.item.create").map((e) =>
      (e.item as { call_id: string }).call_id
    ),
    ["call_1", "call_2"],
  );
  assert.equal(upstream.ofType("response.create").length, 0);
  responseCompleted(upstream);
  assert.equal(upstream.ofType("response.create").length, 1);
  assert.deepEqual(
    observed.filter((o) => o.kind === "tool").map((o) =>
      (o.value as { name: string }).name
    ),
    ["todoist_find_tasks", "gmail_find_email"],
  );
});

Deno.test("live: response.create goes the moment the last output of the delegation is in, with no timer", async () => {
  const remote: RemoteTools = {
    list: () => Promise.resolve([]),
    call: () => Promise.resolve({ ok: true, output: "x" }),
  };
  const { upstream } = setUp({ remoteTools: remote });
  delegationCreated(upstream);
  functionCall(upstream, "call_1", "todoist_find_tasks");
  functionCall(upstream, "call_2", "gmail_find_email");
  responseCompleted(upstream);
  await settle();
  assert.equal(upstream.ofType("response.item.create").length, 2);
  // No clock advance: nothing waits for a settle time.
  assert.equal(upstream.ofType("response.create").length, 1);
});

Deno.test("live: a terminal event without delegation_id is matched through session.delegation.created", async () => {
  const { upstream } = setUp();
  delegationCreated(upstream, "item_d7", "resp_7");
  functionCall(upstream, "call_1", "end_call", "{}", "item_d7");
  await settle();
  assert.equal(upstream.ofType("response.create").length, 0);
  responseCompleted(upstream, null, "resp_7");
  assert.equal(upstream.ofType("response.create").length, 1);
});

Deno.test("live: speech queued when a tool starts is played, never cleared as the thinking sound", async () => {
  const slow = Promise.withResolvers<{ ok: true; output: string }>();
  const remote: RemoteTools = {
    list: () => Promise.resolve([]),
    call: () => slow.promise,
  };
  const { upstream, twilio, clock } = setUp({ remoteTools: remote });
  // "One moment, let me look": the playback window fills, the rest is held.
  for (let i = 0; i < 30; i++) audio(upstream);
  assert.equal(twilio.mediaBytes(), LIVE_PLAYBACK_WINDOW_MS * 8);
  functionCall(upstream, "call_1", "todoist_find_tasks");
  await settle();
  // The model goes on speaking while the tool runs.
  audio(upstream);
  clock.advance(THINKING_AFTER_MS);
  for (let i = 0; i < 40; i++) {
    clock.advance(20);
    twilio.playAll();
  }
  assert.equal(twilio.sent.filter((m) => m.event === "clear").length, 0);
  const speech = twilio.sent.filter((m) =>
    m.event === "media" &&
    (m.media as { payload: string }).payload === CHUNK_20MS
  );
  assert.equal(speech.length, 31);
  slow.resolve({ ok: true, output: "x" });
  await settle();
});

Deno.test("live: response.create waits for a slow tool's output", async () => {
  const slow = Promise.withResolvers<{ ok: true; output: string }>();
  const remote: RemoteTools = {
    list: () => Promise.resolve([]),
    call: (name) =>
      name === "slow"
        ? slow.promise
        : Promise.resolve({ ok: true, output: "x" }),
  };
  const { upstream } = setUp({ remoteTools: remote });
  functionCall(upstream, "call_1", "fast");
  functionCall(upstream, "call_2", "slow");
  responseCompleted(upstream);
  await settle();
  assert.equal(upstream.ofType("response.item.create").length, 1);
  assert.equal(upstream.ofType("response.create").length, 0);
  slow.resolve({ ok: true, output: "done" });
  await settle();
  assert.equal(upstream.ofType("response.item.create").length, 2);
  assert.equal(upstream.ofType("response.create").length, 1);
});

Deno.test("live: a failing tool's error is the function output and is journaled with its type", async () => {
  const remote: RemoteTools = {
    list: () => Promise.resolve([]),
    call: () =>
      Promise.resolve({
        ok: false,
        error: "timed out after 15000 ms",
        errorType: "timeout",
      }),
  };
  const { upstream, observed } = setUp({ remoteTools: remote });
  functionCall(upstream, "call_1", "gmail_send_email");
  await settle();
  const [output] = upstream.ofType("response.item.create");
  assert.deepEqual(
    JSON.parse((output.item as { output: string }).output),
    { ok: false, error: "timed out after 15000 ms", errorType: "timeout" },
  );
  responseCompleted(upstream);
  assert.equal(upstream.ofType("response.create").length, 1);
  assert.deepEqual(observed.find((o) => o.kind === "tool")?.value, {
    name: "gmail_send_email",
    server: "zapier",
    failed: true,
    errorType: "timeout",
    // Kept for a resumed session's context, not journaled.
    result: JSON.stringify({
      ok: false,
      error: "timed out after 15000 ms",
      errorType: "timeout",
    }),
  });
});

Deno.test("live: Zapier's tools are offered to the backend with session.update once listed", async () => {
  const zapierTools: LiveFunctionTool[] = [{
    type: "function",
    name: "todoist_find_tasks",
    description: "Find tasks",
    parameters: { type: "object", properties: {} },
  }];
  const { upstream } = setUp({
    remoteTools: {
      list: () => Promise.resolve(zapierTools),
      call: () => Promise.resolve({ ok: true, output: "" }),
    },
  });
  await settle();
  const [update] = upstream.ofType("session.update");
  const tools = (update.session as {
    delegation: { responses: { tools: { name: string }[] } };
  }).delegation.responses.tools;
  assert.deepEqual(tools.map((t) => t.name), [
    "end_call",
    "todoist_find_tasks",
  ]);
});

Deno.test("live: a failed tool list is journaled and the model is told, silently", async () => {
  const { upstream, observed } = setUp({
    remoteTools: {
      list: () => Promise.reject(new Error("401")),
      call: () => Promise.resolve({ ok: true, output: "" }),
    },
  });
  await settle();
  assert.deepEqual(
    observed.filter((o) => o.kind === "tools_unavailable").map((o) => o.value),
    ["zapier"],
  );
  assert.deepEqual(
    upstream.ofType("session.thinking.append").map((e) => e.content),
    [liveToolsUnavailableNote("zapier")],
  );
});

Deno.test("live: end_call ends the call after the goodbye has been spoken and played, then session.close", async () => {
  const { upstream, observed, clock, twilio } = setUp();
  functionCall(upstream, "call_end", "end_call");
  await settle();
  responseCompleted(upstream);
  assert.equal(upstream.ofType("response.create").length, 1);
  for (let i = 0; i < 10; i++) audio(upstream);
  clock.advance(GOODBYE_QUIET_MS - 100);
  audio(upstream);
  clock.advance(GOODBYE_QUIET_MS - 100);
  assert.equal(endedWith(observed), undefined, "still speaking");
  clock.advance(200);
  assert.equal(endedWith(observed), undefined, "still playing at Twilio");
  const acked = new Set<string>();
  for (;;) {
    const mark = twilio.sent.find((m) =>
      m.event === "mark" && !acked.has((m.mark as { name: string }).name)
    );
    if (!mark) break;
    acked.add((mark.mark as { name: string }).name);
    twilio.receive({
      event: "mark",
      streamSid: "MZ00000000000000000000000000000001",
      sequenceNumber: "9",
      mark: mark.mark as { name: string },
    });
  }
  assert.equal(twilio.mediaBytes(), 11 * 160, "the whole goodbye was sent");
  assert.equal(endedWith(observed)?.reason, "assistant ended the call");
  assert.equal(upstream.ofType("session.close").length, 1);
  assert.ok(upstream.wasClosed);
});

Deno.test("live: a goodbye that never starts still ends the call after its bound", () => {
  const { bridge, upstream, observed, clock } = setUp();
  bridge.hangUp("call time limit", TIME_LIMIT_GOODBYE);
  assert.deepEqual(
    upstream.ofType("session.commentary.append").map((e) => e.content),
    [TIME_LIMIT_GOODBYE],
  );
  clock.advance(GOODBYE_START_MS + 1);
  assert.equal(endedWith(observed)?.reason, "call time limit");
});

Deno.test("live: each session.closed reason and a dropped socket end the call", () => {
  for (
    const reason of [
      "expired",
      "content",
      "remote_hangup",
      "connection_lost",
    ] as const
  ) {
    const { upstream, observed, twilio } = setUp();
    upstream.emit({
      type: "session.closed",
      reason,
      session: SESSION,
      usage: { seconds: 12 },
    });
    const ended = endedWith(observed);
    assert.equal(ended?.reason, "upstream closed", reason);
    assert.match(ended?.detail ?? "", new RegExp(reason));
    assert.ok(twilio.closed);
  }
  const { upstream, observed } = setUp();
  upstream.dropped("upstream closed (1006)");
  assert.equal(endedWith(observed)?.reason, "upstream closed");
});

Deno.test("live: transcript deltas are grouped into caller and assistant lines", () => {
  const { upstream, observed, clock } = setUp();
  const delta = (
    type: "session.input_transcript.delta" | "session.output_transcript.delta",
    text: string,
  ) => upstream.emit({ type, delta: text, start_ms: 0, end_ms: 0 });
  delta("session.input_transcript.delta", "What's on ");
  delta("session.input_transcript.delta", "my list?");
  delta("session.output_transcript.delta", "Two tasks: ");
  delta("session.output_transcript.delta", "milk and bread.");
  clock.advance(TRANSCRIPT_GAP_MS + 1);
  delta("session.output_transcript.delta", "Anything else?");
  clock.advance(TRANSCRIPT_GAP_MS + 1);
  assert.deepEqual(
    observed.filter((o) => o.kind !== "ended").map((o) => [o.kind, o.value]),
    [
      ["caller", "What's on my list?"],
      ["assistant", "Two tasks: milk and bread."],
      ["assistant", "Anything else?"],
    ],
  );
});

Deno.test("live: key presses go in as commentary", () => {
  const { twilio, upstream, clock } = setUp();
  twilio.dtmf("4");
  twilio.dtmf("2");
  clock.advance(2000);
  const [note] = upstream.ofType("session.commentary.append");
  assert.match(String(note.content), /42/);
});

Deno.test("live: the Twilio side hanging up closes the session (session.close, socket closed)", () => {
  const { twilio, upstream, observed } = setUp();
  twilio.hangUp();
  assert.equal(endedWith(observed)?.reason, "media stream closed");
  assert.equal(upstream.ofType("session.close").length, 1);
  assert.ok(upstream.wasClosed);
});

Deno.test("live: silence streamed after the goodbye does not keep the call open", () => {
  const { bridge, upstream, observed, clock, twilio } = setUp();
  bridge.hangUp("call time limit", TIME_LIMIT_GOODBYE);
  for (let i = 0; i < 5; i++) audio(upstream);
  // Silence keeps streaming, and Twilio plays everything it is sent.
  for (let i = 0; i < 200 && !endedWith(observed); i++) {
    audio(upstream, SILENCE_20MS);
    clock.advance(20);
    twilio.playAll();
  }
  assert.equal(endedWith(observed)?.reason, "call time limit");
  assert.ok(
    clock.now() < GOODBYE_QUIET_MS + 1000,
    `ended at ${clock.now()} ms`,
  );
});

Deno.test("live: Zapier's tools and the note that they are unavailable both wait for session.started", async () => {
  for (const fails of [false, true]) {
    const { upstream } = setUp({
      started: false,
      remoteTools: {
        list: () =>
          fails ? Promise.reject(new Error("down")) : Promise.resolve([]),
        call: () => Promise.resolve({ ok: true, output: "" }),
      },
    });
    await settle();
    assert.deepEqual(upstream.types(), [], "nothing before session.started");
    started(upstream);
    await settle();
    assert.deepEqual(upstream.types(), [
      fails ? "session.thinking.append" : "session.update",
    ]);
  }
});

Deno.test("live: a call that ends before session.closed still bills the session's elapsed seconds, before the call's end is recorded", () => {
  const { twilio, upstream, observed, clock } = setUp({ started: false });
  clock.advance(500);
  started(upstream);
  upstream.emit({ type: "session.usage.updated", usage: { seconds: 30 } });
  clock.advance(42_000);
  twilio.hangUp();
  const kinds = observed.map((o) => o.kind);
  const usages = observed.filter((o) => o.kind === "usage")
    .map((o) => (o.value as { seconds?: number }).seconds);
  assert.deepEqual(usages, [30, 42]);
  assert.ok(kinds.lastIndexOf("usage") < kinds.indexOf("ended"));
});
