/**
 * Self-tests for the GPT-Live simulator (peers/live): it must
 * behave like OpenAI's GPT-Live primary WebSocket, since end-to-end tests and
 * the benchmark trust it. Every test talks to it over a real WebSocket with
 * a tiny inline client.
 */
import assert from "node:assert/strict";
import type {
  ClientEvent,
  SessionConfig,
  SessionStartEvent,
} from "openai/resources/live/live";
import {
  CLIENT_EVENT_TYPES,
  FakeLive,
  type FakeLiveOptions,
  type FakeLiveSession,
  isObject,
  type JsonObject,
} from "../peers/live/mod.ts";

// --- a tiny client ------------------------------------------------------------

const AUTH = { Authorization: "Bearer sk-test" };

class LiveClient {
  readonly events: JsonObject[] = [];
  /** performance.now() at each event's arrival. */
  readonly arrivals = new Map<JsonObject, number>();
  readonly closed: Promise<CloseEvent>;
  #cursors = new Map<string, number>();
  #listeners = new Set<() => void>();

  constructor(readonly socket: WebSocket) {
    socket.onmessage = (ev) => {
      const event = JSON.parse(String(ev.data));
      this.events.push(event);
      this.arrivals.set(event, performance.now());
      for (const listener of [...this.#listeners]) listener();
    };
    this.closed = new Promise((r) => socket.addEventListener("close", r));
  }

  /** Opens a socket; resolves null (after it closed) if refused. */
  static async open(
    url: string,
    headers: Record<string, string> = AUTH,
  ): Promise<LiveClient | null> {
    const client = new LiveClient(new WebSocket(url, { headers }));
    const opened = await new Promise<boolean>((resolve) => {
      client.socket.onopen = () => resolve(true);
      client.socket.onerror = () => resolve(false);
    });
    if (opened) return client;
    await client.closed;
    return null;
  }

  send(event: unknown): void {
    this.socket.send(JSON.stringify(event));
  }

  of(type: string): JsonObject[] {
    return this.events.filter((e) => e.type === type);
  }

  /** The next server event of `type` (a cursor per type). */
  next(
    type: string,
    predicate: (e: JsonObject) => boolean = () => true,
    timeoutMs = 2000,
  ): Promise<JsonObject> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const start = this.#cursors.get(type) ?? 0;
        for (let i = start; i < this.events.length; i++) {
          const e = this.events[i];
          if (e.type === type && predicate(e)) {
            this.#cursors.set(type, i + 1);
            finish();
            resolve(e);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `no '${type}' within ${timeoutMs} ms (got ${
              this.events.map((e) => e.type).join(", ")
            })`,
          ),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Resolves with the events of `type` once there are at least `n`. */
  atLeast(type: string, n: number, timeoutMs = 2000): Promise<JsonObject[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.of(type);
        if (found.length < n) return;
        finish();
        resolve(found);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`fewer than ${n} '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close();
    await this.closed;
  }
}

/** Runs a test against a fresh FakeLive and closes everything after it. */
async function withLive(
  options: FakeLiveOptions,
  body: (h: Harness) => Promise<void>,
): Promise<void> {
  const live = await FakeLive.start(options);
  const clients: LiveClient[] = [];
  const harness: Harness = {
    live,
    open: async (headers = AUTH, url = live.url) => {
      const client = await LiveClient.open(url, headers);
      if (client) clients.push(client);
      return client;
    },
  };
  try {
    await body(harness);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await live.close();
  }
}

interface Harness {
  live: FakeLive;
  open(
    headers?: Record<string, string>,
    url?: string,
  ): Promise<LiveClient | null>;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function field(obj: unknown, ...path: (string | number)[]): unknown {
  let value = obj;
  for (const key of path) {
    value = Array.isArray(value)
      ? value[Number(key)]
      : isObject(value)
      ? value[String(key)]
      : undefined;
  }
  return value;
}

// What our server sends, checked against the official types.
const SESSION: SessionConfig = {
  model: "gpt-live-1",
  instructions: "You are a phone assistant. Keep answers short.",
  audio: {
    format: { type: "audio/pcmu", rate: 8000 },
    output: { voice: "cedar" },
  },
  delegation: {
    type: "responses",
    responses: {
      model: "gpt-5.5",
      instructions: "Use tools when needed.",
      tools: [
        {
          type: "function",
          name: "get_weather",
          description: "Weather for a city.",
          parameters: {
            type: "object",
            properties: { city: { type: "string" } },
            required: ["city"],
          },
        },
        { type: "function", name: "end_call" },
      ],
      tool_choice: "auto",
      parallel_tool_calls: true,
    },
  },
};

const START: SessionStartEvent = {
  type: "session.start",
  event_id: "evt_start",
  session: SESSION,
};

/** Opens a client, starts a session, and returns both ends once started. */
async function started(
  h: Harness,
  start: unknown = START,
): Promise<{ client: LiveClient; session: FakeLiveSession }> {
  const client = await h.open();
  assert.ok(client, "handshake refused");
  const session = await h.live.nextSession();
  client.send(start);
  await client.next("session.started");
  await session.waitStarted();
  return { client, session };
}

/** Sends a typed client event (checked against the official union). */
function send(client: LiveClient, event: ClientEvent): void {
  client.send(event);
}

const ulaw = (bytes: number, value = 0x7f) => new Uint8Array(bytes).fill(value);

// --- handshake ------------------------------------------------------------------

Deno.test("handshake: bearer key required, 401 with OpenAI's JSON error", async () => {
  await withLive({}, async ({ live }) => {
    const path = new URL(live.url).pathname;
    const none = await fetch(`${live.origin}${path}`);
    assert.equal(none.status, 401);
    const body = await none.json();
    assert.equal(field(body, "error", "type"), "invalid_request_error");
    assert.match(String(field(body, "error", "message")), /API key/);

    const wrong = await fetch(`${live.origin}${path}`, {
      headers: { Authorization: "Bearer sk-wrong" },
    });
    assert.equal(wrong.status, 401);
    assert.equal(field(await wrong.json(), "error", "code"), "invalid_api_key");
  });
});

Deno.test("handshake: a WebSocket without the key is refused, with it accepted", async () => {
  await withLive({}, async (h) => {
    assert.equal(await h.open({}), null);
    assert.equal(h.live.sessions.length, 0);
    const client = await h.open();
    assert.ok(client);
    await h.live.nextSession();
    assert.equal(h.live.handshakes, 2);
  });
});

Deno.test("handshake: no query string (the model goes in session.start)", async () => {
  await withLive({}, async (h) => {
    const query = await fetch(`${h.live.origin}/v1/live/sessions?model=x`, {
      headers: AUTH,
    });
    assert.equal(query.status, 400);
    assert.equal(field(await query.json(), "error", "param"), "model");
    assert.equal(await h.open(AUTH, `${h.live.url}?model=gpt-live-1`), null);
  });
});

Deno.test("handshake: handshakeStatus refuses every connection", async () => {
  await withLive({ handshakeStatus: 429 }, async (h) => {
    assert.equal(await h.open(), null);
    const res = await fetch(`${h.live.origin}/v1/live/sessions`, {
      headers: AUTH,
    });
    assert.equal(res.status, 429);
    assert.equal(
      field(await res.json(), "error", "code"),
      "rate_limit_exceeded",
    );
  });
});

Deno.test("handshake: handshakeDelayMs delays the connection", async () => {
  await withLive({ handshakeDelayMs: 150 }, async (h) => {
    const t0 = performance.now();
    const client = await h.open();
    assert.ok(client);
    assert.ok(performance.now() - t0 >= 140, "connected before the delay");
  });
});

Deno.test("handshake: an OpenAI-Beta header is not refused (GPT-Live documents none)", async () => {
  await withLive({}, async (h) => {
    const client = await h.open({ ...AUTH, "OpenAI-Beta": "realtime=v1" });
    assert.ok(client);
    const session = await h.live.nextSession();
    assert.equal(session.headers.get("openai-beta"), "realtime=v1");
  });
});

// --- session.start ------------------------------------------------------------------

Deno.test("session.start: session.started with the resolved session, and nothing else", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    const ev = client.of("session.started")[0];
    assert.equal(ev.client_event_id, "evt_start");
    assert.equal(typeof ev.event_id, "string");
    const s = ev.session;
    assert.equal(field(s, "model"), "gpt-live-1");
    assert.equal(field(s, "status"), "active");
    assert.equal(typeof field(s, "id"), "string");
    assert.ok(Number(field(s, "expires_at")) > Date.now() / 1000);
    assert.deepEqual(field(s, "audio"), {
      format: { type: "audio/pcmu", rate: 8000 },
      output: { voice: "cedar" },
    });
    assert.equal(field(s, "delegation", "type"), "responses");
    assert.equal(session.state, "started");
    // Delegations are announced when the model delegates, not at startup.
    await delay(30);
    assert.deepEqual(client.events.map((e) => e.type), ["session.started"]);
  });
});

Deno.test("session.start: server defaults for voice and format", async () => {
  await withLive({}, async (h) => {
    const { client } = await started(h, {
      type: "session.start",
      session: { model: "gpt-live-1" },
    });
    const s = client.of("session.started")[0].session;
    assert.equal(field(s, "audio", "output", "voice"), "marin");
    assert.deepEqual(field(s, "audio", "format"), {
      type: "audio/pcm",
      rate: 24000,
    });
    assert.equal(field(s, "delegation"), null);
  });
});

/** Sends a bad session.start and returns the error it got. */
async function startError(h: Harness, start: unknown): Promise<JsonObject> {
  const client = await h.open();
  assert.ok(client);
  const session = await h.live.nextSession();
  client.send(start);
  const error = await client.next("error");
  assert.equal(client.of("session.started").length, 0);
  assert.equal(session.state, "failed");
  await client.closed;
  return error;
}

const withSession = (patch: Record<string, unknown>) => ({
  type: "session.start",
  session: { ...SESSION, ...patch },
});

Deno.test("session.start: unknown fields at any depth are unknown_parameter", async () => {
  await withLive({ startupErrorCloseMs: 20 }, async (h) => {
    const cases: [unknown, string][] = [
      [withSession({ voice: "marin" }), "session.voice"],
      [
        withSession({
          audio: { format: { type: "audio/pcmu", rate: 8000 }, speed: 1 },
        }),
        "session.audio.speed",
      ],
      [
        withSession({
          delegation: {
            type: "responses",
            responses: {
              model: "gpt-5.5",
              tools: [{ type: "function", name: "f", extra: true }],
            },
          },
        }),
        "session.delegation.responses.tools[0].extra",
      ],
      [{ ...START, response: {} }, "response"],
    ];
    for (const [start, param] of cases) {
      const error = await startError(h, start);
      assert.equal(field(error, "error", "code"), "unknown_parameter", param);
      assert.equal(field(error, "error", "type"), "invalid_request_error");
      assert.equal(field(error, "error", "param"), param);
      assert.equal(
        field(error, "error", "message"),
        `Unknown parameter: '${param}'.`,
      );
    }
  });
});

Deno.test("session.start: required fields, formats and models are checked", async () => {
  await withLive({ startupErrorCloseMs: 20 }, async (h) => {
    const cases: [unknown, string, string][] = [
      [
        { type: "session.start", session: {} },
        "missing_required_parameter",
        "session.model",
      ],
      [{ type: "session.start" }, "missing_required_parameter", "session"],
      [
        withSession({ audio: { format: { type: "audio/pcmu" } } }),
        "missing_required_parameter",
        "session.audio.format.rate",
      ],
      [
        withSession({ audio: { format: "audio/pcmu" } }),
        "invalid_type",
        "session.audio.format",
      ],
      [
        withSession({ audio: { format: { type: "g711_ulaw", rate: 8000 } } }),
        "invalid_value",
        "session.audio.format.type",
      ],
      [
        withSession({ audio: { format: { type: "audio/pcmu", rate: 16000 } } }),
        "invalid_value",
        "session.audio.format.rate",
      ],
      [
        withSession({ audio: { format: { type: "audio/pcm", rate: 8000 } } }),
        "invalid_value",
        "session.audio.format.rate",
      ],
      [
        withSession({ model: "gpt-realtime" }),
        "model_not_found",
        "session.model",
      ],
      [
        withSession({ delegation: { type: "responses" } }),
        "missing_required_parameter",
        "session.delegation.responses",
      ],
      [
        withSession({ instructions: "x".repeat(4 * 16_384 + 4) }),
        "invalid_value",
        "session.instructions",
      ],
    ];
    for (const [start, code, param] of cases) {
      const error = await startError(h, start);
      assert.equal(field(error, "error", "code"), code, param);
      assert.equal(field(error, "error", "param"), param);
    }
  });
});

Deno.test("session.start: the socket is cut (no close frame) after a startup error", async () => {
  await withLive({ startupErrorCloseMs: 50 }, async (h) => {
    const client = await h.open();
    assert.ok(client);
    const session = await h.live.nextSession();
    client.send({ type: "session.start", event_id: "e1", session: {} });
    const error = await client.next("error");
    assert.equal(error.client_event_id, "e1");
    assert.equal(field(error, "error", "client_event_id"), "e1");
    const closed = await client.closed;
    assert.equal(closed.wasClean, false, "a clean close, not an abort");
    assert.notEqual(closed.code, 1000);
    assert.equal(client.of("session.closed").length, 0);
    assert.equal((await session.closed).byClient, false);
  });
});

Deno.test("session.start: a custom model list", async () => {
  await withLive(
    { models: ["gpt-live-2"], startupErrorCloseMs: 20 },
    async (h) => {
      const error = await startError(h, START);
      assert.equal(field(error, "error", "code"), "model_not_found");
      await started(h, withSession({ model: "gpt-live-2" }));
    },
  );
});

Deno.test("session.start: every official-type-checked config is accepted", async () => {
  const full: SessionStartEvent = {
    type: "session.start",
    event_id: null,
    session: {
      model: "gpt-live-1",
      instructions: null,
      audio: {
        format: { type: "audio/pcma", rate: 8000 },
        output: { voice: "cedar" },
      },
      delegation: {
        type: "responses",
        acknowledgement_delay_ms: 200,
        responses: {
          model: "gpt-5.5",
          instructions: null,
          max_output_tokens: 1024,
          parallel_tool_calls: false,
          reasoning: { effort: "low", summary: null },
          service_tier: "priority",
          text: { verbosity: "low" },
          tool_choice: {
            type: "allowed_tools",
            mode: "auto",
            tools: [{ type: "function", name: "end_call" }, {
              type: "web_search",
            }],
          },
          tools: [
            { type: "web_search" },
            { type: "function", name: "end_call", strict: true },
            // openai 7.60.0 gave the Live MCP tool its fields.
            {
              type: "mcp",
              server_label: "zapier",
              server_url: "https://mcp.zapier.com/api/mcp/mcp",
              allowed_tools: { read_only: true, tool_names: ["gmail_find"] },
              require_approval: { never: { tool_names: ["gmail_find"] } },
              headers: { "X-Tag": "phone" },
            },
          ],
        },
      },
      input: [
        { role: "user", content: [{ text: "Hi", type: "input_text" }] },
        { role: "assistant", content: [{ text: "Hello" }] },
      ],
      safety_identifier: "caller-1",
      store: false,
    },
  };
  await withLive({}, async (h) => {
    const { client } = await started(h, full);
    assert.equal(client.of("error").length, 0);
  });
});

Deno.test("session.start: what the server never sends (Decisions, the data channel, custom voices) is refused as not modelled", async () => {
  // Each is a valid config by the official types: the simulator refuses it
  // rather than accept what it does not model.
  const decisions: SessionConfig["triggers"] = [{
    type: "decisions",
    event_type: "session.input_transcript.delta",
    decisions: {
      questions: [{ type: "predicate", instructions: "Angry?" }],
    },
  }];
  const cases: [Partial<SessionConfig>, string][] = [
    [{ triggers: decisions }, "session.triggers"],
    [{
      delegation: {
        type: "decisions",
        decisions: { model: "gpt-5.5", questions: [] },
      },
    }, "session.delegation"],
    [
      { client: { data_channel: { allowed_client_events: "all" } } },
      "session.client",
    ],
    [{
      audio: {
        format: { type: "audio/pcmu", rate: 8000 },
        output: { voice: { id: "voice_123" } },
      },
    }, "session.audio.output.voice"],
  ];
  await withLive({ startupErrorCloseMs: 20 }, async (h) => {
    for (const [patch, param] of cases) {
      const error = await startError(h, withSession(patch));
      assert.equal(field(error, "error", "code"), "unmodelled_feature", param);
      assert.equal(field(error, "error", "param"), param);
    }
    // A voice that is neither a name nor an object is still a wrong type.
    const error = await startError(
      h,
      withSession({ audio: { output: { voice: 7 } } }),
    );
    assert.equal(field(error, "error", "code"), "invalid_type");
  });
});

Deno.test("decision events are refused: no session here has Decisions configured", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    const events: ClientEvent[] = [
      { type: "decision.create", event_id: "d1" },
      {
        type: "decision.item.create",
        item: { role: "user", content: "Angry?" },
        event_id: "d2",
      },
      { type: "decision.item.delete", item_id: "item_1", event_id: "d3" },
    ];
    for (const event of events) {
      send(client, event);
      const error = await client.next("error");
      assert.equal(
        field(error, "error", "code"),
        "decisions_not_configured",
        event.type,
      );
      assert.equal(error.client_event_id, event.event_id);
    }
    send(client, {
      type: "session.update",
      session: { triggers: [] },
      event_id: "u1",
    });
    const update = await client.next("error");
    assert.equal(field(update, "error", "code"), "unmodelled_feature");
    assert.equal(field(update, "error", "param"), "session.triggers");
    assert.equal(session.state, "started");
  });
});

// --- before session.started ---------------------------------------------------------

Deno.test("before session.started: audio and commands are session_not_started", async () => {
  await withLive({ startDelayMs: 150 }, async (h) => {
    const client = await h.open();
    assert.ok(client);
    const session = await h.live.nextSession();
    send(client, { type: "session.input_audio.append", audio: "AAAA" });
    const early = await client.next("error");
    assert.equal(field(early, "error", "code"), "session_not_started");
    send(client, START);
    // Sent right after session.start, before session.started arrives.
    send(client, {
      type: "session.input_audio.append",
      audio: ulaw(160).toBase64(),
      event_id: "a1",
    });
    const racing = await client.next("error");
    assert.equal(field(racing, "error", "code"), "session_not_started");
    assert.equal(field(racing, "error", "client_event_id"), "a1");
    await client.next("session.started");
    send(client, {
      type: "session.input_audio.append",
      audio: ulaw(160, 1).toBase64(),
    });
    send(client, {
      type: "session.input_audio.append",
      audio: ulaw(80, 2).toBase64(),
    });
    // Four appends reach the session; only the two after the start count.
    for (let i = 0; i < 4; i++) {
      await session.waitFor("session.input_audio.append");
    }
    const heard = session.inputAudio();
    assert.equal(heard.length, 240);
    assert.equal(heard[0], 1);
    assert.equal(heard[239], 2);
    assert.equal(client.of("error").length, 2);
  });
});

Deno.test("input audio: bad base64 is invalid_value", async () => {
  await withLive({}, async (h) => {
    const { client } = await started(h);
    client.send({ type: "session.input_audio.append", audio: "%%%" });
    const error = await client.next("error");
    assert.equal(field(error, "error", "code"), "invalid_value");
    assert.equal(field(error, "error", "param"), "audio");
  });
});

// --- what GPT-Live does not have ------------------------------------------------------

Deno.test("Realtime-only events are refused: no truncate, cancel or commit", async () => {
  await withLive({}, async (h) => {
    const { client } = await started(h);
    for (
      const type of [
        "conversation.item.truncate",
        "response.cancel",
        "input_audio_buffer.commit",
        "conversation.item.create",
      ]
    ) {
      client.send({ type, event_id: type });
      const error = await client.next("error");
      assert.equal(field(error, "error", "code"), "invalid_value", type);
      assert.equal(field(error, "error", "param"), "type");
      assert.equal(field(error, "error", "client_event_id"), type);
    }
    client.send({ event_id: "x" });
    const untyped = await client.next("error");
    assert.equal(field(untyped, "error", "code"), "missing_required_parameter");
  });
});

Deno.test("a second session.start is refused and the session stays", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    send(client, START);
    const error = await client.next("error");
    assert.equal(field(error, "error", "code"), "session_already_started");
    assert.equal(session.state, "started");
  });
});

Deno.test("every client event type of the official union is modelled", async () => {
  // Each of these is type-checked against the openai live ClientEvent union.
  const events: ClientEvent[] = [
    { type: "session.input_audio.mute", event_id: "m" },
    { type: "session.input_audio.unmute", event_id: "u" },
    { type: "session.thinking.append", content: "quiet", delegation_id: null },
    { type: "response.create" },
  ];
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    for (const event of events) send(client, event);
    await client.next(
      "session.input_audio.muted",
      (e) => e.client_event_id === "m",
    );
    await client.next("session.input_audio.unmuted");
    await client.next("session.thinking.appended");
    await client.next("session.delegation.created");
    assert.equal(client.of("error").length, 0);
    assert.equal(session.muted, false);
    // Unknown event types list every type the simulator accepts.
    client.send({ type: "nope" });
    const error = await client.next("error");
    for (const type of CLIENT_EVENT_TYPES) {
      assert.match(
        String(field(error, "error", "message")),
        new RegExp(`'${type}'`),
      );
    }
  });
});

// --- appends ---------------------------------------------------------------------------

Deno.test("appends: recorded and acknowledged, with the 500-token limit", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    send(client, {
      type: "session.instructions.append",
      content: "Speak slowly.",
      delegation_id: null,
      event_id: "i1",
    });
    send(client, {
      type: "session.commentary.append",
      content: "The weather is sunny.",
      delegation_id: null,
    });
    const ack = await client.next("session.instructions.appended");
    assert.equal(ack.client_event_id, "i1");
    assert.equal(typeof ack.start_ms, "number");
    assert.equal(typeof ack.end_ms, "number");
    await client.next("session.commentary.appended");
    assert.deepEqual(session.instructions.map((a) => a.content), [
      "Speak slowly.",
    ]);
    assert.deepEqual(session.commentary.map((a) => a.content), [
      "The weather is sunny.",
    ]);

    send(client, {
      type: "session.commentary.append",
      content: "x".repeat(2004),
      delegation_id: null,
      event_id: "long",
    });
    const error = await client.next("error");
    assert.deepEqual(field(error, "error"), {
      type: "invalid_request_error",
      code: "invalid_value",
      message: "Context append text must not exceed 500 tokens.",
      param: "content",
      client_event_id: "long",
    });
    assert.equal(session.commentary.length, 1);
    // 2000 characters ≈ 500 tokens: accepted.
    send(client, {
      type: "session.commentary.append",
      content: "x".repeat(2000),
      delegation_id: null,
    });
    await client.next("session.commentary.appended");
  });
});

Deno.test("appends: delegation_id is required (nullable) and null with Responses", async () => {
  await withLive({}, async (h) => {
    const { client } = await started(h);
    client.send({ type: "session.instructions.append", content: "x" });
    const missing = await client.next("error");
    assert.equal(field(missing, "error", "code"), "missing_required_parameter");
    assert.equal(field(missing, "error", "param"), "delegation_id");
    send(client, {
      type: "session.instructions.append",
      content: "x",
      delegation_id: "item_1",
    });
    const refused = await client.next("error");
    assert.equal(field(refused, "error", "param"), "delegation_id");
  });
});

Deno.test("appends: client delegation ids from session.delegation.created", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h, {
      type: "session.start",
      session: { model: "gpt-live-1", delegation: { type: "client" } },
    });
    const id = session.delegateToClient();
    const created = await client.next("session.delegation.created");
    assert.deepEqual(created.delegation, {
      id,
      type: "delegation",
      target: "client",
    });
    send(client, {
      type: "session.commentary.append",
      content: "Booked.",
      delegation_id: id,
    });
    await client.next("session.commentary.appended");
    assert.equal(session.commentary[0].delegationId, id);
  });
});

// --- session.update ------------------------------------------------------------------------

Deno.test("session.update: only delegation settings change, merged field by field", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    send(client, {
      type: "session.update",
      event_id: "u1",
      session: {
        delegation: {
          type: "responses",
          responses: { tools: [{ type: "function", name: "end_call" }] },
        },
      },
    });
    const updated = await client.next("session.updated");
    assert.equal(updated.client_event_id, "u1");
    const responses = field(updated, "session", "delegation", "responses");
    assert.equal(field(responses, "model"), "gpt-5.5");
    assert.equal(field(responses, "instructions"), "Use tools when needed.");
    assert.deepEqual(field(responses, "tools"), [{
      type: "function",
      name: "end_call",
    }]);
    assert.equal(field(session.session, "delegation", "type"), "responses");

    for (
      const [patch, code, param] of [
        [{ instructions: "new" }, "unknown_parameter", "session.instructions"],
        [{ audio: {} }, "unknown_parameter", "session.audio"],
        [{ model: "gpt-live-1" }, "unknown_parameter", "session.model"],
        [
          { delegation: { type: "client" } },
          "invalid_value",
          "session.delegation.type",
        ],
      ] as const
    ) {
      client.send({ type: "session.update", session: patch });
      const error = await client.next("error");
      assert.equal(field(error, "error", "code"), code, param);
      assert.equal(field(error, "error", "param"), param);
    }
    assert.equal(client.of("session.updated").length, 1);
  });
});

// --- speaking ------------------------------------------------------------------------------

Deno.test("speak: deltas paced at real time, no item id, no done event", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    const t0 = performance.now();
    const handle = session.speak(ulaw(2400, 0x11), {
      transcript: "Hello there, how can I help?",
    });
    const result = await handle.done;
    const elapsed = performance.now() - t0;
    // 2400 µ-law bytes are 300 ms of audio.
    assert.ok(elapsed >= 280, `took ${elapsed} ms`);
    assert.equal(result.bytesSent, 2400);
    assert.equal(result.stopped, false);
    const deltas = await client.atLeast("session.output_audio.delta", 3);
    // Each 100 ms delta arrives when its audio starts, not all at once.
    const at = deltas.map((d) => client.arrivals.get(d) ?? 0);
    assert.ok(at[2] - at[0] >= 180, `deltas ${at[2] - at[0]} ms apart`);
    await delay(50);
    assert.equal(deltas.length, 3);
    for (const d of deltas) {
      assert.deepEqual(Object.keys(d).sort(), ["delta", "type"]);
      assert.equal(Uint8Array.fromBase64(String(d.delta)).length, 800);
    }
    const transcript = client.of("session.output_transcript.delta");
    assert.equal(
      transcript.map((t) => t.delta).join(""),
      "Hello there, how can I help?",
    );
    for (const t of transcript) {
      assert.equal(typeof t.start_ms, "number");
      assert.ok(Number(t.end_ms) >= Number(t.start_ms));
    }
    assert.equal(
      client.events.filter((e) => String(e.type).includes("done")).length,
      0,
    );
  });
});

Deno.test("speak: chunkBytes, realTime false, and utterances in turn", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    const a = session.speak(ulaw(500, 1), { chunkBytes: 200, realTime: false });
    const b = session.speak(ulaw(100, 2), { realTime: false });
    await Promise.all([a.done, b.done]);
    const deltas = await client.atLeast("session.output_audio.delta", 4);
    const sizes = deltas.map((d) => Uint8Array.fromBase64(String(d.delta)));
    assert.deepEqual(sizes.map((s) => s.length), [200, 200, 100, 100]);
    assert.deepEqual(sizes.map((s) => s[0]), [1, 1, 1, 2]);
  });
});

Deno.test("speak: stop() ends it early, as the model does when interrupted", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    const handle = session.speak(ulaw(8000)); // one second
    await client.next("session.output_audio.delta");
    handle.stop();
    const result = await handle.done;
    assert.equal(result.stopped, true);
    assert.ok(result.bytesSent < 8000);
    const sent = result.bytesSent / 800;
    await client.atLeast("session.output_audio.delta", sent);
    await delay(150);
    assert.equal(client.of("session.output_audio.delta").length, sent);
  });
});

Deno.test("idleSilence: silence deltas stream while the model says nothing", async () => {
  await withLive({ idleSilence: true }, async (h) => {
    const { client } = await started(h);
    const deltas = await client.atLeast("session.output_audio.delta", 2);
    assert.ok(
      Uint8Array.fromBase64(String(deltas[0].delta)).every((b) => b === 0xff),
    );
  });
});

Deno.test("callerSaid: input transcript fragments on the timeline", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    await delay(50);
    session.callerSaid("What is the weather in Paris today?");
    const deltas = await client.atLeast("session.input_transcript.delta", 3);
    assert.ok(deltas.length > 1);
    assert.equal(
      deltas.map((d) => d.delta).join(""),
      "What is the weather in Paris today?",
    );
    const starts = deltas.map((d) => Number(d.start_ms));
    assert.deepEqual([...starts].sort((a, b) => a - b), starts);
  });
});

// --- delegation and function calls ------------------------------------------------------

Deno.test("callFunction: a delegation wrapping the Responses stream of a function call", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    const handle = session.callFunction({
      name: "get_weather",
      arguments: { city: "Paris" },
      callId: "call_1",
    });
    const created = await client.next("session.delegation.created");
    assert.equal(field(created, "delegation", "target"), "responses");
    assert.equal(field(created, "delegation", "type"), "delegation");
    assert.equal(field(created, "delegation", "id"), handle.delegationId);
    assert.equal(
      field(created, "delegation", "response_id"),
      handle.responseId,
    );
    assert.equal(typeof created.offset_ms, "number");

    await client.next(
      "response.event",
      (e) => field(e, "event", "type") === "response.completed",
    );
    const wrapped = client.of("response.event");
    for (const e of wrapped) assert.equal(e.delegation_id, handle.delegationId);
    const nested = wrapped.map((e) => field(e, "event", "type"));
    assert.deepEqual(nested, [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const done = wrapped.find((e) =>
      field(e, "event", "type") === "response.output_item.done"
    );
    assert.deepEqual(field(done, "event", "item"), {
      id: handle.itemIds[0],
      type: "function_call",
      status: "completed",
      arguments: '{"city":"Paris"}',
      call_id: "call_1",
      name: "get_weather",
    });
    const sequence = wrapped.map((e) => field(e, "event", "sequence_number"));
    assert.deepEqual(sequence, [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(field(wrapped[6], "event", "response", "output"), []);
    assert.deepEqual(session.pendingCallIds, ["call_1"]);
  });
});

Deno.test("function outputs: response.create waits for every output, then the script runs", async () => {
  const scripted: unknown[] = [];
  await withLive({
    onResponseCreate: (s, outputs) => {
      scripted.push(outputs);
      s.reply("It is sunny in Paris.", { audio: ulaw(800), realTime: false });
    },
  }, async (h) => {
    const { client, session } = await started(h);
    const handle = session.callFunction({
      name: "get_weather",
      callId: "call_1",
    });
    send(client, { type: "response.create", event_id: "early" });
    const early = await client.next("error");
    assert.equal(
      field(early, "error", "code"),
      "function_call_outputs_required",
    );
    assert.equal(field(early, "error", "client_event_id"), "early");
    assert.equal(scripted.length, 0);

    send(client, {
      type: "response.item.create",
      item: {
        type: "function_call_output",
        call_id: "call_nope",
        output: "{}",
      },
    });
    const unknown = await client.next("error");
    assert.equal(field(unknown, "error", "param"), "item.call_id");

    send(client, {
      type: "response.item.create",
      item: {
        type: "function_call_output",
        call_id: "call_1",
        output: '{"sunny":true}',
      },
    });
    send(client, { type: "response.create" });
    const outputs = await handle.answered;
    assert.deepEqual(outputs.map((o) => [o.callId, o.name, o.output]), [[
      "call_1",
      "get_weather",
      '{"sunny":true}',
    ]]);
    assert.equal(scripted.length, 1);
    assert.deepEqual(session.functionOutputs, outputs);

    // The continuation: same delegation, a new response, a message, then speech.
    const text = await client.next(
      "response.event",
      (e) => field(e, "event", "type") === "response.output_text.done",
    );
    assert.equal(field(text, "event", "text"), "It is sunny in Paris.");
    assert.equal(text.delegation_id, handle.delegationId);
    const completed = client.of("response.event").filter((e) =>
      field(e, "event", "type") === "response.completed"
    );
    await client.next("session.output_audio.delta");
    const spoken = await client.next("session.output_transcript.delta");
    assert.match(String(spoken.delta), /It is/);
    assert.equal(client.of("session.delegation.created").length, 1);
    assert.ok(completed.length >= 1);
    // A second output for an answered call is refused.
    send(client, {
      type: "response.item.create",
      item: {
        type: "function_call_output",
        call_id: "call_1",
        output: "again",
      },
    });
    assert.equal(
      field(await client.next("error"), "error", "param"),
      "item.call_id",
    );
  });
});

Deno.test("parallel calls: one response, and every output before response.create", async () => {
  let continued = 0;
  await withLive({
    onResponseCreate: (s) => {
      continued++;
      s.reply("Done.");
    },
  }, async (h) => {
    const { client, session } = await started(h);
    const handle = session.callFunction([
      { name: "get_weather", arguments: '{"city":"Oslo"}' },
      { name: "end_call" },
    ]);
    assert.equal(handle.callIds.length, 2);
    await client.next(
      "response.event",
      (e) => field(e, "event", "type") === "response.completed",
    );
    const items = client.of("response.event").filter((e) =>
      field(e, "event", "type") === "response.output_item.done"
    );
    assert.deepEqual(items.map((e) => field(e, "event", "output_index")), [
      0,
      1,
    ]);
    send(client, {
      type: "response.item.create",
      item: {
        type: "function_call_output",
        call_id: handle.callIds[0],
        output: "ok",
      },
    });
    send(client, { type: "response.create" });
    const error = await client.next("error");
    assert.equal(
      field(error, "error", "code"),
      "function_call_outputs_required",
    );
    assert.match(
      String(field(error, "error", "message")),
      new RegExp(handle.callIds[1]),
    );
    send(client, {
      type: "response.item.create",
      item: {
        type: "function_call_output",
        call_id: handle.callIds[1],
        output: "bye",
      },
    });
    send(client, { type: "response.create" });
    assert.equal((await handle.answered).length, 2);
    assert.equal(continued, 1);
  });
});

Deno.test("a second round of calls continues the same delegation", async () => {
  let round = 0;
  await withLive({
    onResponseCreate: (s) => {
      round++;
      if (round === 1) s.callFunction({ name: "end_call", callId: "call_2" });
      else s.reply("Goodbye.");
    },
  }, async (h) => {
    const { client, session } = await started(h);
    const first = session.callFunction({
      name: "get_weather",
      callId: "call_1",
    });
    send(client, {
      type: "response.item.create",
      item: { type: "function_call_output", call_id: "call_1", output: "{}" },
    });
    send(client, { type: "response.create" });
    const second = await client.next(
      "response.event",
      (e) =>
        field(e, "event", "type") === "response.output_item.done" &&
        field(e, "event", "item", "call_id") === "call_2",
    );
    assert.equal(second.delegation_id, first.delegationId);
    const created = client.of("response.event").filter((e) =>
      field(e, "event", "type") === "response.created"
    );
    assert.equal(created.length, 2);
    assert.notEqual(
      field(created[1], "event", "response", "id"),
      first.responseId,
    );
    assert.deepEqual(session.pendingCallIds, ["call_2"]);
    send(client, {
      type: "response.item.create",
      item: { type: "function_call_output", call_id: "call_2", output: "ok" },
    });
    send(client, { type: "response.create" });
    const text = await client.next(
      "response.event",
      (e) => field(e, "event", "type") === "response.output_text.done",
    );
    assert.equal(field(text, "event", "text"), "Goodbye.");
    assert.equal(client.of("session.delegation.created").length, 1);
    assert.equal(round, 2);
  });
});

Deno.test("callFunction: only declared functions, and one at a time without parallel calls", async () => {
  await withLive({}, async (h) => {
    const { session } = await started(
      h,
      withSession({
        delegation: {
          type: "responses",
          responses: {
            model: "gpt-5.5",
            parallel_tool_calls: false,
            tools: [{ type: "function", name: "end_call" }],
          },
        },
      }),
    );
    assert.throws(
      () => session.callFunction({ name: "get_weather" }),
      /cannot call/,
    );
    assert.throws(
      () => session.callFunction([{ name: "end_call" }, { name: "end_call" }]),
      /parallel_tool_calls/,
    );
  });
});

Deno.test("response.create without Responses delegation is refused", async () => {
  await withLive({}, async (h) => {
    const { client } = await started(h, {
      type: "session.start",
      session: { model: "gpt-live-1" },
    });
    send(client, { type: "response.create" });
    const error = await client.next("error");
    assert.equal(
      field(error, "error", "code"),
      "responses_delegation_required",
    );
  });
});

Deno.test("response.create while a backend response runs is queued, not refused", async () => {
  let scripted = 0;
  await withLive({
    queuedResponseDelayMs: 10,
    onResponseCreate: () => {
      scripted++;
    },
  }, async (h) => {
    const { client, session } = await started(h);
    send(client, { type: "response.create" });
    await client.next("session.delegation.created");
    assert.equal(scripted, 1);
    send(client, { type: "response.create", event_id: "queued" });
    await session.waitFor("response.create", (e) => e.event_id === "queued");
    await delay(30);
    assert.equal(scripted, 1, "ran before the open response ended");
    session.reply("First.");
    await client.next("session.delegation.created");
    assert.equal(scripted, 2);
    assert.equal(client.of("error").length, 0);
  });
});

Deno.test("response.item.create: the per-session input budget", async () => {
  await withLive(
    { responseInputLimits: { items: 128, bytes: 200 } },
    async (h) => {
      const { client, session } = await started(h);
      session.callFunction({ name: "get_weather", callId: "call_big" });
      send(client, {
        type: "response.item.create",
        item: {
          type: "function_call_output",
          call_id: "call_big",
          output: "x".repeat(300),
        },
      });
      const full = await client.next("error");
      assert.equal(field(full, "error", "code"), "response_input_buffer_full");
      // The call stays unanswered.
      send(client, { type: "response.create" });
      const stuck = await client.next("error");
      assert.equal(
        field(stuck, "error", "code"),
        "function_call_outputs_required",
      );
      assert.equal(session.functionOutputs.length, 0);
    },
  );
});

Deno.test("response.item.create: items are validated strictly", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    client.send({
      type: "response.item.create",
      item: { type: "message", role: "user", content: "hi", bogus: 1 },
    });
    const error = await client.next("error");
    assert.equal(field(error, "error", "param"), "item.bogus");
    send(client, {
      type: "response.item.create",
      item: {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "hi" }],
      },
    });
    await session.waitFor("response.item.create");
    await session.waitFor("response.item.create");
    assert.equal(session.responseItems.length, 1);
  });
});

// --- usage and the end ---------------------------------------------------------------------

Deno.test("usage: cumulative seconds in session.usage.updated", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    session.usage(12, { usageRatio: 0.1 });
    session.usage(25);
    await client.next("session.usage.updated");
    const second = await client.next("session.usage.updated");
    assert.deepEqual(second.usage, { seconds: 25 });
    assert.deepEqual(client.of("session.usage.updated")[0].context_window, {
      usage_ratio: 0.1,
    });
    assert.throws(() => session.usage(3), /cumulative/);
  });
});

Deno.test("session.close: session.closed with close_requested, then the socket closes", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    session.usage(4);
    send(client, { type: "session.close", event_id: "bye" });
    const closedEvent = await client.next("session.closed");
    assert.equal(closedEvent.reason, "close_requested");
    assert.equal(closedEvent.client_event_id, "bye");
    assert.ok(Number(field(closedEvent, "usage", "seconds")) >= 4);
    assert.equal(field(closedEvent, "session", "status"), "active");
    const closed = await client.closed;
    assert.equal(closed.code, 1000);
    assert.equal(closed.wasClean, true);
    assert.equal((await session.closed).byClient, false);
  });
});

Deno.test("end: session.closed with the reason, then the socket closes", async () => {
  for (
    const reason of [
      "expired",
      "content",
      "remote_hangup",
      "connection_lost",
    ] as const
  ) {
    await withLive({}, async (h) => {
      const { client, session } = await started(h);
      session.speak(ulaw(8000));
      session.end(reason);
      const ev = await client.next("session.closed");
      assert.equal(ev.reason, reason);
      assert.equal(ev.client_event_id, undefined);
      await client.closed;
    });
  }
});

Deno.test("drop: the connection dies without session.closed", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    session.drop();
    const closed = await client.closed;
    assert.equal(closed.wasClean, false, "a clean close, not a drop");
    assert.notEqual(closed.code, 1000);
    assert.equal(client.of("session.closed").length, 0);
    assert.equal((await session.closed).byClient, false);
  });
});

Deno.test("a client that just disconnects is recorded as such", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    await client.close();
    assert.equal((await session.closed).byClient, true);
    assert.equal(session.state, "closed");
  });
});

Deno.test("error and info events can be injected", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    session.sendError({
      code: "server_error",
      message: "Something broke.",
      type: "server_error",
    });
    session.info("data_channel_permissions", "FYI");
    const error = await client.next("error");
    assert.deepEqual(error.error, {
      type: "server_error",
      code: "server_error",
      message: "Something broke.",
    });
    const info = await client.next("info");
    assert.equal(info.code, "data_channel_permissions");
    assert.equal(session.errorsSent.length, 1);
  });
});

Deno.test("audio fixture: played through the session output in its format", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    const pcm = new Uint8Array(48 * 200); // 200 ms of PCM16 at 24 kHz
    session.speak(ulaw(8000)); // interrupted by the fixture
    send(client, {
      type: "session.output_audio.fixture.play",
      audio: pcm.toBase64(),
      event_id: "fx",
    });
    await client.next("session.output_audio.fixture.playing");
    await client.next("session.output_audio.fixture.played", undefined, 3000);
    const bytes = client.of("session.output_audio.delta").reduce(
      (n, d) => n + Uint8Array.fromBase64(String(d.delta)).length,
      0,
    );
    // 200 ms of µ-law is 1600 bytes, plus what was said before it.
    assert.ok(bytes >= 1600 && bytes < 3200, `${bytes} bytes`);
    assert.equal(session.speaking, false);
  });
});

Deno.test("waitFor: successive client events of a type", async () => {
  await withLive({}, async (h) => {
    const { client, session } = await started(h);
    send(client, {
      type: "session.input_audio.append",
      audio: ulaw(8, 1).toBase64(),
    });
    send(client, {
      type: "session.input_audio.append",
      audio: ulaw(8, 2).toBase64(),
    });
    const first = await session.waitFor("session.input_audio.append");
    const second = await session.waitFor("session.input_audio.append");
    assert.notEqual(first, second);
    await assert.rejects(
      session.waitFor("session.close", undefined, 30),
      /no 'session.close'/,
    );
  });
});
