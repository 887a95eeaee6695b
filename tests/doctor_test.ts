/**
 * `deno task doctor` against local peers: the OpenAI simulator's model
 * records, a real MCP server for Zapier, the Twilio stand-ins (with the
 * allowlist deployed by setup), and a /healthz behind the public origin.
 */
import assert from "node:assert/strict";
import { FakeRealtime } from "../peers/realtime/server.ts";
import { MCP_TOKEN, startMcpServer } from "../peers/mcp_server.ts";
import { TwilioRest } from "../peers/twilio_rest.ts";
import { CONFIG_VARIABLES } from "../src/config.ts";
import { hasOpenssl, localhostCertificate } from "./helpers/certificate.ts";
import {
  type CheckLine,
  type DoctorOptions,
  exitCode,
  formatLines,
  runDoctor,
} from "../src/doctor/doctor.ts";
import { runSetup } from "../src/setup/setup.ts";
import {
  TWILIO_HOST_VARIABLES,
  TwilioAccount,
} from "../src/setup/twilio_account.ts";

const ACCOUNT = "AC0123456789abcdef0123456789abcdef";
const TOKEN = "twilio-auth-token-for-doctor-tests";
const NUMBER = "+18005550199";
const OWNER = "+14155550123";
const PUBLIC_URL = "https://assistant.example.com";
const OPENAI_KEY = "sk-doctor-test";
const SOURCE = await Deno.readTextFile(
  new URL("../twilio/allowlist-function.js", import.meta.url),
);

interface Peers {
  openai: FakeRealtime;
  mcp: ReturnType<typeof startMcpServer>;
  rest: TwilioRest;
  /** The server's /healthz as the public origin reaches it. */
  health: { status: number; body: unknown };
  healthUrl: string;
}

async function withPeers(
  run: (peers: Peers) => Promise<void>,
  options: {
    modelRecords?: Record<string, { shutdown_date?: string | null }>;
  } = {},
) {
  const openai = await FakeRealtime.start({
    apiKey: OPENAI_KEY,
    modelRecords: {
      "gpt-5.4-mini": { shutdown_date: null },
      ...options.modelRecords,
    },
  });
  const mcp = startMcpServer({ jsonResponse: true });
  const rest = await TwilioRest.start({
    accountSid: ACCOUNT,
    authToken: TOKEN,
    incomingNumbers: [NUMBER],
    buildPolls: 0,
  });
  const health = { status: 200, body: { status: "ok", calls: 0 } as unknown };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new URL(request.url).pathname === "/healthz"
        ? Response.json(health.body, { status: health.status })
        : new Response("not found", { status: 404 }),
  );
  try {
    await run({
      openai,
      mcp,
      rest,
      health,
      healthUrl: `http://127.0.0.1:${server.addr.port}`,
    });
  } finally {
    await server.shutdown();
    await rest.close();
    await mcp.close();
    await openai.close();
  }
}

function env(peers: Peers, overrides: Record<string, string | undefined> = {}) {
  return {
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_REALTIME_URL: peers.openai.url,
    TWILIO_AUTH_TOKEN: TOKEN,
    TWILIO_ACCOUNT_SID: ACCOUNT,
    TWILIO_FROM_NUMBER: NUMBER,
    TWILIO_API_URL: peers.rest.url,
    TWILIO_SERVERLESS_URL: peers.rest.serverlessUrl,
    OWNER_NUMBERS: OWNER,
    PUBLIC_URL,
    ZAPIER_MCP_URL: peers.mcp.url,
    ZAPIER_MCP_PASSWORD: MCP_TOKEN,
    ...overrides,
  };
}

/** The server tasks as deno.json has them, with the local peers' address granted. */
const TASKS = {
  start: "deno run --allow-net=0.0.0.0,127.0.0.1,api.openai.com:443 main.ts",
  dev:
    "deno run --watch --allow-net=0.0.0.0,127.0.0.1,api.openai.com:443 main.ts",
};

