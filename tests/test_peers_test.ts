/**
 * Self-tests for the protocol peers in peers/: they must behave like
 * OpenAI Realtime (GA) and Twilio Media Streams, since the end-to-end tests
 * trust them. Only the peers and tiny inline clients/servers are used here.
 */
import assert from "node:assert/strict";
import twilio from "twilio";
import type * as Realtime from "openai/resources/realtime/realtime";
import {
  CLIENT_EVENTS,
  DEFAULT_MODEL,
  defaultSession,
  FakeRealtime,
  type FakeRealtimeSession,
  isObject,
  type JsonObject,
  TRANSCRIPTION_MODELS,
} from "../peers/realtime/mod.ts";
import { obj, opt, req, str } from "../peers/schema.ts";
import { TwilioEdge } from "../peers/twilio_edge.ts";
import { mulawToLinear, VoiceActivity } from "../peers/voice_activity.ts";

// --- tiny inline peers ------------------------------------------------------

/** Polls `check` every 5 ms; the timer is always cleared. */
function waitUntil(check: () => boolean, what: string, timeoutMs = 2000) {
  return new Promise<void>((resolve, reject) => {
    const start = performance.now();
    const poll = () => {
      if (check()) return resolve();
      if (performance.now() - start > timeoutMs) {
        return reject(new Error(`timed out waiting for ${what}`));
      }
      setTimeout(poll, 5);
    };
    poll();
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function field(obj: unknown, ...path: string[]): unknown {
  let value = obj;
  for (const key of path) value = isObject(value) ? value[key] : undefined;
  return value;
}

const AUTH = { Authorization: "Bearer sk-test" };

/** A minimal Realtime client: what our bridge does, without its logic. */
class RealtimeClient {
  readonly events: JsonObject[] = [];
  readonly binary: unknown[] = [];
  readonly closed: Promise<CloseEvent>;
  #consumed = new Set<JsonObject>();

  private constructor(readonly socket: WebSocket) {
    socket.onmessage = (ev) => {
      if (typeof ev.data === "string") this.events.push(JSON.parse(ev.data));
      else this.binary.push(ev.data);
    };
    this.closed = new Promise((r) => socket.addEventListener("close", r));
  }

  static open(url: string, headers: Record<string, string> = AUTH) {
    const client = new RealtimeClient(new WebSocket(url, { headers }));
    return new Promise<RealtimeClient>((resolve, reject) => {
      client.socket.onopen = () => resolve(client);
      client.socket.onerror = () => reject(new Error("handshake refused"));
    });
  }

  /** The first event of `type` not returned before. */
  async next(type: string, timeoutMs = 2000): Promise<JsonObject> {
    const find = () =>
      this.events.find((e) => e.type === type && !this.#consumed.has(e));
    await waitUntil(() => find() !== undefined, `'${type}'`, timeoutMs);
    const event = find()!;
    this.#consumed.add(event);
    return event;
  }

  /** The first event of `type` matching `where`, not returned before. */
  async nextWhere(
    type: string,
    where: (e: JsonObject) => boolean,
    timeoutMs = 2000,
  ): Promise<JsonObject> {
    const find = () =>
      this.events.find((e) =>
        e.type === type && !this.#consumed.has(e) && where(e)
      );
    await waitUntil(() => find() !== undefined, `'${type}'`, timeoutMs);
    const event = find()!;
    this.#consumed.add(event);
    return event;
  }

  send(event: JsonObject) {
    this.socket.send(JSON.stringify(event));
  }

  types(): unknown[] {
    return this.events.map((e) => e.type);
  }

  async close() {
    this.socket.close(1000);
    await this.closed;
  }
}

/** Opens a socket and reports whether the handshake was refused. */
function handshakeRefused(url: string, headers: Record<string, string>) {
  const ws = new WebSocket(url, { headers });
  return new Promise<boolean>((resolve) => {
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ws.close();
    };
    ws.onclose = () => resolve(!opened);
  });
}

async function httpStatus(url: string, headers: Record<string, string>) {
  const res = await fetch(url.replace(/^ws:/, "http:"), { headers });
  const body = await res.json();
  return { status: res.status, body };
}

/** Starts a fake, connects a client, and hands both to `fn`; cleans up. */
async function withSession(
  fn: (s: FakeRealtimeSession, c: RealtimeClient, f: FakeRealtime) => Promise<
    void
  >,
  options: Parameters<typeof FakeRealtime.start>[0] = {},
  model = DEFAULT_MODEL,
) {
  const fake = await FakeRealtime.start(options);
  const client = await RealtimeClient.open(fake.urlWithModel(model));
  try {
    const session = await fake.nextSession();
    await client.next("session.created");
    await fn(session, client, fake);
  } finally {
    await client.close();
    await fake.close();
  }
}

const PCMU_SESSION = {
  type: "realtime",
  audio: {
    input: { format: { type: "audio/pcmu" } },
    output: { format: { type: "audio/pcmu" }, voice: "alloy" },
  },
};

async function usePcmu(client: RealtimeClient) {
  client.send({ type: "session.update", session: PCMU_SESSION });
  await client.next("session.updated");
}

function audioOf(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + 3) % 256);
}

// --- FakeRealtime -------------------------------------------------------------

Deno.test("FakeRealtime refuses a handshake without the bearer key", async () => {
  const fake = await FakeRealtime.start();
  try {
    const { status, body } = await httpStatus(fake.url, {});
    assert.equal(status, 401);
    assert.equal(field(body, "error", "type"), "invalid_request_error");
    assert.equal(await handshakeRefused(fake.url, {}), true);
    assert.equal(
      await handshakeRefused(fake.url, { Authorization: "Bearer sk-wrong" }),
      true,
    );
    assert.equal(fake.handshakes, 3);
    assert.equal(fake.sessions.length, 0);
  } finally {
    await fake.close();
  }
});

Deno.test("FakeRealtime refuses the retired OpenAI-Beta header and a missing model with 400", async () => {
  const fake = await FakeRealtime.start({ apiKey: "sk-other" });
  try {
    const key = { Authorization: "Bearer sk-other" };
    const beta = { ...key, "OpenAI-Beta": "realtime=v1" };
    assert.equal((await httpStatus(fake.url, beta)).status, 400);
    assert.equal(await handshakeRefused(fake.url, beta), true);
    // `url` carries no model: the client must add `?model=` itself.
    assert.equal(new URL(fake.url).search, "");
    const noModel = await httpStatus(fake.url, key);
    assert.equal(noModel.status, 400);
    assert.deepEqual(noModel.body, {
      error: {
        message: "Missing required parameter: 'model'.",
        type: "invalid_request_error",
        param: "model",
        code: "missing_required_parameter",
      },
    });
    assert.equal(await handshakeRefused(fake.url, key), true);
    assert.equal(fake.sessions.length, 0);
    assert.equal(await handshakeRefused(fake.urlWithModel(), key), false);
    assert.equal(fake.sessions.length, 1);
  } finally {
    await fake.close();
  }
});

Deno.test("FakeRealtime refuses every handshake with the configured handshakeStatus", async () => {
  const fake = await FakeRealtime.start({ handshakeStatus: 429 });
  try {
    assert.equal((await httpStatus(fake.url, AUTH)).status, 429);
    assert.equal(await handshakeRefused(fake.url, AUTH), true);
    assert.equal(fake.handshakes, 2);
    await assert.rejects(fake.nextSession(50), /no Realtime session/);
  } finally {
    await fake.close();
  }
});

Deno.test("FakeRealtime delays accepting the handshake by handshakeDelayMs", async () => {
  const fake = await FakeRealtime.start({ handshakeDelayMs: 150 });
  const started = performance.now();
  const client = await RealtimeClient.open(fake.urlWithModel());
  try {
    assert.ok(performance.now() - started >= 140);
  } finally {
    await client.close();
    await fake.close();
  }
});

Deno.test("FakeRealtime sends a GA session.created and records the handshake", async () => {
  await withSession((session, client) => {
    const created = client.events[0];
    assert.equal(created.type, "session.created");
    assert.equal(typeof created.event_id, "string");
    const s = created.session;
    assert.equal(field(s, "type"), "realtime");
    assert.equal(field(s, "object"), "realtime.session");
    assert.match(String(field(s, "id")), /^sess_/);
    assert.equal(field(s, "model"), "gpt-realtime-2.1");
    assert.deepEqual(field(s, "output_modalities"), ["audio"]);
    assert.deepEqual(field(s, "audio", "input", "format"), {
      type: "audio/pcm",
      rate: 24000,
    });
    assert.equal(field(s, "audio", "output", "voice"), "alloy");
    assert.equal(session.headers.get("authorization"), "Bearer sk-test");
    assert.match(
      session.requestUrl,
      /\/v1\/realtime\?model=gpt-realtime-2\.1$/,
    );
    assert.equal(session.interruptResponse, true);
    return Promise.resolve();
  });
});

Deno.test("FakeRealtime rejects beta-era session.update fields like the GA API", async () => {
  await withSession(async (session, client) => {
    const before = structuredClone(session.session);
    const cases: Array<[JsonObject, string, string]> = [
      [
        { type: "realtime", modalities: ["audio"] },
        "unknown_parameter",
        "session.modalities",
      ],
      [
        { type: "realtime", input_audio_format: "g711_ulaw" },
        "unknown_parameter",
        "session.input_audio_format",
      ],
      [
        { type: "realtime", voice: "alloy" },
        "unknown_parameter",
        "session.voice",
      ],
      [
        { type: "realtime", turn_detection: { type: "server_vad" } },
        "unknown_parameter",
        "session.turn_detection",
      ],
      [
        { type: "realtime", audio: { input: { format: "audio/pcmu" } } },
        "invalid_type",
        "session.audio.input.format",
      ],
      [{ modalities: ["audio"] }, "missing_required_parameter", "session.type"],
    ];
    for (const [i, [patch, code, param]] of cases.entries()) {
      client.send({
        type: "session.update",
        event_id: `evt_${i}`,
        session: patch,
      });
      const error = await client.next("error");
      assert.deepEqual(
        {
          type: field(error, "error", "type"),
          code: field(error, "error", "code"),
          param: field(error, "error", "param"),
          event_id: field(error, "error", "event_id"),
        },
        { type: "invalid_request_error", code, param, event_id: `evt_${i}` },
      );
    }
    assert.equal(session.errorsSent.length, cases.length);
    assert.deepEqual(session.session, before);
    assert.ok(!client.types().includes("session.updated"));
  });
});

Deno.test("FakeRealtime merges a GA session.update and answers with the full session", async () => {
  await withSession(async (session, client) => {
    client.send({
      type: "session.update",
      session: {
        ...PCMU_SESSION,
        instructions: "Be brief.",
        audio: {
          ...PCMU_SESSION.audio,
          input: {
            ...PCMU_SESSION.audio.input,
            turn_detection: { type: "server_vad", interrupt_response: false },
          },
        },
      },
    });
    const updated = await client.next("session.updated");
    assert.deepEqual(updated.session, session.session);
    assert.equal(field(updated.session, "instructions"), "Be brief.");
    assert.deepEqual(field(updated.session, "audio", "input", "format"), {
      type: "audio/pcmu",
    });
    assert.equal(field(updated.session, "audio", "output", "voice"), "alloy");
    assert.equal(field(updated.session, "model"), "gpt-realtime-2.1");
    // Fields the update left out keep their values; turn detection defaults fill in.
    assert.equal(
      field(
        updated.session,
        "audio",
        "input",
        "turn_detection",
        "create_response",
      ),
      true,
    );
    assert.equal(session.interruptResponse, false);
    assert.equal(
      (await session.waitFor("session.update")).type,
      "session.update",
    );
  });
});

Deno.test("FakeRealtime refuses to change the voice once audio has been output", async () => {
  await withSession(async (session, client) => {
    const voice = (v: string) => ({
      type: "session.update",
      session: { type: "realtime", audio: { output: { voice: v } } },
    });
    client.send(voice("ash"));
    await client.next("session.updated");
    await session.speak(audioOf(100)).done;
    client.send(voice("ash")); // unchanged: allowed
    await client.next("session.updated");
    client.send(voice("verse"));
    const error = await client.next("error");
    assert.equal(field(error, "error", "code"), "cannot_update_voice");
    assert.equal(field(session.session, "audio", "output", "voice"), "ash");
  });
});

Deno.test("FakeRealtime speak() streams the GA response event sequence with bit-exact audio", async () => {
  await withSession(async (session, client) => {
    const audio = audioOf(2000);
    const handle = session.speak(audio, { transcript: "Hello there." });
    assert.match(handle.responseId, /^resp_/);
    assert.match(handle.itemId, /^item_/);
    assert.equal(await handle.done, "completed");
    const done = await client.next("response.done");
    const events = client.events.slice(1);
    assert.deepEqual(events.map((e) => e.type), [
      "response.created",
      "response.output_item.added",
      "conversation.item.added",
      "response.content_part.added",
      "response.output_audio_transcript.delta",
      "response.output_audio.delta",
      "response.output_audio.delta",
      "response.output_audio.delta",
      "response.output_audio.done",
      "response.output_audio_transcript.done",
      "response.content_part.done",
      "response.output_item.done",
      "conversation.item.done",
      "response.done",
    ]);
    assert.ok(events.every((e) => typeof e.event_id === "string"));
    const created = events[0];
    assert.equal(field(created, "response", "object"), "realtime.response");
    assert.equal(field(created, "response", "status"), "in_progress");
    assert.deepEqual(field(created, "response", "output"), []);
    assert.deepEqual(field(events[1], "item", "role"), "assistant");
    assert.deepEqual(field(events[1], "item", "type"), "message");

    const deltas = events.filter((e) =>
      e.type === "response.output_audio.delta"
    );
    for (const d of deltas) {
      assert.equal(d.response_id, handle.responseId);
      assert.equal(d.item_id, handle.itemId);
      assert.equal(d.output_index, 0);
      assert.equal(d.content_index, 0);
    }
    const decoded = deltas.map((d) => Uint8Array.fromBase64(String(d.delta)));
    assert.deepEqual(decoded.map((c) => c.length), [800, 800, 400]);
    const joined = new Uint8Array(2000);
    decoded.reduce(
      (offset, c) => (joined.set(c, offset), offset + c.length),
      0,
    );
    assert.deepEqual(joined, audio);

    assert.equal(field(done, "response", "id"), handle.responseId);
    assert.equal(field(done, "response", "status"), "completed");
    // Optional, not nullable, in the openai types: absent when completed.
    assert.equal(field(done, "response", "status_details"), undefined);
    const output = field(done, "response", "output");
    assert.ok(Array.isArray(output));
    assert.equal(field(output[0], "id"), handle.itemId);
    assert.equal(field(output[0], "status"), "completed");
  });
});

Deno.test("FakeRealtime records appended input audio in order and refuses bad base64", async () => {
  await withSession(async (session, client) => {
    const a = audioOf(160);
    const b = audioOf(320).reverse();
    client.send({ type: "input_audio_buffer.append", audio: a.toBase64() });
    client.send({
      type: "input_audio_buffer.append",
      audio: "%%not base64%%",
      event_id: "bad",
    });
    client.send({ type: "input_audio_buffer.append", audio: b.toBase64() });
    const error = await client.next("error");
    assert.equal(field(error, "error", "event_id"), "bad");
    await session.waitFor("input_audio_buffer.append");
    await session.waitFor("input_audio_buffer.append");
    await session.waitFor("input_audio_buffer.append");
    const expected = new Uint8Array(480);
    expected.set(a);
    expected.set(b, 160);
    assert.deepEqual(session.inputAudio(), expected);
    assert.equal(session.received.length, 3);
  });
});

Deno.test("FakeRealtime refuses a truncate beyond the audio sent with the API's exact message", async () => {
  await withSession(async (session, client) => {
    await usePcmu(client);
    const { itemId, done } = session.speak(audioOf(1600)); // 200 ms of µ-law
    await done;
    client.send({
      type: "conversation.item.truncate",
      event_id: "trunc_1",
      item_id: itemId,
      content_index: 0,
      audio_end_ms: 250,
    });
    const error = await client.next("error");
    assert.deepEqual(error.error, {
      type: "invalid_request_error",
      code: "invalid_value",
      message: "Audio content of 200ms is already shorter than 250ms",
      param: "audio_end_ms",
      event_id: "trunc_1",
    });
    assert.ok(!client.types().includes("conversation.item.truncated"));

    client.send({
      type: "conversation.item.truncate",
      item_id: itemId,
      content_index: 0,
      audio_end_ms: 120,
    });
    const truncated = await client.next("conversation.item.truncated");
    assert.deepEqual(
      [truncated.item_id, truncated.content_index, truncated.audio_end_ms],
      [itemId, 0, 120],
    );
    assert.deepEqual(session.truncations, [
      { itemId, audioEndMs: 250, sentMs: 200, accepted: false },
      { itemId, audioEndMs: 120, sentMs: 200, accepted: true },
    ]);

    client.send({
      type: "conversation.item.truncate",
      item_id: "item_nope",
      content_index: 0,
      audio_end_ms: 0,
    });
    const missing = await client.next("error");
    assert.equal(
      field(missing, "error", "code"),
      "item_truncate_invalid_item_id",
    );
  });
});

Deno.test("FakeRealtime answers response.cancel with nothing active with response_cancel_not_active", async () => {
  await withSession(async (session, client) => {
    client.send({ type: "response.cancel", event_id: "cancel_1" });
    const error = await client.next("error");
    assert.equal(field(error, "error", "type"), "invalid_request_error");
    assert.equal(field(error, "error", "code"), "response_cancel_not_active");
    assert.equal(field(error, "error", "event_id"), "cancel_1");
    assert.equal(session.errorsSent.length, 1);
  });
});

Deno.test("FakeRealtime response.cancel stops the deltas at once and reports client_cancelled", async () => {
  await withSession(async (session, client) => {
    const handle = session.speak(audioOf(8000), {
      chunkBytes: 160,
      intervalMs: 10,
    });
    await client.next("response.output_audio.delta");
    client.send({ type: "response.cancel" });
    assert.equal(await handle.done, "cancelled");
    const done = await client.next("response.done");
    assert.equal(field(done, "response", "status"), "cancelled");
    assert.deepEqual(field(done, "response", "status_details"), {
      type: "cancelled",
      reason: "client_cancelled",
    });
    const deltas = () =>
      client.types().filter((t) => t === "response.output_audio.delta").length;
    const count = deltas();
    assert.ok(count < 50, `only part of the audio was sent (${count} deltas)`);
    await delay(40);
    assert.equal(deltas(), count, "no delta after response.done");
  });
});

Deno.test("FakeRealtime speechStarted cancels the response itself (turn_detected), so a later cancel is not active", async () => {
  await withSession(async (session, client) => {
    client.send({
      type: "input_audio_buffer.append",
      audio: audioOf(480).toBase64(),
    });
    await session.waitFor("input_audio_buffer.append");
    const handle = session.speak(audioOf(8000), {
      chunkBytes: 160,
      intervalMs: 10,
    });
    await client.next("response.output_audio.delta");
    session.speechStarted();
    const started = await client.next("input_audio_buffer.speech_started");
    assert.equal(started.audio_start_ms, 10); // 480 bytes of 24 kHz pcm16
    assert.match(String(started.item_id), /^item_/);
    assert.equal(await handle.done, "cancelled");
    const done = await client.next("response.done");
    assert.equal(
      field(done, "response", "status_details", "reason"),
      "turn_detected",
    );
    client.send({ type: "response.cancel" });
    assert.equal(
      field(await client.next("error"), "error", "code"),
      "response_cancel_not_active",
    );
    session.speechStopped();
    const stopped = await client.next("input_audio_buffer.speech_stopped");
    assert.equal(stopped.item_id, started.item_id);
    assert.equal(
      (await client.next("input_audio_buffer.committed")).item_id,
      started.item_id,
    );
  });
});

Deno.test("FakeRealtime keeps speaking through speechStarted when interrupt_response is off", async () => {
  await withSession(async (session, client) => {
    session.interruptResponse = false;
    const handle = session.speak(audioOf(4000), {
      chunkBytes: 160,
      intervalMs: 5,
    });
    await client.next("response.output_audio.delta");
    session.speechStarted();
    await client.next("input_audio_buffer.speech_started");
    client.send({ type: "response.cancel" });
    assert.equal(await handle.done, "cancelled");
    const done = await client.next("response.done");
    assert.equal(
      field(done, "response", "status_details", "reason"),
      "client_cancelled",
    );
  });
});

Deno.test("FakeRealtime answers unknown events, non-JSON and binary frames with errors and keeps going", async () => {
  await withSession(async (session, client) => {
    client.send({ type: "response.explode", event_id: "x1" });
    client.socket.send("{not json");
    client.socket.send(new Uint8Array([1, 2, 3]));
    client.send({ no_type: true });
    for (let i = 0; i < 4; i++) await client.next("error");
    const unknown = session.errorsSent[0].error;
    assert.equal(field(unknown, "code"), "invalid_value");
    assert.equal(field(unknown, "param"), "type");
    assert.equal(field(unknown, "event_id"), "x1");
    assert.equal(session.errorsSent.length, 4);
    // Still serving after bad input.
    client.send({ type: "response.cancel" });
    assert.equal(
      field(await client.next("error"), "error", "code"),
      "response_cancel_not_active",
    );
  });
});

Deno.test("FakeRealtime response.create gives an empty response, or runs the onResponseCreate hook", async () => {
  await withSession(async (_session, client) => {
    client.send({ type: "response.create" });
    await client.next("response.created");
    const done = await client.next("response.done");
    assert.equal(field(done, "response", "status"), "completed");
    assert.deepEqual(field(done, "response", "output"), []);
  });
  const audio = audioOf(1000);
  await withSession(async (session, client) => {
    client.send({ type: "response.create", event_id: "r1" });
    await client.next("response.output_audio.delta");
    client.send({ type: "response.create", event_id: "r2" });
    const error = await client.next("error");
    assert.equal(
      field(error, "error", "code"),
      "conversation_already_has_active_response",
    );
    await client.next("response.done");
    assert.deepEqual(
      (await session.waitFor("response.create")).event_id,
      "r1",
    );
  }, {
    onResponseCreate: (s) =>
      void s.speak(audio, { intervalMs: 5, chunkBytes: 100 }),
  });
});

Deno.test("FakeRealtime conversation.item.create answers with conversation.item.added and done", async () => {
  await withSession(async (session, client) => {
    client.send({
      type: "conversation.item.create",
      item: {
        type: "message",
        role: "system",
        content: [{ type: "input_text", text: "The caller is in Paris." }],
      },
    });
    const added = await client.next("conversation.item.added");
    assert.equal(field(added, "item", "role"), "system");
    assert.deepEqual(field(added, "item", "content"), [
      { type: "input_text", text: "The caller is in Paris." },
    ]);
    assert.match(String(field(added, "item", "id")), /^item_/);
    await client.next("conversation.item.done");
    const recorded = await session.waitFor("conversation.item.create");
    assert.equal(field(recorded, "item", "role"), "system");
  });
});

Deno.test("FakeRealtime waitFor returns successive events of a type and times out cleanly", async () => {
  await withSession(async (session, client) => {
    for (const id of ["a", "b", "c"]) {
      client.send({ type: "response.cancel", event_id: id });
    }
    assert.equal((await session.waitFor("response.cancel")).event_id, "a");
    assert.equal(
      (await session.waitFor("response.cancel", (e) => e.event_id === "c"))
        .event_id,
      "c",
    );
    await assert.rejects(
      session.waitFor("response.cancel", undefined, 30),
      /no 'response.cancel'/,
    );
  });
});

Deno.test("FakeRealtime reports whether the client or the server closed the socket", async () => {
  const fake = await FakeRealtime.start();
  try {
    const first = await RealtimeClient.open(fake.urlWithModel());
    const s1 = await fake.nextSession();
    await first.close();
    assert.deepEqual(await s1.closed, {
      code: 1000,
      reason: "",
      byClient: true,
    });

    const second = await RealtimeClient.open(fake.urlWithModel());
    const s2 = await fake.nextSession();
    s2.close(4000, "session expired");
    const ev = await second.closed;
    assert.deepEqual([ev.code, ev.reason], [4000, "session expired"]);
    assert.equal((await s2.closed).byClient, false);

    const third = await RealtimeClient.open(fake.urlWithModel());
    const s3 = await fake.nextSession();
    const handle = s3.speak(audioOf(8000), { chunkBytes: 160, intervalMs: 10 });
    await fake.close(); // closes open sessions from the server side
    await third.closed;
    assert.equal((await s3.closed).byClient, false);
    assert.equal(await handle.done, "cancelled");
  } finally {
    await fake.close();
  }
});

// --- FakeRealtime: held to the openai package's types ------------------------

/** True only when A and B are the same type (not merely assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends
  (<T>() => T extends B ? 1 : 2) ? true : false;
/** The literal members of `(string & {}) | "a" | "b"`. */
type Literals<T> = T extends string ? string extends T ? never : T : never;

// `deno check` fails here when the openai types gain or lose a client event
// or a transcription model that the simulator's lists do not have. (Every
// object of the schema is `obj<T>()` of its openai type, which fails
// `deno check` on its own for a key added, removed or made required.)
const listsMatchOpenAiTypes: {
  clientEvents: Equal<
    (typeof CLIENT_EVENTS)[number],
    Realtime.RealtimeClientEvent["type"]
  >;
  transcriptionModels: Equal<
    (typeof TRANSCRIPTION_MODELS)[number],
    Literals<Realtime.AudioTranscription["model"]>
  >;
} = { clientEvents: true, transcriptionModels: true };

Deno.test("FakeRealtime's schema is held to the keys of the openai types", () => {
  // The real checks are at compile time: these lines keep them honest.
  assert.ok(Object.values(listsMatchOpenAiTypes).every((v) => v));
  // @ts-expect-error a key the type does not have
  obj<Realtime.RealtimeReasoning>({ effort: opt(str), temperature: opt(str) });
  // @ts-expect-error a key the type has, left out
  obj<Realtime.RealtimeAudioConfigOutput.ID>({});
  // @ts-expect-error an optional key declared required
  obj<Realtime.RealtimeReasoning>({ effort: req(str) });
  const session: Realtime.RealtimeSessionCreateRequest = defaultSession(
    "gpt-realtime-2.1",
  );
  assert.equal(session.type, "realtime");
  assert.ok(TRANSCRIPTION_MODELS.includes("gpt-live-transcribe"));
});

// --- FakeRealtime: one active response ---------------------------------------

Deno.test("FakeRealtime refuses response.create while a response is active, without running the hook", async () => {
  let hookCalls = 0;
  await withSession(async (session, client) => {
    const handle = session.speak(audioOf(8000), {
      chunkBytes: 160,
      intervalMs: 5,
    });
    assert.equal(session.activeResponseId, handle.responseId);
    client.send({ type: "response.create", event_id: "rc_1" });
    const error = await client.next("error");
    assert.deepEqual(error.error, {
      type: "invalid_request_error",
      code: "conversation_already_has_active_response",
      message:
        `Conversation already has an active response in progress: ${handle.responseId}. Wait until the response is finished before creating a new one.`,
      param: null,
      event_id: "rc_1",
    });
    assert.equal(hookCalls, 0, "a refused create runs no script");
    assert.deepEqual(session.refusedCreates.map((e) => e.event_id), ["rc_1"]);
    client.send({ type: "response.cancel" });
    assert.equal(await handle.done, "cancelled");
    assert.equal(session.activeResponseId, null);
    client.send({ type: "response.create", event_id: "rc_2" });
    await session.waitFor("response.create", (e) => e.event_id === "rc_2");
    assert.equal(hookCalls, 1);
    assert.equal(session.refusedCreates.length, 1);
  }, { onResponseCreate: () => void hookCalls++ });
});

Deno.test("FakeRealtime echoes a response.create's metadata on the response it starts, and none on server VAD's", async () => {
  await withSession(async (session, client) => {
    client.send({
      type: "response.create",
      event_id: "rc_1",
      response: { metadata: { request: "create_1" } },
    });
    const created = await client.next("response.created");
    assert.deepEqual(
      (created.response as { metadata: unknown }).metadata,
      { request: "create_1" },
    );
    await client.next("response.done");
    session.speak(audioOf(800));
    const vad = await client.next("response.created");
    assert.equal((vad.response as { metadata: unknown }).metadata, null);
  }, { onResponseCreate: (s) => void s.speak(audioOf(800)) });
});

// --- FakeRealtime: MCP ----------------------------------------------------------

const ZAPIER = {
  type: "mcp",
  server_label: "zapier",
  server_url: "https://mcp.zapier.com/api/mcp/mcp",
  headers: { Authorization: "Bearer zapier-key" },
  require_approval: "never",
};

const MCP_TOOLS = [
  {
    name: "todoist_find_tasks",
    description: "Find tasks",
    input_schema: { type: "object", properties: { due: { type: "string" } } },
    annotations: { readOnlyHint: true },
  },
  { name: "gmail_send_email", annotations: { readOnlyHint: false } },
  { name: "calendar_find_events", annotations: { readOnlyHint: true } },
];

/** Adds the Zapier MCP tool and waits until its tools are listed. */
async function useZapier(
  client: RealtimeClient,
  overrides: JsonObject = {},
): Promise<JsonObject> {
  client.send({
    type: "session.update",
    session: { type: "realtime", tools: [{ ...ZAPIER, ...overrides }] },
  });
  await client.next("session.updated");
  const done = await client.nextWhere(
    "conversation.item.done",
    (e) => field(e, "item", "type") === "mcp_list_tools",
  );
  await client.next("mcp_list_tools.completed");
  return done;
}

function typesSince(client: RealtimeClient, from: number): unknown[] {
  return client.events.slice(from).map((e) => e.type);
}

Deno.test("FakeRealtime lists an MCP server's tools after session.update, honouring allowed_tools", async () => {
  await withSession(async (session, client) => {
    const from = client.events.length;
    const done = await useZapier(client);
    assert.deepEqual(typesSince(client, from), [
      "session.updated",
      "mcp_list_tools.in_progress",
      "conversation.item.added",
      "conversation.item.done",
      "mcp_list_tools.completed",
    ]);
    const [, inProgress, added, , completed] = client.events.slice(from);
    const item = done.item;
    assert.equal(field(item, "type"), "mcp_list_tools");
    assert.equal(field(item, "server_label"), "zapier");
    assert.equal(inProgress.item_id, field(item, "id"));
    assert.equal(completed.item_id, field(item, "id"));
    assert.deepEqual(field(added, "item", "tools"), []);
    assert.deepEqual(field(item, "tools"), [
      {
        name: "todoist_find_tasks",
        description: "Find tasks",
        input_schema: {
          type: "object",
          properties: { due: { type: "string" } },
        },
        annotations: { readOnlyHint: true },
      },
      {
        name: "gmail_send_email",
        description: null,
        input_schema: { type: "object", properties: {} },
        annotations: { readOnlyHint: false },
      },
      {
        name: "calendar_find_events",
        description: null,
        input_schema: { type: "object", properties: {} },
        annotations: { readOnlyHint: true },
      },
    ]);
    assert.equal(session.mcpListings.length, 1);
    assert.equal(session.mcpListings[0].status, "completed");

    // The same server again: already listed, nothing new.
    client.send({
      type: "session.update",
      session: { type: "realtime", tools: [ZAPIER] },
    });
    await client.next("session.updated");
    await delay(20);
    assert.equal(session.mcpListings.length, 1);

    const names = (e: JsonObject) => {
      const tools = field(e, "item", "tools");
      return Array.isArray(tools) ? tools.map((t) => field(t, "name")) : [];
    };
    assert.deepEqual(
      names(await useZapier(client, { allowed_tools: ["todoist_find_tasks"] })),
      ["todoist_find_tasks"],
    );
    assert.deepEqual(
      names(
        await useZapier(client, {
          allowed_tools: {
            tool_names: ["gmail_send_email", "calendar_find_events"],
            read_only: true,
          },
        }),
      ),
      ["calendar_find_events"],
    );
    assert.equal(session.mcpListings.length, 3);
  }, { mcpTools: MCP_TOOLS });
});

Deno.test("FakeRealtime reports a failed MCP listing, and the model cannot call that server", async () => {
  await withSession(async (session, client) => {
    const from = client.events.length;
    client.send({
      type: "session.update",
      session: { type: "realtime", tools: [ZAPIER] },
    });
    const failed = await client.next("mcp_list_tools.failed");
    assert.deepEqual(typesSince(client, from), [
      "session.updated",
      "mcp_list_tools.in_progress",
      "conversation.item.added",
      "mcp_list_tools.failed",
    ]);
    assert.equal(failed.item_id, session.mcpListings[0].itemId);
    assert.equal(session.mcpListings[0].status, "failed");
    assert.throws(
      () => session.mcpCall({ name: "todoist_find_tasks" }),
      /listing failed/,
    );
  }, { mcpTools: MCP_TOOLS, mcpListFails: true });
});

Deno.test("FakeRealtime mcpCall runs the call, ends the response, and creates no follow-up response", async () => {
  await withSession(async (session, client) => {
    await useZapier(client);
    assert.throws(
      () => session.mcpCall({ name: "slack_post" }),
      /cannot call 'slack_post'/,
    );
    const from = client.events.length;
    const started = performance.now();
    const handle = session.mcpCall({
      name: "todoist_find_tasks",
      arguments: { due: "tomorrow" },
      output: '{"tasks":["taxes"]}',
      durationMs: 60,
    });
    assert.throws(() => session.speak(audioOf(10)), /still in progress/);
    assert.throws(
      () => session.mcpCall({ name: "todoist_find_tasks" }),
      /still in progress/,
    );
    client.send({ type: "response.create", event_id: "too_early" });
    const refused = await client.next("error");
    assert.equal(
      field(refused, "error", "code"),
      "conversation_already_has_active_response",
    );
    assert.equal(field(refused, "error", "event_id"), "too_early");
    assert.equal(await handle.done, "completed");
    assert.ok(performance.now() - started >= 55, "the call took durationMs");
    const done = await client.next("response.done");
    const events = client.events.slice(from).filter((e) => e.type !== "error");
    assert.deepEqual(events.map((e) => e.type), [
      "response.created",
      "response.output_item.added",
      "conversation.item.added",
      "response.mcp_call_arguments.delta",
      "response.mcp_call_arguments.done",
      "response.mcp_call.in_progress",
      "response.mcp_call.completed",
      "response.output_item.done",
      "conversation.item.done",
      "response.done",
    ]);
    const itemId = handle.itemIds[0];
    assert.match(itemId, /^mcp_/);
    assert.deepEqual(events[1].item, {
      id: itemId,
      type: "mcp_call",
      server_label: "zapier",
      name: "todoist_find_tasks",
      arguments: "",
      approval_request_id: null,
      output: null,
      error: null,
    });
    for (const e of events.slice(3, 5)) {
      assert.deepEqual(
        [e.response_id, e.item_id, e.output_index],
        [handle.responseId, itemId, 0],
      );
    }
    assert.equal(events[3].delta, '{"due":"tomorrow"}');
    assert.equal(events[4].arguments, '{"due":"tomorrow"}');
    assert.deepEqual([events[5].item_id, events[5].output_index], [itemId, 0]);
    const finished = {
      id: itemId,
      type: "mcp_call",
      server_label: "zapier",
      name: "todoist_find_tasks",
      arguments: '{"due":"tomorrow"}',
      approval_request_id: null,
      output: '{"tasks":["taxes"]}',
      error: null,
    };
    assert.deepEqual(events[7].item, finished);
    assert.equal(field(done, "response", "status"), "completed");
    assert.deepEqual(field(done, "response", "output"), [finished]);

    // The API does not answer the caller after the tool: silence until the
    // client asks for a response.
    await delay(60);
    assert.equal(
      client.types().filter((t) => t === "response.created").length,
      1,
    );
    client.send({ type: "response.create", event_id: "follow_up" });
    const spoken = await client.next("response.output_audio_transcript.done");
    assert.equal(spoken.transcript, "You have one task: taxes.");
    assert.equal(session.refusedCreates.length, 1);
  }, {
    mcpTools: MCP_TOOLS,
    onResponseCreate: (s) =>
      void s.speak(audioOf(800), { transcript: "You have one task: taxes." }),
  });
});

Deno.test("FakeRealtime mcpCall runs parallel calls after a preamble, each ending after its own duration", async () => {
  await withSession(async (session, client) => {
    await useZapier(client);
    const from = client.events.length;
    const handle = session.mcpCall([
      { name: "todoist_find_tasks", durationMs: 40, output: "[]" },
      {
        name: "gmail_send_email",
        durationMs: 10,
        error: { type: "http_error", code: 502, message: "Bad gateway" },
      },
    ], { preamble: { audio: audioOf(1600), transcript: "Let me check." } });
    assert.equal(await handle.done, "completed");
    const done = await client.next("response.done");
    const events = client.events.slice(from);
    const ends = events.filter((e) =>
      String(e.type).startsWith("response.mcp_call.") &&
      e.type !== "response.mcp_call.in_progress"
    );
    // The shorter (failing) call ends first.
    assert.deepEqual(ends.map((e) => [e.type, e.output_index]), [
      ["response.mcp_call.failed", 2],
      ["response.mcp_call.completed", 1],
    ]);
    const output = field(done, "response", "output");
    assert.ok(Array.isArray(output));
    assert.deepEqual(output.map((i) => field(i, "type")), [
      "message",
      "mcp_call",
      "mcp_call",
    ]);
    assert.equal(field(output[0], "id"), handle.preambleItemId);
    assert.deepEqual(field(output[0], "content"), [
      { type: "output_audio", transcript: "Let me check." },
    ]);
    assert.deepEqual(field(output[2], "error"), {
      type: "http_error",
      code: 502,
      message: "Bad gateway",
    });
    assert.equal(field(output[2], "output"), null);
    assert.equal(field(output[1], "output"), "[]");
    // The preamble's audio is ordinary assistant audio: deltas, truncatable.
    const deltas = events.filter((e) =>
      e.type === "response.output_audio.delta"
    );
    assert.equal(deltas.length, 2);
    assert.ok(deltas.every((d) => d.item_id === handle.preambleItemId));
  }, { mcpTools: MCP_TOOLS });
});

Deno.test("FakeRealtime: an older model makes one tool call per response", async () => {
  await withSession(
    async (session, client) => {
      await useZapier(client);
      assert.throws(
        () =>
          session.mcpCall([{ name: "todoist_find_tasks" }, {
            name: "gmail_send_email",
          }]),
        /one tool call per response/,
      );
      const single = session.mcpCall({
        name: "gmail_send_email",
        error: { type: "tool_execution_error", message: "Quota exceeded" },
      });
      assert.equal(await single.done, "completed");
      const failed = await client.nextWhere(
        "response.output_item.done",
        (e) => field(e, "item", "type") === "mcp_call",
      );
      assert.deepEqual(field(failed, "item", "error"), {
        type: "tool_execution_error",
        message: "Quota exceeded",
      });
    },
    { mcpTools: MCP_TOOLS },
    "gpt-realtime",
  );
});

Deno.test("FakeRealtime cancels an MCP call response on speech, closing the call item", async () => {
  await withSession(async (session, client) => {
    await useZapier(client);
    const handle = session.mcpCall({
      name: "todoist_find_tasks",
      durationMs: 5000,
    });
    await client.next("response.mcp_call.in_progress");
    session.speechStarted();
    assert.equal(await handle.done, "cancelled");
    const done = await client.next("response.done");
    assert.deepEqual(field(done, "response", "status_details"), {
      type: "cancelled",
      reason: "turn_detected",
    });
    const item = await client.nextWhere(
      "response.output_item.done",
      (e) => field(e, "item", "id") === handle.itemIds[0],
    );
    assert.deepEqual(
      [field(item, "item", "output"), field(item, "item", "error")],
      [null, null],
    );
    assert.ok(!client.types().includes("response.mcp_call.completed"));
  }, { mcpTools: MCP_TOOLS });
});

Deno.test("FakeRealtime asks for MCP approval unless require_approval is never, and records the answer", async () => {
  await withSession(async (session, client) => {
    await useZapier(client, { require_approval: "always" });
    const from = client.events.length;
    const request = session.mcpCall({
      name: "gmail_send_email",
      arguments: { to: "a@example.com" },
    });
    assert.equal(await request.done, "completed");
    await client.next("response.done");
    assert.deepEqual(request.approvalRequestIds, request.itemIds);
    const requestId = request.approvalRequestIds[0];
    assert.deepEqual(typesSince(client, from), [
      "response.created",
      "response.output_item.added",
      "conversation.item.added",
      "response.output_item.done",
      "conversation.item.done",
      "response.done",
    ]);
    const item = client.events[from + 3].item;
    assert.deepEqual(item, {
      id: requestId,
      type: "mcp_approval_request",
      server_label: "zapier",
      name: "gmail_send_email",
      arguments: '{"to":"a@example.com"}',
    });

    client.send({
      type: "conversation.item.create",
      event_id: "ap_bad",
      item: {
        type: "mcp_approval_response",
        approval_request_id: "mcpr_nope",
        approve: true,
      },
    });
    const error = await client.next("error");
    assert.deepEqual(
      [
        field(error, "error", "type"),
        field(error, "error", "code"),
        field(error, "error", "param"),
        field(error, "error", "event_id"),
      ],
      [
        "invalid_request_error",
        "invalid_value",
        "item.approval_request_id",
        "ap_bad",
      ],
    );
    client.send({
      type: "conversation.item.create",
      item: {
        type: "mcp_approval_response",
        approval_request_id: requestId,
        approve: true,
      },
    });
    const added = await client.nextWhere(
      "conversation.item.added",
      (e) => field(e, "item", "type") === "mcp_approval_response",
    );
    assert.match(String(field(added, "item", "id")), /^item_/);
    assert.deepEqual(session.approvalResponses, [{
      itemId: field(added, "item", "id"),
      approvalRequestId: requestId,
      approve: true,
      reason: null,
    }]);

    // The next response runs the approved call, citing the request.
    const call = session.mcpCall({
      name: "gmail_send_email",
      arguments: { to: "a@example.com" },
      output: "sent",
    });
    assert.deepEqual(call.approvalRequestIds, []);
    await call.done;
    const ran = await client.nextWhere(
      "response.output_item.done",
      (e) => field(e, "item", "type") === "mcp_call",
    );
    assert.equal(field(ran, "item", "approval_request_id"), requestId);
    assert.equal(field(ran, "item", "output"), "sent");

    // A filter: tools named under `never` run without asking.
    await useZapier(client, {
      require_approval: { never: { tool_names: ["todoist_find_tasks"] } },
    });
    const direct = session.mcpCall({ name: "todoist_find_tasks" });
    assert.deepEqual(direct.approvalRequestIds, []);
    await direct.done;
    const asks = session.mcpCall({ name: "gmail_send_email" });
    assert.equal(asks.approvalRequestIds.length, 1);
    await asks.done;
  }, { mcpTools: MCP_TOOLS });
});

// --- FakeRealtime: function calls --------------------------------------------

const END_CALL = {
  type: "function",
  name: "end_call",
  description: "Hang up after saying goodbye.",
  parameters: { type: "object", properties: { reason: { type: "string" } } },
};

Deno.test("FakeRealtime functionCall streams a function call and ends the response; outputs must answer issued call ids", async () => {
  await withSession(async (session, client) => {
    client.send({
      type: "session.update",
      session: {
        type: "realtime",
        tools: [END_CALL, { ...END_CALL, name: "lookup" }],
      },
    });
    await client.next("session.updated");
    assert.throws(
      () => session.functionCall({ name: "nope" }),
      /cannot call function 'nope'/,
    );
    const from = client.events.length;
    const handle = session.functionCall({
      name: "end_call",
      arguments: { reason: "bye" },
    });
    assert.equal(await handle.done, "completed");
    await client.next("response.done");
    assert.deepEqual(typesSince(client, from), [
      "response.created",
      "response.output_item.added",
      "conversation.item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "conversation.item.done",
      "response.done",
    ]);
    const argsDone = client.events[from + 4];
    const { event_id: _eventId, ...rest } = argsDone;
    assert.deepEqual(rest, {
      type: "response.function_call_arguments.done",
      response_id: handle.responseId,
      item_id: handle.itemIds[0],
      output_index: 0,
      call_id: handle.callIds[0],
      name: "end_call",
      arguments: '{"reason":"bye"}',
    });
    assert.match(handle.callIds[0], /^call_/);
    await delay(30);
    assert.equal(
      client.types().filter((t) => t === "response.created").length,
      1,
      "no follow-up response by itself",
    );

    client.send({
      type: "conversation.item.create",
      event_id: "fco_bad",
      item: {
        type: "function_call_output",
        call_id: "call_never",
        output: "{}",
      },
    });
    const error = await client.next("error");
    assert.deepEqual(error.error, {
      type: "invalid_request_error",
      code: "invalid_value",
      message: "Tool call ID 'call_never' not found in conversation.",
      param: "item.call_id",
      event_id: "fco_bad",
    });
    client.send({
      type: "conversation.item.create",
      item: {
        type: "function_call_output",
        call_id: handle.callIds[0],
        output: '{"ok":true}',
      },
    });
    const added = await client.nextWhere(
      "conversation.item.added",
      (e) => field(e, "item", "type") === "function_call_output",
    );
    assert.equal(field(added, "item", "call_id"), handle.callIds[0]);

    // gpt-realtime-2.x: parallel calls in one response.
    const parallel = session.functionCall([
      { name: "lookup", arguments: '{"q":"x"}', callId: "call_a" },
      { name: "end_call" },
    ]);
    await parallel.done;
    await client.nextWhere(
      "response.done",
      (e) => field(e, "response", "id") === parallel.responseId,
    );
    const argsEvents = client.events.filter((e) =>
      e.type === "response.function_call_arguments.done" &&
      e.response_id === parallel.responseId
    );
    assert.deepEqual(argsEvents.map((e) => [e.call_id, e.output_index]), [
      ["call_a", 0],
      [parallel.callIds[1], 1],
    ]);

    // A call id in a raw event a test sent counts as issued by the model.
    session.send({
      type: "response.function_call_arguments.done",
      response_id: "resp_raw",
      item_id: "fc_raw",
      output_index: 0,
      call_id: "call_raw",
      name: "end_call",
      arguments: "{}",
    });
    client.send({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: "call_raw", output: "{}" },
    });
    await client.nextWhere(
      "conversation.item.added",
      (e) => field(e, "item", "call_id") === "call_raw",
    );
    assert.equal(session.errorsSent.length, 1);
  });
});

