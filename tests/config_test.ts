import assert from "node:assert/strict";
import {
  CONFIG_VARIABLES,
  ConfigError,
  type ConfigVariable,
  DEFAULT_INSTRUCTIONS,
  envReader,
  loadConfig,
  VOICES,
} from "../src/config.ts";

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

/** The fields of `config` named in `expected`, so fields added later do not break these tests. */
function assertFields(config: object, expected: Record<string, unknown>): void {
  const actual = Object.fromEntries(
    Object.keys(expected).map((
      k,
    ) => [k, (config as Record<string, unknown>)[k]]),
  );
  assert.deepEqual(actual, expected);
}

Deno.test("loadConfig() fills in the defaults", () => {
  const config = load(REQUIRED);
  assertFields(config, {
    openaiApiKey: "sk-test-key",
    twilioAuthToken: "twilio-test-token",
    publicUrl: undefined,
    port: 5050,
    voice: "alloy",
    assistantInstructions: DEFAULT_INSTRUCTIONS,
    temperature: 0.8,
    zapierMcpUrl: "https://mcp.zapier.com/api/mcp/mcp",
    zapierMcpPassword: undefined,
    openaiRealtimeUrl: "wss://api.openai.com/v1/realtime?model=gpt-realtime",
    streamTokenTtlSeconds: 60,
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
    OPENAI_REALTIME_URL: "ws://localhost:9999/v1/realtime?model=m",
    STREAM_TOKEN_TTL_SECONDS: "120",
  });
  assertFields(config, {
    openaiApiKey: "sk-test-key",
    twilioAuthToken: "twilio-test-token",
    publicUrl: "https://assistant.example.com",
    port: 8080,
    voice: "marin",
    assistantInstructions: "Be brief.",
    temperature: 1.1,
    zapierMcpUrl: "https://mcp.zapier.com/api/mcp/s/x/mcp",
    zapierMcpPassword: "zap-pass",
    openaiRealtimeUrl: "ws://localhost:9999/v1/realtime?model=m",
    streamTokenTtlSeconds: 120,
  });
});

Deno.test("loadConfig() accepts every listed voice", () => {
  for (const voice of VOICES) {
    assert.equal(load({ ...REQUIRED, VOICE: voice }).voice, voice);
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
  assert.equal(load({ ...REQUIRED, PORT: "0" }).port, 0);
  assert.equal(load({ ...REQUIRED, PORT: "65535" }).port, 65535);
  assert.equal(load({ ...REQUIRED, TEMPERATURE: "0.6" }).temperature, 0.6);
  assert.equal(load({ ...REQUIRED, TEMPERATURE: "1.2" }).temperature, 1.2);
  assert.equal(
    load({ ...REQUIRED, STREAM_TOKEN_TTL_SECONDS: "5" }).streamTokenTtlSeconds,
    5,
  );
  assert.equal(
    load({ ...REQUIRED, STREAM_TOKEN_TTL_SECONDS: "3600" })
      .streamTokenTtlSeconds,
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
    assert.equal(load({ ...REQUIRED, PUBLIC_URL: raw }).publicUrl, origin, raw);
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
    ASSISTANT_INSTRUCTIONS: "\n",
    STREAM_TOKEN_TTL_SECONDS: "",
  });
  assert.equal(config.port, 5050);
  assert.equal(config.voice, "alloy");
  assert.equal(config.temperature, 0.8);
  assert.equal(config.publicUrl, undefined);
  assert.equal(config.zapierMcpPassword, undefined);
  assert.equal(config.zapierMcpUrl, "https://mcp.zapier.com/api/mcp/mcp");
  assert.equal(
    config.openaiRealtimeUrl,
    "wss://api.openai.com/v1/realtime?model=gpt-realtime",
  );
  assert.equal(config.assistantInstructions, DEFAULT_INSTRUCTIONS);
  assert.equal(config.streamTokenTtlSeconds, 60);
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

Deno.test("deno.json dev and start tasks allow only 0.0.0.0 and api.openai.com:443", async () => {
  const all = await tasks();
  for (const task of ["dev", "start"]) {
    assert.deepEqual(
      flag(all[task], "allow-net"),
      ["0.0.0.0", "api.openai.com:443"],
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