async function doctor(
  peers: Peers,
  overrides: Record<string, string | undefined> = {},
  options: Partial<DoctorOptions> = {},
): Promise<CheckLine[]> {
  const variables = env(peers, overrides);
  return await runDoctor({
    read: (name) => variables[name as keyof typeof variables],
    tasks: TASKS,
    twilioHosts: {
      api: peers.rest.url,
      serverless: peers.rest.serverlessUrl,
      upload: peers.rest.uploadUrl,
    },
    mayReach: () => Promise.resolve(true),
    today: "2026-12-07",
    timeoutMs: 5000,
    // The public origin reaches the local server, as a tunnel would.
    fetch: (input, init) =>
      fetch(String(input).replace(PUBLIC_URL, peers.healthUrl), init),
    ...options,
  });
}

async function setUpTwilio(
  peers: Peers,
  publicUrl = PUBLIC_URL,
): Promise<string> {
  const result = await runSetup({
    settings: {
      accountSid: ACCOUNT,
      authToken: TOKEN,
      number: NUMBER,
      publicUrl,
      allowedNumbers: [OWNER],
      rejectReason: "rejected",
    },
    account: new TwilioAccount({
      accountSid: ACCOUNT,
      authToken: TOKEN,
      hosts: {
        api: peers.rest.url,
        serverless: peers.rest.serverlessUrl,
        upload: peers.rest.uploadUrl,
      },
    }),
    functionSource: SOURCE,
    dryRun: false,
    say: () => {},
    pollMs: 1,
  });
  return result.functionUrl!;
}

/** A loopback port nothing listens on (it was free a moment ago). */
function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function line(lines: CheckLine[], subject: RegExp): CheckLine {
  const found = lines.find((l) => subject.test(l.subject));
  assert.ok(found, `no line for ${subject}: ${formatLines(lines).join("\n")}`);
  return found;
}

Deno.test("runDoctor() with everything working: every line ok, exit 0", async () => {
  await withPeers(async (peers) => {
    const functionUrl = await setUpTwilio(peers);
    const before = peers.rest.requests.length;
    const lines = await doctor(peers);
    assert.deepEqual(
      lines.map((l) => [l.verdict, l.subject]),
      [
        ["ok", "configuration"],
        ["ok", "OpenAI key"],
        ["ok", "model gpt-realtime-2.1 (OPENAI_REALTIME_MODEL)"],
        ["ok", "model gpt-live-transcribe (input transcription)"],
        ["ok", "model gpt-5.4-mini (SUMMARY_MODEL)"],
        ["ok", "Zapier MCP"],
        ["ok", "Twilio account"],
        ["ok", `Twilio number ${NUMBER}`],
        ["ok", "PUBLIC_URL"],
        ["ok", "KV_PATH"],
        ["ok", "permissions"],
      ],
      formatLines(lines).join("\n"),
    );
    assert.match(line(lines, /Zapier/).detail, /^\d+ tools?: /);
    assert.equal(
      line(lines, /Twilio number/).detail,
      `calls go through the allowlist at ${functionUrl} to ${PUBLIC_URL}/incoming-call`,
    );
    assert.equal(exitCode(lines), 0);
    assert.match(formatLines(lines).at(-1)!, /^11 ok, 0 warnings, 0 failed\.$/);
    // The doctor reads; it never writes at Twilio.
    assert.deepEqual(
      peers.rest.requests.slice(before).filter((r) => r.method !== "GET"),
      [],
    );
  });
});

Deno.test("runDoctor() warns of a model's announced shutdown and fails one already shut down", async () => {
  await withPeers(async (peers) => {
    await setUpTwilio(peers);
    const model = { OPENAI_REALTIME_MODEL: "gpt-realtime" };
    const before = line(await doctor(peers, model), /gpt-realtime /);
    assert.deepEqual(before, {
      verdict: "warning",
      subject: "model gpt-realtime (OPENAI_REALTIME_MODEL)",
      detail:
        "shuts down on 2027-01-20 (in 44 days): set OPENAI_REALTIME_MODEL=gpt-realtime-2.1 before then.",
    });
    const after = await doctor(peers, model, { today: "2027-01-21" });
    assert.equal(line(after, /gpt-realtime /).verdict, "failed");
    assert.match(
      line(after, /gpt-realtime /).detail,
      /^shut down on 2027-01-20, so calls fail: set OPENAI_REALTIME_MODEL=gpt-realtime-2\.1\.$/,
    );
    assert.equal(exitCode(after), 1);
    const unknown = await doctor(peers, {
      OPENAI_REALTIME_MODEL: "gpt-realtime-9",
    });
    assert.match(
      line(unknown, /gpt-realtime-9/).detail,
      /^not available to this key \(HTTP 404\)/,
    );
  });
});

