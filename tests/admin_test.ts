/**
 * The owner's pages and API over plain HTTP: every auth failure path,
 * caching, and what a signed-in owner sees.
 */
import assert from "node:assert/strict";
import { waitForRecord } from "./helpers/placed_call.ts";
import { randomAudio, startTestServer } from "./helpers/test_server.ts";
import { CALL_PARAMS } from "../peers/twilio_requests.ts";

const ADMIN_TOKEN = "owner-admin-token-0123456789";

async function login(origin: string, token: string, next = "/calls") {
  return await fetch(`${origin}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, next }).toString(),
    redirect: "manual",
  });
}

async function get(url: string, headers: HeadersInit = {}) {
  const response = await fetch(url, { headers, redirect: "manual" });
  return { response, body: await response.text() };
}

Deno.test("without ADMIN_TOKEN the owner's pages and API do not exist", async () => {
  const server = await startTestServer();
  try {
    for (
      const path of [
        "/calls",
        "/calls/CA1",
        "/api/calls",
        "/api/calls/CA1",
        "/phone",
      ]
    ) {
      const { response } = await get(`${server.origin}${path}`, {
        authorization: "Bearer anything-at-all-here",
      });
      assert.equal(response.status, 404, path);
    }
    const token = await fetch(`${server.origin}/phone/token`, {
      method: "POST",
    });
    assert.equal(token.status, 404);
    await token.body?.cancel();
    const response = await login(server.origin, "anything");
    assert.equal(response.status, 404);
    await response.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("without credentials /calls shows a login form (401), the API answers 401 JSON, and nothing is cached", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const page = await get(`${server.origin}/calls`);
    assert.equal(page.response.status, 401);
    assert.match(page.response.headers.get("content-type") ?? "", /text\/html/);
    assert.equal(page.response.headers.get("cache-control"), "no-store");
    assert.match(page.body, /<form method="post" action="\/login">/);
    assert.ok(!page.body.includes(ADMIN_TOKEN));
    const api = await get(`${server.origin}/api/calls`);
    assert.equal(api.response.status, 401);
    assert.deepEqual(JSON.parse(api.body), { error: "unauthorized" });
    assert.equal(api.response.headers.get("cache-control"), "no-store");
    for (const path of ["/phone", "/calls/CA1", "/api/calls/CA1"]) {
      assert.equal(
        (await get(`${server.origin}${path}`)).response.status,
        401,
        path,
      );
    }
    const token = await fetch(`${server.origin}/phone/token`, {
      method: "POST",
    });
    assert.equal(token.status, 401);
    await token.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("a wrong bearer token, a forged cookie or a wrong login is refused", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const wrongBearer = await get(`${server.origin}/api/calls`, {
      authorization: `Bearer ${ADMIN_TOKEN}x`,
    });
    assert.equal(wrongBearer.response.status, 401);
    const forgedCookie = await get(`${server.origin}/api/calls`, {
      cookie: `assistant_admin=${ADMIN_TOKEN}`,
    });
    assert.equal(forgedCookie.response.status, 401);
    const wrong = await login(server.origin, "not-the-admin-token");
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get("set-cookie"), null);
    assert.match(await wrong.text(), /not right/);
  } finally {
    await server.close();
  }
});

Deno.test("logging in sets an HttpOnly SameSite=Strict session cookie that is not the token, and redirects only within the site", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const ok = await login(server.origin, ADMIN_TOKEN, "/phone");
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), "/phone");
    const cookie = ok.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^assistant_admin=[A-Za-z0-9_-]+;/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Secure/, "PUBLIC_URL is https");
    assert.ok(!cookie.includes(ADMIN_TOKEN));
    await ok.body?.cancel();
    const session = cookie.split(";")[0];
    const page = await get(`${server.origin}/calls`, { cookie: session });
    assert.equal(page.response.status, 200);
    assert.equal(page.response.headers.get("cache-control"), "no-store");
    for (
      const next of ["//evil.example", "https://evil.example", "/calls?x=1"]
    ) {
      const redirect = await login(server.origin, ADMIN_TOKEN, next);
      assert.equal(redirect.headers.get("location"), "/calls", next);
      await redirect.body?.cancel();
    }
    const logout = await fetch(`${server.origin}/logout`, {
      method: "POST",
      redirect: "manual",
    });
    assert.match(logout.headers.get("set-cookie") ?? "", /Max-Age=0/);
    await logout.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("a signed-in owner sees the call list (caller masked) and one call's transcript, as HTML and JSON", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    session.callerSaid("Remind me to <buy> milk & eggs");
    await session.speak(randomAudio(400), { transcript: "Added: buy milk." })
      .done;
    // The caller hangs up once the server has the whole answer: its usage
    // (response.done) comes after its transcript on the socket.
    await waitForRecord(
      server,
      CALL_PARAMS.CallSid,
      (r) => r.usage !== undefined,
    );
    edge.sendStop();
    await session.closed;
    // The call ended before its upstream closed: its journal writes are queued.
    await server.app.journal.flushed();
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

    const list = await get(`${server.origin}/calls`, auth);
    assert.equal(list.response.status, 200);
    assert.ok(list.body.includes("•••0123"));
    assert.ok(
      !list.body.includes(CALL_PARAMS.From),
      "listings mask the caller",
    );
    assert.ok(list.body.includes(`/calls/${CALL_PARAMS.CallSid}`));
    assert.ok(list.body.includes("caller hung up"));

    const detail = await get(
      `${server.origin}/calls/${CALL_PARAMS.CallSid}`,
      auth,
    );
    assert.equal(detail.response.status, 200);
    assert.ok(detail.body.includes("Remind me to &lt;buy&gt; milk &amp; eggs"));
    assert.ok(detail.body.includes("Added: buy milk."));
    assert.ok(detail.body.includes('name="viewport"'));

    const json = await get(`${server.origin}/api/calls`, auth);
    const calls = JSON.parse(json.body).calls;
    assert.equal(calls.length, 1);
    assert.equal(calls[0].callSid, CALL_PARAMS.CallSid);
    assert.equal(calls[0].outcome, "caller_hung_up");
    const one = JSON.parse(
      (await get(`${server.origin}/api/calls/${CALL_PARAMS.CallSid}`, auth))
        .body,
    );
    assert.deepEqual(one.lines.map((l: { kind: string }) => l.kind), [
      "caller",
      "assistant",
    ]);
    const missing = await get(`${server.origin}/api/calls/CAnope`, auth);
    assert.equal(missing.response.status, 404);
  } finally {
    await server.close();
  }
});

Deno.test("a too-short ADMIN_TOKEN is refused at start-up", async () => {
  const { testConfig } = await import("./helpers/config.ts");
  assert.throws(
    () => testConfig({ ADMIN_TOKEN: "short" }),
    /ADMIN_TOKEN must be at least 16/,
  );
});
