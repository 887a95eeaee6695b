/**
 * `deno task setup` against the local stand-ins for Twilio's REST and
 * Serverless APIs (peers/twilio_rest.ts): a first run, a second run that
 * writes nothing, changed variables and code, a dry run, wrong credentials,
 * a number not on the account, Serverless failing. The requests are held to
 * twilio-node's serverless and phone-number resources on the wire, and the
 * upload to the shape of Twilio's serverless-api client (multipart `Path`,
 * `Visibility`, `Content`).
 */
import assert from "node:assert/strict";
import twilio from "twilio";
import RequestClient from "twilio/lib/base/RequestClient.js";
import { type RecordedRequest, TwilioRest } from "../peers/twilio_rest.ts";
import {
  readSetupSettings,
  SETUP_VARIABLES,
  type SetupSettings,
} from "../src/setup/settings.ts";
import { runSetup, type SetupResult } from "../src/setup/setup.ts";
import {
  TWILIO_HOST_VARIABLES,
  TwilioAccount,
} from "../src/setup/twilio_account.ts";
import { SetupError } from "../src/setup/settings.ts";

const ACCOUNT = "AC0123456789abcdef0123456789abcdef";
const TOKEN = "twilio-auth-token-for-setup-tests";
const NUMBER = "+18005550199";
const OWNER = "+14155550123";
const SOURCE = await Deno.readTextFile(
  new URL("../twilio/allowlist-function.js", import.meta.url),
);

const SETTINGS: SetupSettings = {
  accountSid: ACCOUNT,
  authToken: TOKEN,
  number: NUMBER,
  publicUrl: "https://assistant.example.com",
  allowedNumbers: [OWNER],
  rejectReason: "rejected",
};

async function withRest(
  run: (rest: TwilioRest) => Promise<void>,
  options: { pageSize?: number } = {},
) {
  const rest = await TwilioRest.start({
    accountSid: ACCOUNT,
    authToken: TOKEN,
    incomingNumbers: [NUMBER, "+18005550100"],
    buildPolls: 2,
    ...options,
  });
  try {
    await run(rest);
  } finally {
    await rest.close();
  }
}

function accountOn(rest: TwilioRest, token = TOKEN): TwilioAccount {
  return new TwilioAccount({
    accountSid: ACCOUNT,
    authToken: token,
    hosts: {
      api: rest.url,
      serverless: rest.serverlessUrl,
      upload: rest.uploadUrl,
    },
  });
}

async function setup(
  rest: TwilioRest,
  options: {
    settings?: SetupSettings;
    dryRun?: boolean;
    token?: string;
    source?: string;
  } = {},
): Promise<
  { result: SetupResult; lines: string[]; writes: RecordedRequest[] }
> {
  const lines: string[] = [];
  const before = rest.requests.length;
  const result = await runSetup({
    settings: options.settings ?? SETTINGS,
    account: accountOn(rest, options.token),
    functionSource: options.source ?? SOURCE,
    dryRun: options.dryRun ?? false,
    say: (line) => lines.push(line),
    pollMs: 5,
  });
  const writes = rest.requests.slice(before).filter((r) => r.method !== "GET");
  return { result, lines, writes };
}