Deno.test("runDoctor() on GPT-Live checks the voice and backend models at the Live endpoint's host", async () => {
  await withPeers(async (peers) => {
    await setUpTwilio(peers);
    const lines = await doctor(peers, {
      VOICE_ENGINE: "live",
      OPENAI_LIVE_URL: peers.openai.url.replace(
        "/v1/realtime",
        "/v1/live/sessions",
      ),
      LIVE_BACKEND_MODEL: "gpt-5.4-nano",
    });
    assert.deepEqual(
      lines.filter((l) => l.subject.startsWith("model ")).map((
        l,
      ) => [l.verdict, l.subject]),
      [
        ["ok", "model gpt-live-1 (LIVE_MODEL)"],
        ["failed", "model gpt-5.4-nano (LIVE_BACKEND_MODEL)"],
        ["ok", "model gpt-5.4-mini (SUMMARY_MODEL)"],
      ],
    );
    assert.equal(exitCode(lines), 1);
  }, { modelRecords: { "gpt-live-1": { shutdown_date: null } } });
});

Deno.test("runDoctor() looks up the models calls use: a shut-down transcription model fails, SUMMARY_MODEL only when calls are summarized", async () => {
  await withPeers(async (peers) => {
    await setUpTwilio(peers);
    const models = (lines: CheckLine[]) =>
      lines.filter((l) => l.subject.startsWith("model ")).map((l) => l.subject);
    const transcription = line(
      await doctor(peers, {}, { today: "2027-03-01" }),
      /gpt-live-transcribe/,
    );
    assert.deepEqual(transcription, {
      verdict: "failed",
      subject: "model gpt-live-transcribe (input transcription)",
      detail:
        "shut down on 2027-02-26, so calls fail: this server's input transcription model is built in, so update the server.",
    });
    // MEMORY=false: no summaries, so an unknown SUMMARY_MODEL fails nothing.
    const noMemory = await doctor(peers, {
      MEMORY: "false",
      SUMMARY_MODEL: "gpt-unknown",
    });
    assert.deepEqual(models(noMemory), [
      "model gpt-realtime-2.1 (OPENAI_REALTIME_MODEL)",
      "model gpt-live-transcribe (input transcription)",
    ]);
    assert.equal(exitCode(noMemory), 0, formatLines(noMemory).join("\n"));
    const noTranscripts = await doctor(peers, {
      JOURNAL_TRANSCRIPTS: "false",
      SUMMARY_MODEL: "gpt-unknown",
    });
    assert.equal(models(noTranscripts).length, 2);
    assert.equal(exitCode(noTranscripts), 0);
    const summarized = await doctor(peers, { SUMMARY_MODEL: "gpt-unknown" });
    assert.equal(line(summarized, /SUMMARY_MODEL/).verdict, "failed");
    assert.equal(exitCode(summarized), 1);
  }, {
    modelRecords: { "gpt-live-transcribe": { shutdown_date: "2027-02-26" } },
  });
});

Deno.test("runDoctor() with a wrong OpenAI key fails once and names the variable", async () => {
  await withPeers(async (peers) => {
    const lines = await doctor(peers, { OPENAI_API_KEY: "sk-wrong-key-000" });
    const key = line(lines, /OpenAI key/);
    assert.equal(key.verdict, "failed");
    assert.match(key.detail, /refused OPENAI_API_KEY \(HTTP 401\)/);
    assert.ok(!formatLines(lines).join("\n").includes("sk-wrong-key-000"));
    assert.equal(lines.filter((l) => l.subject.startsWith("model ")).length, 0);
    assert.equal(exitCode(lines), 1);
  });
});

