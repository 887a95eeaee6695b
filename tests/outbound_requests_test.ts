/**
 * Asking for a call: the assistant's schedule_call and cancel_call during a
 * call, the owner's API and /phone form, and the digest text after a call.
 */
import assert from "node:assert/strict";
import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import {
  ADMIN_TOKEN,
  OWNER_NUMBER,
  PUBLIC_ORIGIN,
  startOutboundServer,
  TWILIO_NUMBER,
} from "./helpers/outbound_server.ts";
import { delay, startTestServer } from "./helpers/test_server.ts";
import { TEST_AUTH_TOKEN } from "./helpers/config.ts";
import { TwilioEdge } from "../peers/twilio_edge.ts";
import {
  CALL_PARAMS,
  signedWebhook,
  streamUrlOf,
} from "../peers/twilio_requests.ts";
import { readSummary } from "../src/outbound/digest_sms.ts";
import type { CallRecord } from "../src/journal/journal.ts";

type Server = Awaited<ReturnType<typeof startOutboundServer>>;

/** The owner calls in (From is the owner's number), as Twilio would connect it. */
async function ownerCallsIn(server: Server): Promise<TwilioEdge> {
  const signed = signedWebhook(`${PUBLIC_ORIGIN}/incoming-call`, CALL_PARAMS);
  const response = await fetch(`${server.origin}/incoming-call`, {
    method: "POST",
    headers: signed.headers,
    body: await signed.text(),
  });
  const streamUrl = streamUrlOf(await response.text());
  return await TwilioEdge.connect({
    url: server.origin.replace("http", "ws") + new URL(streamUrl).pathname,
    signedUrl: streamUrl,
    authToken: TEST_AUTH_TOKEN,
    callSid: CALL_PARAMS.CallSid,
    accountSid: CALL_PARAMS.AccountSid,
    customParameters: { caller: CALL_PARAMS.From },
  });
}

/** The model calls `name`; resolves with the output the server sent back. */
async function callTool(
  session: FakeRealtimeSession,
  name: string,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const handle = session.functionCall({ name, arguments: args });
  const [callId] = handle.callIds;
  const item = await session.waitFor(
    "conversation.item.create",
    (e) => (e.item as { call_id?: string }).call_id === callId,
  );
  return JSON.parse((item.item as { output: string }).output);
}

function toolNames(update: Record<string, unknown>): string[] {
  return (update.session as { tools: { name?: string }[] }).tools
    .map((tool) => tool.name ?? "");
}

const owner = { authorization: `Bearer ${ADMIN_TOKEN}` };

Deno.test("schedule_call: the assistant books a call-back, hears the time in words, and no other number is ever sent to Twilio", async () => {
  const server = await startOutboundServer();
  try {
    const edge = await ownerCallsIn(server);
    const session = await server.realtime.nextSession();
    const update = await session.waitFor("session.update");
    assert.ok(toolNames(update).includes("schedule_call"));
    assert.ok(toolNames(update).includes("cancel_call"));

    for (const to of ["+15555550100", "911", "my sister"]) {
      const refused = await callTool(session, "schedule_call", {
        when: "in 20 minutes",
        topic: "call Anna",
        to,
      });
      assert.equal(refused.ok, false);
      assert.match(String(refused.error), /only call my owner/);
      await session.waitFor("response.create");
    }
    const booked = await callTool(session, "schedule_call", {
      when: "in 20 minutes",
      topic: "call Anna back",
    });
    assert.equal(booked.ok, true, JSON.stringify(booked));
    assert.match(String(booked.when), /at \d+:\d\d [ap]m \(in 20 minutes\)$/);
    assert.equal(
      booked.say,
      `Tell the owner you will call them ${booked.when}.`,
    );
    await session.waitFor("response.create");
    // The owner's own number in another spelling is still the owner.
    const spelled = await callTool(session, "schedule_call", {
      when: "tomorrow 7:30",
      topic: "the gym",
      to: "+1 (415) 555-0123",
    });
    assert.equal(spelled.ok, true);
    await session.waitFor("response.create");

    const listed = await (await fetch(
      `${server.origin}/api/calls/scheduled`,
      { headers: owner },
    )).json();
    assert.deepEqual(
      listed.calls.map((c: { to: string; requestedBy: string }) => [
        c.to,
        c.requestedBy,
      ]),
      [
        [OWNER_NUMBER, `the assistant, during call ${CALL_PARAMS.CallSid}`],
        [OWNER_NUMBER, `the assistant, during call ${CALL_PARAMS.CallSid}`],
      ],
    );

    const ambiguous = await callTool(session, "cancel_call", {});
    assert.equal(ambiguous.ok, false);
    assert.equal((ambiguous.scheduled as unknown[]).length, 2);
    await session.waitFor("response.create");
    const cancelled = await callTool(session, "cancel_call", {
      when: "tomorrow 7:30",
    });
    assert.equal(cancelled.ok, true, JSON.stringify(cancelled));
    assert.equal(
      (cancelled.cancelled as { topic: string }).topic,
      "the gym",
    );
    assert.equal(server.rest.requests.length, 0, "nothing reached Twilio");
    assert.ok(
      server.logs.events().some((e) => e.event === "outbound.refused_number"),
    );
    edge.sendStop();
    await edge.closed;
  } finally {
    await server.close();
  }
});

