/**
 * Bounded schedules over real sockets: SCHEDULED_CALLS_MAX_PENDING,
 * _MAX_PER_DAY and _MIN_GAP_MINUTES hold for the API (a 409 JSON), the
 * /phone form (a message) and the assistant's schedule_call (its output),
 * also for requests that arrive at once.
 */
import assert from "node:assert/strict";
import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import {
  ADMIN_TOKEN,
  isoIn,
  PUBLIC_ORIGIN,
  startOutboundServer,
} from "./helpers/outbound_server.ts";
import { TEST_AUTH_TOKEN } from "./helpers/config.ts";
import { TwilioEdge } from "../peers/twilio_edge.ts";
import {
  CALL_PARAMS,
  signedWebhook,
  streamUrlOf,
} from "../peers/twilio_requests.ts";

type Server = Awaited<ReturnType<typeof startOutboundServer>>;
const owner = { authorization: `Bearer ${ADMIN_TOKEN}` };
const HOUR = 3_600_000;

async function scheduleStatuses(
  server: Server,
  bodies: Record<string, unknown>[],
): Promise<{ status: number; error?: string }[]> {
  return await Promise.all(bodies.map(async (body) => {
    const response = await server.schedule(body);
    const json = await response.json();
    return { status: response.status, error: json.error };
  }));
}

Deno.test("30 API requests for the same minute at once: one is scheduled, the rest get a 409 saying calls must be 10 minutes apart", async () => {
  const server = await startOutboundServer();
  try {
    const when = isoIn(2 * HOUR);
    const results = await scheduleStatuses(
      server,
      Array.from({ length: 30 }, (_, i) => ({ when, topic: `call ${i}` })),
    );
    assert.equal(results.filter((r) => r.status === 201).length, 1);
    const refused = results.filter((r) => r.status !== 201);
    assert.equal(refused.length, 29);
    for (const r of refused) {
      assert.equal(r.status, 409);
      assert.match(r.error!, /at least 10 minutes apart/);
    }
  } finally {
    await server.close();
  }
});

Deno.test("at most SCHEDULED_CALLS_MAX_PENDING calls wait, and at most SCHEDULED_CALLS_MAX_PER_DAY a day", async () => {
  const server = await startOutboundServer({
    variables: {
      SCHEDULED_CALLS_MAX_PENDING: "4",
      SCHEDULED_CALLS_MAX_PER_DAY: "100",
      SCHEDULED_CALLS_MIN_GAP_MINUTES: "0",
    },
  });
  try {
    const results = await scheduleStatuses(
      server,
      Array.from({ length: 12 }, (_, i) => ({
        when: isoIn(2 * HOUR + i * 60_000),
        topic: `call ${i}`,
      })),
    );
    assert.equal(results.filter((r) => r.status === 201).length, 4);
    for (const r of results.filter((r) => r.status !== 201)) {
      assert.equal(r.status, 409);
      assert.match(r.error!, /4 calls are already scheduled/);
    }
  } finally {
    await server.close();
  }
  const daily = await startOutboundServer({
    variables: {
      SCHEDULED_CALLS_MAX_PER_DAY: "2",
      SCHEDULED_CALLS_MIN_GAP_MINUTES: "0",
    },
  });
  try {
    // The same day three days ahead, in ASSISTANT_TIMEZONE (UTC here).
    const day = new Date(Date.now() + 3 * 24 * HOUR).toISOString().slice(0, 10);
    const results = [];
    for (const time of ["09:00", "12:00", "15:00"]) {
      results.push(
        ...await scheduleStatuses(daily, [{
          when: `${day}T${time}:00Z`,
          topic: `call at ${time}`,
        }]),
      );
    }
    assert.deepEqual(results.map((r) => r.status), [201, 201, 409]);
    assert.match(results[2].error!, /2 calls are already planned for that day/);
  } finally {
    await daily.close();
  }
});

Deno.test("the /phone form past a cap shows the reason", async () => {
  const server = await startOutboundServer();
  try {
    const post = () =>
      fetch(`${server.origin}/phone/calls`, {
        method: "POST",
        headers: {
          ...owner,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ when: "in 2 hours", topic: "the gym" }),
        redirect: "manual",
      });
    const first = await post();
    await first.body?.cancel();
    assert.equal(first.status, 303);
    const second = await post();
    assert.equal(second.status, 400);
    assert.match(await second.text(), /at least 10 minutes apart/);
  } finally {
    await server.close();
  }
});

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

Deno.test("schedule_call past a cap tells the model why, in its output", async () => {
  const server = await startOutboundServer({
    variables: { SCHEDULED_CALLS_MAX_PENDING: "1" },
  });
  try {
    const signed = signedWebhook(`${PUBLIC_ORIGIN}/incoming-call`, CALL_PARAMS);
    const response = await fetch(`${server.origin}/incoming-call`, {
      method: "POST",
      headers: signed.headers,
      body: await signed.text(),
    });
    const streamUrl = streamUrlOf(await response.text());
    const edge = await TwilioEdge.connect({
      url: server.origin.replace("http", "ws") + new URL(streamUrl).pathname,
      signedUrl: streamUrl,
      authToken: TEST_AUTH_TOKEN,
      callSid: CALL_PARAMS.CallSid,
      accountSid: CALL_PARAMS.AccountSid,
      customParameters: { caller: CALL_PARAMS.From },
    });
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    const booked = await callTool(session, "schedule_call", {
      when: "in 2 hours",
      topic: "the gym",
    });
    assert.equal(booked.ok, true, JSON.stringify(booked));
    await session.waitFor("response.create");
    const refused = await callTool(session, "schedule_call", {
      when: "tomorrow 9am",
      topic: "the dentist",
    });
    assert.equal(refused.ok, false);
    assert.match(String(refused.error), /1 call is already scheduled/);
    edge.close();
    await edge.closed;
  } finally {
    await server.close();
  }
});
