/**
 * The start-up model look-up: parsing the record, the URL it is asked at,
 * and what the app does with the answer (log, /healthz, /calls banner),
 * against a tiny local stand-in for OpenAI's GET /v1/models/{id}.
 */
import assert from "node:assert/strict";
import type { ConfigVariable } from "../src/config.ts";
import {
  lookUpModel,
  modelRecordUrl,
  type ModelRecordWire,
  parseModelRecord,
  replacementFor,
} from "../src/upstream/model_record.ts";
import { configuredModels } from "../src/realtime/configured_models.ts";
import { type App, createApp } from "../src/server.ts";
import { TEST_API_KEY, testConfig } from "./helpers/config.ts";
import { memoryLogger } from "./helpers/logs.ts";

// ---- Parsing ----

const RECORD: ModelRecordWire = {
  id: "gpt-realtime",
  object: "model",
  created: 1756339200,
  owned_by: "system",
  shutdown_date: "2027-01-20",
};

Deno.test("parseModelRecord() reads the id and the shutdown date", () => {
  assert.deepEqual(parseModelRecord(RECORD), {
    id: "gpt-realtime",
    shutdownDate: "2027-01-20",
  });
});

Deno.test("parseModelRecord() gives a null date when none is announced", () => {
  const { shutdown_date: _, ...undated } = RECORD;
  assert.deepEqual(parseModelRecord(undated), {
    id: "gpt-realtime",
    shutdownDate: null,
  });
  assert.deepEqual(parseModelRecord({ ...RECORD, shutdown_date: null }), {
    id: "gpt-realtime",
    shutdownDate: null,
  });
});

Deno.test("parseModelRecord() refuses what is not a model record", () => {
  for (
    const body of [
      null,
      undefined,
      "gpt-realtime",
      42,
      [RECORD],
      {},
      { ...RECORD, id: 7 },
      { ...RECORD, id: "" },
      { ...RECORD, shutdown_date: "20 January 2027" },
      { ...RECORD, shutdown_date: "2027-1-20" },
      { ...RECORD, shutdown_date: "2027-02-30" },
      { ...RECORD, shutdown_date: "2027-01-20T00:00:00Z" },
      { ...RECORD, shutdown_date: 1800000000 },
      {
        error: {
          message: "The model does not exist",
          type: "invalid_request_error",
        },
      },
    ]
  ) {
    assert.equal(parseModelRecord(body), undefined, JSON.stringify(body));
  }
});

Deno.test("modelRecordUrl() asks the Realtime endpoint's own host and port over HTTP(S)", () => {
  assert.equal(
    modelRecordUrl(
      "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1",
      "gpt-realtime-2.1",
    ),
    "https://api.openai.com/v1/models/gpt-realtime-2.1",
  );
  assert.equal(
    modelRecordUrl("ws://127.0.0.1:9999/v1/realtime?x=1&model=m", "m"),
    "http://127.0.0.1:9999/v1/models/m",
  );
  assert.equal(
    modelRecordUrl("wss://proxy.example.test:8443/rt", "gpt-realtime"),
    "https://proxy.example.test:8443/v1/models/gpt-realtime",
  );
});

Deno.test("replacementFor() names OpenAI's replacements of the retiring models", () => {
  assert.equal(replacementFor("gpt-realtime"), "gpt-realtime-2.1");
  assert.equal(replacementFor("gpt-realtime-mini"), "gpt-realtime-2.1-mini");
  assert.equal(replacementFor("gpt-realtime-2.1"), undefined);
  assert.equal(replacementFor("my-proxy-model"), undefined);
});

