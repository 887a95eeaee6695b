import assert from "node:assert/strict";
import {
  type LogLine,
  runFunction,
  runFunctionSource,
  type XmlElement,
} from "./helpers/twilio_functions_runtime.ts";

const FUNCTION = new URL("../twilio/allowlist-function.js", import.meta.url);

const OWNER = "+14158675309";
const PARTNER = "+447700900123";
const STRANGER = "+14155550123";
const WEBHOOK_URL = "https://assistant.example.com/incoming-call";
const ENV = { ALLOWED_NUMBERS: `${OWNER},${PARTNER}`, WEBHOOK_URL };

type Env = Record<string, string | undefined>;

// One call through the Function, as Twilio would make it. Checks what every
// answer must satisfy: a <Response> holding exactly one verb, and no allowed
// number in the logs.
async function call(
  env: Env,
  from: string | undefined,
  extra: Record<string, string> = {},
) {
  const event: Record<string, unknown> = {
    CallSid: "CA00000000000000000000000000000000",
    To: "+15005550006",
    Direction: "inbound",
    ...extra,
  };
  if (from !== undefined) event.From = from;
  const { response, logs, twiml } = await runFunction(FUNCTION, env, event);
  assert.equal(response.name, "Response");
  assert.deepEqual(response.attributes, {});
  assert.equal(response.children.length, 1, `expected one verb in ${twiml}`);
  const [verb] = response.children;
  assert.notEqual(typeof verb, "string", `expected a verb in ${twiml}`);
  assertNumbersNotLogged(logs, env.ALLOWED_NUMBERS);
  return { verb: verb as XmlElement, logs, twiml };
}

function assertNumbersNotLogged(logs: LogLine[], allowedNumbers = "") {
  for (const entry of allowedNumbers.split(",")) {
    const digits = entry.replace(/\D/g, "");
    if (digits.length < 7) continue;
    for (const { text } of logs) {
      assert.ok(
        !text.replace(/\D/g, "").includes(digits),
        `allowed number logged: ${text}`,
      );
    }
  }
}

function assertRedirected(verb: XmlElement, url = WEBHOOK_URL) {
  assert.deepEqual(verb, {
    name: "Redirect",
    attributes: { method: "POST" },
    children: [url],
  });
}

function assertRejected(verb: XmlElement, reason = "rejected") {
  assert.deepEqual(verb, {
    name: "Reject",
    attributes: { reason },
    children: [],
  });
}

const errors = (logs: LogLine[]) =>
  logs.filter((line) => line.level === "error").map((line) => line.text);

Deno.test("allowlist function redirects a listed caller to WEBHOOK_URL", async () => {
  for (const caller of [OWNER, PARTNER]) {
    const { verb, logs } = await call(ENV, caller);
    assertRedirected(verb);
    assert.deepEqual(errors(logs), []);
    assert.ok(
      logs.some((line) => line.text.includes(`…${caller.slice(-4)}`)),
      "masked caller logged",
    );
  }
});

for (
  const entry of [
    "+1 (415) 867-5309",
    "+1.415.867.5309",
    "+1-415-867-5309",
    "+1 415 867 5309",
    "001 415 867 5309",
  ]
) {
  Deno.test(`allowlist function accepts the list entry "${entry}"`, async () => {
    const { verb, logs } = await call({
      ...ENV,
      ALLOWED_NUMBERS: `${PARTNER},${entry}`,
    }, OWNER);
    assertRedirected(verb);
    assert.deepEqual(errors(logs), []);
  });
}

Deno.test("allowlist function ignores spaces around commas and empty entries", async () => {
  const env = { ...ENV, ALLOWED_NUMBERS: `  ${PARTNER} ,   ${OWNER}  , ,` };
  const { verb, logs } = await call(env, OWNER);
  assertRedirected(verb);
  assert.deepEqual(errors(logs), []);
});

for (
  const from of [
    "+1 415 867 5309",
    "+1 (415) 867-5309",
    "+1.415.867.5309",
    " +14158675309 ",
    "0014158675309",
  ]
) {
  Deno.test(`allowlist function normalises the caller ID "${from}"`, async () => {
    assertRedirected((await call(ENV, from)).verb);
  });
}