async function setupFailure(
  rest: TwilioRest,
  options: { settings?: SetupSettings; token?: string } = {},
): Promise<{ message: string; writes: RecordedRequest[] }> {
  const before = rest.requests.length;
  const error = await setup(rest, options).then(
    () => assert.fail("setup succeeded"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof SetupError, String(error));
  const writes = rest.requests.slice(before).filter((r) => r.method !== "GET");
  return { message: error.message, writes };
}

function number(rest: TwilioRest, phoneNumber = NUMBER) {
  return rest.numbers.find((n) => n.phoneNumber === phoneNumber)!;
}

function variablesOf(rest: TwilioRest): Record<string, string> {
  const deployed = rest.serverless.deployed(
    "phone-assistant",
    "/incoming-call",
  );
  const environment = deployed?.environment ??
    rest.serverless.services[0]?.environments[0];
  return Object.fromEntries(
    (environment?.variables ?? []).map((v) => [v.key, v.value]),
  );
}

/** One sentence: no line break, no stack frame, no secret. */
function assertPlainSentence(message: string) {
  assert.doesNotMatch(message, /\n|\bat \S+:\d+|Error:/);
  assert.ok(!message.includes(TOKEN), "the auth token leaked");
}

Deno.test("runSetup() first run: service, environment, variables, protected Function built and deployed, number pointed at it", async () => {
  await withRest(async (rest) => {
    const { result, lines, writes } = await setup(rest);

    const deployed = rest.serverless.deployed(
      "phone-assistant",
      "/incoming-call",
    );
    assert.ok(deployed, "nothing deployed at /incoming-call");
    assert.equal(deployed.version.content, SOURCE);
    assert.equal(deployed.version.visibility, "protected");
    assert.deepEqual(variablesOf(rest), {
      ALLOWED_NUMBERS: OWNER,
      WEBHOOK_URL: "https://assistant.example.com/incoming-call",
      REJECT_REASON: "rejected",
    });
    const url = `https://${deployed.environment.domainName}/incoming-call`;
    assert.match(
      deployed.environment.domainName,
      /^phone-assistant-\d{4}\.twil\.io$/,
    );
    assert.equal(result.functionUrl, url);
    assert.equal(number(rest).voiceUrl, url);
    assert.equal(number(rest).voiceMethod, "POST");
    assert.equal(
      number(rest, "+18005550100").voiceUrl,
      "",
      "another number was changed",
    );
    assert.match(
      lines.at(-1)!,
      /^Set up: calls to \+18005550199 go through the allowlist at https:\/\/phone-assistant-\d{4}\.twil\.io\/incoming-call to https:\/\/assistant\.example\.com\/incoming-call\.$/,
    );

    // The order never sends a call to a Function that is not deployed yet.
    assert.deepEqual(
      writes.map((w) =>
        `${w.host} ${w.path.replace(/(Z[A-Z]|PN)[0-9a-f]{32}/g, "$1…")}`
      ),
      [
        "serverless /v1/Services",
        "serverless /v1/Services/ZS…/Environments",
        "serverless /v1/Services/ZS…/Environments/ZE…/Variables",
        "serverless /v1/Services/ZS…/Environments/ZE…/Variables",
        "serverless /v1/Services/ZS…/Environments/ZE…/Variables",
        "serverless /v1/Services/ZS…/Functions",
        "upload /v1/Services/ZS…/Functions/ZH…/Versions",
        "serverless /v1/Services/ZS…/Builds",
        "serverless /v1/Services/ZS…/Environments/ZE…/Deployments",
        "api /2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/IncomingPhoneNumbers/PN….json",
      ],
    );
    // The code goes up as multipart, as Twilio's serverless-api client sends it.
    const upload = writes.find((w) => w.host === "upload")!;
    assert.match(
      upload.headers["content-type"],
      /^multipart\/form-data; boundary=/,
    );
    assert.deepEqual(upload.params.sort(), [["Path", "/incoming-call"], [
      "Visibility",
      "protected",
    ]]);
    assert.deepEqual(upload.files, [{
      field: "Content",
      filename: "allowlist-function.js",
      type: "application/javascript",
      content: SOURCE,
    }]);
    // Everything else is form-encoded; everything carries the account's Basic auth.
    const basic = `Basic ${btoa(`${ACCOUNT}:${TOKEN}`)}`;
    for (const request of rest.requests) {
      assert.equal(request.headers["authorization"], basic, request.path);
      if (request.method === "POST" && request.host !== "upload") {
        assert.equal(
          request.headers["content-type"],
          "application/x-www-form-urlencoded",
        );
      }
    }
    // The build was polled until completed, then deployed.
    assert.ok(
      rest.requests.filter((r) => r.path.endsWith("/Status")).length >= 2,
      "the build status was not polled",
    );
  });
});

Deno.test("runSetup() second run with nothing changed writes nothing and says it is already set up", async () => {
  await withRest(async (rest) => {
    await setup(rest);
    const { result, lines, writes } = await setup(rest);
    assert.deepEqual(writes, []);
    assert.deepEqual(result.steps, []);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^Already set up: .* Nothing was changed at Twilio\.$/,
    );
  });
});