Deno.test("runDoctor() checks Zapier: a wrong key fails, none configured is a warning", async () => {
  await withPeers(async (peers) => {
    await setUpTwilio(peers);
    const wrong = line(
      await doctor(peers, { ZAPIER_MCP_PASSWORD: "not-the-zapier-key" }),
      /Zapier/,
    );
    assert.equal(wrong.verdict, "failed");
    assert.match(wrong.detail, /refused ZAPIER_MCP_PASSWORD \(HTTP 401\)/);
    assert.ok(!wrong.detail.includes("not-the-zapier-key"));
    const none = line(
      await doctor(peers, { ZAPIER_MCP_PASSWORD: undefined }),
      /Zapier/,
    );
    assert.equal(none.verdict, "warning");
    assert.match(none.detail, /set ZAPIER_MCP_PASSWORD/);
  });
});

Deno.test("runDoctor() checks the Twilio credentials and where the number's calls go", async () => {
  await withPeers(async (peers) => {
    // Not set up yet: the number has no voice URL.
    const bare = line(await doctor(peers), /Twilio number/);
    assert.equal(bare.verdict, "failed");
    assert.match(
      bare.detail,
      /^calls go to nowhere \(no voice URL\), neither the allowlist nor this server: run deno task setup\.$/,
    );

    const number = peers.rest.numbers[0];
    number.voiceUrl = `${PUBLIC_URL}/incoming-call`;
    const direct = line(await doctor(peers), /Twilio number/);
    assert.equal(direct.verdict, "warning");
    assert.match(direct.detail, /skipping the caller allowlist/);

    // Set up for another server: the allowlist sends calls elsewhere.
    const functionUrl = await setUpTwilio(peers, "https://old.example.org");
    const elsewhere = line(await doctor(peers), /Twilio number/);
    assert.equal(elsewhere.verdict, "failed");
    assert.equal(
      elsewhere.detail,
      `calls go through the allowlist at ${functionUrl}, which sends them to https://old.example.org/incoming-call, not to ${PUBLIC_URL}/incoming-call: run deno task setup.`,
    );

    const wrongToken = await doctor(peers, {
      TWILIO_AUTH_TOKEN: "wrong-twilio-token-123",
    });
    const account = line(wrongToken, /Twilio account/);
    assert.equal(account.verdict, "failed");
    assert.match(
      account.detail,
      /^Twilio refused TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN \(HTTP 401\)/,
    );
    assert.ok(
      !formatLines(wrongToken).join("\n").includes("wrong-twilio-token-123"),
    );

    const notOurs = line(
      await doctor(peers, { TWILIO_FROM_NUMBER: "+18005550111" }),
      /Twilio number/,
    );
    assert.equal(notOurs.verdict, "failed");
    assert.match(notOurs.detail, /^not a number on this account/);
  });
});

Deno.test("runDoctor() checks PUBLIC_URL/healthz: unreachable fails, draining warns, not allowed is not checked", async () => {
  await withPeers(async (peers) => {
    await setUpTwilio(peers);
    peers.health.status = 502;
    peers.health.body = "Bad gateway";
    const bad = line(await doctor(peers), /PUBLIC_URL/);
    assert.equal(bad.verdict, "failed");
    assert.match(bad.detail, /answered HTTP 502/);

    peers.health.status = 503;
    peers.health.body = { status: "draining", calls: 1 };
    assert.equal(line(await doctor(peers), /PUBLIC_URL/).verdict, "warning");

    peers.health.status = 200;
    peers.health.body = { status: "ok", calls: 0 };
    // The public origin leads to a port nothing listens on.
    const closedPort = unusedPort();
    const unreachable = await doctor(peers, {}, {
      fetch: (input, init) =>
        fetch(
          String(input).replace(PUBLIC_URL, `http://127.0.0.1:${closedPort}`),
          init,
        ),
    });
    const closed = line(unreachable, /PUBLIC_URL/);
    assert.equal(closed.verdict, "failed");
    assert.match(
      closed.detail,
      /could not be reached \(TypeError\): start the server/,
    );
    // It alone fails the exit.
    assert.deepEqual(
      unreachable.filter((l) => l.verdict !== "ok").map((l) => l.subject),
      ["PUBLIC_URL"],
    );
    assert.equal(exitCode(unreachable), 1);

    const denied = line(
      await doctor(peers, {}, {
        mayReach: (host) =>
          Promise.resolve(host !== "assistant.example.com:443"),
      }),
      /PUBLIC_URL/,
    );
    assert.equal(denied.verdict, "warning");
    assert.match(
      denied.detail,
      /^not checked: the doctor may not connect to assistant\.example\.com:443/,
    );
  });
});