Deno.test("allowlist function rejects a listed caller ID whose STIR/SHAKEN verdict failed, saying why", async () => {
  for (
    const verdict of [
      "TN-Validation-Failed-A",
      "TN-Validation-Failed-B",
      "TN-Validation-Failed-C",
      "TN-Validation-Failed",
    ]
  ) {
    const { verb, logs } = await call(ENV, OWNER, { StirVerstat: verdict });
    assertRejected(verb);
    assert.ok(
      errors(logs).some((line) =>
        line.includes("STIR/SHAKEN") && line.includes(verdict)
      ),
      `reason logged for ${verdict}`,
    );
  }
});

Deno.test("allowlist function redirects a listed caller with a passed verdict, No-TN-Validation or no verdict", async () => {
  const verdicts: Record<string, string>[] = [
    { StirVerstat: "TN-Validation-Passed-A" },
    { StirVerstat: "TN-Validation-Passed-B" },
    { StirVerstat: "TN-Validation-Passed-C" },
    { StirVerstat: "No-TN-Validation" },
    {},
  ];
  for (const extra of verdicts) {
    const { verb, logs } = await call(ENV, OWNER, extra);
    assertRedirected(verb);
    assert.deepEqual(errors(logs), []);
  }
});

Deno.test("allowlist function rejects a caller who is not on the list without answering", async () => {
  const { verb, logs } = await call(ENV, STRANGER);
  assertRejected(verb);
  assert.deepEqual(errors(logs), []);
  assert.ok(
    logs.some((line) => line.text.includes("…0123")),
    "masked caller logged",
  );
  assert.ok(
    logs.every((line) => !line.text.includes(STRANGER)),
    "caller number masked",
  );
});

Deno.test("allowlist function does not match a listed number without its country code", async () => {
  // +4158675309 is a well-formed E.164 number, just not the owner's.
  assertRejected((await call(ENV, "+4158675309")).verb);
  assertRejected((await call(ENV, "4158675309")).verb);
});

Deno.test("allowlist function rejects with busy when REJECT_REASON is busy", async () => {
  for (const reason of ["busy", " BUSY "]) {
    const env = { ...ENV, REJECT_REASON: reason };
    const { verb, logs } = await call(env, STRANGER);
    assertRejected(verb, "busy");
    assert.deepEqual(errors(logs), []);
    assertRedirected((await call(env, OWNER)).verb);
  }
});

Deno.test("allowlist function falls back to rejected for an invalid REJECT_REASON and logs it", async () => {
  const { verb, logs } = await call(
    { ...ENV, REJECT_REASON: "hangup" },
    STRANGER,
  );
  assertRejected(verb);
  assert.equal(errors(logs).length, 1);
  assert.match(errors(logs)[0], /REJECT_REASON/);
});

Deno.test("allowlist function rejects everyone when ALLOWED_NUMBERS is empty or missing", async () => {
  for (const allowed of [undefined, "", "  ", " , ,"]) {
    const { verb, logs } = await call({
      WEBHOOK_URL,
      ALLOWED_NUMBERS: allowed,
      REJECT_REASON: "busy",
    }, OWNER);
    assertRejected(verb, "busy");
    assert.equal(errors(logs).length, 1);
    assert.match(errors(logs)[0], /ALLOWED_NUMBERS has no valid E\.164 number/);
  }
});

Deno.test("allowlist function rejects everyone when no ALLOWED_NUMBERS entry is E.164", async () => {
  const { verb, logs } = await call({
    ...ENV,
    ALLOWED_NUMBERS: "4158675309, owner",
  }, OWNER);
  assertRejected(verb);
  assert.deepEqual(errors(logs), [
    "allowlist: ignored 2 ALLOWED_NUMBERS entries that are not E.164",
    "allowlist: ALLOWED_NUMBERS has no valid E.164 number; rejecting call",
  ]);
});

Deno.test("allowlist function keeps the valid entries and logs only a count of invalid ones", async () => {
  const env = { ...ENV, ALLOWED_NUMBERS: `07700 900123,${OWNER},+0123456789` };
  const { verb, logs } = await call(env, OWNER);
  assertRedirected(verb);
  assert.deepEqual(errors(logs), [
    "allowlist: ignored 2 ALLOWED_NUMBERS entries that are not E.164",
  ]);
  assertRejected((await call(env, "+447700900123")).verb);
});

