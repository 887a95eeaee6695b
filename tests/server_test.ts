import assert from "node:assert/strict";
import { createApp } from "../src/server.ts";
import { TEST_API_KEY, TEST_AUTH_TOKEN, testConfig } from "./helpers/config.ts";
import { memoryLogger } from "./helpers/logs.ts";
import {
  CALL_PARAMS,
  signedWebhook,
  streamSignature,
  streamUrlOf,
} from "../peers/twilio_requests.ts";
import type { ConfigVariable } from "../src/config.ts";
import { FakeRealtime } from "../peers/realtime/mod.ts";

async function withApp(
  variables: Partial<Record<ConfigVariable, string>>,
  run: (
    app: Awaited<ReturnType<typeof createApp>>,
    logs: ReturnType<typeof memoryLogger>,
  ) => Promise<void>,
) {
  // Valid webhooks pre-warm a Realtime session: give them a local peer.
  const realtime = await FakeRealtime.start({ apiKey: TEST_API_KEY });
  const kv = await Deno.openKv(":memory:");
  const config = testConfig({
    OPENAI_REALTIME_URL: realtime.url,
    ...variables,
  });
  const logs = memoryLogger([config.openai.apiKey, config.twilio.authToken]);
  const app = await createApp({
    config,
    logger: logs,
    kv,
  });
  try {
    await run(app, logs);
  } finally {
    await app.close();
    await realtime.close();
    kv.close();
  }
}

const WEBHOOK = "https://assistant.example.com/incoming-call";

function upgradeRequest(url: string, signature?: string): Request {
  const headers = new Headers({
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-version": "13",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  });
  if (signature) headers.set("x-twilio-signature", signature);
  return new Request(url, { headers });
}

Deno.test("GET /healthz answers a small JSON status without secrets; the live-call count only with the admin token", async () => {
  const adminToken = "healthz-admin-token-0123456789";
  await withApp({ ADMIN_TOKEN: adminToken }, async (app) => {
    const response = await app.handler(
      new Request("http://localhost/healthz"),
    );
    assert.equal(response.status, 200);
    const text = await response.text();
    const body = JSON.parse(text);
    assert.equal(body.status, "ok");
    assert.equal(body.calls, undefined, "no call count in public");
    assert.equal(body.uptimeSeconds, undefined);
    assert.ok(!text.includes(TEST_API_KEY) && !text.includes(TEST_AUTH_TOKEN));
    const owner = await app.handler(
      new Request("http://localhost/healthz", {
        headers: { authorization: `Bearer ${adminToken}` },
      }),
    );
    assert.equal((await owner.json()).calls, 0);
    const wrong = await app.handler(
      new Request("http://localhost/healthz", {
        headers: { authorization: "Bearer not-the-admin-token-0000" },
      }),
    );
    assert.equal((await wrong.json()).calls, undefined);
  });
});

Deno.test("POST /incoming-call with a valid signature answers Connect/Stream TwiML with a token in the path", async () => {
  await withApp({}, async (app) => {
    const response = await app.handler(signedWebhook(WEBHOOK, CALL_PARAMS));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/xml/);
    const twiml = await response.text();
    assert.match(
      twiml,
      /^<\?xml[^>]*\?><Response><Connect><Stream url="[^"]+"><Parameter name="caller" value="\+14155550123"\/><\/Stream><\/Connect><Redirect method="POST">https:\/\/assistant\.example\.com\/call-ended<\/Redirect><\/Response>$/,
    );
    const url = new URL(streamUrlOf(twiml));
    assert.equal(url.protocol, "wss:");
    assert.equal(url.host, "assistant.example.com");
    assert.match(url.pathname, /^\/media-stream\/[A-Za-z0-9_.-]+$/);
    assert.equal(
      url.search,
      "",
      "Twilio drops query strings from <Stream url>",
    );
  });
});

Deno.test("POST /incoming-call rejects a missing, forged or other-token signature with 403 and no TwiML", async () => {
  await withApp({}, async (app, logs) => {
    const cases = [
      signedWebhook(WEBHOOK, CALL_PARAMS, { signature: null }),
      signedWebhook(WEBHOOK, CALL_PARAMS, {
        signature: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      }),
      signedWebhook(WEBHOOK, CALL_PARAMS, {
        authToken: "another-accounts-token",
      }),
    ];
    for (const request of cases) {
      const response = await app.handler(request);
      assert.equal(response.status, 403);
      assert.ok(!(await response.text()).includes("<Stream"));
    }
    assert.ok(!logs.lines.join("\n").includes(TEST_AUTH_TOKEN));
  });
});

