/**
 * Calls the server places, end to end: the real app between the stand-in
 * for Twilio's REST API (which calls the app back, signed, as Twilio does)
 * and the Realtime simulator.
 */
import assert from "node:assert/strict";
import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import {
  ADMIN_TOKEN,
  isoIn,
  OWNER_NUMBER,
  PUBLIC_ORIGIN,
  startOutboundServer,
  TWILIO_NUMBER,
} from "./helpers/outbound_server.ts";
import { delay, randomAudio } from "./helpers/test_server.ts";
import { signedWebhook } from "../peers/twilio_requests.ts";
import { BRIEFING_TOPIC } from "../src/outbound/opening.ts";
import { BUDGET_SKIPPED } from "../src/outbound/dialler.ts";
import { FakeLive } from "../peers/live/mod.ts";
import { TEST_API_KEY } from "./helpers/config.ts";

interface ScheduledView {
  id: string;
  state: string;
  attempt: number;
  callSids: string[];
  requestedBy: string;
  result?: string;
}

async function schedule(
  server: Awaited<ReturnType<typeof startOutboundServer>>,
  body: Record<string, unknown>,
): Promise<{ call: ScheduledView; understood: string }> {
  const response = await server.schedule(body);
  const json = await response.json();
  assert.equal(response.status, 201, JSON.stringify(json));
  return json;
}

