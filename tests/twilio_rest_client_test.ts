/**
 * The server's Twilio REST client against the local stand-in for Twilio's
 * API, and against the official `twilio` npm client sending the same calls
 * and texts to that stand-in: same method, path, auth, content type and
 * form body on the wire.
 */
import assert from "node:assert/strict";
import twilio from "twilio";
import RequestClient from "twilio/lib/base/RequestClient.js";
import {
  RecipientRefusedError,
  TwilioApiError,
  TwilioRestClient,
  TwilioUnreachableError,
} from "../src/twilio/rest_client.ts";
import { OwnerNumbers } from "../src/outbound/phone_numbers.ts";
import { type RecordedRequest, TwilioRest } from "../peers/twilio_rest.ts";

const ACCOUNT = "AC0123456789abcdef0123456789abcdef";
const TOKEN = "twilio-auth-token-for-rest-tests";
const OWNER = "+14155550123";
const TWILIO_NUMBER = "+18005550199";

const CALL = {
  to: OWNER,
  from: TWILIO_NUMBER,
  url: "https://assistant.example.com/outbound-call/1a2b3c4d",
  statusCallback: "https://assistant.example.com/outbound-status/1a2b3c4d",
  statusCallbackEvents: ["initiated", "ringing", "answered", "completed"],
  machineDetection: "DetectMessageEnd",
} as const;

/** twilio-node's own HTTP client, with Twilio's host swapped for the stand-in's. */
class LocalRequestClient extends RequestClient {
  constructor(private readonly origin: string) {
    super({ keepAlive: false });
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    return super.request({
      ...opts,
      uri: opts.uri.replace("https://api.twilio.com", this.origin),
    });
  }
}

function officialClient(rest: TwilioRest, token = TOKEN) {
  return twilio(ACCOUNT, token, {
    httpClient: new LocalRequestClient(rest.url),
  });
}

function ourClient(rest: TwilioRest, token = TOKEN) {
  return new TwilioRestClient({
    accountSid: ACCOUNT,
    authToken: token,
    baseUrl: rest.url,
    recipients: new OwnerNumbers([OWNER]),
  });
}

/** What must match on the wire: everything but the client's own identity headers. */
function wire(request: RecordedRequest) {
  return {
    method: request.method,
    path: request.path,
    authorization: request.headers["authorization"],
    contentType: request.headers["content-type"],
    accept: request.headers["accept"],
    params: [...request.params].sort(([a, x], [b, y]) =>
      a === b ? x.localeCompare(y) : a.localeCompare(b)
    ),
  };
}

async function withRest(run: (rest: TwilioRest) => Promise<void>) {
  const rest = await TwilioRest.start({
    accountSid: ACCOUNT,
    authToken: TOKEN,
    incomingNumbers: [TWILIO_NUMBER],
  });
  try {
    await run(rest);
  } finally {
    await rest.close();
  }
}

Deno.test("createCall() sends what the official twilio client sends for the same call, and reads the 201", async () => {
  await withRest(async (rest) => {
    const official = await officialClient(rest).calls.create({
      to: CALL.to,
      from: CALL.from,
      url: CALL.url,
      statusCallback: CALL.statusCallback,
      statusCallbackEvent: [...CALL.statusCallbackEvents],
      machineDetection: CALL.machineDetection,
    });
    const ours = await ourClient(rest).createCall(CALL);
    assert.equal(rest.requests.length, 2);
    const [theirs, mine] = rest.requests.map(wire);
    assert.deepEqual(mine, theirs);
    assert.equal(mine.path, `/2010-04-01/Accounts/${ACCOUNT}/Calls.json`);
    assert.equal(
      mine.authorization,
      `Basic ${new TextEncoder().encode(`${ACCOUNT}:${TOKEN}`).toBase64()}`,
    );
    assert.equal(mine.contentType, "application/x-www-form-urlencoded");
    // The stand-in's 201 reads as a call to the official client too.
    assert.match(official.sid, /^CA[0-9a-f]{32}$/);
    assert.equal(official.status, "queued");
    assert.equal(official.direction, "outbound-api");
    assert.match(ours.sid, /^CA[0-9a-f]{32}$/);
    assert.equal(ours.status, "queued");
    assert.deepEqual(rest.calls[1].statusCallbackEvents, [
      "initiated",
      "ringing",
      "answered",
      "completed",
    ]);
    assert.equal(rest.calls[1].machineDetection, "DetectMessageEnd");
  });
});