Deno.test("configuredModels() lists what calls use: voice and transcription on Realtime, voice and backend on GPT-Live, SUMMARY_MODEL only when calls are summarized", () => {
  const liveUrl = "wss://live.example.net/v1/live/sessions";
  const list = (variables: Partial<Record<ConfigVariable, string>>) =>
    configuredModels(testConfig({ OPENAI_LIVE_URL: liveUrl, ...variables }))
      .map(({ id, variable, endpoint }) => [id, variable, endpoint]);
  const realtimeUrl = testConfig().realtime.url;
  assert.deepEqual(list({}), [
    ["gpt-realtime-2.1", "OPENAI_REALTIME_MODEL", realtimeUrl],
    ["gpt-live-transcribe", undefined, realtimeUrl],
    ["gpt-5.4-mini", "SUMMARY_MODEL", realtimeUrl],
  ]);
  assert.deepEqual(list({ MEMORY: "false", SUMMARY_MODEL: "gpt-none" }), [
    ["gpt-realtime-2.1", "OPENAI_REALTIME_MODEL", realtimeUrl],
    ["gpt-live-transcribe", undefined, realtimeUrl],
  ]);
  assert.deepEqual(list({ JOURNAL_TRANSCRIPTS: "false" }).length, 2);
  assert.deepEqual(
    list({ VOICE_ENGINE: "live", LIVE_BACKEND_MODEL: "gpt-5.4-mini" }),
    [
      ["gpt-live-1", "LIVE_MODEL", liveUrl],
      ["gpt-5.4-mini", "LIVE_BACKEND_MODEL", liveUrl],
      // The summaries go to the Responses API beside the Realtime API.
      ["gpt-5.4-mini", "SUMMARY_MODEL", realtimeUrl],
    ],
  );
});

// ---- Against a local stand-in for OpenAI ----

const ADMIN_TOKEN = "owner-admin-token-0123456789";

interface Seen {
  method: string;
  path: string;
  authorization: string | null;
}

/** A local HTTP server answering with `handle`; records what it was asked. */
function modelServer(
  handle: (request: Request) => Promise<Response> | Response,
) {
  const seen: Seen[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      seen.push({
        method: request.method,
        path: new URL(request.url).pathname,
        authorization: request.headers.get("authorization"),
      });
      return handle(request);
    },
  );
  return {
    seen,
    realtimeUrl: `ws://127.0.0.1:${server.addr.port}/v1/realtime`,
    close: () => server.shutdown(),
  };
}

/** An app whose Realtime endpoint is the local server, as main.ts builds it. */
async function withApp(
  realtimeUrl: string,
  variables: Partial<Record<ConfigVariable, string>>,
  run: (app: App, logs: ReturnType<typeof memoryLogger>) => Promise<void>,
  modelLookupTimeoutMs?: number,
) {
  const config = testConfig({
    OPENAI_REALTIME_URL: realtimeUrl,
    ADMIN_TOKEN,
    ...variables,
  });
  const logs = memoryLogger([config.openai.apiKey, config.twilio.authToken]);
  const kv = await Deno.openKv(":memory:");
  const app = await createApp({
    config,
    logger: logs,
    kv,
    modelLookupTimeoutMs,
  });
  try {
    await run(app, logs);
  } finally {
    await app.close();
    kv.close();
  }
}

async function healthz(app: App) {
  const response = await app.handler(new Request("http://localhost/healthz"));
  assert.equal(response.status, 200);
  return await response.json();
}

async function callsPage(app: App): Promise<string> {
  const response = await app.handler(
    new Request("http://localhost/calls", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }),
  );
  assert.equal(response.status, 200);
  return await response.text();
}

/** The model.* events, of one model when `model` is given. */
function modelEvents(logs: ReturnType<typeof memoryLogger>, model?: string) {
  return logs.events().filter((e) =>
    String(e.event).startsWith("model.") &&
    (model === undefined || e.model === model)
  );
}

/** The other models a default configuration uses: input transcription, summaries. */
const OTHER_PATHS = [
  "/v1/models/gpt-5.4-mini",
  "/v1/models/gpt-live-transcribe",
];

/** A record for the model the request names, with `shutdownDate` for those in `dated`. */
function recordFor(request: Request, dated: Record<string, string> = {}) {
  const id = decodeURIComponent(
    new URL(request.url).pathname.split("/").at(-1)!,
  );
  return Response.json({ ...RECORD, id, shutdown_date: dated[id] ?? null });
}

