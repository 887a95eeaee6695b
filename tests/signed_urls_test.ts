import assert from "node:assert/strict";
import {
  portVariants,
  signedUrlCandidates,
} from "../src/twilio/signed_urls.ts";

const PUBLIC_URL = "https://assistant.example.com";

function post(url: string, headers: HeadersInit = {}): Request {
  return new Request(url, { method: "POST", headers, body: "CallSid=CA1" });
}

function upgrade(url: string, headers: HeadersInit = {}): Request {
  return new Request(url, { headers: { upgrade: "websocket", ...headers } });
}

Deno.test("signedUrlCandidates() for a webhook is PUBLIC_URL with the request's path and query, whatever origin the server saw", () => {
  const candidates = signedUrlCandidates(
    post("http://127.0.0.1:5050/incoming-call?tenant=home&x=1"),
    PUBLIC_URL,
    "webhook",
  );
  assert.equal(
    candidates[0],
    "https://assistant.example.com/incoming-call?tenant=home&x=1",
  );
  for (const url of candidates) {
    const parsed = new URL(url);
    assert.equal(parsed.hostname, "assistant.example.com", url);
    assert.equal(parsed.pathname, "/incoming-call", url);
    assert.equal(parsed.search, "?tenant=home&x=1", url);
  }
});

Deno.test("signedUrlCandidates() tries the URL with :443", () => {
  assert.ok(
    signedUrlCandidates(
      post(`${PUBLIC_URL}/incoming-call`),
      PUBLIC_URL,
      "webhook",
    )
      .includes("https://assistant.example.com:443/incoming-call"),
  );
});

Deno.test("signedUrlCandidates() tries the URL without :443", () => {
  assert.ok(
    signedUrlCandidates(
      post("https://assistant.example.com:443/incoming-call"),
      undefined,
      "webhook",
    ).includes("https://assistant.example.com/incoming-call"),
  );
});

Deno.test("signedUrlCandidates() tries https when a TLS-terminating proxy forwards plain http without X-Forwarded-Proto", () => {
  const candidates = signedUrlCandidates(
    post("http://assistant.example.com/incoming-call"),
    undefined,
    "webhook",
  );
  assert.equal(candidates[0], "http://assistant.example.com/incoming-call");
  assert.ok(candidates.includes("https://assistant.example.com/incoming-call"));
});

Deno.test("signedUrlCandidates() without PUBLIC_URL takes the origin from X-Forwarded-Proto and X-Forwarded-Host", () => {
  const candidates = signedUrlCandidates(
    post("http://127.0.0.1:5050/call-ended", {
      "x-forwarded-proto": "https",
      "x-forwarded-host": "tunnel.example.net",
    }),
    undefined,
    "webhook",
  );
  assert.equal(candidates[0], "https://tunnel.example.net/call-ended");
  assert.ok(
    candidates.every((url) => new URL(url).hostname === "tunnel.example.net"),
  );
});

Deno.test("signedUrlCandidates() for a webhook is the URL, with :443, and both again with the other scheme", () => {
  assert.deepEqual(
    signedUrlCandidates(
      post(`${PUBLIC_URL}/incoming-call`),
      PUBLIC_URL,
      "webhook",
    ),
    [
      "https://assistant.example.com/incoming-call",
      "https://assistant.example.com:443/incoming-call",
      "http://assistant.example.com/incoming-call",
      "http://assistant.example.com:80/incoming-call",
    ],
  );
});

Deno.test("signedUrlCandidates() adds no port variant to a non-default port", () => {
  assert.deepEqual(
    signedUrlCandidates(
      post("http://localhost:5050/incoming-call"),
      undefined,
      "webhook",
    ),
    [
      "http://localhost:5050/incoming-call",
      "https://localhost:5050/incoming-call",
    ],
  );
});

Deno.test("signedUrlCandidates() for a stream handshake is the wss URL with and without a trailing slash, each with :443 and as ws", () => {
  const expected = [
    "wss://assistant.example.com/media-stream/TOKEN",
    "wss://assistant.example.com:443/media-stream/TOKEN",
    "ws://assistant.example.com/media-stream/TOKEN",
    "ws://assistant.example.com:80/media-stream/TOKEN",
    "wss://assistant.example.com/media-stream/TOKEN/",
    "wss://assistant.example.com:443/media-stream/TOKEN/",
    "ws://assistant.example.com/media-stream/TOKEN/",
    "ws://assistant.example.com:80/media-stream/TOKEN/",
  ];
  for (const path of ["/media-stream/TOKEN", "/media-stream/TOKEN/"]) {
    assert.deepEqual(
      signedUrlCandidates(
        upgrade(`http://127.0.0.1:5050${path}`),
        PUBLIC_URL,
        "stream",
      ),
      expected,
      path,
    );
  }
});

