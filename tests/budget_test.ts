/**
 * DAILY_BUDGET_USD over real sockets: a live call that takes the day over
 * the budget is ended with a short goodbye, and later calls hear one
 * sentence and open no voice session.
 */
import assert from "node:assert/strict";
import { BUDGET_GOODBYE, BUDGET_MESSAGE } from "../src/cost/budget.ts";
import { callSidFor, placeCall, waitForRecord } from "./helpers/placed_call.ts";
import {
  delay,
  PUBLIC_ORIGIN,
  randomAudio,
  startTestServer,
} from "./helpers/test_server.ts";
import { CALL_PARAMS, signedWebhook } from "../peers/twilio_requests.ts";

const ADMIN_TOKEN = "budget-admin-token-0123456789";
/**
 * Long instructions make every response read ~3 000 text tokens: at $4 per
 * 1M that is ~12 000 µ$, over a $0.01 budget with the first response.
 */
const LONG_INSTRUCTIONS = "Be brief and kind. ".repeat(630);

Deno.test("a live call that takes the day over DAILY_BUDGET_USD gets a polite goodbye; the next call hears one sentence and opens no session", async () => {
  const server = await startTestServer({
    DAILY_BUDGET_USD: "0.01",
    ASSISTANT_INSTRUCTIONS: LONG_INSTRUCTIONS,
    ADMIN_TOKEN,
    MEMORY: "false",
  });
  try {
    // Under budget: the call is answered as usual.
    const call = await placeCall(server, 1);
    await call.session.speak(randomAudio(8 * 100)).done;
    const record = await waitForRecord(
      server,
      call.callSid,
      (r) => r.outcome !== null,
    );
    assert.equal(record.endReason, "daily budget reached");
    assert.equal(record.outcome, "limit");
    assert.ok(record.costMicroUsd! >= 10_000, String(record.costMicroUsd));
    // The goodbye went in as a system item, then a response was asked for.
    const notes = call.session.received
      .filter((e) => e.type === "conversation.item.create")
      .map((e) => JSON.stringify(e.item));
    assert.ok(notes.some((n) => n.includes(BUDGET_GOODBYE)), notes.join());
    const reached = server.logs.events().find((e) =>
      e.event === "budget.reached"
    );
    assert.equal(reached?.budgetMicroUsd, 10_000);
    assert.equal(server.realtime.handshakes, 1);

    // Over budget: one sentence, a hang-up, no token, no upstream session.
    const webhook = signedWebhook(`${PUBLIC_ORIGIN}/incoming-call`, {
      ...CALL_PARAMS,
      CallSid: callSidFor(2),
    });
    const refused = await fetch(`${server.origin}/incoming-call`, {
      method: "POST",
      headers: webhook.headers,
      body: await webhook.text(),
    });
    const twiml = await refused.text();
    assert.equal(refused.status, 200);
    assert.ok(
      twiml.includes(
        `<Say>${BUDGET_MESSAGE.replace("'", "&apos;")}</Say><Hangup/>`,
      ),
      twiml,
    );
    assert.ok(!twiml.includes("<Stream"));
    // The browser softphone is refused the same way.
    const token = await fetch(`${server.origin}/phone/token`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(token.status, 503);
    assert.deepEqual(await token.json(), { error: "over budget" });
    assert.equal(server.realtime.handshakes, 1, "no session was opened");
    assert.equal(server.app.calls.load, 0);
  } finally {
    await server.close();
  }
});

Deno.test("a call whose stream drops once the day's budget is spent is not resumed: Twilio's continuation hears one sentence and no session opens", async () => {
  const server = await startTestServer({
    DAILY_BUDGET_USD: "0.01",
    ASSISTANT_INSTRUCTIONS: LONG_INSTRUCTIONS,
    MEMORY: "false",
  });
  try {
    const call = await placeCall(server, 1);
    await call.session.speak(randomAudio(8 * 100)).done;
    // The budget asks for a goodbye; the upstream drops before it is said.
    await call.session.waitFor("response.create");
    assert.ok(
      server.logs.events().some((e) => e.event === "budget.reached"),
    );
    call.session.close(1011, "upstream lost");
    await call.edge.closed;
    const continued = signedWebhook(`${PUBLIC_ORIGIN}/call-ended`, {
      ...CALL_PARAMS,
      CallSid: call.callSid,
      CallStatus: "in-progress",
    });
    const response = await fetch(`${server.origin}/call-ended`, {
      method: "POST",
      headers: continued.headers,
      body: await continued.text(),
    });
    const twiml = await response.text();
    assert.ok(
      twiml.includes(
        `<Say>${BUDGET_MESSAGE.replace("'", "&apos;")}</Say><Hangup/>`,
      ),
      twiml,
    );
    assert.ok(!twiml.includes("<Stream"));
    assert.equal(server.realtime.handshakes, 1, "no session was opened");
  } finally {
    await server.close();
  }
});

Deno.test("under DAILY_BUDGET_USD calls go on as usual", async () => {
  const server = await startTestServer({
    DAILY_BUDGET_USD: "5",
    MEMORY: "false",
  });
  try {
    const call = await placeCall(server, 1);
    await call.session.speak(randomAudio(8 * 200)).done;
    await call.edge.waitForPlayed(8 * 200, 3000);
    call.edge.sendStop();
    const record = await waitForRecord(
      server,
      call.callSid,
      (r) => r.outcome !== null,
    );
    assert.equal(record.endReason, "caller hung up");
    assert.ok(record.costMicroUsd! > 0);
    const again = await placeCall(server, 2);
    assert.equal(server.realtime.handshakes, 2);
    again.edge.sendStop();
    await again.session.closed;
  } finally {
    await server.close();
  }
});

Deno.test("a pre-warmed session that no stream claims is priced and counted against DAILY_BUDGET_USD", async () => {
  const server = await startTestServer({
    DAILY_BUDGET_USD: "0.01",
    ASSISTANT_INSTRUCTIONS: LONG_INSTRUCTIONS,
    GREETING: "Hello, boss.",
    STREAM_TOKEN_TTL_SECONDS: "5",
    MEMORY: "false",
  }, { onResponseCreate: (session) => session.speak(randomAudio(800)) });
  try {
    // Twilio fetched the TwiML but never connected the stream: the greeting's
    // response still ran, and was billed.
    await server.answer({ ...CALL_PARAMS, CallSid: callSidFor(1) });
    const session = await server.realtime.nextSession();
    await session.waitFor("response.create");
    let unclaimed: Record<string, unknown> | undefined;
    for (let i = 0; i < 80 && !unclaimed; i++) {
      await delay(100);
      unclaimed = server.logs.events().find((e) =>
        e.event === "prewarm.unclaimed"
      );
    }
    assert.equal(unclaimed?.callSid, callSidFor(1));
    const cost = Number(unclaimed?.costMicroUsd);
    assert.ok(cost >= 10_000, String(cost));
    // The day's ledger is written after the log line: wait for it, not a fixed time.
    let spent = 0;
    for (let i = 0; i < 50 && spent !== cost; i++) {
      await delay(100);
      spent = await server.app.spend.day(Date.now());
    }
    assert.equal(spent, cost);
    // The budget now holds: the next call opens nothing.
    const webhook = signedWebhook(`${PUBLIC_ORIGIN}/incoming-call`, {
      ...CALL_PARAMS,
      CallSid: callSidFor(2),
    });
    const refused = await fetch(`${server.origin}/incoming-call`, {
      method: "POST",
      headers: webhook.headers,
      body: await webhook.text(),
    });
    assert.ok(!(await refused.text()).includes("<Stream"));
    assert.equal(server.realtime.handshakes, 1);
  } finally {
    await server.close();
  }
});