Deno.test("sendMessage() sends what the official twilio client sends for the same text", async () => {
  await withRest(async (rest) => {
    const message = {
      to: OWNER,
      from: TWILIO_NUMBER,
      body: "Call at 20:00: pay the plumber & call Anna.",
    };
    const official = await officialClient(rest).messages.create(message);
    const ours = await ourClient(rest).sendMessage(message);
    const [theirs, mine] = rest.requests.map(wire);
    assert.deepEqual(mine, theirs);
    assert.equal(mine.path, `/2010-04-01/Accounts/${ACCOUNT}/Messages.json`);
    assert.match(official.sid, /^SM[0-9a-f]{32}$/);
    assert.match(ours.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(rest.messages[1].body, message.body);
  });
});

Deno.test("a Twilio error comes back as TwilioApiError with its code, message and link, and no secret", async () => {
  await withRest(async (rest) => {
    rest.failNext("Calls", {
      status: 400,
      code: 21215,
      message:
        "Account not authorized to call +14155550123. Perhaps you need to enable some international permissions.",
    });
    const error = await ourClient(rest).createCall(CALL).then(
      () => assert.fail("resolved"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TwilioApiError);
    assert.equal(error.status, 400);
    assert.equal(error.code, 21215);
    assert.equal(error.moreInfo, "https://www.twilio.com/docs/errors/21215");
    assert.equal(error.retryable, false);
    assert.match(
      error.message,
      /HTTP 400, error 21215: Account not authorized/,
    );
    const basic = new TextEncoder().encode(`${ACCOUNT}:${TOKEN}`).toBase64();
    assert.ok(!error.message.includes(TOKEN) && !error.message.includes(basic));
    // The official client reads the same body as the same error.
    rest.failNext("Calls", { status: 503, code: 20500, message: "Internal" });
    await assert.rejects(
      officialClient(rest).calls.create({
        to: OWNER,
        from: TWILIO_NUMBER,
        url: CALL.url,
      }),
      (e: { status?: number; code?: number }) =>
        e.status === 503 && e.code === 20500,
    );
    rest.failNext("Calls", { status: 503, code: 20500, message: "Internal" });
    const server = await ourClient(rest).createCall(CALL).catch((e) => e);
    assert.ok(server instanceof TwilioApiError && server.retryable);
  });
});

Deno.test("the stand-in checks Basic auth and Twilio's parameters as Twilio does", async () => {
  await withRest(async (rest) => {
    const wrong = await ourClient(rest, "not-the-token").createCall(CALL)
      .catch((e) => e);
    assert.ok(wrong instanceof TwilioApiError);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.code, 20003);
    await assert.rejects(
      officialClient(rest, "not-the-token").calls.create({
        to: OWNER,
        from: TWILIO_NUMBER,
        url: CALL.url,
      }),
      (e: { status?: number; code?: number }) =>
        e.status === 401 && e.code === 20003,
    );
    const notOurs = await new TwilioRestClient({
      accountSid: ACCOUNT,
      authToken: TOKEN,
      baseUrl: rest.url,
      recipients: new OwnerNumbers([OWNER]),
    }).createCall({ ...CALL, from: "+15005550006" }).catch((e) => e);
    assert.equal(notOurs.code, 21210);
    assert.equal(rest.calls.length, 0);
  });
});

Deno.test("a number outside OWNER_NUMBERS is refused before any request leaves the server", async () => {
  await withRest(async (rest) => {
    const client = ourClient(rest);
    for (const to of ["+14155559999", "+1 415 555 0124", "911", ""]) {
      await assert.rejects(
        client.createCall({ ...CALL, to }),
        RecipientRefusedError,
      );
      await assert.rejects(
        client.sendMessage({ to, from: TWILIO_NUMBER, body: "hi" }),
        RecipientRefusedError,
      );
    }
    // Any spelling of the owner's own number is the owner.
    await client.createCall({ ...CALL, to: "+1 (415) 555-0123" });
    assert.equal(rest.requests.length, 1);
  });
});

Deno.test("Twilio out of reach is TwilioUnreachableError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const client = new TwilioRestClient({
    accountSid: ACCOUNT,
    authToken: TOKEN,
    baseUrl: `http://127.0.0.1:${port}`,
    recipients: new OwnerNumbers([OWNER]),
  });
  const error = await client.createCall(CALL).catch((e) => e);
  assert.ok(error instanceof TwilioUnreachableError);
  assert.ok(!String(error.message).includes(TOKEN));
});