Deno.test("runSetup() finds its service and variables across list pages", async () => {
  await withRest(async (rest) => {
    const account = accountOn(rest);
    await account.createService("someone-else", "Another service");
    await account.createService("and-another", "Another service");
    await setup(rest);
    const { writes } = await setup(rest);
    assert.deepEqual(writes, []);
    assert.ok(
      rest.requests.some((r) =>
        r.method === "GET" &&
        r.query.some(([k, v]) => k === "Page" && v === "2")
      ),
      "no third page was read",
    );
  }, { pageSize: 1 });
});

Deno.test("runSetup() with a changed ALLOWED_NUMBERS updates that variable only", async () => {
  await withRest(async (rest) => {
    await setup(rest);
    const builds = rest.serverless.services[0].builds.length;
    const settings = { ...SETTINGS, allowedNumbers: [OWNER, "+447700900123"] };
    const { writes, lines } = await setup(rest, { settings });
    assert.equal(writes.length, 1);
    assert.match(
      writes[0].path,
      /^\/v1\/Services\/ZS[0-9a-f]{32}\/Environments\/ZE[0-9a-f]{32}\/Variables\/ZV[0-9a-f]{32}$/,
    );
    assert.deepEqual(writes[0].params.sort(), [["Key", "ALLOWED_NUMBERS"], [
      "Value",
      `${OWNER},+447700900123`,
    ]]);
    assert.equal(variablesOf(rest).ALLOWED_NUMBERS, `${OWNER},+447700900123`);
    assert.equal(
      rest.serverless.services[0].builds.length,
      builds,
      "rebuilt for a variable",
    );
    assert.ok(
      lines.some((line) => line.includes("update ALLOWED_NUMBERS (2 numbers)")),
    );
    assert.ok(
      !lines.join("\n").includes("+447700900123"),
      "the list was printed",
    );
  });
});

Deno.test("runSetup() with a changed PUBLIC_URL updates WEBHOOK_URL only", async () => {
  await withRest(async (rest) => {
    await setup(rest);
    const settings = { ...SETTINGS, publicUrl: "https://new.example.net" };
    const { writes } = await setup(rest, { settings });
    assert.equal(writes.length, 1);
    assert.deepEqual(writes[0].params.sort(), [["Key", "WEBHOOK_URL"], [
      "Value",
      "https://new.example.net/incoming-call",
    ]]);
  });
});

Deno.test("runSetup() deploys a changed allowlist again and leaves the number alone", async () => {
  await withRest(async (rest) => {
    await setup(rest);
    const source = `${SOURCE}\n// changed\n`;
    const { writes } = await setup(rest, { source });
    assert.deepEqual(
      writes.map((w) => w.path.split("/").at(-1)),
      ["Versions", "Builds", "Deployments"],
    );
    assert.equal(
      rest.serverless.deployed("phone-assistant", "/incoming-call")?.version
        .content,
      source,
    );
  });
});

Deno.test("runSetup() points a number back at the allowlist, clearing a TwiML App that would win over VoiceUrl", async () => {
  await withRest(async (rest) => {
    await setup(rest);
    const url = number(rest).voiceUrl;
    Object.assign(number(rest), {
      voiceUrl: "https://old.example.org/voice",
      voiceMethod: "GET",
      voiceApplicationSid: `AP${"0".repeat(32)}`,
    });
    const { writes } = await setup(rest);
    assert.equal(writes.length, 1);
    assert.deepEqual(writes[0].params.sort(), [["VoiceApplicationSid", ""], [
      "VoiceMethod",
      "POST",
    ], ["VoiceUrl", url]]);
    assert.equal(number(rest).voiceApplicationSid, null);
  });
});