// --- FakeRealtime: errors, schema, models --------------------------------------

Deno.test("FakeRealtime serverError is recoverable, or fails the active response", async () => {
  await withSession(async (session, client) => {
    session.serverError();
    const error = await client.next("error");
    assert.deepEqual(error.error, {
      type: "server_error",
      code: null,
      message:
        "The server had an error while processing your request. Sorry about that!",
      param: null,
      event_id: null,
    });
    const handle = session.speak(audioOf(8000), {
      chunkBytes: 160,
      intervalMs: 10,
    });
    await client.next("response.output_audio.delta");
    session.serverError("Upstream timed out.", { failResponse: true });
    assert.equal(await handle.done, "failed");
    assert.equal(
      field(await client.next("error"), "error", "message"),
      "Upstream timed out.",
    );
    const done = await client.next("response.done");
    assert.deepEqual(field(done, "response", "status_details"), {
      type: "failed",
      error: { type: "server_error", message: "Upstream timed out." },
    });
    assert.deepEqual(
      session.errorsSent.map((e) => e.error.type),
      ["server_error", "server_error"],
    );
    // Still open and serving.
    client.send({ type: "response.cancel" });
    assert.equal(
      field(await client.next("error"), "error", "code"),
      "response_cancel_not_active",
    );
  });
});