Deno.test("signedUrlCandidates() for a stream handshake leaves the query out, as Twilio drops it from <Stream url>", () => {
  const candidates = signedUrlCandidates(
    upgrade(`${PUBLIC_URL}/media-stream/TOKEN?x=1`),
    PUBLIC_URL,
    "stream",
  );
  assert.ok(
    candidates.includes("wss://assistant.example.com/media-stream/TOKEN"),
  );
  assert.ok(candidates.every((url) => !url.includes("?")));
});

Deno.test("signedUrlCandidates() for a stream handshake without PUBLIC_URL follows X-Forwarded-Proto to wss", () => {
  const candidates = signedUrlCandidates(
    upgrade("http://127.0.0.1:5050/media-stream/TOKEN", {
      "x-forwarded-proto": "https",
      "x-forwarded-host": "tunnel.example.net",
    }),
    undefined,
    "stream",
  );
  assert.equal(candidates[0], "wss://tunnel.example.net/media-stream/TOKEN");
});

Deno.test("portVariants() adds :443 to a port-less https URL, keeping the query", () => {
  assert.deepEqual(portVariants("https://a.example/p?x=1&y=2"), [
    "https://a.example/p?x=1&y=2",
    "https://a.example:443/p?x=1&y=2",
  ]);
});

Deno.test("portVariants() removes :443 from an https URL, keeping the query", () => {
  assert.deepEqual(portVariants("https://a.example:443/p?x=1"), [
    "https://a.example:443/p?x=1",
    "https://a.example/p?x=1",
  ]);
});

Deno.test("portVariants() toggles :443 on wss URLs", () => {
  assert.deepEqual(portVariants("wss://a.example/media"), [
    "wss://a.example/media",
    "wss://a.example:443/media",
  ]);
  assert.deepEqual(portVariants("wss://a.example:443/media"), [
    "wss://a.example:443/media",
    "wss://a.example/media",
  ]);
});

Deno.test("portVariants() toggles :80 on http URLs", () => {
  assert.deepEqual(portVariants("http://a.example/p"), [
    "http://a.example/p",
    "http://a.example:80/p",
  ]);
  assert.deepEqual(portVariants("http://a.example:80/p?q=1"), [
    "http://a.example:80/p?q=1",
    "http://a.example/p?q=1",
  ]);
});

Deno.test("portVariants() returns only the URL itself for a non-default port", () => {
  assert.deepEqual(portVariants("https://a.example:8443/p?q=1"), [
    "https://a.example:8443/p?q=1",
  ]);
  assert.deepEqual(portVariants("http://a.example:5050/p"), [
    "http://a.example:5050/p",
  ]);
  assert.deepEqual(portVariants("https://a.example:80/p"), [
    "https://a.example:80/p",
  ]);
});

Deno.test("portVariants() handles IPv6 literals and user info", () => {
  assert.deepEqual(portVariants("https://[2001:db8::443]/p"), [
    "https://[2001:db8::443]/p",
    "https://[2001:db8::443]:443/p",
  ]);
  assert.deepEqual(portVariants("https://[::1]:443/p"), [
    "https://[::1]:443/p",
    "https://[::1]/p",
  ]);
  assert.deepEqual(portVariants("https://[::1]:8443/p"), [
    "https://[::1]:8443/p",
  ]);
  assert.deepEqual(portVariants("https://user:pw@a.example/p"), [
    "https://user:pw@a.example/p",
    "https://user:pw@a.example:443/p",
  ]);
});

Deno.test("portVariants() treats the scheme case-insensitively", () => {
  assert.deepEqual(portVariants("HTTPS://a.example:443/p"), [
    "HTTPS://a.example:443/p",
    "HTTPS://a.example/p",
  ]);
});

Deno.test("portVariants() handles an origin with no path", () => {
  assert.deepEqual(portVariants("https://a.example"), [
    "https://a.example",
    "https://a.example:443",
  ]);
});

Deno.test("portVariants() returns anything that is not an absolute URL unchanged", () => {
  assert.deepEqual(portVariants("/relative/path"), ["/relative/path"]);
  assert.deepEqual(portVariants("ftp://a.example/x"), ["ftp://a.example/x"]);
});