Deno.test("runDoctor() checks KV_PATH against what the tasks may open", async () => {
  await withPeers(async (peers) => {
    const file = `./data/doctor-test-${crypto.randomUUID()}.kv`;
    try {
      assert.deepEqual(
        line(await doctor(peers, { KV_PATH: file }), /KV_PATH/),
        {
          verdict: "ok",
          subject: "KV_PATH",
          detail: `${file} opens`,
        },
      );
    } finally {
      for (const suffix of ["", "-shm", "-wal"]) {
        await Deno.remove(`${file}${suffix}`).catch(() => {});
      }
    }
    const outside = line(
      await doctor(peers, { KV_PATH: "/var/lib/assistant/store.kv" }),
      /KV_PATH/,
    );
    assert.equal(outside.verdict, "failed");
    assert.match(
      outside.detail,
      /--allow-read=\/var\/lib\/assistant --allow-write=\/var\/lib\/assistant/,
    );
    const remote = line(
      await doctor(peers, { KV_PATH: "https://kv.example.net:4512" }),
      /KV_PATH/,
    );
    assert.equal(remote.verdict, "failed");
    assert.match(remote.detail, /needs DENO_KV_ACCESS_TOKEN/);
  });
});

Deno.test("runDoctor() fails when a task's --allow-net lacks a host the configuration dials", async () => {
  await withPeers(async (peers) => {
    await setUpTwilio(peers);
    const lines = await doctor(peers, {}, {
      tasks: {
        ...TASKS,
        start: "deno run --allow-net=0.0.0.0,api.openai.com:443 main.ts",
      },
    });
    const permissions = line(lines, /permissions/);
    assert.equal(permissions.verdict, "failed");
    assert.match(
      permissions.detail,
      /^deno task start does not grant 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, so the server refuses to start/,
    );
    assert.equal(exitCode(lines), 1);
  });
});

Deno.test("runDoctor() with an invalid configuration gives one failed line listing the problems", async () => {
  await withPeers(async (peers) => {
    const lines = await doctor(peers, {
      OPENAI_API_KEY: undefined,
      MAX_CALL_MINUTES: "999",
    });
    assert.equal(lines.length, 1);
    assert.equal(lines[0].verdict, "failed");
    assert.match(
      lines[0].detail,
      /OPENAI_API_KEY is required; MAX_CALL_MINUTES/,
    );
    assert.equal(exitCode(lines), 1);
  });
});

Deno.test("deno task doctor may read the variables the server reads, and may connect to any host: the ones it checks come from .env", async () => {
  const tasks = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ).tasks;
  const list = (task: string, name: string) =>
    new RegExp(`--${name}=(\\S+)`).exec(task)?.[1].split(",") ?? [];
  assert.deepEqual(
    list(tasks.doctor, "allow-env").sort(),
    [
      ...new Set([
        ...list(tasks.start, "allow-env"),
        ...Object.values(TWILIO_HOST_VARIABLES),
      ]),
    ].sort(),
  );
  assert.ok(
    CONFIG_VARIABLES.every((name) =>
      list(tasks.doctor, "allow-env").includes(name)
    ),
  );
  // PUBLIC_URL, a custom endpoint or a remote store: known only at run time.
  assert.match(tasks.doctor, /\s--allow-net\s/);
  assert.deepEqual(list(tasks.doctor, "allow-write"), ["./data"]);
  assert.doesNotMatch(tasks.doctor, /--allow-(all|run|sys|ffi)|\s-A\s/);
});