Deno.test("a model with a shutdown date: one model.retiring warning, /healthz carries the date, /calls says what to set", async () => {
  const openai = modelServer((request) =>
    recordFor(request, { "gpt-realtime": "2027-01-20" })
  );
  try {
    await withApp(
      openai.realtimeUrl,
      { OPENAI_REALTIME_MODEL: "gpt-realtime" },
      async (app, logs) => {
        const status = await app.modelCheck;
        assert.deepEqual(status, {
          id: "gpt-realtime",
          lookup: "done",
          shutdownDate: "2027-01-20",
        });
        assert.deepEqual(
          openai.seen.toSorted((a, b) => a.path.localeCompare(b.path)),
          ["/v1/models/gpt-realtime", ...OTHER_PATHS].sort().map((path) => ({
            method: "GET",
            path,
            authorization: `Bearer ${TEST_API_KEY}`,
          })),
        );
        const events = modelEvents(logs);
        assert.equal(events.length, 1, logs.lines.join("\n"));
        assert.equal(events[0].event, "model.retiring");
        assert.equal(events[0].variable, "OPENAI_REALTIME_MODEL");
        assert.equal(events[0].level, "warn");
        assert.equal(events[0].model, "gpt-realtime");
        assert.equal(events[0].shutdownDate, "2027-01-20");
        assert.equal(events[0].replacement, "gpt-realtime-2.1");
        assert.ok(!logs.lines.join("\n").includes(TEST_API_KEY));

        assert.deepEqual((await healthz(app)).model, {
          id: "gpt-realtime",
          lookup: "done",
          shutdownDate: "2027-01-20",
        });
        const page = await callsPage(app);
        assert.match(
          page,
          /Model gpt-realtime shuts down on 2027-01-20<\/b>: set <code>OPENAI_REALTIME_MODEL=gpt-realtime-2\.1<\/code>/,
        );
        assert.match(page, /role="alert"/);
      },
    );
  } finally {
    await openai.close();
  }
});

Deno.test("the /calls banner names gpt-realtime-2.1-mini for gpt-realtime-mini, and a generic step for other models", async () => {
  const openai = modelServer((request) =>
    Response.json({
      ...RECORD,
      id: decodeURIComponent(new URL(request.url).pathname.split("/").at(-1)!),
      shutdown_date: "2027-03-01",
    })
  );
  try {
    await withApp(
      openai.realtimeUrl,
      { OPENAI_REALTIME_MODEL: "gpt-realtime-mini" },
      async (app) => {
        await app.modelCheck;
        assert.match(
          await callsPage(app),
          /Model gpt-realtime-mini shuts down on 2027-03-01<\/b>: set <code>OPENAI_REALTIME_MODEL=gpt-realtime-2\.1-mini<\/code>/,
        );
      },
    );
    await withApp(
      openai.realtimeUrl,
      { OPENAI_REALTIME_MODEL: "gpt-realtime-1.5" },
      async (app, logs) => {
        await app.modelCheck;
        assert.match(
          await callsPage(app),
          /Model gpt-realtime-1\.5 shuts down on 2027-03-01<\/b>: set <code>OPENAI_REALTIME_MODEL<\/code> to a current Realtime model/,
        );
        const [event] = modelEvents(logs, "gpt-realtime-1.5");
        assert.equal(event.event, "model.retiring");
        assert.equal(event.replacement, undefined);
      },
    );
  } finally {
    await openai.close();
  }
});