Deno.test("without outbound settings the assistant has no schedule_call and the API says what to set", async () => {
  const server = await startTestServer({
    ADMIN_TOKEN,
    MEMORY: "false",
  });
  try {
    await server.call();
    const session = await server.realtime.nextSession();
    const update = await session.waitFor("session.update");
    assert.ok(!toolNames(update).includes("schedule_call"));
    assert.ok(!toolNames(update).includes("cancel_call"));
    const api = await fetch(`${server.origin}/api/calls/scheduled`, {
      headers: owner,
    });
    assert.equal(api.status, 404);
    assert.match((await api.json()).error, /OWNER_NUMBERS/);
    const phone = await fetch(`${server.origin}/phone`, { headers: owner });
    assert.doesNotMatch(await phone.text(), /Schedule a call/);
    const twiml = await fetch(`${server.origin}/outbound-call/abc`, {
      method: "POST",
    });
    assert.equal(twiml.status, 404);
    await twiml.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("the scheduled-calls API: owner auth, JSON only, refusals as 400s", async () => {
  const server = await startOutboundServer();
  try {
    const anonymous = await fetch(`${server.origin}/api/calls/scheduled`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ when: "8pm", topic: "x" }),
    });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const form = await fetch(`${server.origin}/api/calls/scheduled`, {
      method: "POST",
      headers: {
        ...owner,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "when=8pm&topic=x",
    });
    assert.equal(form.status, 415);
    await form.body?.cancel();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ when: "yesterday-ish", topic: "x" }, /did not understand/],
      [{ when: "2020-01-01T08:00Z", topic: "x" }, /already passed/],
      [{ when: "8pm", topic: " " }, /what the call is about/],
      [{ when: "8pm", topic: "x", to: "+15555550100" }, /only call my owner/],
      [{ topic: "x" }, /expected/],
    ];
    for (const [body, error] of cases) {
      const response = await server.schedule(body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match((await response.json()).error, error);
    }
    const ok = await server.schedule({ when: "in 2 hours", topic: "report" });
    assert.equal(ok.status, 201);
    const { call, understood } = await ok.json();
    assert.match(understood, /at \d+:\d\d [ap]m$/);
    assert.equal(call.state, "scheduled");
    const missing = await fetch(
      `${server.origin}/api/calls/scheduled/00000000`,
      { method: "DELETE", headers: owner },
    );
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    assert.equal(server.rest.requests.length, 0);
  } finally {
    await server.close();
  }
});