Deno.test("FakeRealtime accepts the 2.x session fields and gpt-live-transcribe, and refuses what the API refuses", async () => {
  await withSession(async (session, client) => {
    client.send({
      type: "session.update",
      session: {
        type: "realtime",
        parallel_tool_calls: true,
        reasoning: { effort: "xhigh" },
        audio: {
          input: {
            transcription: { model: "gpt-live-transcribe", languages: ["en"] },
            noise_reduction: { type: "near_field" },
          },
        },
      },
    });
    const updated = await client.next("session.updated");
    assert.equal(field(updated, "session", "parallel_tool_calls"), true);
    assert.deepEqual(field(updated, "session", "reasoning"), {
      effort: "xhigh",
    });
    assert.deepEqual(
      field(updated, "session", "audio", "input", "transcription"),
      { model: "gpt-live-transcribe", languages: ["en"] },
    );
    client.send({
      type: "session.update",
      session: {
        type: "realtime",
        audio: { input: { transcription: { model: "gpt-transcribe" } } },
      },
    });
    await client.next("session.updated");
    assert.equal(
      session.session.audio?.input?.transcription?.model,
      "gpt-transcribe",
    );

    const cases: Array<[JsonObject, string, string]> = [
      [
        { reasoning: { effort: "max" } },
        "invalid_value",
        "session.reasoning.effort",
      ],
      [
        { audio: { input: { transcription: { model: "whisper-2" } } } },
        "invalid_value",
        "session.audio.input.transcription.model",
      ],
      [
        { audio: { input: { transcription: { language: "en", x: 1 } } } },
        "unknown_parameter",
        "session.audio.input.transcription.x",
      ],
      [
        { tools: [{ ...ZAPIER, api_key: "k" }] },
        "unknown_parameter",
        "session.tools[0].api_key",
      ],
      [
        {
          audio: {
            input: { turn_detection: { type: "server_vad", eagerness: "low" } },
          },
        },
        "unknown_parameter",
        "session.audio.input.turn_detection.eagerness",
      ],
    ];
    for (const [i, [patch, code, param]] of cases.entries()) {
      client.send({
        type: "session.update",
        event_id: `bad_${i}`,
        session: { type: "realtime", ...patch },
      });
      const error = await client.next("error");
      assert.deepEqual(
        [
          field(error, "error", "code"),
          field(error, "error", "param"),
          field(error, "error", "event_id"),
        ],
        [code, param, `bad_${i}`],
      );
    }
  });
  // Reasoning settings only exist for reasoning models; retired
  // transcription models are gone.
  await withSession(
    async (_session, client) => {
      const cases: Array<[JsonObject, string, string]> = [
        [
          { reasoning: { effort: "low" } },
          "unsupported_parameter",
          "session.reasoning",
        ],
        [
          { parallel_tool_calls: true },
          "unsupported_parameter",
          "session.parallel_tool_calls",
        ],
        [
          {
            audio: {
              input: { transcription: { model: "gpt-4o-mini-transcribe" } },
            },
          },
          "model_not_found",
          "session.audio.input.transcription.model",
        ],
      ];
      for (const [patch, code, param] of cases) {
        client.send({
          type: "session.update",
          session: { type: "realtime", ...patch },
        });
        const error = await client.next("error");
        assert.deepEqual(
          [field(error, "error", "code"), field(error, "error", "param")],
          [code, param],
        );
      }
    },
    { retiredModels: ["gpt-4o-mini-transcribe"] },
    "gpt-realtime",
  );
});