Deno.test("every model the configuration uses is looked up: a retiring transcription or summary model is warned about in the log, on /healthz and /calls", async () => {
  const openai = modelServer((request) =>
    recordFor(request, {
      "gpt-live-transcribe": "2027-06-01",
      "gpt-5.4-mini": "2027-07-01",
    })
  );
  try {
    await withApp(openai.realtimeUrl, {}, async (app, logs) => {
      assert.equal((await app.modelCheck).shutdownDate, null);
      const retiring = modelEvents(logs).map((e) => [
        e.event,
        e.model,
        e.variable,
        e.shutdownDate,
      ]).sort();
      assert.deepEqual(retiring, [
        ["model.retiring", "gpt-5.4-mini", "SUMMARY_MODEL", "2027-07-01"],
        ["model.retiring", "gpt-live-transcribe", undefined, "2027-06-01"],
      ]);
      const health = await healthz(app);
      assert.deepEqual(health.models, [
        {
          id: "gpt-realtime-2.1",
          variable: "OPENAI_REALTIME_MODEL",
          role: "voice",
          lookup: "done",
          shutdownDate: null,
        },
        {
          id: "gpt-live-transcribe",
          role: "input transcription",
          lookup: "done",
          shutdownDate: "2027-06-01",
        },
        {
          id: "gpt-5.4-mini",
          variable: "SUMMARY_MODEL",
          role: "summaries",
          lookup: "done",
          shutdownDate: "2027-07-01",
        },
      ]);
      const page = await callsPage(app);
      assert.match(
        page,
        /Model gpt-5\.4-mini shuts down on 2027-07-01<\/b>: set <code>SUMMARY_MODEL<\/code> to a current model/,
      );
      assert.match(
        page,
        /Model gpt-live-transcribe shuts down on 2027-06-01<\/b>: it is built into this server \(input transcription\): update the server/,
      );
      assert.doesNotMatch(page, /Model gpt-realtime-2\.1 shuts down/);
    });
  } finally {
    await openai.close();
  }
});

Deno.test("a model with no shutdown date: no warning, a null date in /healthz, no banner", async () => {
  const openai = modelServer(() =>
    Response.json({ ...RECORD, id: "gpt-realtime-2.1", shutdown_date: null })
  );
  try {
    await withApp(openai.realtimeUrl, {}, async (app, logs) => {
      assert.equal((await app.modelCheck).shutdownDate, null);
      assert.deepEqual(
        openai.seen.map((s) => s.path).sort(),
        ["/v1/models/gpt-realtime-2.1", ...OTHER_PATHS].sort(),
      );
      assert.deepEqual(modelEvents(logs), []);
      assert.deepEqual((await healthz(app)).model, {
        id: "gpt-realtime-2.1",
        lookup: "done",
        shutdownDate: null,
      });
      const page = await callsPage(app);
      assert.doesNotMatch(page, /shuts down/);
      assert.doesNotMatch(page, /class="banner"/);
    });
  } finally {
    await openai.close();
  }
});

Deno.test("a failed look-up (404, 401, 500, garbage, not a record) logs one model.lookup_failed with the status only, and the app serves on", async () => {
  const cases: [string, () => Response, number | string][] = [
    [
      "404",
      () =>
        Response.json({
          error: {
            message: "The model 'gpt-realtime-2.1' does not exist",
            type: "invalid_request_error",
            code: "model_not_found",
          },
        }, { status: 404 }),
      404,
    ],
    [
      "401",
      () =>
        Response.json({
          error: {
            // OpenAI echoes part of a wrong key: it must not reach the log.
            message: `Incorrect API key provided: ${
              TEST_API_KEY.slice(0, 6)
            }****-echo. You can find your API key at https://platform.openai.com/account/api-keys.`,
            type: "invalid_request_error",
            code: "invalid_api_key",
          },
        }, { status: 401 }),
      401,
    ],
    ["500", () => new Response("upstream exploded", { status: 500 }), 500],
    [
      "garbage",
      () =>
        new Response("<html>not json</html>", {
          headers: { "content-type": "application/json" },
        }),
      "invalid_record",
    ],
    ["not a record", () => Response.json({ data: [] }), "invalid_record"],
    [
      "too large",
      () => Response.json({ ...RECORD, padding: "x".repeat(100_000) }),
      "invalid_record",
    ],
  ];
  for (const [name, respond, status] of cases) {
    const openai = modelServer(respond);
    try {
      await withApp(openai.realtimeUrl, {}, async (app, logs) => {
        assert.deepEqual(await app.modelCheck, {
          id: "gpt-realtime-2.1",
          lookup: "failed",
          shutdownDate: null,
        }, name);
        const events = modelEvents(logs, "gpt-realtime-2.1");
        assert.equal(events.length, 1, `${name}: ${logs.lines.join("\n")}`);
        assert.equal(events[0].event, "model.lookup_failed");
        assert.equal(events[0].level, "warn");
        assert.equal(events[0].status, status, name);
        assert.deepEqual(
          Object.keys(events[0]).sort(),
          ["event", "level", "model", "status", "time", "variable"],
          name,
        );
        const all = logs.lines.join("\n");
        assert.ok(!all.includes("echo"), name);
        assert.ok(!all.includes("exploded"), name);
        assert.ok(!all.includes(TEST_API_KEY), name);
        const health = await healthz(app);
        assert.equal(health.status, "ok");
        assert.deepEqual(health.model, {
          id: "gpt-realtime-2.1",
          lookup: "failed",
          shutdownDate: null,
        });
        assert.doesNotMatch(await callsPage(app), /shuts down/);
      });
    } finally {
      await openai.close();
    }
  }
});