Deno.test("/phone has a Schedule a call form that books and cancels a call", async () => {
  const server = await startOutboundServer();
  try {
    const page = await fetch(`${server.origin}/phone`, { headers: owner });
    const html = await page.text();
    assert.match(html, /<h2 id="schedule-title">Schedule a call<\/h2>/);
    assert.match(html, /<form method="post" action="\/phone\/calls">/);
    const posted = await fetch(`${server.origin}/phone/calls`, {
      method: "POST",
      headers: {
        ...owner,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ when: "in 3 hours", topic: "<b>taxes</b>" }),
      redirect: "manual",
    });
    assert.equal(posted.status, 303);
    await posted.body?.cancel();
    const location = posted.headers.get("location") ?? "";
    assert.match(location, /^\/phone\?scheduled=[0-9a-f]{8}$/);
    const after = await (await fetch(`${server.origin}${location}`, {
      headers: owner,
    })).text();
    assert.match(
      after,
      /Scheduled: the assistant will call you (today|tomorrow) at/,
    );
    assert.match(after, /&lt;b&gt;taxes&lt;\/b&gt;/, "the topic is escaped");
    const [{ id, requestedBy }] = (await (await fetch(
      `${server.origin}/api/calls/scheduled`,
      { headers: owner },
    )).json()).calls;
    assert.equal(requestedBy, "the /phone form");
    const cancel = await fetch(`${server.origin}/phone/calls/${id}/cancel`, {
      method: "POST",
      headers: owner,
      redirect: "manual",
    });
    assert.equal(cancel.status, 303);
    await cancel.body?.cancel();
    const cancelled = await (await fetch(
      `${server.origin}${cancel.headers.get("location")}`,
      { headers: owner },
    )).text();
    assert.match(cancelled, /Cancelled the call about/);
    assert.match(cancelled, /No calls scheduled/);
    const bad = await fetch(`${server.origin}/phone/calls`, {
      method: "POST",
      headers: {
        ...owner,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ when: "at 8", topic: "x" }),
    });
    assert.equal(bad.status, 400);
    assert.match(
      await bad.text(),
      /class="problem" role="alert">&quot;8&quot; could be morning or evening/,
    );
    const elsewhere = await fetch(`${server.origin}/phone/calls`, {
      method: "POST",
      headers: {
        ...owner,
        "content-type": "application/x-www-form-urlencoded",
        "sec-fetch-site": "cross-site",
      },
      body: new URLSearchParams({ when: "8pm", topic: "x" }),
    });
    assert.equal(elsewhere.status, 403, "another site's form is refused");
    await elsewhere.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("DIGEST_SMS: after a call the owner is texted its summary once the journal record has one", async () => {
  const server = await startOutboundServer({
    variables: { DIGEST_SMS: "true" },
    digestCheckEveryMs: 150,
  });
  try {
    const edge = await ownerCallsIn(server);
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    edge.sendStop();
    await edge.closed;
    await delay(400);
    await server.app.journal.flushed();
    assert.equal(server.rest.messages.length, 0, "no summary yet: no text");
    // The summary lands on the record (the summary job's write).
    const key = ["calls", CALL_PARAMS.CallSid];
    const stored = await server.kv.get<CallRecord>(key);
    assert.ok(stored.value);
    await server.kv.set(key, {
      ...stored.value,
      summary: {
        status: "done",
        attempts: 1,
        text: "You asked to move the dentist to Friday.",
      },
    });
    const text = await server.rest.message(1, 3000);
    assert.equal(text.to, OWNER_NUMBER);
    assert.equal(text.from, TWILIO_NUMBER);
    assert.match(
      text.body,
      /^Your call at \d\d:\d\d: You asked to move the dentist to Friday\.$/,
    );
    await delay(500);
    assert.equal(server.rest.messages.length, 1, "one text per call");
  } finally {
    await server.close();
  }
});

Deno.test("readSummary() reads a summary as text, still to come, or none", () => {
  const record = (summary: unknown) => ({ summary }) as unknown as CallRecord;
  assert.deepEqual(readSummary(record("Short call.")), {
    state: "ready",
    text: "Short call.",
  });
  assert.deepEqual(
    readSummary(record({ status: "done", attempts: 1, text: " Done. " })),
    { state: "ready", text: "Done." },
  );
  assert.deepEqual(readSummary(record(undefined)), { state: "pending" });
  assert.deepEqual(readSummary(record({ status: "retrying", attempts: 2 })), {
    state: "pending",
  });
  assert.deepEqual(readSummary(record({ status: "failed", attempts: 3 })), {
    state: "none",
  });
  assert.deepEqual(readSummary(record({ status: "skipped", attempts: 0 })), {
    state: "none",
  });
});

Deno.test("the outbound API's time is the owner's: ISO without an offset is local to ASSISTANT_TIMEZONE", async () => {
  const server = await startOutboundServer({
    variables: { ASSISTANT_TIMEZONE: "Asia/Tokyo" },
  });
  try {
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = new Intl.DateTimeFormat("en-CA", {
      timeZone: "Asia/Tokyo",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    }).format(tomorrow);
    const response = await server.schedule({
      when: `${local}T09:00`,
      topic: "x",
    });
    const { call } = await response.json();
    assert.equal(call.at, `${local}T00:00:00.000Z`, "09:00 in Tokyo");
    assert.equal(server.rest.calls.length, 0);
  } finally {
    await server.close();
  }
});

Deno.test("a placed call answered while the server is at MAX_CONCURRENT_CALLS hears it is busy, and the journal says so", async () => {
  const server = await startOutboundServer({
    variables: { MAX_CONCURRENT_CALLS: "1" },
  });
  try {
    const edge = await ownerCallsIn(server);
    await server.realtime.nextSession();
    const response = await server.schedule({
      when: new Date(Date.now() + 100).toISOString(),
      topic: "x",
    });
    assert.equal(response.status, 201);
    await response.body?.cancel();
    const placed = await server.rest.call(1);
    const answered = await server.rest.answer(placed.sid, "human");
    assert.equal(answered.stream, undefined);
    assert.match(answered.said[0], /tied up right now/);
    await answered.ended;
    assert.equal(server.realtime.sessions.length, 1, "no second session");
    const journal = await server.app.journal.get(placed.sid);
    assert.equal(
      journal?.record.outbound?.result,
      "answered, but the server was busy",
    );
    edge.sendStop();
    await edge.closed;
  } finally {
    await server.close();
  }
});
