/**
 * HTTP hardening over real sockets: a trickled body is cut off by its
 * deadline, /login is throttled, owner sessions are random IDs in KV that
 * logout ends, and every non-GET owner route refuses other sites.
 */
import assert from "node:assert/strict";
import {
  LOGIN_FAILURES_OVERALL,
  LOGIN_FAILURES_PER_ADDRESS,
  LoginThrottle,
} from "../src/admin/login_throttle.ts";
import { delay, startTestServer } from "./helpers/test_server.ts";

const ADMIN_TOKEN = "hardening-admin-token-0123456789";

/** Sends `head` at once, then the body one byte every `everyMs`; the first bytes answered. */
async function trickle(
  port: number,
  head: string,
  body: string,
  everyMs: number,
  waitMs: number,
): Promise<string | undefined> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  let answer: string | undefined;
  const reading = (async () => {
    const buffer = new Uint8Array(256);
    try {
      const n = await conn.read(buffer);
      if (n) answer = new TextDecoder().decode(buffer.subarray(0, n));
    } catch {
      // Closed by the server.
    }
  })();
  const started = Date.now();
  await conn.write(encoder.encode(head));
  for (const byte of body) {
    if (answer !== undefined || Date.now() - started > waitMs) break;
    try {
      await conn.write(encoder.encode(byte));
    } catch {
      break;
    }
    await delay(everyMs);
  }
  conn.close();
  await reading;
  return answer;
}

Deno.test("a request body trickled one byte at a time is cut off at the body deadline with a 408", async () => {
  const server = await startTestServer({}, {}, undefined, undefined, {
    bodyDeadlineMs: 800,
  });
  try {
    const port = Number(new URL(server.origin).port);
    const body = "CallSid=CA0123456789abcdef0123456789abcdef&From=%2B1".padEnd(
      200,
      "0",
    );
    const answer = await trickle(
      port,
      "POST /incoming-call HTTP/1.1\r\nHost: assistant.example.com\r\n" +
        "Content-Type: application/x-www-form-urlencoded\r\n" +
        `Content-Length: ${body.length}\r\n\r\n`,
      body,
      100,
      4000,
    );
    assert.match(answer ?? "(no answer)", /^HTTP\/1\.1 408/);
    assert.equal(server.realtime.handshakes, 0);
  } finally {
    await server.close();
  }
});

