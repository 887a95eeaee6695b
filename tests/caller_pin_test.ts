/**
 * Caller verification over real sockets: STIR/SHAKEN on /incoming-call and
 * CALLER_PIN through <Gather> and its signed action. No stream token and no
 * upstream session exist until the PIN is right.
 */
import assert from "node:assert/strict";
import {
  PIN_LOCKED_MESSAGE,
  PIN_MISSING_MESSAGE,
  PIN_PROMPT,
  PIN_RETRY_PROMPT,
  PIN_WRONG_MESSAGE,
} from "../src/call/webhooks.ts";
import { callSidFor } from "./helpers/placed_call.ts";
import {
  PUBLIC_ORIGIN,
  randomAudio,
  startTestServer,
  type TestServer,
} from "./helpers/test_server.ts";
import {
  CALL_PARAMS,
  signedWebhook,
  streamParametersOf,
  streamUrlOf,
  unescapeXml,
} from "../peers/twilio_requests.ts";
import { CallerPin, WRONG_PINS_PER_HOUR } from "../src/twilio/caller_pin.ts";

const PIN = "480613";
const ADMIN_TOKEN = "pin-admin-token-0123456789";

/** A signed POST to `path`, as Twilio makes it; the status and the TwiML. */
async function post(
  server: TestServer,
  path: string,
  params: Record<string, string>,
): Promise<{ status: number; twiml: string }> {
  const signed = signedWebhook(`${PUBLIC_ORIGIN}${path}`, params);
  const response = await fetch(`${server.origin}${path}`, {
    method: "POST",
    headers: signed.headers,
    body: await signed.text(),
  });
  return { status: response.status, twiml: await response.text() };
}

/** The <Gather> of a TwiML answer: its attributes and what it says. */
function gatherOf(twiml: string) {
  const match = /<Gather ([^>]*)><Say>([^<]*)<\/Say><\/Gather>(.*)<\/Response>/
    .exec(twiml);
  if (!match) return undefined;
  const attributes = Object.fromEntries(
    [...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((
      [, name, value],
    ) => [name, unescapeXml(value)]),
  );
  return { attributes, say: unescapeXml(match[2]), after: match[3] };
}

const saysAndHangsUp = (twiml: string, message: string) =>
  twiml.includes(`<Say>${message}</Say><Hangup/></Response>`) &&
  !twiml.includes("<Stream") && !twiml.includes("<Gather");

function callParams(n: number, extra: Record<string, string> = {}) {
  return { ...CALL_PARAMS, CallSid: callSidFor(n), ...extra };
}

Deno.test("CALLER_PIN: /incoming-call answers <Gather input=dtmf> with a signed action, and no token or session exists yet", async () => {
  const server = await startTestServer({ CALLER_PIN: PIN });
  try {
    const { status, twiml } = await post(
      server,
      "/incoming-call",
      callParams(1),
    );
    assert.equal(status, 200);
    const gather = gatherOf(twiml);
    assert.deepEqual(gather?.attributes, {
      input: "dtmf",
      numDigits: String(PIN.length),
      timeout: "10",
      action: `${PUBLIC_ORIGIN}/incoming-call/pin`,
      method: "POST",
    }, twiml);
    assert.equal(gather?.say, PIN_PROMPT);
    // Nothing keyed in: Twilio goes past </Gather> to a goodbye.
    assert.equal(
      gather?.after,
      `<Say>${PIN_MISSING_MESSAGE}</Say><Hangup/>`,
    );
    assert.ok(!twiml.includes("/media-stream/"));
    assert.equal(server.realtime.handshakes, 0, "no upstream session");
    assert.equal(server.app.calls.load, 0);
    // The action is a webhook like the others: unsigned is refused.
    const unsigned = await fetch(`${server.origin}/incoming-call/pin`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...callParams(1), Digits: PIN }).toString(),
    });
    assert.equal(unsigned.status, 403);
    await unsigned.body?.cancel();
    assert.equal(server.realtime.handshakes, 0);
  } finally {
    await server.close();
  }
});