Deno.test("FakeRealtime refuses retired and unknown models and serves GET /v1/models/{id}", async () => {
  const fake = await FakeRealtime.start({
    retiredModels: ["gpt-realtime"],
    modelRecords: { "gpt-realtime-2.1": { shutdown_date: "2028-06-30" } },
  });
  try {
    assert.equal(fake.origin, `http://127.0.0.1:${new URL(fake.url).port}`);
    assert.equal(
      fake.url,
      fake.origin.replace("http:", "ws:") + "/v1/realtime",
    );
    const retired = await httpStatus(fake.urlWithModel("gpt-realtime"), AUTH);
    assert.equal(retired.status, 404);
    assert.deepEqual(retired.body, {
      error: {
        message:
          "The model `gpt-realtime` does not exist or you do not have access to it.",
        type: "invalid_request_error",
        param: null,
        code: "model_not_found",
      },
    });
    assert.equal(
      await handshakeRefused(fake.urlWithModel("gpt-realtime"), AUTH),
      true,
    );
    assert.equal(
      (await httpStatus(fake.urlWithModel("gpt-realtime-9"), AUTH)).status,
      404,
    );
    assert.equal(
      await handshakeRefused(fake.urlWithModel("gpt-realtime-mini"), AUTH),
      false,
    );
    assert.equal((await fake.nextSession()).session.model, "gpt-realtime-mini");

    const get = async (id: string, headers: Record<string, string> = AUTH) => {
      const res = await fetch(`${fake.origin}/v1/models/${id}`, { headers });
      return { status: res.status, body: await res.json() };
    };
    const noKey = await get("gpt-realtime-mini", {});
    assert.equal(noKey.status, 401);
    assert.equal(field(noKey.body, "error", "type"), "invalid_request_error");
    const mini = await get("gpt-realtime-mini");
    assert.equal(mini.status, 200);
    assert.deepEqual(
      { ...mini.body, created: typeof mini.body.created },
      {
        id: "gpt-realtime-mini",
        object: "model",
        created: "number",
        owned_by: "system",
        shutdown_date: "2027-01-20",
      },
    );
    assert.equal(
      field((await get("gpt-realtime-2.1")).body, "shutdown_date"),
      "2028-06-30",
    );
    assert.equal(
      field((await get("gpt-realtime-2.1-mini")).body, "shutdown_date"),
      null,
    );
    for (const id of ["gpt-realtime", "gpt-nope"]) {
      const missing = await get(id);
      assert.equal(missing.status, 404);
      assert.equal(field(missing.body, "error", "code"), "model_not_found");
      assert.equal(field(missing.body, "error", "param"), "model");
    }
    assert.equal(fake.handshakes, 4, "model lookups are not handshakes");
  } finally {
    await fake.close();
  }
});