Deno.test("runSetup() --dry-run prints the plan and writes nothing", async () => {
  await withRest(async (rest) => {
    const fresh = await setup(rest, { dryRun: true });
    assert.deepEqual(fresh.writes, []);
    assert.deepEqual(rest.serverless.services, []);
    assert.deepEqual(fresh.lines, [
      `Dry run: setup would, at Twilio (account ${ACCOUNT}):`,
      "  - create the Functions service phone-assistant",
      "  - create its production environment",
      "  - set ALLOWED_NUMBERS (1 number)",
      "  - set WEBHOOK_URL (https://assistant.example.com/incoming-call)",
      "  - set REJECT_REASON (rejected)",
      "  - create the Function /incoming-call",
      "  - upload allowlist-function.js as a protected Function at /incoming-call, build and deploy it",
      "  - point +18005550199's incoming calls (POST) at the allowlist Function",
      "Nothing was changed.",
    ]);

    await setup(rest);
    const changed = await setup(rest, {
      dryRun: true,
      settings: { ...SETTINGS, rejectReason: "busy" },
    });
    assert.deepEqual(changed.writes, []);
    assert.deepEqual(changed.lines.slice(1, -1), [
      "  - update REJECT_REASON (busy)",
    ]);
    assert.equal(variablesOf(rest).REJECT_REASON, "rejected");
  });
});

Deno.test("runSetup() with wrong credentials fails in one sentence, writes nothing and shows no secret", async () => {
  await withRest(async (rest) => {
    const wrong = "wrong-token-that-must-not-be-printed";
    const { message, writes } = await setupFailure(rest, {
      token: wrong,
      settings: { ...SETTINGS, authToken: wrong },
    });
    assert.equal(
      message,
      "Twilio refused TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (HTTP 401, error 20003): copy both from the Twilio Console's Account Info and run deno task setup again.",
    );
    assert.ok(!message.includes(wrong));
    assertPlainSentence(message);
    assert.deepEqual(writes, []);
  });
});

Deno.test("runSetup() with a number not on the account fails in one sentence and writes nothing", async () => {
  await withRest(async (rest) => {
    const { message, writes } = await setupFailure(rest, {
      settings: { ...SETTINGS, number: "+18005550111" },
    });
    assert.match(
      message,
      /^\+18005550111 is not a phone number on Twilio account AC[0-9a-f]{32}: set TWILIO_FROM_NUMBER to one of its numbers/,
    );
    assertPlainSentence(message);
    assert.deepEqual(writes, []);
    assert.deepEqual(rest.serverless.services, []);
  });
});

Deno.test("runSetup() says when Serverless is unavailable, and a later run finishes the job", async () => {
  await withRest(async (rest) => {
    rest.serverless.failNext({
      status: 503,
      code: 20503,
      message: "Service Unavailable",
    });
    const { message } = await setupFailure(rest);
    assert.equal(
      message,
      "Twilio's Serverless API is unavailable (HTTP 503) while trying to read the Functions service: run deno task setup again later; it goes on from where it stopped.",
    );
    assertPlainSentence(message);
    await setup(rest);
    assert.ok(rest.serverless.deployed("phone-assistant", "/incoming-call"));
  });
});

Deno.test("runSetup() leaves the number alone when the build fails", async () => {
  await withRest(async (rest) => {
    rest.serverless.failNextBuild();
    const { message } = await setupFailure(rest);
    assert.match(
      message,
      /^Twilio could not build the allowlist Function \(build ZB[0-9a-f]{32} failed\): .* the number was not changed\.$/,
    );
    assert.equal(number(rest).voiceUrl, "");
    assert.equal(
      rest.serverless.deployed("phone-assistant", "/incoming-call"),
      undefined,
    );
  });
});