/** `deno task doctor` as deno.json has it, without a terminal; each line's verdict by subject. */
async function doctorTask(variables: Record<string, string>) {
  const tasks = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ).tasks;
  const command = (tasks.doctor as string)
    .replace(/--env-file=\S+ /, "")
    .split(" ");
  const inherited = Object.fromEntries(
    ["PATH", "HOME", "DENO_DIR"].flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
  const output = await new Deno.Command(Deno.execPath(), {
    args: command.slice(1),
    cwd: new URL("..", import.meta.url),
    clearEnv: true,
    stdin: "null",
    env: { ...inherited, NO_COLOR: "1", ...variables },
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const lines = stdout.trim().split("\n");
  assert.equal(
    lines[0],
    "Doctor: checking every connection this configuration implies.",
  );
  return {
    code: output.code,
    stdout,
    stderr: new TextDecoder().decode(output.stderr),
    lines: Object.fromEntries(
      lines.slice(1, -1).map((line) => [
        line.slice(9, line.indexOf(":")),
        {
          verdict: line.slice(0, 8).trim(),
          detail: line.slice(line.indexOf(":") + 2),
        },
      ]),
    ),
  };
}

Deno.test({
  name:
    "deno task doctor without a terminal checks PUBLIC_URL/healthz: a real https server is ok, a closed port fails the exit",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    const { certFile, cert, key } = await localhostCertificate(dir);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
      (request) =>
        new URL(request.url).pathname === "/healthz"
          ? Response.json({ status: "ok", calls: 0 })
          : new Response("not found", { status: 404 }),
    );
    try {
      await withPeers(async (peers) => {
        await setUpTwilio(peers, `https://localhost:${server.addr.port}`);
        const variables = (publicUrl: string) => ({
          ...env(peers, { PUBLIC_URL: publicUrl }) as Record<string, string>,
          DENO_CERT: certFile,
        });
        const up = await doctorTask(
          variables(`https://localhost:${server.addr.port}`),
        );
        assert.deepEqual(up.lines["PUBLIC_URL"], {
          verdict: "ok",
          detail:
            `https://localhost:${server.addr.port}/healthz answers: status ok`,
        }, up.stdout);
        assert.equal(up.stderr, "");

        const down = await doctorTask(
          variables(`https://localhost:${unusedPort()}`),
        );
        assert.equal(down.lines["PUBLIC_URL"].verdict, "failed", down.stdout);
        assert.match(
          down.lines["PUBLIC_URL"].detail,
          /could not be reached \(TypeError\): start the server/,
        );
        assert.equal(down.code, 1);
      });
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("deno task doctor runs with its own flags and exits 1 when a line failed", async () => {
  await withPeers(async (peers) => {
    await setUpTwilio(peers, "https://assistant.invalid");
    const run = await doctorTask({
      ...env(peers) as Record<string, string>,
      // The public origin's name does not resolve here.
      PUBLIC_URL: "https://assistant.invalid",
    });
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(run.lines).map(([subject, { verdict }]) => [
          subject,
          verdict,
        ]),
      ),
      {
        "configuration": "ok",
        "OpenAI key": "ok",
        "model gpt-realtime-2.1 (OPENAI_REALTIME_MODEL)": "ok",
        "model gpt-live-transcribe (input transcription)": "ok",
        "model gpt-5.4-mini (SUMMARY_MODEL)": "ok",
        "Zapier MCP": "ok",
        "Twilio account": "ok",
        [`Twilio number ${NUMBER}`]: "ok",
        "PUBLIC_URL": "failed",
        "KV_PATH": "ok",
        // deno.json's start task does not grant the local peers' port.
        "permissions": "failed",
      },
      run.stdout,
    );
    assert.equal(run.code, 1);
    assert.equal(run.stderr, "");
  });
});