for (
  const from of [
    "anonymous",
    "Anonymous",
    "ANONYMOUS",
    "+266696687",
    "266696687",
    "restricted",
    "unknown",
    "private",
    "",
  ]
) {
  Deno.test(`allowlist function rejects the withheld caller ID "${from}"`, async () => {
    // Even a list that names +266696687 does not let a withheld caller in.
    const { verb, logs } = await call({
      ...ENV,
      ALLOWED_NUMBERS: `${OWNER},+266696687`,
    }, from);
    assertRejected(verb);
    assert.deepEqual(errors(logs), [
      "allowlist: caller ID is withheld; rejecting call",
    ]);
  });
}

Deno.test("allowlist function rejects a call without a From parameter", async () => {
  const { verb, logs } = await call(ENV, undefined);
  assertRejected(verb);
  assert.deepEqual(errors(logs), [
    "allowlist: caller ID is withheld; rejecting call",
  ]);
});

Deno.test("allowlist function rejects a caller ID that is not an E.164 number", async () => {
  for (
    const from of [
      "sip:owner@example.com",
      "client:owner",
      "+0123456789",
      "+1415",
      "+14158675309;ext=1",
    ]
  ) {
    const { verb, logs } = await call(ENV, from);
    assertRejected(verb);
    assert.deepEqual(errors(logs), [
      "allowlist: caller ID is not an E.164 number; rejecting call",
    ]);
  }
});

Deno.test("allowlist function rejects everyone when WEBHOOK_URL is missing or not https", async () => {
  const urls = [
    undefined,
    "",
    "http://assistant.example.com/incoming-call",
    "not a url",
    "ftp://assistant.example.com/incoming-call",
    "//assistant.example.com/incoming-call",
    "/incoming-call",
  ];
  for (const url of urls) {
    const { verb, logs } = await call({ ...ENV, WEBHOOK_URL: url }, OWNER);
    assertRejected(verb);
    assert.deepEqual(errors(logs), [
      "allowlist: WEBHOOK_URL is missing or not an https:// URL; rejecting call",
    ]);
  }
});

Deno.test("allowlist function escapes the redirect URL so Twilio reads back the exact WEBHOOK_URL", async () => {
  const url =
    "https://assistant.example.com/incoming-call?source=allowlist&lang=en-GB&note=a<b>&amp;";
  const { verb, twiml } = await call({ ...ENV, WEBHOOK_URL: url }, OWNER);
  assertRedirected(verb, url);
  assert.ok(
    twiml.includes(
      "?source=allowlist&amp;lang=en-GB&amp;note=a&lt;b&gt;&amp;amp;<",
    ),
    twiml,
  );
});

Deno.test("allowlist function never writes the allowed numbers to the logs", async () => {
  const allowed = "+1 (415) 867-5309, +44 7700 900123, 020 7946 0000";
  const scenarios: [Env, string | undefined][] = [
    [{ ...ENV, ALLOWED_NUMBERS: allowed }, OWNER],
    [{ ...ENV, ALLOWED_NUMBERS: allowed }, STRANGER],
    [{ ...ENV, ALLOWED_NUMBERS: allowed }, "anonymous"],
    [{ ...ENV, ALLOWED_NUMBERS: allowed, REJECT_REASON: "nope" }, "garbage"],
    [{ ALLOWED_NUMBERS: allowed, WEBHOOK_URL: "http://x" }, OWNER],
  ];
  for (const [env, from] of scenarios) {
    const { logs } = await call(env, from);
    assert.ok(logs.length > 0, "every decision is logged");
    for (const { text } of logs) assert.ok(!text.includes(allowed), text);
  }
});

Deno.test("Functions runtime harness refuses a Function that requires a module", async () => {
  const source =
    `const x = require("axios"); exports.handler = (c, e, cb) => cb(null, new Twilio.twiml.VoiceResponse());`;
  await assert.rejects(
    runFunctionSource(source, "/dep.js", {}, {}),
    /must not depend on any module/,
  );
});

Deno.test("Functions runtime harness fails a handler that calls back twice", async () => {
  const source = `exports.handler = (c, e, cb) => {
    cb(null, new Twilio.twiml.VoiceResponse());
    cb(null, new Twilio.twiml.VoiceResponse());
  };`;
  await assert.rejects(
    runFunctionSource(source, "/twice.js", {}, {}),
    /callback called 2 times/,
  );
});