async function scheduledCalls(
  server: Awaited<ReturnType<typeof startOutboundServer>>,
): Promise<ScheduledView[]> {
  const response = await fetch(`${server.origin}/api/calls/scheduled`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return (await response.json()).calls;
}

function systemNotes(session: FakeRealtimeSession): string[] {
  return session.received
    .filter((e) => e.type === "conversation.item.create")
    .map((e) => e.item as Record<string, unknown>)
    .filter((item) => item.type === "message" && item.role === "system")
    .map((item) => (item.content as { text: string }[])[0].text);
}

/** POSTs a webhook to the app as Twilio would sign it for the public URL. */
async function postSigned(
  origin: string,
  path: string,
  params: Record<string, string>,
  signature?: string | null,
): Promise<Response> {
  const signed = signedWebhook(`${PUBLIC_ORIGIN}${path}`, params, {
    signature,
  });
  return await fetch(`${origin}${path}`, {
    method: "POST",
    headers: signed.headers,
    body: await signed.text(),
  });
}

Deno.test("a scheduled call is dialled through Twilio's REST API at its time and not before", async () => {
  const server = await startOutboundServer();
  try {
    const due = Date.now() + 1500;
    const { call, understood } = await schedule(server, {
      when: new Date(due).toISOString(),
      topic: "the plumber's quote",
    });
    assert.match(understood, /^today at \d+:\d\d [ap]m \(in \d+ minutes?\)$/);
    assert.equal(call.state, "scheduled");
    await delay(1000);
    assert.equal(server.rest.calls.length, 0, "dialled early");
    const placed = await server.rest.call(1, 5000);
    assert.ok(
      placed.createdAt >= due - 50,
      `${due - placed.createdAt} ms early`,
    );
    assert.equal(placed.to, OWNER_NUMBER);
    assert.equal(placed.from, TWILIO_NUMBER);
    assert.equal(placed.url, `${PUBLIC_ORIGIN}/outbound-call/${call.id}`);
    assert.equal(
      placed.statusCallback,
      `${PUBLIC_ORIGIN}/outbound-status/${call.id}`,
    );
    assert.deepEqual(placed.statusCallbackEvents, [
      "initiated",
      "ringing",
      "answered",
      "completed",
    ]);
    assert.equal(placed.machineDetection, "DetectMessageEnd");
    await delay(100);
    const [listed] = await scheduledCalls(server);
    assert.equal(listed.state, "calling");
    assert.deepEqual(listed.callSids, [placed.sid]);
    assert.equal(listed.requestedBy, "a script (API)");
  } finally {
    await server.close();
  }
});

Deno.test("a person answers: the stream connects as for /incoming-call and the assistant opens with the topic", async () => {
  const opening = randomAudio(8 * 300);
  const server = await startOutboundServer({
    variables: { GREETING: "Hi boss" },
    realtimeOptions: {
      onResponseCreate: (session) => session.speak(opening),
    },
  });
  try {
    await schedule(server, { when: isoIn(200), topic: "the plumber's quote" });
    const placed = await server.rest.call(1);
    const answered = await server.rest.answer(placed.sid, "human");
    assert.equal(answered.status, 200);
    assert.match(
      answered.twiml,
      /<Connect action="https:\/\/assistant\.example\.com\/call-ended" method="POST"><Stream url="wss:\/\/assistant\.example\.com\/media-stream\/[^"]+"><Parameter name="caller" value="\+14155550123"\/><\/Stream><\/Connect>/,
    );
    const session = await server.realtime.nextSession();
    const create = await session.waitFor("response.create");
    const [note, ...more] = systemNotes(session);
    assert.deepEqual(more, [], "one opening: the call's, not GREETING too");
    assert.match(note, /calling your owner back/);
    assert.match(note, /the plumber's quote/);
    assert.equal(
      (create.response as Record<string, unknown> | undefined)?.instructions,
      undefined,
      "the persona stays: a system item, not response.instructions",
    );
    const edge = answered.stream!;
    await edge.waitForPlayed(opening.length, 3000);
    assert.deepEqual(edge.playedAudio(), opening);
    server.rest.hangUp(placed.sid, edge);
    await answered.ended;
    await delay(200);
    const journal = await server.app.journal.get(placed.sid);
    assert.equal(journal?.record.source, "outbound");
    assert.equal(journal?.record.outbound?.answeredBy, "human");
    assert.equal(journal?.record.outbound?.result, "talked");
    assert.equal(journal?.record.outbound?.topic, "the plumber's quote");
    const page = await fetch(`${server.origin}/calls/${placed.sid}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const html = await page.text();
    assert.match(html, /Outbound call to \+14155550123/);
    assert.match(html, /Asked for by a script \(API\)/);
    assert.match(html, /answered by a person/);
    const list = await fetch(`${server.origin}/calls`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.match(await list.text(), /Outbound to •••0123/);
    const [done] = await scheduledCalls(server);
    assert.equal(done.state, "done");
  } finally {
    await server.close();
  }
});

Deno.test("a call the server placed resumes the same way: its stream drops, Twilio's continuation resumes it with the conversation and no second opening", async () => {
  const opening = randomAudio(8 * 300);
  const server = await startOutboundServer({
    realtimeOptions: {
      onResponseCreate: (session) =>
        session.speak(opening, {
          transcript: "Calling you back about the plumber's quote.",
        }),
    },
  });
  try {
    await schedule(server, { when: isoIn(200), topic: "the plumber's quote" });
    const placed = await server.rest.call(1);
    const answered = await server.rest.answer(placed.sid, "human");
    const first = await server.realtime.nextSession();
    await answered.stream!.waitForPlayed(opening.length, 3000);
    await delay(100);
    first.close(1011, "upstream lost");
    const second = await server.realtime.nextSession();
    await second.waitFor("session.update");
    await delay(100);
    const texts = second.received
      .filter((e) => e.type === "conversation.item.create")
      .map((e) => (e.item as { content?: { text: string }[] }).content?.[0]);
    assert.ok(
      texts.some((c) =>
        c?.text === "Calling you back about the plumber's quote."
      ),
      "the opening the caller heard is in the new session",
    );
    assert.deepEqual(
      systemNotes(second).filter((n) => /calling your owner back/.test(n)),
      [],
      "no second opening",
    );
    assert.equal(answered.streams.length, 2);
    server.rest.hangUp(placed.sid, answered.streams[1]);
    await answered.ended;
    await server.app.journal.flushed();
    const record = (await server.app.journal.get(placed.sid))!.record;
    assert.equal(record.segments?.length, 2);
    assert.equal(record.segments?.[1].cause, "dropped");
    assert.equal(record.outcome, "caller_hung_up");
  } finally {
    await server.close();
  }
});

Deno.test("a voicemail answers: the assistant starts at once (AsyncAmd), and on AMD's verdict the call ends once the opening has played, Twilio leaves the message, no retry", async () => {
  const opening = randomAudio(8 * 600);
  const server = await startOutboundServer({
    variables: { CALLBACK_RETRY_MINUTES: "0.01" },
    realtimeOptions: {
      onResponseCreate: (session) => session.speak(opening),
    },
  });
  try {
    await schedule(server, { when: isoIn(100), topic: "the dentist at 3." });
    const placed = await server.rest.call(1);
    assert.equal(placed.machineDetection, "DetectMessageEnd");
    assert.equal(
      placed.asyncAmdStatusCallback,
      `${PUBLIC_ORIGIN}/outbound-amd/${(await scheduledCalls(server))[0].id}`,
    );
    // The verdict comes while the opening is still playing.
    const answered = await server.rest.answer(
      placed.sid,
      "machine_end_beep",
      200,
    );
    const edge = answered.stream!;
    assert.ok(edge, "no silence while detection runs: the stream connects");
    assert.equal((await answered.amd!).status, 204);
    await answered.ended;
    assert.ok(
      edge.playedAudio().length === opening.length &&
        edge.playedAudio().every((byte, i) => byte === opening[i]),
      `the opening played whole (${edge.playedAudio().length} of ${opening.length} bytes)`,
    );
    assert.deepEqual(answered.said, [
      "Hi, it's your assistant, calling about the dentist at 3. Call me back whenever you're free. Bye for now.",
    ]);
    await delay(1000);
    assert.equal(server.rest.calls.length, 1, "a voicemail is not retried");
    const journal = await server.app.journal.get(placed.sid);
    assert.equal(journal?.record.source, "outbound");
    assert.equal(journal?.record.outcome, "voicemail");
    assert.equal(journal?.record.outbound?.answeredBy, "machine_end_beep");
    assert.equal(journal?.record.outbound?.result, "left a voicemail");
    const [done] = await scheduledCalls(server);
    assert.equal(done.state, "done");
    assert.equal(done.result, "left a voicemail");
    // A fax gets no message at all.
    await schedule(server, { when: isoIn(100), topic: "anything" });
    const fax = await server.rest.answer(
      (await server.rest.call(2)).sid,
      "fax",
    );
    await fax.amd;
    await fax.ended;
    assert.deepEqual(fax.said, []);
  } finally {
    await server.close();
  }
});

Deno.test("AMD's verdict is a signed webhook bound to the call's CallSid", async () => {
  const server = await startOutboundServer({});
  try {
    await schedule(server, { when: isoIn(100), topic: "the dentist" });
    const placed = await server.rest.call(1);
    const id = (await scheduledCalls(server))[0].id;
    const path = `/outbound-amd/${id}`;
    const post = async (params: Record<string, string>, signature?: string) => {
      const response = await postSigned(server.origin, path, params, signature);
      await response.body?.cancel();
      return response;
    };
    const verdict = {
      CallSid: placed.sid,
      AccountSid: "AC00000000000000000000000000000001",
      AnsweredBy: "machine_end_beep",
      MachineDetectionDuration: "3150",
    };
    assert.equal((await post(verdict, "forged")).status, 403);
    const other = { ...verdict, CallSid: `CA${"e".repeat(32)}` };
    assert.equal((await post(other)).status, 403);
    assert.equal((await post(verdict)).status, 204);
  } finally {
    await server.close();
  }
});

Deno.test("no answer is retried once after CALLBACK_RETRY_MINUTES, then given up, and the journal says why", async () => {
  const server = await startOutboundServer({
    variables: { CALLBACK_RETRY_MINUTES: "0.02" },
  });
  try {
    const { call } = await schedule(server, {
      when: isoIn(100),
      topic: "the car",
    });
    const first = await server.rest.call(1);
    const missedAt = Date.now();
    await server.rest.unanswered(first.sid, "no-answer");
    const second = await server.rest.call(2, 5000);
    assert.ok(
      second.createdAt - missedAt >= 1100,
      `retried after ${second.createdAt - missedAt} ms`,
    );
    assert.equal(second.to, OWNER_NUMBER);
    assert.equal(second.url, `${PUBLIC_ORIGIN}/outbound-call/${call.id}`);
    await server.rest.unanswered(second.sid, "busy");
    await delay(1800);
    assert.equal(server.rest.calls.length, 2, "one retry only");
    const [gaveUp] = await scheduledCalls(server);
    assert.equal(gaveUp.state, "done");
    assert.equal(gaveUp.attempt, 2);
    assert.deepEqual(gaveUp.callSids, [first.sid, second.sid]);
    assert.equal(gaveUp.result, "busy on all 2 tries: gave up");
    const one = await server.app.journal.get(first.sid);
    assert.match(
      one?.record.outbound?.result ?? "",
      /^no answer: trying again today at /,
    );
    assert.equal(one?.record.outbound?.attempt, 1);
    const two = await server.app.journal.get(second.sid);
    assert.equal(two?.record.outbound?.attempt, 2);
    assert.equal(two?.record.endReason, "busy on all 2 tries: gave up");
    assert.ok(
      server.logs.events().some((e) =>
        e.event === "outbound.gave_up" && e.callSid === second.sid
      ),
    );
    const page = await fetch(`${server.origin}/calls/${second.sid}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const html = await page.text();
    assert.match(html, /try 2 of 2/);
    assert.match(html, /busy on all 2 tries: gave up/);
  } finally {
    await server.close();
  }
});

Deno.test("a forged or unknown CallSid at the outbound webhooks opens no upstream session", async () => {
  const server = await startOutboundServer();
  try {
    const { call } = await schedule(server, { when: isoIn(100), topic: "x" });
    const placed = await server.rest.call(1);
    await delay(100);
    const params = {
      AccountSid: placed.resource.account_sid as string,
      CallSid: placed.sid,
      From: TWILIO_NUMBER,
      To: OWNER_NUMBER,
      CallStatus: "in-progress",
      Direction: "outbound-api",
      AnsweredBy: "human",
    };
    const path = `/outbound-call/${call.id}`;
    const unknown = await postSigned(server.origin, path, {
      ...params,
      CallSid: "CA" + "9".repeat(32),
    });
    assert.equal(unknown.status, 403);
    await unknown.body?.cancel();
    const forged = await postSigned(server.origin, path, params, "Zm9yZ2Vk");
    assert.equal(forged.status, 403);
    await forged.body?.cancel();
    const unsigned = await postSigned(server.origin, path, params, null);
    assert.equal(unsigned.status, 403);
    await unsigned.body?.cancel();
    const otherCall = await postSigned(
      server.origin,
      "/outbound-call/ffffffff",
      params,
    );
    assert.equal(otherCall.status, 403, "a real sid for another call");
    await otherCall.body?.cancel();
    const status = await postSigned(
      server.origin,
      `/outbound-status/${call.id}`,
      { ...params, CallSid: "CA" + "8".repeat(32), CallStatus: "no-answer" },
    );
    assert.equal(status.status, 403);
    await status.body?.cancel();
    await delay(300);
    assert.equal(server.realtime.sessions.length, 0, "no upstream session");
    assert.equal(server.app.calls.load, 0, "nothing pre-warmed");
    assert.equal(server.rest.calls.length, 1, "no retry from a forged status");
    // The real one still works.
    const answered = await server.rest.answer(placed.sid, "human");
    assert.ok(answered.stream);
    await server.realtime.nextSession();
    server.rest.hangUp(placed.sid, answered.stream);
    await answered.ended;
  } finally {
    await server.close();
  }
});

Deno.test("a cancelled call is never dialled", async () => {
  const server = await startOutboundServer();
  try {
    const { call } = await schedule(server, { when: isoIn(800), topic: "x" });
    const cancel = await fetch(
      `${server.origin}/api/calls/scheduled/${call.id}`,
      {
        method: "DELETE",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      },
    );
    assert.equal(cancel.status, 200);
    assert.equal((await cancel.json()).call.state, "cancelled");
    await delay(1500);
    assert.equal(server.rest.calls.length, 0);
    assert.ok(
      server.logs.events().some((e) =>
        e.event === "outbound.not_dialled" && e.state === "cancelled"
      ),
    );
    const again = await fetch(
      `${server.origin}/api/calls/scheduled/${call.id}`,
      {
        method: "DELETE",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      },
    );
    assert.equal(again.status, 409);
    await again.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("the daily briefing: the cron places one call a day, whoever fires it, and the assistant opens with the briefing", async () => {
  const now = new Date();
  const at = `${String(now.getUTCHours()).padStart(2, "0")}:${
    String(now.getUTCMinutes()).padStart(2, "0")
  }`;
  const server = await startOutboundServer({
    variables: { BRIEFING_AT: at, BRIEFING_DAYS: "daily" },
    realtimeOptions: {
      onResponseCreate: (session) => session.speak(randomAudio(800)),
    },
  });
  try {
    await Promise.all([server.fireCron(), server.fireCron()]);
    await server.fireCron();
    const placed = await server.rest.call(1);
    await delay(500);
    assert.equal(server.rest.calls.length, 1);
    const [briefing] = await scheduledCalls(server);
    assert.equal(briefing.requestedBy, "the daily briefing");
    const answered = await server.rest.answer(placed.sid, "human");
    const session = await server.realtime.nextSession();
    await session.waitFor("response.create");
    assert.match(systemNotes(session)[0], /daily briefing/);
    assert.match(systemNotes(session)[0], /here is your briefing/);
    server.rest.hangUp(placed.sid, answered.stream!);
    await answered.ended;
    const journal = await server.app.journal.get(placed.sid);
    assert.equal(journal?.record.outbound?.topic, BRIEFING_TOPIC);
  } finally {
    await server.close();
  }
});

Deno.test("the daily briefing is not placed outside its half hour", async () => {
  const past = new Date(Date.now() - 45 * 60_000);
  const at = `${String(past.getUTCHours()).padStart(2, "0")}:${
    String(past.getUTCMinutes()).padStart(2, "0")
  }`;
  const server = await startOutboundServer({
    variables: { BRIEFING_AT: at, BRIEFING_DAYS: "daily" },
  });
  try {
    await server.fireCron();
    await delay(300);
    assert.equal(server.rest.calls.length, 0);
  } finally {
    await server.close();
  }
});

Deno.test("GPT-Live: a person answering hears the call's opening, sent as commentary once the session has started", async () => {
  const live = await FakeLive.start({ apiKey: TEST_API_KEY });
  const server = await startOutboundServer({
    variables: {
      VOICE_ENGINE: "live",
      OPENAI_LIVE_URL: live.url,
      GREETING: "Hi boss",
    },
  });
  try {
    await schedule(server, { when: isoIn(100), topic: "the school run" });
    const placed = await server.rest.call(1);
    const answered = await server.rest.answer(placed.sid, "human");
    const session = await live.nextSession();
    const commentary = await session.waitFor("session.commentary.append");
    const text = String(commentary.content);
    assert.match(text, /calling your owner back/);
    assert.match(text, /the school run/);
    assert.doesNotMatch(
      text,
      /Hi boss/,
      "the call's opening wins over GREETING",
    );
    server.rest.hangUp(placed.sid, answered.stream!);
    await answered.ended;
  } finally {
    await server.close();
    await live.close();
  }
});

Deno.test("with CALLER_PIN set, a call the server placed to the owner needs no PIN", async () => {
  const server = await startOutboundServer({
    variables: { CALLER_PIN: "480613" },
  });
  try {
    await schedule(server, { when: isoIn(200), topic: "the plumber's quote" });
    const placed = await server.rest.call(1);
    const answered = await server.rest.answer(placed.sid, "human");
    assert.equal(answered.status, 200);
    assert.ok(!answered.twiml.includes("<Gather"), answered.twiml);
    assert.match(
      answered.twiml,
      /<Connect action="[^"]+" method="POST"><Stream url="wss:/,
    );
    await server.realtime.nextSession();
    server.rest.hangUp(placed.sid, answered.stream!);
    await answered.ended;
  } finally {
    await server.close();
  }
});

/** Records `microUsd` of today's spend, as a finished call's journal would. */
async function spendToday(
  server: Awaited<ReturnType<typeof startOutboundServer>>,
  microUsd: number,
): Promise<void> {
  const atomic = server.app.spend.write(
    server.kv.atomic(),
    "CAffffffffffffffffffffffffffffffff",
    Date.now(),
    microUsd,
  );
  assert.ok((await atomic.commit()).ok);
}

Deno.test("a scheduled call due once DAILY_BUDGET_USD is spent is skipped, not dialled, and says why", async () => {
  const server = await startOutboundServer({
    variables: { DAILY_BUDGET_USD: "0.01" },
  });
  try {
    await spendToday(server, 10_000);
    const { call } = await schedule(server, {
      when: isoIn(200),
      topic: "the plumber's quote",
    });
    let listed: ScheduledView | undefined;
    for (let i = 0; i < 50 && listed?.state !== "skipped"; i++) {
      await delay(100);
      listed = (await scheduledCalls(server)).find((c) => c.id === call.id);
    }
    assert.equal(listed?.state, "skipped");
    assert.equal(listed?.result, BUDGET_SKIPPED);
    assert.equal(server.rest.calls.length, 0, "no call was created");
    assert.ok(
      server.logs.events().some((e) =>
        e.event === "outbound.skipped" && e.reason === "budget"
      ),
    );
  } finally {
    await server.close();
  }
});

Deno.test("an outbound call answered once DAILY_BUDGET_USD is spent hears one sentence; no stream is minted, no session opens", async () => {
  const server = await startOutboundServer({
    variables: { DAILY_BUDGET_USD: "0.01" },
  });
  try {
    await schedule(server, { when: isoIn(200), topic: "the plumber's quote" });
    const placed = await server.rest.call(1);
    await spendToday(server, 10_000);
    const answered = await server.rest.answer(placed.sid, "human");
    assert.equal(answered.status, 200);
    assert.ok(!answered.twiml.includes("<Stream"), answered.twiml);
    assert.match(answered.twiml, /today&apos;s budget/);
    assert.match(answered.twiml, /<Hangup\/>/);
    await delay(100);
    assert.equal(server.realtime.handshakes, 0, "no session was opened");
  } finally {
    await server.close();
  }
});

Deno.test("a call the server placed whose stream drops before anything was said resumes with its opening, not in silence", async () => {
  const server = await startOutboundServer();
  try {
    await schedule(server, { when: isoIn(200), topic: "the plumber's quote" });
    const placed = await server.rest.call(1);
    const answered = await server.rest.answer(placed.sid, "human");
    const first = await server.realtime.nextSession();
    await first.waitFor("session.update");
    // Dropped before the opening was said: nothing to carry over.
    first.close(1011, "upstream lost");
    const second = await server.realtime.nextSession();
    await second.waitFor("response.create");
    const notes = systemNotes(second);
    assert.equal(notes.length, 1, JSON.stringify(notes));
    assert.match(notes[0], /calling your owner back/);
    assert.match(notes[0], /the plumber's quote/);
    // The session is pre-warmed while Twilio connects the resumed stream.
    for (let i = 0; answered.streams.length < 2; i++) {
      assert.ok(i < 100, "the stream was resumed");
      await delay(20);
    }
    server.rest.hangUp(placed.sid, answered.streams[1]);
    await answered.ended;
  } finally {
    await server.close();
  }
});