// ------------------------------------------------------------- settings

function settingsFrom(env: Record<string, string>): SetupSettings {
  return readSetupSettings((name) => env[name]);
}

const ENV = {
  TWILIO_ACCOUNT_SID: ACCOUNT,
  TWILIO_AUTH_TOKEN: TOKEN,
  TWILIO_FROM_NUMBER: "+1 (800) 555-0199",
  PUBLIC_URL: "https://assistant.example.com",
  OWNER_NUMBERS: "+14155550123, +44 7700 900123",
};

Deno.test("readSetupSettings() takes ALLOWED_NUMBERS, else OWNER_NUMBERS, normalized", () => {
  assert.deepEqual(settingsFrom(ENV), {
    ...SETTINGS,
    allowedNumbers: ["+14155550123", "+447700900123"],
  });
  assert.deepEqual(
    settingsFrom({
      ...ENV,
      ALLOWED_NUMBERS: "+1 415 555 0100",
      REJECT_REASON: "busy",
    }),
    { ...SETTINGS, allowedNumbers: ["+14155550100"], rejectReason: "busy" },
  );
});

Deno.test("readSetupSettings() refuses bad input in one sentence naming the variable", () => {
  const refused = (env: Record<string, string>, expected: RegExp) => {
    assert.throws(() => settingsFrom(env), (error: unknown) => {
      assert.ok(error instanceof SetupError);
      assert.match(error.message, expected);
      assertPlainSentence(error.message);
      return true;
    });
  };
  refused(
    {},
    /^Set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER, PUBLIC_URL, OWNER_NUMBERS \(or ALLOWED_NUMBERS\) in \.env first/,
  );
  refused(
    { ...ENV, PUBLIC_URL: "http://assistant.example.com" },
    /^PUBLIC_URL must be the server's public https origin/,
  );
  refused(
    { ...ENV, PUBLIC_URL: "https://assistant.example.com/incoming-call" },
    /^PUBLIC_URL must be the server's public https origin with no path/,
  );
  refused(
    { ...ENV, PUBLIC_URL: "https://localhost:5050" },
    /^PUBLIC_URL names this machine/,
  );
  refused(
    { ...ENV, TWILIO_ACCOUNT_SID: "SK0123" },
    /^TWILIO_ACCOUNT_SID must be your account SID/,
  );
  refused(
    { ...ENV, TWILIO_FROM_NUMBER: "0800 555" },
    /^TWILIO_FROM_NUMBER must be your Twilio number/,
  );
  refused(
    { ...ENV, ALLOWED_NUMBERS: "+14155550123, mum" },
    /^ALLOWED_NUMBERS must be numbers in international form such as \+14155550123, comma-separated \(got "mum"\)\.$/,
  );
  refused(
    { ...ENV, REJECT_REASON: "hangup" },
    /^REJECT_REASON must be rejected or busy\.$/,
  );
});

// ------------------------------------------------- twilio-node as the oracle

/** twilio-node's own HTTP client, with Twilio's hosts swapped for the stand-ins'. */
class LocalRequestClient extends RequestClient {
  constructor(private readonly hosts: Record<string, string>) {
    super({ keepAlive: false });
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    let uri = opts.uri;
    for (const [host, local] of Object.entries(this.hosts)) {
      uri = uri.replace(host, local);
    }
    return super.request({ ...opts, uri });
  }
}

/** What must match on the wire: everything but the clients' own identity headers. */
function wire(request: RecordedRequest) {
  const sorted = (pairs: [string, string][]) =>
    [...pairs].sort(([a, x], [b, y]) =>
      a === b ? x.localeCompare(y) : a.localeCompare(b)
    );
  return {
    host: request.host,
    method: request.method,
    path: request.path,
    query: sorted(request.query),
    authorization: request.headers["authorization"],
    contentType: request.headers["content-type"],
    accept: request.headers["accept"],
    params: sorted(request.params),
  };
}