// --- TwilioEdge ---------------------------------------------------------------

/** A tiny stream endpoint standing in for our server. */
class StreamServer {
  readonly url: string;
  readonly handshakes: Headers[] = [];
  readonly messages: JsonObject[] = [];
  socket: WebSocket | undefined;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #socketClosed: Promise<void> = Promise.resolve();

  constructor(refuseStatus?: number) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => {
        // Copy: the request (and its headers) is closed once upgraded.
        this.handshakes.push(new Headers(req.headers));
        if (refuseStatus) return new Response("no", { status: refuseStatus });
        const { socket, response } = Deno.upgradeWebSocket(req);
        this.socket = socket;
        socket.onmessage = (ev) => this.messages.push(JSON.parse(ev.data));
        this.#socketClosed = new Promise((r) =>
          socket.addEventListener("close", () => r())
        );
        return response;
      },
    );
    this.url = `ws://127.0.0.1:${this.#server.addr.port}/media-stream/tok123`;
  }

  send(message: JsonObject | string | Uint8Array) {
    const data = typeof message === "string" || message instanceof Uint8Array
      ? message
      : JSON.stringify(message);
    this.socket?.send(data);
  }

  async message(event: string, count = 1): Promise<JsonObject[]> {
    const matching = () => this.messages.filter((m) => m.event === event);
    await waitUntil(() => matching().length >= count, `${count}× '${event}'`);
    return matching();
  }

  async close() {
    this.socket?.close();
    await this.#socketClosed;
    await this.#server.shutdown();
  }
}