Deno.test("POST /incoming-call rejects a body changed after signing", async () => {
  await withApp({}, async (app) => {
    const signed = signedWebhook(WEBHOOK, CALL_PARAMS);
    const tampered = new Request(signed.url, {
      method: "POST",
      headers: signed.headers,
      body: new URLSearchParams({ ...CALL_PARAMS, From: "+15555550000" })
        .toString(),
    });
    assert.equal((await app.handler(tampered)).status, 403);
  });
});

Deno.test("POST /incoming-call accepts Twilio's signature of the URL with or without :443", async () => {
  await withApp({}, async (app) => {
    const withPort = "https://assistant.example.com:443/incoming-call";
    const signedWithPort = signedWebhook(WEBHOOK, CALL_PARAMS, {
      signature: (await import("twilio")).default.getExpectedTwilioSignature(
        TEST_AUTH_TOKEN,
        withPort,
        CALL_PARAMS,
      ),
    });
    assert.equal((await app.handler(signedWithPort)).status, 200);
  });
});

Deno.test("POST /incoming-call signs the query string too", async () => {
  await withApp({}, async (app) => {
    const url = `${WEBHOOK}?tenant=home&x=1`;
    assert.equal(
      (await app.handler(signedWebhook(url, CALL_PARAMS))).status,
      200,
    );
    const moved = signedWebhook(url, CALL_PARAMS);
    const other = new Request(`${WEBHOOK}?tenant=work&x=1`, {
      method: "POST",
      headers: moved.headers,
      body: await moved.text(),
    });
    assert.equal((await app.handler(other)).status, 403);
  });
});

Deno.test("without PUBLIC_URL the signed URL and stream URL come from X-Forwarded-Proto/Host", async () => {
  await withApp({ PUBLIC_URL: "" }, async (app) => {
    const request = signedWebhook(
      "https://tunnel.example.net/incoming-call",
      CALL_PARAMS,
      {
        headers: {
          "x-forwarded-proto": "https",
          "x-forwarded-host": "tunnel.example.net",
        },
      },
    );
    // What the server itself sees behind the proxy: plain http on its port.
    const behindProxy = new Request("http://127.0.0.1:5050/incoming-call", {
      method: "POST",
      headers: request.headers,
      body: await request.text(),
    });
    const response = await app.handler(behindProxy);
    assert.equal(response.status, 200);
    const url = new URL(streamUrlOf(await response.text()));
    assert.equal(url.origin, "wss://tunnel.example.net");
  });
});

Deno.test("without PUBLIC_URL or forwarded headers the Host header is used", async () => {
  await withApp({ PUBLIC_URL: "" }, async (app) => {
    const response = await app.handler(
      signedWebhook("http://localhost:5050/incoming-call", CALL_PARAMS),
    );
    assert.equal(response.status, 200);
    assert.equal(
      new URL(streamUrlOf(await response.text())).origin,
      "ws://localhost:5050",
    );
  });
});

Deno.test("POST /incoming-call refuses an oversized body and a missing CallSid", async () => {
  await withApp({}, async (app) => {
    const huge = signedWebhook(WEBHOOK, {
      ...CALL_PARAMS,
      Junk: "x".repeat(20_000),
    });
    assert.equal((await app.handler(huge)).status, 413);
    const { CallSid: _, ...noSid } = CALL_PARAMS;
    assert.equal(
      (await app.handler(signedWebhook(WEBHOOK, noSid))).status,
      400,
    );
  });
});

Deno.test("unknown paths answer 404 and wrong methods 405", async () => {
  await withApp({}, async (app) => {
    assert.equal((await app.handler(new Request("http://x/nope"))).status, 404);
    assert.equal(
      (await app.handler(new Request("http://x/incoming-call"))).status,
      405,
    );
    assert.equal(
      (await app.handler(new Request("http://x/healthz", { method: "POST" })))
        .status,
      405,
    );
  });
});

Deno.test("GET /media-stream/:token without an upgrade answers 401 for a bad token and 426 for a good one", async () => {
  await withApp({}, async (app) => {
    const bad = await app.handler(
      new Request("https://assistant.example.com/media-stream/abc"),
    );
    assert.equal(bad.status, 401);
    const twiml = await (await app.handler(signedWebhook(WEBHOOK, CALL_PARAMS)))
      .text();
    const streamUrl = streamUrlOf(twiml);
    const plain = new Request(streamUrl.replace(/^wss/, "https"), {
      headers: { "x-twilio-signature": streamSignature(streamUrl) },
    });
    assert.equal((await app.handler(plain)).status, 426);
  });
});