Deno.test("an unreachable endpoint logs model.lookup_failed with network_error", async () => {
  // A port that was just free: nothing listens on it now.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await withApp(`ws://127.0.0.1:${port}/v1/realtime`, {}, async (app, logs) => {
    assert.equal((await app.modelCheck).lookup, "failed");
    const events = modelEvents(logs, "gpt-realtime-2.1");
    assert.equal(events.length, 1);
    assert.equal(events[0].event, "model.lookup_failed");
    assert.equal(events[0].status, "network_error");
  });
});

Deno.test("a look-up that hangs neither delays serving nor outlives its timeout", async () => {
  const release = Promise.withResolvers<void>();
  // Answers only once the test is over.
  const openai = modelServer(async () => {
    await release.promise;
    return Response.json(RECORD);
  });
  try {
    await withApp(openai.realtimeUrl, {}, async (app, logs) => {
      // createApp has returned and serves while the look-up is pending.
      const health = await healthz(app);
      assert.equal(health.status, "ok");
      assert.deepEqual(health.model, {
        id: "gpt-realtime-2.1",
        lookup: "pending",
        shutdownDate: null,
      });
      const started = Date.now();
      assert.equal((await app.modelCheck).lookup, "failed");
      assert.ok(Date.now() - started < 2000);
      const events = modelEvents(logs, "gpt-realtime-2.1");
      assert.equal(events.length, 1);
      assert.equal(events[0].status, "timeout");
    }, 200);
  } finally {
    release.resolve();
    await openai.close();
  }
});

Deno.test("closing the app cancels a pending look-up without a warning", async () => {
  const release = Promise.withResolvers<void>();
  // Answers only once the test is over.
  const openai = modelServer(async () => {
    await release.promise;
    return Response.json(RECORD);
  });
  const logs = memoryLogger();
  const kv = await Deno.openKv(":memory:");
  try {
    const app = await createApp({
      config: testConfig({ OPENAI_REALTIME_URL: openai.realtimeUrl }),
      logger: logs,
      kv,
    });
    const started = Date.now();
    await app.close();
    assert.ok(Date.now() - started < 2000, "close waited for the look-up");
    assert.equal((await app.modelCheck).lookup, "failed");
    assert.deepEqual(modelEvents(logs), []);
  } finally {
    release.resolve();
    kv.close();
    await openai.close();
  }
});

Deno.test("lookUpModel() never throws and reports aborted when its signal is already aborted", async () => {
  const result = await lookUpModel({
    endpoint: "ws://127.0.0.1:9/v1/realtime",
    model: "gpt-realtime-2.1",
    apiKey: TEST_API_KEY,
    timeoutMs: 1000,
    signal: AbortSignal.abort(),
  });
  assert.deepEqual(result, { ok: false, status: "aborted" });
});
