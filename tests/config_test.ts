import assert from "node:assert/strict";
import {
  CONFIG_VARIABLES,
  ConfigError,
  type ConfigVariable,
  DEFAULT_INSTRUCTIONS,
  DEFAULT_REALTIME_MODEL,
  envReader,
  loadConfig,
  REASONING_EFFORTS,
  VOICES,
} from "../src/config.ts";
import { RETIRING_MODELS } from "../src/upstream/model_record.ts";

type Env = Partial<Record<ConfigVariable, string>>;

const REQUIRED: Env = {
  OPENAI_API_KEY: "sk-test-key",
  TWILIO_AUTH_TOKEN: "twilio-test-token",
};

/** Loads a config from a plain map, through the same trimming reader the server uses. */
function load(env: Env) {
  return loadConfig(envReader(new Map(Object.entries(env))));
}

/** Loads a config that must be refused and returns the error. */
function refuse(env: Env): ConfigError {
  try {
    load(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail("configuration was accepted");
}

/**
 * The fields of `config` named in `expected` by their path ("server.port"),
 * so fields added later do not break these tests.
 */
function assertFields(config: object, expected: Record<string, unknown>): void {
  const at = (path: string) =>
    path.split(".").reduce<unknown>(
      (value, key) => (value as Record<string, unknown>)[key],
      config,
    );
  const actual = Object.fromEntries(
    Object.keys(expected).map((path) => [path, at(path)]),
  );
  assert.deepEqual(actual, expected);
}

Deno.test("loadConfig() fills in the defaults", () => {
  const config = load(REQUIRED);
  assertFields(config, {
    "openai.apiKey": "sk-test-key",
    "twilio.authToken": "twilio-test-token",
    "server.publicUrl": undefined,
    "server.port": 5050,
    "assistant.voice": "alloy",
    "assistant.instructions": DEFAULT_INSTRUCTIONS,
    "assistant.temperature": 0.8,
    "zapier.url": "https://mcp.zapier.com/api/mcp/mcp",
    "zapier.password": undefined,
    "zapier.allowedTools": undefined,
    "realtime.url": "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1",
    "realtime.model": "gpt-realtime-2.1",
    "realtime.reasoningEffort": "low",
    "assistant.thinkingSound": true,
    "calls.streamTokenTtlSeconds": 60,
  });
});

Deno.test("loadConfig() takes every variable when set", () => {
  const config = load({
    ...REQUIRED,
    PUBLIC_URL: "https://assistant.example.com",
    PORT: "8080",
    VOICE: "marin",
    ASSISTANT_INSTRUCTIONS: "Be brief.",
    TEMPERATURE: "1.1",
    ZAPIER_MCP_URL: "https://mcp.zapier.com/api/mcp/s/x/mcp",
    ZAPIER_MCP_PASSWORD: "zap-pass",
    ZAPIER_MCP_ALLOWED_TOOLS: "gmail_send_email,todoist_find_task",
    OPENAI_REALTIME_URL: "ws://localhost:9999/v1/realtime?model=m",
    OPENAI_REALTIME_MODEL: "gpt-realtime-2.1-mini",
    REASONING_EFFORT: "high",
    THINKING_SOUND: "false",
    STREAM_TOKEN_TTL_SECONDS: "120",
  });
  assertFields(config, {
    "openai.apiKey": "sk-test-key",
    "twilio.authToken": "twilio-test-token",
    "server.publicUrl": "https://assistant.example.com",
    "server.port": 8080,
    "assistant.voice": "marin",
    "assistant.instructions": "Be brief.",
    "assistant.temperature": 1.1,
    "zapier.url": "https://mcp.zapier.com/api/mcp/s/x/mcp",
    "zapier.password": "zap-pass",
    "zapier.allowedTools": ["gmail_send_email", "todoist_find_task"],
    "realtime.url":
      "ws://localhost:9999/v1/realtime?model=gpt-realtime-2.1-mini",
    "realtime.model": "gpt-realtime-2.1-mini",
    "realtime.reasoningEffort": "high",
    "assistant.thinkingSound": false,
    "calls.streamTokenTtlSeconds": 120,
  });
});

Deno.test("loadConfig() accepts every listed voice", () => {
  for (const voice of VOICES) {
    assert.equal(load({ ...REQUIRED, VOICE: voice }).assistant.voice, voice);
  }
});

Deno.test("loadConfig() reports missing OPENAI_API_KEY and TWILIO_AUTH_TOKEN in one error", () => {
  const error = refuse({});
  assert.equal(error.name, "ConfigError");
  assert.ok(error instanceof Error);
  assert.equal(error.problems.length, 2, error.message);
  assert.match(error.problems.join("\n"), /OPENAI_API_KEY/);
  assert.match(error.problems.join("\n"), /TWILIO_AUTH_TOKEN/);
  assert.match(error.message, /OPENAI_API_KEY/);
  assert.match(error.message, /TWILIO_AUTH_TOKEN/);
});

Deno.test("loadConfig() reports one missing required variable", () => {
  const error = refuse({ OPENAI_API_KEY: "sk-x" });
  assert.equal(error.problems.length, 1);
  assert.match(error.problems[0], /TWILIO_AUTH_TOKEN/);
});

Deno.test("loadConfig() lists every invalid variable at once", () => {
  const error = refuse({
    PORT: "http",
    TEMPERATURE: "hot",
    VOICE: "robot",
    PUBLIC_URL: "https://assistant.example.com/incoming-call",
    OPENAI_REALTIME_URL: "http://api.openai.com/v1/realtime",
    STREAM_TOKEN_TTL_SECONDS: "1",
    ZAPIER_MCP_URL: "http://mcp.zapier.com/api/mcp/mcp",
    OPENAI_REALTIME_MODEL: "gpt realtime",
    REASONING_EFFORT: "extreme",
    THINKING_SOUND: "loud",
    ZAPIER_MCP_ALLOWED_TOOLS: "gmail send email",
  });
  const names = [
    "OPENAI_API_KEY",
    "TWILIO_AUTH_TOKEN",
    "PORT",
    "TEMPERATURE",
    "VOICE",
    "PUBLIC_URL",
    "OPENAI_REALTIME_URL",
    "STREAM_TOKEN_TTL_SECONDS",
    "ZAPIER_MCP_URL",
    "OPENAI_REALTIME_MODEL",
    "REASONING_EFFORT",
    "THINKING_SOUND",
    "ZAPIER_MCP_ALLOWED_TOOLS",
  ];
  assert.equal(error.problems.length, names.length, error.message);
  for (const name of names) {
    assert.ok(
      error.problems.some((p) => p.startsWith(name)),
      `${name} in ${error.message}`,
    );
    assert.ok(error.message.includes(name));
  }
});

Deno.test("loadConfig() refuses out-of-range or malformed numbers", () => {
  const bad: Env[] = [
    { PORT: "65536" },
    { PORT: "-1" },
    { PORT: "50.5" },
    { PORT: "five" },
    { TEMPERATURE: "2.5" },
    { TEMPERATURE: "0.5" },
    { TEMPERATURE: "hot" },
    { TEMPERATURE: "NaN" },
    { TEMPERATURE: "Infinity" },
    { STREAM_TOKEN_TTL_SECONDS: "4" },
    { STREAM_TOKEN_TTL_SECONDS: "3601" },
    { STREAM_TOKEN_TTL_SECONDS: "30.5" },
  ];
  for (const env of bad) {
    const error = refuse({ ...REQUIRED, ...env });
    const [name] = Object.keys(env);
    assert.equal(error.problems.length, 1, error.message);
    assert.ok(error.problems[0].startsWith(name), error.message);
  }
});

Deno.test("loadConfig() accepts numbers at the edges of their ranges", () => {
  assert.equal(load({ ...REQUIRED, PORT: "0" }).server.port, 0);
  assert.equal(load({ ...REQUIRED, PORT: "65535" }).server.port, 65535);
  assert.equal(
    load({ ...REQUIRED, TEMPERATURE: "0.6" }).assistant.temperature,
    0.6,
  );
  assert.equal(
    load({ ...REQUIRED, TEMPERATURE: "1.2" }).assistant.temperature,
    1.2,
  );
  assert.equal(
    load({ ...REQUIRED, STREAM_TOKEN_TTL_SECONDS: "5" }).calls
      .streamTokenTtlSeconds,
    5,
  );
  assert.equal(
    load({ ...REQUIRED, STREAM_TOKEN_TTL_SECONDS: "3600" })
      .calls.streamTokenTtlSeconds,
    3600,
  );
});

Deno.test("loadConfig() refuses URLs with the wrong scheme or that do not parse", () => {
  for (
    const env of [
      { OPENAI_REALTIME_URL: "http://api.openai.com/v1/realtime" },
      { OPENAI_REALTIME_URL: "https://api.openai.com/v1/realtime" },
      { OPENAI_REALTIME_URL: "api.openai.com/v1/realtime" },
      { ZAPIER_MCP_URL: "http://mcp.zapier.com/api/mcp/mcp" },
      { PUBLIC_URL: "wss://assistant.example.com" },
      { PUBLIC_URL: "assistant.example.com" },
    ] satisfies Env[]
  ) {
    const error = refuse({ ...REQUIRED, ...env });
    assert.equal(error.problems.length, 1, error.message);
    assert.ok(error.problems[0].startsWith(Object.keys(env)[0]), error.message);
  }
});

Deno.test("loadConfig() normalises PUBLIC_URL to its origin", () => {
  const cases: [string, string][] = [
    ["https://assistant.example.com/", "https://assistant.example.com"],
    ["https://assistant.example.com", "https://assistant.example.com"],
    ["https://Assistant.Example.COM/", "https://assistant.example.com"],
    ["https://assistant.example.com:443/", "https://assistant.example.com"],
    [
      "https://assistant.example.com:8443/",
      "https://assistant.example.com:8443",
    ],
    ["http://localhost:5050/", "http://localhost:5050"],
  ];
  for (const [raw, origin] of cases) {
    assert.equal(
      load({ ...REQUIRED, PUBLIC_URL: raw }).server.publicUrl,
      origin,
      raw,
    );
  }
});

Deno.test("loadConfig() refuses a PUBLIC_URL with a path, query or fragment", () => {
  for (
    const raw of [
      "https://assistant.example.com/incoming-call",
      "https://assistant.example.com/?x=1",
      "https://assistant.example.com/#top",
    ]
  ) {
    const error = refuse({ ...REQUIRED, PUBLIC_URL: raw });
    assert.equal(error.problems.length, 1, raw);
    assert.match(error.problems[0], /^PUBLIC_URL/);
  }
});

Deno.test("loadConfig() treats blank values as unset", () => {
  const error = refuse({ OPENAI_API_KEY: "   ", TWILIO_AUTH_TOKEN: "" });
  assert.equal(error.problems.length, 2, error.message);

  const config = load({
    ...REQUIRED,
    PORT: " ",
    VOICE: "",
    TEMPERATURE: "\t",
    PUBLIC_URL: "  ",
    ZAPIER_MCP_PASSWORD: "   ",
    ZAPIER_MCP_URL: "",
    OPENAI_REALTIME_URL: " ",
    OPENAI_REALTIME_MODEL: "  ",
    REASONING_EFFORT: "",
    THINKING_SOUND: " ",
    ZAPIER_MCP_ALLOWED_TOOLS: "\t",
    ASSISTANT_INSTRUCTIONS: "\n",
    STREAM_TOKEN_TTL_SECONDS: "",
  });
  assert.equal(config.server.port, 5050);
  assert.equal(config.assistant.voice, "alloy");
  assert.equal(config.assistant.temperature, 0.8);
  assert.equal(config.server.publicUrl, undefined);
  assert.equal(config.zapier.password, undefined);
  assert.equal(config.zapier.url, "https://mcp.zapier.com/api/mcp/mcp");
  assert.equal(
    config.realtime.url,
    "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1",
  );
  assert.equal(config.realtime.model, "gpt-realtime-2.1");
  assert.equal(config.realtime.reasoningEffort, "low");
  assert.equal(config.assistant.thinkingSound, true);
  assert.equal(config.zapier.allowedTools, undefined);
  assert.equal(config.assistant.instructions, DEFAULT_INSTRUCTIONS);
  assert.equal(config.calls.streamTokenTtlSeconds, 60);
});

// ---- The Realtime model, reasoning, thinking sound, Zapier tool filter ----

Deno.test("loadConfig() takes the model from OPENAI_REALTIME_MODEL first, then the URL's model param, then gpt-realtime-2.1", () => {
  const cases: [Env, string, string][] = [
    [
      {},
      "gpt-realtime-2.1",
      "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1",
    ],
    [
      { OPENAI_REALTIME_MODEL: "gpt-realtime-2.1-mini" },
      "gpt-realtime-2.1-mini",
      "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1-mini",
    ],
    // An old .env naming the model in the URL keeps it.
    [
      {
        OPENAI_REALTIME_URL:
          "wss://api.openai.com/v1/realtime?model=gpt-realtime",
      },
      "gpt-realtime",
      "wss://api.openai.com/v1/realtime?model=gpt-realtime",
    ],
    // OPENAI_REALTIME_MODEL wins, and the URL is made to agree.
    [
      {
        OPENAI_REALTIME_URL:
          "wss://api.openai.com/v1/realtime?model=gpt-realtime",
        OPENAI_REALTIME_MODEL: "gpt-realtime-2.1",
      },
      "gpt-realtime-2.1",
      "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1",
    ],
    // Other query params are kept.
    [
      {
        OPENAI_REALTIME_URL:
          "wss://proxy.example.test/v1/realtime?foo=1&model=gpt-realtime-mini&bar=2",
        OPENAI_REALTIME_MODEL: "gpt-realtime-2.1-mini",
      },
      "gpt-realtime-2.1-mini",
      "wss://proxy.example.test/v1/realtime?foo=1&model=gpt-realtime-2.1-mini&bar=2",
    ],
    [
      { OPENAI_REALTIME_URL: "ws://127.0.0.1:9999/rt?foo=1" },
      "gpt-realtime-2.1",
      "ws://127.0.0.1:9999/rt?foo=1&model=gpt-realtime-2.1",
    ],
    // An empty model param is no model.
    [
      { OPENAI_REALTIME_URL: "wss://api.openai.com/v1/realtime?model=" },
      "gpt-realtime-2.1",
      "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1",
    ],
  ];
  for (const [env, model, url] of cases) {
    const config = load({ ...REQUIRED, ...env });
    assert.equal(config.realtime.model, model, JSON.stringify(env));
    assert.equal(config.realtime.url, url, JSON.stringify(env));
  }
});

Deno.test("loadConfig() refuses a model name that is not letters, digits, dots, dashes and underscores", () => {
  for (
    const model of [
      "gpt realtime",
      "gpt-realtime/2",
      "gpt-realtime?x=1",
      "gpt-realtime#2",
      "modèle",
      "x".repeat(101),
    ]
  ) {
    const error = refuse({ ...REQUIRED, OPENAI_REALTIME_MODEL: model });
    assert.equal(error.problems.length, 1, error.message);
    assert.match(error.problems[0], /^OPENAI_REALTIME_MODEL must be/);
  }
  const fromUrl = refuse({
    ...REQUIRED,
    OPENAI_REALTIME_URL: "wss://api.openai.com/v1/realtime?model=gpt%2Frt",
  });
  assert.equal(fromUrl.problems.length, 1, fromUrl.message);
  assert.match(fromUrl.problems[0], /^OPENAI_REALTIME_URL's model/);
  // A good OPENAI_REALTIME_MODEL overrides a bad one in an old URL.
  assert.equal(
    load({
      ...REQUIRED,
      OPENAI_REALTIME_URL: "wss://api.openai.com/v1/realtime?model=gpt%2Frt",
      OPENAI_REALTIME_MODEL: "gpt-realtime-2.1",
    }).realtime.url,
    "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1",
  );
  for (
    const model of [
      "gpt-realtime-2.1",
      "gpt-realtime-2.1-mini",
      "gpt-realtime-2025-08-28",
      "gpt_realtime.custom-1",
    ]
  ) {
    assert.equal(
      load({ ...REQUIRED, OPENAI_REALTIME_MODEL: model }).realtime.model,
      model,
    );
  }
});

Deno.test("the default model is gpt-realtime-2.1, which has no announced shutdown", () => {
  assert.equal(DEFAULT_REALTIME_MODEL, "gpt-realtime-2.1");
  const model = load(REQUIRED).realtime.model;
  assert.equal(model, DEFAULT_REALTIME_MODEL);
  assert.ok(
    !RETIRING_MODELS.some((retiring) => retiring.id === model),
    `${model} is retiring`,
  );
});

Deno.test("loadConfig() accepts every reasoning effort, in any case, and refuses others", () => {
  for (const effort of REASONING_EFFORTS) {
    assert.equal(
      load({ ...REQUIRED, REASONING_EFFORT: effort }).realtime.reasoningEffort,
      effort,
    );
  }
  assert.equal(
    load({ ...REQUIRED, REASONING_EFFORT: "High" }).realtime.reasoningEffort,
    "high",
  );
  assert.deepEqual(REASONING_EFFORTS, [
    "minimal",
    "low",
    "medium",
    "high",
    "xhigh",
  ]);
  for (const effort of ["none", "max", "2", "extra-high"]) {
    const error = refuse({ ...REQUIRED, REASONING_EFFORT: effort });
    assert.equal(error.problems.length, 1, error.message);
    assert.match(
      error.problems[0],
      /^REASONING_EFFORT must be one of minimal, low, medium, high, xhigh/,
    );
  }
});

Deno.test("loadConfig() reads THINKING_SOUND as a flag, on by default", () => {
  assert.equal(load(REQUIRED).assistant.thinkingSound, true);
  for (const off of ["false", "0", "no", "off", "FALSE"]) {
    assert.equal(
      load({ ...REQUIRED, THINKING_SOUND: off }).assistant.thinkingSound,
      false,
    );
  }
  for (const on of ["true", "1", "yes", "on"]) {
    assert.equal(
      load({ ...REQUIRED, THINKING_SOUND: on }).assistant.thinkingSound,
      true,
    );
  }
  const error = refuse({ ...REQUIRED, THINKING_SOUND: "quiet" });
  assert.equal(error.problems.length, 1);
  assert.match(error.problems[0], /^THINKING_SOUND must be true or false/);
});

Deno.test("loadConfig() reads ZAPIER_MCP_ALLOWED_TOOLS as a trimmed comma list without empty entries", () => {
  assert.deepEqual(
    load({
      ...REQUIRED,
      ZAPIER_MCP_ALLOWED_TOOLS:
        " gmail_send_email , todoist_find_task,,todoist.create-task, ",
    }).zapier.allowedTools,
    ["gmail_send_email", "todoist_find_task", "todoist.create-task"],
  );
  assert.deepEqual(
    load({ ...REQUIRED, ZAPIER_MCP_ALLOWED_TOOLS: "one_tool" })
      .zapier.allowedTools,
    ["one_tool"],
  );
});

Deno.test("loadConfig() refuses an empty ZAPIER_MCP_ALLOWED_TOOLS list or a malformed tool name", () => {
  for (
    const raw of [
      ",",
      " , ,",
      "gmail send email",
      "gmail_send_email,todoist/find",
      `a,${"x".repeat(129)}`,
    ]
  ) {
    const error = refuse({ ...REQUIRED, ZAPIER_MCP_ALLOWED_TOOLS: raw });
    assert.equal(error.problems.length, 1, raw);
    assert.match(error.problems[0], /^ZAPIER_MCP_ALLOWED_TOOLS must/, raw);
  }
});

Deno.test("envReader() trims values and reads through the given env", () => {
  const seen: string[] = [];
  const read = envReader({
    get(name) {
      seen.push(name);
      return name === "PORT" ? "  8080 \n" : undefined;
    },
  });
  assert.equal(read("PORT"), "8080");
  assert.equal(read("VOICE"), undefined);
  assert.deepEqual(seen, ["PORT", "VOICE"]);
});

Deno.test("loadConfig() reads only the variables in CONFIG_VARIABLES", () => {
  const seen = new Set<string>();
  loadConfig((name) => {
    seen.add(name);
    return REQUIRED[name];
  });
  for (const name of seen) {
    assert.ok(
      (CONFIG_VARIABLES as readonly string[]).includes(name),
      `${name} is read but not listed`,
    );
  }
  assert.deepEqual([...seen].sort(), [...CONFIG_VARIABLES].sort());
});

Deno.test("ConfigError's message never contains a secret value", () => {
  const secrets = {
    OPENAI_API_KEY: "sk-proj-RECOGNISABLE-openai-9f8e7d",
    TWILIO_AUTH_TOKEN: "RECOGNISABLE-twilio-token-1a2b3c",
    ZAPIER_MCP_PASSWORD: "RECOGNISABLE-zapier-pass-4d5e6f",
  };
  const error = refuse({
    ...secrets,
    PORT: "not-a-port",
    TEMPERATURE: "2.5",
    VOICE: "robot",
    OPENAI_REALTIME_URL: "http://api.openai.com/v1/realtime",
  });
  assert.equal(error.problems.length, 4, error.message);
  const everything = [
    error.message,
    String(error),
    error.stack ?? "",
    ...error.problems,
  ].join("\n");
  for (const secret of Object.values(secrets)) {
    assert.ok(!everything.includes(secret), `leaked ${secret}`);
    assert.ok(
      !everything.includes(secret.slice(0, 12)),
      `leaked part of ${secret}`,
    );
  }
});

// ---- deno.json tasks stay in step with CONFIG_VARIABLES ----

interface DenoJson {
  tasks: Record<string, string>;
}

async function tasks(): Promise<Record<string, string>> {
  const text = await Deno.readTextFile(
    new URL("../deno.json", import.meta.url),
  );
  return (JSON.parse(text) as DenoJson).tasks;
}

/** The comma-separated value of `--flag=` in a task's command line. */
function flag(command: string, name: string): string[] | undefined {
  const match = new RegExp(`(?:^|\\s)--${name}=(\\S+)`).exec(command);
  return match?.[1].split(",");
}

Deno.test("deno.json dev and start tasks allow every CONFIG_VARIABLES name", async () => {
  const all = await tasks();
  for (const task of ["dev", "start"]) {
    const command = all[task];
    assert.equal(typeof command, "string", `task ${task}`);
    const allowed = flag(command, "allow-env");
    assert.ok(allowed, `task ${task} has --allow-env=`);
    for (const name of CONFIG_VARIABLES) {
      assert.ok(allowed.includes(name), `task ${task} lacks ${name}`);
    }
  }
});

Deno.test("deno.json dev and start tasks allow only 0.0.0.0, api.openai.com:443, Zapier's MCP host and Twilio's API host", async () => {
  const all = await tasks();
  for (const task of ["dev", "start"]) {
    assert.deepEqual(
      flag(all[task], "allow-net"),
      [
        "0.0.0.0",
        "api.openai.com:443",
        "mcp.zapier.com:443",
        "api.twilio.com:443",
      ],
      `task ${task}`,
    );
  }
});

Deno.test("deno.json dev reads .env and start does not", async () => {
  const all = await tasks();
  assert.deepEqual(flag(all.dev, "env-file"), [".env"]);
  assert.doesNotMatch(all.start, /--env-file\b/);
  assert.doesNotMatch(all.start, /--env\b/);
});

Deno.test("loadConfig() takes CALLER_PIN of 4 to 12 digits and refuses anything else without echoing it", () => {
  assert.deepEqual(load({ ...REQUIRED, CALLER_PIN: "4821" }).callers, {
    pin: "4821",
    pinSkipVerified: false,
  });
  assert.deepEqual(
    load({
      ...REQUIRED,
      CALLER_PIN: "123456789012",
      CALLER_PIN_SKIP_VERIFIED: "true",
    }).callers,
    { pin: "123456789012", pinSkipVerified: true },
  );
  assert.equal(load(REQUIRED).callers.pin, undefined);
  for (const pin of ["123", "1234567890123", "12a4", "12 34", "+1234"]) {
    const error = refuse({ ...REQUIRED, CALLER_PIN: pin });
    assert.match(error.message, /CALLER_PIN must be 4 to 12 digits/);
    assert.ok(!error.message.includes(pin), error.message);
  }
  assert.match(
    refuse({ ...REQUIRED, CALLER_PIN_SKIP_VERIFIED: "true" }).message,
    /CALLER_PIN_SKIP_VERIFIED needs CALLER_PIN/,
  );
});

Deno.test("loadConfig() with DAILY_BUDGET_USD refuses a model without a known price, naming it and PRICES_JSON", () => {
  const error = refuse({
    ...REQUIRED,
    DAILY_BUDGET_USD: "5",
    OPENAI_REALTIME_MODEL: "gpt-realtime-1.5",
  });
  assert.match(error.message, /"gpt-realtime-1\.5" \(OPENAI_REALTIME_MODEL\)/);
  assert.match(error.message, /PRICES_JSON/);
  // Priced through PRICES_JSON, or no budget: accepted.
  load({
    ...REQUIRED,
    DAILY_BUDGET_USD: "5",
    OPENAI_REALTIME_MODEL: "gpt-realtime-1.5",
    PRICES_JSON: JSON.stringify({
      "gpt-realtime-1.5": {
        audio: { input: 32, cached_input: 0.4, output: 64 },
        text: { input: 4, cached_input: 0.4, output: 16 },
      },
    }),
  });
  load({ ...REQUIRED, OPENAI_REALTIME_MODEL: "gpt-realtime-1.5" });
  // GPT-Live bills LIVE_MODEL and LIVE_BACKEND_MODEL; the summary model too.
  assert.match(
    refuse({
      ...REQUIRED,
      DAILY_BUDGET_USD: "5",
      VOICE_ENGINE: "live",
      LIVE_BACKEND_MODEL: "gpt-9-nano",
    }).message,
    /"gpt-9-nano" \(LIVE_BACKEND_MODEL\)/,
  );
  assert.match(
    refuse({ ...REQUIRED, DAILY_BUDGET_USD: "5", SUMMARY_MODEL: "gpt-9-nano" })
      .message,
    /"gpt-9-nano" \(SUMMARY_MODEL\)/,
  );
});

Deno.test("loadConfig() accepts ws:// and http:// for OpenAI, Zapier and Twilio only on this machine", () => {
  for (
    const [name, url] of [
      ["OPENAI_REALTIME_URL", "ws://realtime.example.net/v1/realtime"],
      ["OPENAI_LIVE_URL", "ws://10.0.0.5:9000/v1/live/sessions"],
      ["ZAPIER_MCP_URL", "http://mcp.example.net/api/mcp"],
      ["TWILIO_API_URL", "http://api.twilio.com"],
    ] as const
  ) {
    const error = refuse({ ...REQUIRED, [name]: url });
    assert.match(
      error.message,
      new RegExp(`${name} must start with (wss|https)://`),
    );
  }
  const local = load({
    ...REQUIRED,
    OPENAI_REALTIME_URL: "ws://127.0.0.1:9000/v1/realtime",
    OPENAI_LIVE_URL: "ws://localhost:9001/v1/live/sessions",
    ZAPIER_MCP_URL: "http://[::1]:9002/api/mcp",
    TWILIO_API_URL: "http://127.0.0.1:9003",
  });
  assert.match(local.realtime.url, /^ws:\/\/127\.0\.0\.1:9000/);
  assert.equal(local.live.url, "ws://localhost:9001/v1/live/sessions");
});