async function withEdge(
  fn: (edge: TwilioEdge, server: StreamServer) => Promise<void>,
) {
  const server = new StreamServer();
  const edge = await TwilioEdge.connect({ url: server.url });
  try {
    await server.message("start");
    await fn(edge, server);
  } finally {
    edge.close();
    await edge.closed;
    await server.close();
  }
}

const media = (streamSid: string, audio: Uint8Array) => ({
  event: "media",
  streamSid,
  media: { payload: audio.toBase64() },
});
const mark = (streamSid: string, name: string) => ({
  event: "mark",
  streamSid,
  mark: { name },
});

async function hmacSha1Base64(key: string, data: string): Promise<string> {
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey(
    "raw",
    enc.encode(key),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(data)))
    .toBase64();
}

Deno.test("TwilioEdge signs the stream handshake like Twilio: HMAC-SHA1 of the public URL, no params", async () => {
  const server = new StreamServer();
  const signedUrl = "wss://assistant.example.com/media-stream/tok123";
  const edge = await TwilioEdge.connect({
    url: server.url,
    signedUrl,
    authToken: "12345",
  });
  edge.close();
  await edge.closed;
  const forged = await TwilioEdge.connect({
    url: server.url,
    signature: "forged=",
  });
  forged.close();
  await forged.closed;
  const unsigned = await TwilioEdge.connect({ url: server.url });
  unsigned.close();
  await unsigned.closed;
  await server.close();

  const sent = server.handshakes[0].get("x-twilio-signature");
  assert.equal(sent, await hmacSha1Base64("12345", signedUrl));
  assert.equal(sent, twilio.getExpectedTwilioSignature("12345", signedUrl, {}));
  assert.equal(server.handshakes[1].get("x-twilio-signature"), "forged=");
  assert.equal(server.handshakes[2].has("x-twilio-signature"), false);
});