Deno.test("GET /media-stream/:token refuses a garbage or forged token with 401 before upgrading", async () => {
  await withApp({}, async (app) => {
    for (const token of ["abc", "x".repeat(40) + "." + "y".repeat(43)]) {
      const url = `wss://assistant.example.com/media-stream/${token}`;
      const response = await app.handler(
        upgradeRequest(url, streamSignature(url)),
      );
      assert.equal(response.status, 401);
    }
  });
});

Deno.test("GET /media-stream/:token refuses a valid token with a missing or wrong signature with 403", async () => {
  await withApp({}, async (app, logs) => {
    const twiml = await (await app.handler(signedWebhook(WEBHOOK, CALL_PARAMS)))
      .text();
    const streamUrl = streamUrlOf(twiml);
    const token = streamUrl.split("/").pop()!;
    for (
      const signature of [
        undefined,
        streamSignature(streamUrl, "wrong-token"),
        streamSignature(`${streamUrl}x`),
      ]
    ) {
      const response = await app.handler(upgradeRequest(streamUrl, signature));
      assert.equal(response.status, 403);
    }
    assert.ok(
      !logs.lines.join("\n").includes(token),
      "the stream token is never logged",
    );
  });
});

Deno.test("GET /media-stream/:token refuses an expired token with 401", async () => {
  await withApp({ STREAM_TOKEN_TTL_SECONDS: "5" }, async (app) => {
    const { mintStreamToken, importTokenKey } = await import(
      "../src/stream_token.ts"
    );
    const key = await importTokenKey(TEST_AUTH_TOKEN);
    const { token } = await mintStreamToken(
      key,
      CALL_PARAMS.CallSid,
      5,
      Date.now() - 10_000,
    );
    const url = `wss://assistant.example.com/media-stream/${token}`;
    const response = await app.handler(
      upgradeRequest(url, streamSignature(url)),
    );
    assert.equal(response.status, 401);
  });
});

Deno.test("without PUBLIC_URL a TLS-terminating proxy that sends no X-Forwarded-Proto still validates Twilio's https signature", async () => {
  await withApp({ PUBLIC_URL: "" }, async (app) => {
    const signed = signedWebhook(
      "https://assistant.example.com/incoming-call",
      CALL_PARAMS,
    );
    const behindProxy = new Request(
      "http://assistant.example.com/incoming-call",
      {
        method: "POST",
        headers: signed.headers,
        body: await signed.text(),
      },
    );
    assert.equal((await app.handler(behindProxy)).status, 200);
    const otherHost = signedWebhook(
      "https://evil.example.com/incoming-call",
      CALL_PARAMS,
    );
    const moved = new Request("http://assistant.example.com/incoming-call", {
      method: "POST",
      headers: otherHost.headers,
      body: await otherHost.text(),
    });
    assert.equal(
      (await app.handler(moved)).status,
      403,
      "the host stays bound",
    );
  });
});

Deno.test("POST /incoming-call logs the caller masked as /calls shows it, never the whole number", async () => {
  await withApp({}, async (app, logs) => {
    const response = await app.handler(signedWebhook(WEBHOOK, CALL_PARAMS));
    assert.equal(response.status, 200);
    await response.body?.cancel();
    const accepted = logs.events().find((e) => e.event === "webhook.accepted");
    assert.equal(accepted?.caller, "•••0123");
    assert.ok(!logs.lines.join("\n").includes(CALL_PARAMS.From));
  });
});

Deno.test("GET /media-stream/:token accepts Twilio's signature of the stream URL with or without a trailing slash", async () => {
  await withApp({}, async (app) => {
    const twiml = await (await app.handler(signedWebhook(WEBHOOK, CALL_PARAMS)))
      .text();
    const streamUrl = streamUrlOf(twiml);
    const https = streamUrl.replace(/^wss/, "https");
    // 426 (no upgrade) means the signature passed: the token is not spent.
    for (
      const [requested, signed] of [
        [https, `${streamUrl}/`],
        [`${https}/`, streamUrl],
      ]
    ) {
      const response = await app.handler(
        new Request(requested, {
          headers: { "x-twilio-signature": streamSignature(signed) },
        }),
      );
      assert.equal(response.status, 426, `${requested} signed as ${signed}`);
      await response.body?.cancel();
    }
  });
});