async function login(origin: string, token: string): Promise<Response> {
  return await fetch(`${origin}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, next: "/calls" }),
    redirect: "manual",
  });
}

Deno.test("/login answers 429 after a few wrong tokens from one address, even to the right token, with bounded logs", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    for (let i = 0; i < LOGIN_FAILURES_PER_ADDRESS; i++) {
      const wrong = await login(server.origin, `wrong-token-${i}`);
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
    }
    for (let i = 0; i < 50; i++) {
      const refused = await login(server.origin, `wrong-again-${i}`);
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get("retry-after")) > 0);
      await refused.body?.cancel();
    }
    const right = await login(server.origin, ADMIN_TOKEN);
    assert.equal(right.status, 429);
    await right.body?.cancel();
    // Scripts with the bearer token are not locked out.
    const api = await fetch(`${server.origin}/api/calls`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(api.status, 200);
    await api.body?.cancel();
    const lines = server.logs.lines.filter((line) => line.includes("login"));
    assert.ok(lines.length <= 15, `${lines.length} log lines`);
  } finally {
    await server.close();
  }
});

Deno.test("LoginThrottle refuses every address once too many fail overall, and forgets after the window", () => {
  let now = 0;
  const throttle = new LoginThrottle(() => now);
  for (let i = 0; i < LOGIN_FAILURES_OVERALL; i++) {
    assert.equal(throttle.blocked(`10.0.0.${i}`), false);
    throttle.failed(`10.0.0.${i}`);
  }
  assert.equal(throttle.blocked("192.0.2.1"), true);
  now += 15 * 60_000 + 1;
  assert.equal(throttle.blocked("192.0.2.1"), false);
});

function cookieOf(response: Response): string {
  return (response.headers.get("set-cookie") ?? "").split(";")[0];
}

Deno.test("owner sessions: a random ID per sign-in, kept in KV; logout ends it, so the old cookie no longer works", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const first = await login(server.origin, ADMIN_TOKEN);
    const second = await login(server.origin, ADMIN_TOKEN);
    await first.body?.cancel();
    await second.body?.cancel();
    assert.equal(first.status, 303);
    const cookie = cookieOf(first);
    assert.match(cookie, /^assistant_admin=[A-Za-z0-9_-]{43}$/);
    assert.notEqual(cookie, cookieOf(second), "each sign-in is its own");
    const page = (cookie: string) =>
      fetch(`${server.origin}/api/calls`, { headers: { cookie } });
    const before = await page(cookie);
    assert.equal(before.status, 200);
    await before.body?.cancel();
    const out = await fetch(`${server.origin}/logout`, {
      method: "POST",
      headers: { cookie, "sec-fetch-site": "same-origin" },
      redirect: "manual",
    });
    assert.equal(out.status, 303);
    await out.body?.cancel();
    const after = await page(cookie);
    assert.equal(after.status, 401, "the old cookie is dead");
    await after.body?.cancel();
    const other = await page(cookieOf(second));
    assert.equal(other.status, 200, "another sign-in goes on");
    await other.body?.cancel();
    // A made-up session ID is not a session.
    const forged = await page(`assistant_admin=${"A".repeat(43)}`);
    assert.equal(forged.status, 401);
    await forged.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("the owner guard refuses every non-GET owner route from another site, /phone/token and DELETE /api/calls/scheduled/:id included", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const signedIn = await login(server.origin, ADMIN_TOKEN);
    const cookie = cookieOf(signedIn);
    await signedIn.body?.cancel();
    for (
      const [method, path] of [
        ["POST", "/phone/token"],
        ["DELETE", "/api/calls/scheduled/abcd1234"],
        ["POST", "/api/memory/notes"],
        ["POST", "/phone/calls"],
      ]
    ) {
      const elsewhere: Record<string, string>[] = [
        { "sec-fetch-site": "cross-site" },
        { origin: "https://evil.example.com" },
      ];
      for (const headers of elsewhere) {
        const response = await fetch(`${server.origin}${path}`, {
          method,
          headers: { cookie, ...headers },
        });
        assert.equal(response.status, 403, `${method} ${path}`);
        await response.body?.cancel();
      }
    }
    assert.equal(server.realtime.handshakes, 0, "no token was minted");
    // Same site, or a script with the bearer token: allowed.
    const own = await fetch(`${server.origin}/phone/token`, {
      method: "POST",
      headers: { cookie, "sec-fetch-site": "same-origin" },
    });
    assert.equal(own.status, 200);
    await own.body?.cancel();
    const script = await fetch(`${server.origin}/phone/token`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(script.status, 200);
    await script.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("/healthz over the socket: during a live call the public sees only ok; the owner sees the count; draining is 503", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    await edge.sendAudio(new Uint8Array(1600));
    await session.waitFor("input_audio_buffer.append");
    const open = await fetch(`${server.origin}/healthz`);
    const body = await open.json();
    assert.equal(open.status, 200);
    assert.equal(body.status, "ok");
    assert.ok(!("calls" in body), JSON.stringify(body));
    const owner = await (await fetch(`${server.origin}/healthz`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })).json();
    assert.equal(owner.calls, 1);
    const draining = server.app.drain(0);
    const notOk = await fetch(`${server.origin}/healthz`);
    assert.equal(notOk.status, 503);
    assert.equal((await notOk.json()).status, "draining");
    await draining;
  } finally {
    await server.close();
  }
});