Deno.test("TwilioEdge connect rejects when the server refuses the upgrade", async () => {
  const server = new StreamServer(403);
  try {
    await assert.rejects(TwilioEdge.connect({ url: server.url }), /refused/);
    assert.equal(server.handshakes.length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("TwilioEdge sends connected, start and paced media with numbers as strings", async () => {
  const server = new StreamServer();
  const edge = await TwilioEdge.connect({
    url: server.url,
    callSid: "CA123",
    accountSid: "AC456",
    streamSid: "MZ789",
    customParameters: { caller: "+15551234567" },
  });
  try {
    const audio = audioOf(800);
    const started = performance.now();
    await edge.sendAudio(audio);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 75, `5 frames paced 20 ms apart took ${elapsed} ms`);
    const frames = await server.message("media", 5);
    assert.deepEqual(server.messages[0], {
      event: "connected",
      protocol: "Call",
      version: "1.0.0",
    });
    assert.deepEqual(server.messages[1], {
      event: "start",
      sequenceNumber: "1",
      streamSid: "MZ789",
      start: {
        streamSid: "MZ789",
        accountSid: "AC456",
        callSid: "CA123",
        tracks: ["inbound"],
        customParameters: { caller: "+15551234567" },
        mediaFormat: {
          encoding: "audio/x-mulaw",
          sampleRate: 8000,
          channels: 1,
        },
      },
    });
    assert.deepEqual(frames.map((f) => f.sequenceNumber), [
      "2",
      "3",
      "4",
      "5",
      "6",
    ]);
    assert.deepEqual(frames.map((f) => field(f, "media", "chunk")), [
      "1",
      "2",
      "3",
      "4",
      "5",
    ]);
    const stamps = frames.map((f) => field(f, "media", "timestamp"));
    assert.ok(stamps.every((t) => typeof t === "string" && /^\d+$/.test(t)));
    const ms = stamps.map(Number);
    assert.ok(
      ms.every((t, i) => i === 0 || t >= ms[i - 1] + 15),
      `timestamps ${ms}`,
    );
    assert.ok(
      frames.every((f) =>
        f.streamSid === "MZ789" && field(f, "media", "track") === "inbound"
      ),
    );
    const payloads = frames.map((f) =>
      Uint8Array.fromBase64(String(field(f, "media", "payload")))
    );
    assert.ok(payloads.every((p) => p.length === 160));
    assert.deepEqual(payloads.flatMap((p) => [...p]), [...audio]);

    edge.sendDtmf("7");
    const [dtmf] = await server.message("dtmf");
    assert.deepEqual(dtmf, {
      event: "dtmf",
      streamSid: "MZ789",
      sequenceNumber: "7",
      dtmf: { track: "inbound_track", digit: "7" },
    });
  } finally {
    edge.close();
    await edge.closed;
    await server.close();
  }
});

Deno.test("TwilioEdge echoes a mark only after the audio queued before it has played", async () => {
  await withEdge(async (edge, server) => {
    const audio = audioOf(800); // 100 ms at 8 bytes/ms
    const sentAt = performance.now();
    server.send(media(edge.streamSid, audio.subarray(0, 400)));
    server.send(media(edge.streamSid, audio.subarray(400)));
    server.send(mark(edge.streamSid, "end-of-turn"));
    const [echo] = await server.message("mark");
    const elapsed = performance.now() - sentAt;
    assert.ok(
      elapsed >= 90,
      `mark echoed after ${elapsed} ms, before 100 ms of audio`,
    );
    assert.deepEqual(echo, {
      event: "mark",
      sequenceNumber: String(echo.sequenceNumber),
      streamSid: edge.streamSid,
      mark: { name: "end-of-turn" },
    });
    assert.equal(echo.sequenceNumber, "2"); // after start (1)
    assert.deepEqual(edge.marksAcked, ["end-of-turn"]);
    assert.deepEqual(edge.playedAudio(), audio);
    assert.deepEqual(edge.receivedAudio(), audio);
    assert.deepEqual(edge.protocolErrors, []);

    // Nothing pending: the echo comes straight back.
    server.send(mark(edge.streamSid, "idle"));
    await server.message("mark", 2);
    assert.deepEqual(edge.marksAcked, ["end-of-turn", "idle"]);
  });
});

Deno.test("TwilioEdge clear drops queued audio unplayed and echoes pending marks at once", async () => {
  await withEdge(async (edge, server) => {
    server.send(media(edge.streamSid, audioOf(8000))); // one second
    server.send(mark(edge.streamSid, "a"));
    server.send(media(edge.streamSid, audioOf(800)));
    server.send(mark(edge.streamSid, "b"));
    await edge.waitForPlayed(320);
    const clearedAt = performance.now();
    server.send({ event: "clear", streamSid: edge.streamSid });
    await server.message("mark", 2);
    assert.ok(
      performance.now() - clearedAt < 500,
      "marks echoed on clear, not after the audio",
    );
    assert.deepEqual(edge.marksAcked, ["a", "b"]);
    assert.equal(edge.clears, 1);
    const played = edge.playedAudio().length;
    assert.ok(played >= 320 && played < 8000, `played ${played} bytes`);
    await delay(60);
    assert.equal(
      edge.playedAudio().length,
      played,
      "cleared audio is never played",
    );
    assert.equal(edge.receivedAudio().length, 8800);
    const clear = await edge.waitFor((m) => m.event === "clear");
    assert.equal(clear.streamSid, edge.streamSid);
  });
});

Deno.test("TwilioEdge records what real Twilio would reject", async () => {
  await withEdge(async (edge, server) => {
    server.send(media("MZwrong", audioOf(160)));
    server.send(new Uint8Array([1, 2, 3]));
    server.send("not json");
    server.send({ event: "speak", streamSid: edge.streamSid });
    server.send({
      event: "media",
      streamSid: edge.streamSid,
      media: { payload: "@@" },
    });
    await waitUntil(
      () => edge.protocolErrors.length === 5,
      "5 protocol errors",
    );
    assert.match(edge.protocolErrors[0], /^31951: streamSid "MZwrong"/);
    assert.match(edge.protocolErrors[1], /^31950/);
    assert.match(edge.protocolErrors[2], /^31951: message is not JSON/);
    assert.match(edge.protocolErrors[3], /unknown event "speak"/);
    assert.match(edge.protocolErrors[4], /payload/);
    assert.equal(
      edge.receivedAudio().length,
      0,
      "rejected audio is not played",
    );
    assert.equal(edge.received.length, 3); // the parsed JSON messages
  });
});

Deno.test("TwilioEdge sendStop sends stop and Twilio closes the socket", async () => {
  const server = new StreamServer();
  const edge = await TwilioEdge.connect({
    url: server.url,
    callSid: "CA1",
    accountSid: "AC1",
  });
  try {
    server.send(media(edge.streamSid, audioOf(1600)));
    await edge.waitFor((m) => m.event === "media");
    edge.sendStop();
    assert.equal((await edge.closed).code, 1000);
    const [stop] = await server.message("stop");
    assert.deepEqual(stop, {
      event: "stop",
      sequenceNumber: "2",
      streamSid: edge.streamSid,
      stop: { accountSid: "AC1", callSid: "CA1" },
    });
    await assert.rejects(edge.waitForPlayed(1600), /closed/);
  } finally {
    await server.close();
  }
});

Deno.test("TwilioEdge resolves closed and stops its clock when the server hangs up mid-playback", async () => {
  const server = new StreamServer();
  const edge = await TwilioEdge.connect({ url: server.url });
  await server.message("start");
  server.send(media(edge.streamSid, audioOf(8000)));
  await edge.waitForPlayed(160);
  const sending = edge.sendAudio(audioOf(1600));
  await server.close();
  const { code } = await edge.closed;
  assert.equal(typeof code, "number");
  await sending; // ends early, without error
  assert.ok(edge.playedAudio().length < 8000);
});

Deno.test("VoiceActivity: speech from the energy of decoded µ-law; the turn ends after silenceMs of quiet audio, never without audio", () => {
  const vad = new VoiceActivity("pcmu", 8, 200);
  const loudFrame = new Uint8Array(160).fill(0x10);
  const quietFrame = new Uint8Array(160).fill(0xff);
  assert.deepEqual(vad.push(quietFrame), []);
  assert.deepEqual(vad.push(loudFrame), ["speech_started"]);
  assert.deepEqual(vad.push(loudFrame), []);
  // No audio at all (frames left out) is no silence: still speaking.
  assert.equal(vad.speaking, true);
  for (let i = 0; i < 9; i++) assert.deepEqual(vad.push(quietFrame), []);
  assert.deepEqual(vad.push(quietFrame), ["speech_stopped"]);
  // One append of 300 ms: speech, then the stop inside it.
  const burst = new Uint8Array(2400).fill(0xff);
  burst.fill(0x10, 0, 160);
  assert.deepEqual(vad.push(burst), ["speech_started", "speech_stopped"]);
  assert.equal(mulawToLinear(0xff), 0);
});