Deno.test("TwilioAccount sends what twilio-node's serverless and phone-number resources send", async () => {
  await withRest(async (rest) => {
    const ours = accountOn(rest);
    const official = twilio(ACCOUNT, TOKEN, {
      httpClient: new LocalRequestClient({
        "https://api.twilio.com": rest.url,
        "https://serverless.twilio.com": rest.serverlessUrl,
      }),
    });
    const same = async (
      label: string,
      mine: () => Promise<unknown>,
      theirs: () => Promise<unknown>,
    ) => {
      await mine();
      const a = wire(rest.requests.at(-1)!);
      await theirs();
      const b = wire(rest.requests.at(-1)!);
      assert.deepEqual(a, b, label);
    };
    const services = official.serverless.v1.services;

    await same("services", () => ours.services(), () => services.list());
    await same(
      "create a service",
      () => ours.createService("svc-a", "A service"),
      () =>
        services.create({
          uniqueName: "svc-b",
          friendlyName: "A service",
          includeCredentials: false,
          uiEditable: true,
        }),
    ).catch((error) => {
      // The unique names differ on purpose (no conflict): compare all but them.
      if (!(error instanceof assert.AssertionError)) throw error;
      const [a, b] = [error.actual, error.expected] as ReturnType<
        typeof wire
      >[];
      const drop = (w: typeof a) => ({
        ...w,
        params: w.params.filter(([k]) => k !== "UniqueName"),
      });
      assert.deepEqual(drop(a), drop(b));
    });
    const zs = rest.serverless.services[0].sid;
    await same(
      "environments",
      () => ours.environments(zs),
      () => services(zs).environments.list(),
    );
    await same(
      "create an environment",
      () => ours.createEnvironment(zs, "production"),
      async () => {
        rest.serverless.services[0].environments.pop();
        await services(zs).environments.create({ uniqueName: "production" });
      },
    );
    const ze = rest.serverless.services[0].environments[0].sid;
    await same(
      "variables",
      () => ours.variables(zs, ze),
      () => services(zs).environments(ze).variables.list(),
    );
    await same(
      "create a variable",
      () =>
        ours.createVariable(
          zs,
          ze,
          "WEBHOOK_URL",
          "https://a.example/incoming-call",
        ),
      async () => {
        rest.serverless.services[0].environments[0].variables.pop();
        await services(zs).environments(ze).variables.create({
          key: "WEBHOOK_URL",
          value: "https://a.example/incoming-call",
        });
      },
    );
    const zv = rest.serverless.services[0].environments[0].variables[0].sid;
    await same(
      "update a variable",
      () =>
        ours.updateVariable(
          zs,
          ze,
          zv,
          "WEBHOOK_URL",
          "https://b.example/incoming-call",
        ),
      () =>
        services(zs).environments(ze).variables(zv).update({
          key: "WEBHOOK_URL",
          value: "https://b.example/incoming-call",
        }),
    );
    await same(
      "functions",
      () => ours.functions(zs),
      () => services(zs).functions.list(),
    );
    await same(
      "create a function",
      () => ours.createFunction(zs, "/incoming-call"),
      () => services(zs).functions.create({ friendlyName: "/incoming-call" }),
    );
    const zh = rest.serverless.services[0].functions[0].sid;
    const version = await ours.uploadFunction(zs, zh, {
      path: "/incoming-call",
      visibility: "protected",
      content: SOURCE,
      filename: "allowlist-function.js",
    });
    await same(
      "function content",
      () => ours.functionContent(zs, zh, version.sid),
      () =>
        services(zs).functions(zh).functionVersions(version.sid)
          .functionVersionContent().fetch(),
    );
    await same(
      "create a build",
      () => ours.createBuild(zs, [version.sid]),
      () => services(zs).builds.create({ functionVersions: [version.sid] }),
    );
    const zb = rest.serverless.services[0].builds[0].sid;
    await same(
      "build",
      () => ours.build(zs, zb),
      () => services(zs).builds(zb).fetch(),
    );
    await same(
      "build status",
      () => ours.buildStatus(zs, zb),
      () => services(zs).builds(zb).buildStatus().fetch(),
    );
    await ours.buildStatus(zs, zb);
    await same(
      "create a deployment",
      () => ours.createDeployment(zs, ze, zb),
      () => services(zs).environments(ze).deployments.create({ buildSid: zb }),
    );
    await same(
      "account",
      () => ours.account(),
      () => official.api.v2010.accounts(ACCOUNT).fetch(),
    );
    await same(
      "numbers",
      () => ours.numbers(NUMBER),
      () => official.incomingPhoneNumbers.list({ phoneNumber: NUMBER }),
    );
    const pn = number(rest).sid;
    await same(
      "point a number",
      () => ours.setVoiceUrl(pn, "https://x.twil.io/incoming-call", false),
      () =>
        official.incomingPhoneNumbers(pn).update({
          voiceMethod: "POST",
          voiceUrl: "https://x.twil.io/incoming-call",
        }),
    );
  });
});