Deno.test("CALLER_PIN: the right PIN connects the stream and pre-warms the session; the call goes through", async () => {
  const server = await startTestServer({ CALLER_PIN: PIN });
  try {
    const params = callParams(1);
    await post(server, "/incoming-call", params);
    const { status, twiml } = await post(server, "/incoming-call/pin", {
      ...params,
      Digits: PIN,
    });
    assert.equal(status, 200);
    const streamUrl = streamUrlOf(twiml);
    assert.equal(streamParametersOf(twiml).caller, params.From);
    // Pre-warmed by the right PIN, before the stream connects.
    const session = await server.realtime.nextSession(3000);
    assert.equal(server.realtime.handshakes, 1);
    await session.waitFor("session.update");
    const edge = await server.connect(streamUrl, { callSid: params.CallSid });
    await edge.sendAudio(randomAudio(1600));
    await session.waitFor("input_audio_buffer.append");
  } finally {
    await server.close();
  }
});

Deno.test("CALLER_PIN: the right PIN replayed for a call that already has its stream mints nothing (one stream per call)", async () => {
  const server = await startTestServer({ CALLER_PIN: PIN });
  try {
    const params = callParams(1);
    await post(server, "/incoming-call", params);
    const right = { ...params, Digits: PIN };
    assert.equal((await post(server, "/incoming-call/pin", right)).status, 200);
    const replayed = await post(server, "/incoming-call/pin", right);
    assert.equal(replayed.status, 409);
    assert.ok(!replayed.twiml.includes("media-stream"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(server.realtime.handshakes, 1);
  } finally {
    await server.close();
  }
});

Deno.test("CALLER_PIN: a wrong PIN asks again, the third hangs up, and no PIN is ever logged", async () => {
  const server = await startTestServer({ CALLER_PIN: PIN });
  try {
    const params = callParams(1);
    await post(server, "/incoming-call", params);
    const wrongs = ["480614", "739251", "97315"];
    for (const [i, digits] of wrongs.entries()) {
      const { twiml } = await post(server, "/incoming-call/pin", {
        ...params,
        Digits: digits,
      });
      if (i < 2) {
        assert.equal(gatherOf(twiml)?.say, PIN_RETRY_PROMPT, twiml);
      } else {
        assert.ok(saysAndHangsUp(twiml, PIN_WRONG_MESSAGE), twiml);
      }
    }
    assert.equal(server.realtime.handshakes, 0, "no upstream session");
    for (const secret of [PIN, ...wrongs]) {
      assert.ok(
        server.logs.lines.every((line) => !line.includes(secret)),
        `${secret} logged`,
      );
    }
  } finally {
    await server.close();
  }
});

Deno.test("CALLER_PIN: more than 10 wrong PINs in an hour refuse calls, shown on /calls; a verified caller still gets through with CALLER_PIN_SKIP_VERIFIED", async () => {
  const server = await startTestServer({
    CALLER_PIN: PIN,
    CALLER_PIN_SKIP_VERIFIED: "true",
    ADMIN_TOKEN,
  });
  try {
    // Four calls of up to three guesses: the 11th wrong PIN locks out.
    let n = 0;
    let last = "";
    for (let wrong = 1; wrong <= WRONG_PINS_PER_HOUR + 1; wrong++) {
      if ((wrong - 1) % 3 === 0) n++;
      last = (await post(server, "/incoming-call/pin", {
        ...callParams(n),
        Digits: "111111",
      })).twiml;
    }
    assert.ok(saysAndHangsUp(last, PIN_LOCKED_MESSAGE), last);
    // One log line for the owner when the hour locks, whatever follows.
    const lockouts = () =>
      server.logs.events().filter((e) => e.event === "caller_pin.lockout");
    assert.equal(lockouts().length, 1);
    // A new call is refused before the PIN is even asked; the right PIN too.
    const next = await post(server, "/incoming-call", callParams(20));
    assert.ok(saysAndHangsUp(next.twiml, PIN_LOCKED_MESSAGE), next.twiml);
    const right = await post(server, "/incoming-call/pin", {
      ...callParams(20),
      Digits: PIN,
    });
    assert.ok(saysAndHangsUp(right.twiml, PIN_LOCKED_MESSAGE), right.twiml);
    assert.equal(server.realtime.handshakes, 0);
    assert.equal(lockouts().length, 1);
    // The owner sees it on /calls.
    const page = await fetch(`${server.origin}/calls`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const html = await page.text();
    assert.match(html, /Calls refused after more than 10 wrong PINs/);
    const api = await fetch(`${server.origin}/api/calls`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal((await api.json()).pinLockouts.length, 1);
    // STIR/SHAKEN "A" skips both the PIN and the lockout.
    const verified = await post(
      server,
      "/incoming-call",
      callParams(21, { StirVerstat: "TN-Validation-Passed-A" }),
    );
    streamUrlOf(verified.twiml);
    // "B" does not.
    const partly = await post(
      server,
      "/incoming-call",
      callParams(22, { StirVerstat: "TN-Validation-Passed-B" }),
    );
    assert.ok(saysAndHangsUp(partly.twiml, PIN_LOCKED_MESSAGE));
  } finally {
    await server.close();
  }
});

Deno.test("CALLER_PIN without CALLER_PIN_SKIP_VERIFIED asks a TN-Validation-Passed-A caller for the PIN too", async () => {
  const server = await startTestServer({ CALLER_PIN: PIN });
  try {
    const { twiml } = await post(
      server,
      "/incoming-call",
      callParams(1, { StirVerstat: "TN-Validation-Passed-A" }),
    );
    assert.equal(gatherOf(twiml)?.say, PIN_PROMPT, twiml);
  } finally {
    await server.close();
  }
});

Deno.test("/incoming-call rejects a caller ID whose STIR/SHAKEN verdict failed, with or without a PIN, and opens nothing", async () => {
  for (const variables of [{}, { CALLER_PIN: PIN }]) {
    const server = await startTestServer(variables);
    try {
      for (
        const verdict of ["TN-Validation-Failed-A", "TN-Validation-Failed-C"]
      ) {
        const { status, twiml } = await post(
          server,
          "/incoming-call",
          callParams(1, { StirVerstat: verdict }),
        );
        assert.equal(status, 200);
        assert.match(
          twiml,
          /<Response><Reject reason="rejected"\/><\/Response>/,
        );
      }
      assert.equal(server.realtime.handshakes, 0);
      // No verdict (common outside the US) or No-TN-Validation: as before.
      const verdicts: Record<string, string>[] = [
        {},
        { StirVerstat: "No-TN-Validation" },
      ];
      for (const extra of verdicts) {
        const { twiml } = await post(server, "/incoming-call", {
          ...callParams(2),
          ...extra,
        });
        assert.ok(!twiml.includes("<Reject"), twiml);
      }
      assert.ok(
        server.logs.events().some((e) => e.reason === "stir_shaken_failed"),
      );
    } finally {
      await server.close();
    }
  }
});

Deno.test("a CALLER_PIN under 6 digits is warned about at start-up, without the PIN", async () => {
  const server = await startTestServer({ CALLER_PIN: "4821" });
  try {
    const warning = server.logs.events().find((e) =>
      e.event === "config.caller_pin_short"
    );
    assert.equal(warning?.digits, 4);
    assert.ok(server.logs.lines.every((line) => !line.includes("4821")));
  } finally {
    await server.close();
  }
});

Deno.test("CallerPin: the lockout lasts for the rest of the clock hour, then calls are taken again", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const hour = Date.UTC(2026, 11, 7, 9);
    let now = hour + 50 * 60_000;
    const pin = new CallerPin(PIN, kv, { now: () => now });
    const outcomes = [];
    for (let i = 0; i <= WRONG_PINS_PER_HOUR; i++) {
      outcomes.push(await pin.wrong(callSidFor(Math.floor(i / 3))));
    }
    assert.deepEqual(outcomes.slice(0, 3), [
      "ask_again",
      "ask_again",
      "hang_up",
    ]);
    assert.equal(outcomes.at(-1), "locked_out");
    assert.equal(await pin.lockedOut(), true);
    now = hour + 59 * 60_000;
    assert.equal(await pin.lockedOut(), true);
    now = hour + 60 * 60_000;
    assert.equal(await pin.lockedOut(), false);
    assert.deepEqual(await pin.lockouts(), [{
      hourStart: hour,
      lockedAt: hour + 50 * 60_000,
    }]);
    assert.equal(pin.matches(PIN), true);
    assert.equal(pin.matches(PIN.slice(0, -1)), false);
    assert.equal(pin.matches(`${PIN}0`), false);
  } finally {
    kv.close();
  }
});

Deno.test("CALLER_PIN: one captured wrong-PIN request replayed 20 times only hangs up: it counts 3 for the hour, and the owner is not locked out", async () => {
  const server = await startTestServer({ CALLER_PIN: PIN });
  try {
    const replayed = { ...callParams(1), Digits: "111111" };
    for (let i = 0; i < 20; i++) {
      const { twiml } = await post(server, "/incoming-call/pin", replayed);
      if (i >= 2) assert.ok(saysAndHangsUp(twiml, PIN_WRONG_MESSAGE), twiml);
    }
    assert.equal(
      server.logs.events().filter((e) => e.event === "caller_pin.lockout")
        .length,
      0,
    );
    const owner = await post(server, "/incoming-call", callParams(2));
    assert.equal(gatherOf(owner.twiml)?.say, PIN_PROMPT, owner.twiml);
    const right = await post(server, "/incoming-call/pin", {
      ...callParams(2),
      Digits: PIN,
    });
    streamUrlOf(right.twiml);
  } finally {
    await server.close();
  }
});

Deno.test("ALLOWED_NUMBERS: /incoming-call <Reject>s any other caller before the PIN, budget or claim, logging only a masked number", async () => {
  const server = await startTestServer({
    ALLOWED_NUMBERS: "+1 415 555 0123, +447700900123",
    CALLER_PIN: PIN,
  });
  try {
    for (const From of ["+14155550999", "anonymous", ""]) {
      const { status, twiml } = await post(
        server,
        "/incoming-call",
        callParams(1, { From }),
      );
      assert.equal(status, 200);
      assert.match(twiml, /<Response><Reject reason="rejected"\/><\/Response>/);
    }
    // The PIN's action is refused to a stranger too.
    const pin = await post(server, "/incoming-call/pin", {
      ...callParams(1, { From: "+14155550999" }),
      Digits: PIN,
    });
    assert.match(pin.twiml, /<Reject reason="rejected"\/>/);
    assert.equal(server.realtime.handshakes, 0);
    // Nothing was claimed: the same CallSid from a listed number goes on.
    const owner = await post(server, "/incoming-call", callParams(1));
    assert.equal(gatherOf(owner.twiml)?.say, PIN_PROMPT, owner.twiml);
    const refused = server.logs.events().filter((e) =>
      e.reason === "caller_not_allowed"
    );
    assert.ok(refused.length > 0);
    assert.equal(refused[0].caller, "•••0999");
    assert.ok(server.logs.lines.every((line) => !line.includes("5550999")));
  } finally {
    await server.close();
  }
});

Deno.test("OWNER_NUMBERS is the allowlist when ALLOWED_NUMBERS is unset: without a PIN a signed webhook from another number opens nothing", async () => {
  const server = await startTestServer({
    OWNER_NUMBERS: "+14155550123",
    TWILIO_ACCOUNT_SID: "AC" + "0".repeat(32),
    TWILIO_FROM_NUMBER: "+18005550199",
  });
  try {
    const stranger = await post(
      server,
      "/incoming-call",
      callParams(1, { From: "+12025550100" }),
    );
    assert.match(stranger.twiml, /<Reject reason="rejected"\/>/);
    assert.equal(server.realtime.handshakes, 0);
    const owner = await post(server, "/incoming-call", callParams(2));
    streamUrlOf(owner.twiml);
  } finally {
    await server.close();
  }
});