// ----------------------------------------------------------- the task itself

const TASKS = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
).tasks as Record<string, string>;

function flag(task: string, name: string): string[] {
  const match = new RegExp(`--${name}=(\\S+)`).exec(task);
  return match ? match[1].split(",") : [];
}

Deno.test("deno task setup grants exactly Twilio's three hosts and the variables it reads", () => {
  assert.deepEqual(flag(TASKS.setup, "allow-net"), [
    "api.twilio.com:443",
    "serverless.twilio.com:443",
    "serverless-upload.twilio.com:443",
  ]);
  assert.deepEqual(
    flag(TASKS.setup, "allow-env").sort(),
    [...SETUP_VARIABLES, ...Object.values(TWILIO_HOST_VARIABLES)].sort(),
  );
  assert.deepEqual(flag(TASKS.setup, "allow-read"), ["./twilio"]);
  assert.doesNotMatch(TASKS.setup, /--allow-(all|write|run)|\s-A\s/);
});

/** The named variables of this process's environment that are set. */
function inherited(...names: string[]): Record<string, string> {
  return Object.fromEntries(
    names.flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

/** The task's command with its own flags, --allow-net pointed at the stand-ins. */
async function runTask(
  rest: TwilioRest,
  env: Record<string, string>,
  args: string[] = [],
) {
  const command = TASKS.setup
    .replace(/--allow-net=\S+/, "--allow-net=127.0.0.1")
    .replace(/--env-file=\S+ /, "")
    .split(" ");
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...command.slice(1), ...args],
    cwd: new URL("..", import.meta.url),
    clearEnv: true,
    env: {
      ...inherited("PATH", "HOME", "DENO_DIR"),
      NO_COLOR: "1",
      TWILIO_ACCOUNT_SID: ACCOUNT,
      TWILIO_AUTH_TOKEN: TOKEN,
      TWILIO_FROM_NUMBER: NUMBER,
      PUBLIC_URL: "https://assistant.example.com",
      OWNER_NUMBERS: OWNER,
      TWILIO_API_URL: rest.url,
      TWILIO_SERVERLESS_URL: rest.serverlessUrl,
      TWILIO_SERVERLESS_UPLOAD_URL: rest.uploadUrl,
      ...env,
    },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: output.code,
    stdout: decode(output.stdout),
    stderr: decode(output.stderr),
  };
}

Deno.test("deno task setup runs with its own flags: sets up, then says already set up; a failure is one line and exit 1", async () => {
  await withRest(async (rest) => {
    const first = await runTask(rest, {});
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Set up: calls to \+18005550199/m);
    const second = await runTask(rest, {});
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^Already set up:/);

    const wrong = await runTask(rest, {
      TWILIO_AUTH_TOKEN: "not-the-token-0123456789",
    });
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout, "");
    assert.equal(wrong.stderr.trim().split("\n").length, 1, wrong.stderr);
    assert.match(
      wrong.stderr,
      /^Twilio refused TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN \(HTTP 401/,
    );
    assert.ok(!wrong.stderr.includes("not-the-token-0123456789"));

    const http = await runTask(rest, {
      PUBLIC_URL: "http://assistant.example.com",
    }, ["--dry-run"]);
    assert.equal(http.code, 1);
    assert.match(
      http.stderr,
      /^PUBLIC_URL must be the server's public https origin/,
    );
  });
});

// ------------------------------------------ the stand-in answers as Twilio does

Deno.test("the Twilio stand-ins answer 401 and 404 with Twilio's error JSON, and take code only on the upload host", async () => {
  await withRest(async (rest) => {
    const basic = { authorization: `Basic ${btoa(`${ACCOUNT}:${TOKEN}`)}` };
    const unauthorised = await fetch(`${rest.serverlessUrl}/v1/Services`);
    assert.equal(unauthorised.status, 401);
    assert.deepEqual(await unauthorised.json(), {
      code: 20003,
      message: "Authenticate",
      more_info: "https://www.twilio.com/docs/errors/20003",
      status: 401,
    });
    const wrongAccount = await fetch(
      `${rest.url}/2010-04-01/Accounts/${ACCOUNT}/IncomingPhoneNumbers.json`,
      { headers: { authorization: `Basic ${btoa(`${ACCOUNT}:nope`)}` } },
    );
    assert.equal(wrongAccount.status, 401);
    assert.equal((await wrongAccount.json()).code, 20003);

    const missing = await fetch(
      `${rest.serverlessUrl}/v1/Services/ZS${"0".repeat(32)}/Functions`,
      { headers: basic },
    );
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), {
      code: 20404,
      message: `The requested resource /Services/ZS${
        "0".repeat(32)
      } was not found`,
      more_info: "https://www.twilio.com/docs/errors/20404",
      status: 404,
    });

    const account = accountOn(rest);
    const service = await account.createService("peer-check", "Peer check");
    const fn = await account.createFunction(service.sid, "/incoming-call");
    const versions = `/v1/Services/${service.sid}/Functions/${fn.sid}/Versions`;
    const form = new FormData();
    form.append("Path", "/incoming-call");
    form.append("Visibility", "protected");
    form.append(
      "Content",
      new Blob(["exports.handler = () => {};"], {
        type: "application/javascript",
      }),
      "f.js",
    );
    const onMainHost = await fetch(`${rest.serverlessUrl}${versions}`, {
      method: "POST",
      headers: basic,
      body: form,
    });
    assert.equal(onMainHost.status, 404);
    assert.equal((await onMainHost.json()).code, 20404);
    const formEncoded = await fetch(`${rest.uploadUrl}${versions}`, {
      method: "POST",
      headers: {
        ...basic,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "Path=/incoming-call&Visibility=protected",
    });
    assert.equal(formEncoded.status, 400);
    assert.equal((await formEncoded.json()).status, 400);
    const badVisibility = new FormData();
    badVisibility.append("Path", "incoming-call");
    badVisibility.append("Visibility", "secret");
    badVisibility.append("Content", new Blob(["x"]), "f.js");
    const refused = await fetch(`${rest.uploadUrl}${versions}`, {
      method: "POST",
      headers: basic,
      body: badVisibility,
    });
    assert.equal(refused.status, 400);
    await refused.body?.cancel();
    const uploaded = await fetch(`${rest.uploadUrl}${versions}`, {
      method: "POST",
      headers: basic,
      body: form,
    });
    assert.equal(uploaded.status, 201);
    const version = await uploaded.json();
    assert.match(version.sid, /^ZN[0-9a-f]{32}$/);
    assert.equal(version.visibility, "protected");
    const onUploadHost = await fetch(`${rest.uploadUrl}/v1/Services`, {
      headers: basic,
    });
    assert.equal(onUploadHost.status, 404);
    await onUploadHost.body?.cancel();
  });
});
