import assert from "node:assert/strict";
import { prng } from "./helpers/prng.ts";
import twilio from "twilio";
import {
  computeSignature,
  importSigningKey,
  signingPayload,
  verifySignature,
} from "../src/twilio/signature.ts";
import { portVariants } from "../src/twilio/signed_urls.ts";

// Twilio's documented worked example.
const DOC_TOKEN = "12345";
const DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2";
const DOC_URL_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
const DOC_PARAMS: Record<string, string> = {
  CallSid: "CA1234567890ABCDE",
  Caller: "+14158675309",
  Digits: "1234",
  From: "+14158675309",
  To: "+18005551212",
};
const DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
const DOC_SIGNATURE_443 = "kvajT1Ptam85bY51eRf/AJRuM3w=";

const docPairs = (): [string, string][] => Object.entries(DOC_PARAMS);

Deno.test("computeSignature() matches Twilio's documented example", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  assert.equal(await computeSignature(key, DOC_URL, docPairs()), DOC_SIGNATURE);
});

Deno.test("computeSignature() matches Twilio's documented example with :443", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  assert.equal(
    await computeSignature(key, DOC_URL_443, docPairs()),
    DOC_SIGNATURE_443,
  );
});

Deno.test("computeSignature() does not depend on the order params are given in", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  const reversed = docPairs().reverse();
  assert.equal(await computeSignature(key, DOC_URL, reversed), DOC_SIGNATURE);
});

Deno.test("signingPayload() appends name+value pairs sorted case-sensitively", () => {
  assert.equal(
    signingPayload("https://x.test/a", [["b", "2"], ["B", "1"], ["a", "3"]]),
    "https://x.test/aB1a3b2",
  );
  assert.equal(signingPayload("https://x.test/a"), "https://x.test/a");
});

Deno.test("verifySignature() accepts the documented signature", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  assert.equal(
    await verifySignature(key, DOC_SIGNATURE, [DOC_URL], docPairs()),
    true,
  );
});

Deno.test("verifySignature() over portVariants() accepts the port-less signature when given the :443 URL", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  assert.equal(
    await verifySignature(
      key,
      DOC_SIGNATURE,
      portVariants(DOC_URL_443),
      docPairs(),
    ),
    true,
  );
});

Deno.test("verifySignature() over portVariants() accepts the :443 signature when given the port-less URL", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  assert.equal(
    await verifySignature(
      key,
      DOC_SIGNATURE_443,
      portVariants(DOC_URL),
      docPairs(),
    ),
    true,
  );
});

Deno.test("verifySignature() checks only the URLs it is given: the :443 URL alone does not match the port-less signature", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  assert.equal(
    await verifySignature(key, DOC_SIGNATURE, [DOC_URL_443], docPairs()),
    false,
  );
  assert.equal(
    await verifySignature(key, DOC_SIGNATURE_443, [DOC_URL], docPairs()),
    false,
  );
});

Deno.test("verifySignature() accepts when any of several candidate URLs matches", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  assert.equal(
    await verifySignature(
      key,
      DOC_SIGNATURE,
      ["https://other.example/x", DOC_URL],
      docPairs(),
    ),
    true,
  );
});

Deno.test("verifySignature() rejects a changed param value", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  const params = docPairs().map(([n, v]): [string, string] =>
    n === "Digits" ? [n, "1235"] : [n, v]
  );
  assert.equal(
    await verifySignature(key, DOC_SIGNATURE, portVariants(DOC_URL), params),
    false,
  );
});

Deno.test("verifySignature() rejects an added param", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  const params: [string, string][] = [...docPairs(), ["Extra", ""]];
  assert.equal(
    await verifySignature(key, DOC_SIGNATURE, portVariants(DOC_URL), params),
    false,
  );
});

Deno.test("verifySignature() rejects a renamed param (case differs)", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  const params = docPairs().map(([n, v]): [string, string] =>
    n === "From" ? ["from", v] : [n, v]
  );
  assert.equal(
    await verifySignature(key, DOC_SIGNATURE, portVariants(DOC_URL), params),
    false,
  );
});

Deno.test("verifySignature() rejects a changed URL", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  for (
    const url of [
      "https://mycompany.com/myapp.php?foo=1&bar=3",
      "https://mycompany.com/myapp.php",
      "http://mycompany.com/myapp.php?foo=1&bar=2",
      "https://evil.com/myapp.php?foo=1&bar=2",
      "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
    ]
  ) {
    assert.equal(
      await verifySignature(key, DOC_SIGNATURE, portVariants(url), docPairs()),
      false,
      url,
    );
  }
});

Deno.test("verifySignature() rejects a missing or empty signature", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  assert.equal(
    await verifySignature(key, null, portVariants(DOC_URL), docPairs()),
    false,
  );
  assert.equal(
    await verifySignature(key, "", portVariants(DOC_URL), docPairs()),
    false,
  );
});

Deno.test("verifySignature() rejects a signature made with another token", async () => {
  const other = await importSigningKey("54321");
  const forged = await computeSignature(other, DOC_URL, docPairs());
  const key = await importSigningKey(DOC_TOKEN);
  assert.notEqual(forged, DOC_SIGNATURE);
  assert.equal(
    await verifySignature(key, forged, portVariants(DOC_URL), docPairs()),
    false,
  );
});

Deno.test("verifySignature() rejects when no candidate URL is given", async () => {
  const key = await importSigningKey(DOC_TOKEN);
  assert.equal(
    await verifySignature(key, DOC_SIGNATURE, [], docPairs()),
    false,
  );
});

// ---- Cross-check against twilio-node as an independent oracle ----

const ATOMS = [
  "a",
  "Z",
  "0",
  "9",
  "+",
  " ",
  "'",
  '"',
  "&",
  "=",
  "%",
  "%20",
  "?",
  "#",
  "/",
  "é",
  "ñ",
  "ü",
  "漢",
  "字",
  "😀",
  "👍🏽",
  "\n",
  "-",
  "_",
];

interface Case {
  token: string;
  url: string;
  params: Record<string, string>;
  /** The URL's port is absent or the scheme's default, so toggling it is meaningful. */
  defaultPort: boolean;
}

function makeCases(count: number, seed: number): Case[] {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  const text = (max: number) => {
    let s = "";
    const length = int(max + 1);
    for (let i = 0; i < length; i++) s += pick(ATOMS);
    return s;
  };
  const cases: Case[] = [];
  for (let i = 0; i < count; i++) {
    const scheme = pick(["https", "https", "http", "wss"]);
    const defaultPorts: Record<string, string> = {
      https: ":443",
      http: ":80",
      wss: ":443",
    };
    const port = pick(["", "", defaultPorts[scheme], ":8443"]);
    const host = pick(["assistant.example.com", "abc.ngrok.app", "x.fly.dev"]);
    const path = pick(["/", "/incoming-call", "/media/tok.en-1", "/a/b.php"]);
    const query = random() < 0.5
      ? ""
      : "?" + Array.from({ length: 1 + int(3) }, () =>
        `${pick(["foo", "bar", "q", "Name"])}=${encodeURIComponent(text(4))}`)
        .join("&");
    const params: Record<string, string> = {};
    const names = int(8);
    for (let n = 0; n < names; n++) {
      const name = pick(["CallSid", "From", "To", "Body", "x"]) + text(2);
      params[name] = random() < 0.15 ? "" : text(10);
      // Sometimes add a name that differs only by case.
      if (random() < 0.3) params[name.toUpperCase()] = text(5);
      if (random() < 0.3) params[name.toLowerCase()] = text(5);
    }
    cases.push({
      token: Array.from({ length: 32 }, () => pick([..."0123456789abcdef"]))
        .join(""),
      url: `${scheme}://${host}${port}${path}${query}`,
      params,
      defaultPort: port !== ":8443",
    });
  }
  return cases;
}

function tamper(signature: string): string {
  const c = signature[5] === "A" ? "B" : "A";
  return signature.slice(0, 5) + c + signature.slice(6);
}

/** The same URL with the default port toggled (https/wss: 443, http: 80). */
function togglePort(url: string): string {
  const match = /^(https?|wss):\/\/([^/:?#]+)(:\d+)?(.*)$/.exec(url)!;
  const [, scheme, host, port, rest] = match;
  const def = scheme === "http" ? ":80" : ":443";
  return `${scheme}://${host}${port ? "" : def}${rest}`;
}

const CASES = makeCases(300, 20261124);

Deno.test("computeSignature() equals twilio.getExpectedTwilioSignature() on 300 random inputs", async () => {
  for (const [i, c] of CASES.entries()) {
    const key = await importSigningKey(c.token);
    const ours = await computeSignature(key, c.url, Object.entries(c.params));
    const theirs = twilio.getExpectedTwilioSignature(c.token, c.url, c.params);
    assert.equal(ours, theirs, `case ${i}: ${JSON.stringify(c)}`);
  }
});

Deno.test("verifySignature() agrees with twilio.validateRequest() on right and tampered signatures", async () => {
  let accepted = 0;
  for (const [i, c] of CASES.entries()) {
    const key = await importSigningKey(c.token);
    const pairs = Object.entries(c.params);
    const right = twilio.getExpectedTwilioSignature(c.token, c.url, c.params);
    const wrong = tamper(right);
    const label = `case ${i}: ${JSON.stringify(c)}`;

    const oursRight = await verifySignature(
      key,
      right,
      portVariants(c.url),
      pairs,
    );
    assert.equal(
      oursRight,
      twilio.validateRequest(c.token, right, c.url, c.params),
      label,
    );
    assert.equal(oursRight, true, label);

    const oursWrong = await verifySignature(
      key,
      wrong,
      portVariants(c.url),
      pairs,
    );
    assert.equal(
      oursWrong,
      twilio.validateRequest(c.token, wrong, c.url, c.params),
      label,
    );
    assert.equal(oursWrong, false, label);

    // A signature over the URL with the default port toggled: both accept.
    // (Non-default ports are left out: twilio-node strips any port,
    // portVariants() only toggles the scheme's default one.)
    if (c.defaultPort && !c.url.startsWith("wss:")) {
      const toggled = twilio.getExpectedTwilioSignature(
        c.token,
        togglePort(c.url),
        c.params,
      );
      const ours = await verifySignature(
        key,
        toggled,
        portVariants(c.url),
        pairs,
      );
      assert.equal(
        ours,
        twilio.validateRequest(c.token, toggled, c.url, c.params),
        label,
      );
      assert.equal(ours, true, label);
      accepted++;
    }

    // Changing one param value invalidates the signature for both.
    const names = Object.keys(c.params);
    if (names.length > 0) {
      const changed = { ...c.params, [names[0]]: c.params[names[0]] + "x" };
      const ours = await verifySignature(
        key,
        right,
        portVariants(c.url),
        Object.entries(changed),
      );
      assert.equal(
        ours,
        twilio.validateRequest(c.token, right, c.url, changed),
        label,
      );
      assert.equal(ours, false, label);
    }
  }
  // The port-toggle branch really ran on a good share of the cases.
  assert.ok(accepted > 100, `only ${accepted} port-toggle checks`);
});

Deno.test("a URLSearchParams form body, parsed back, signs the same as twilio on the decoded values", async () => {
  for (const [i, c] of CASES.slice(0, 100).entries()) {
    const body = new URLSearchParams(c.params).toString();
    if (Object.values(c.params).some((v) => v.includes(" "))) {
      assert.ok(body.includes("+"), "spaces are encoded as +");
    }
    const decoded = [...new URLSearchParams(body)];
    // Round trip is exact, including "+", "%", "&", "=" and unicode.
    assert.deepEqual(Object.fromEntries(decoded), c.params, `case ${i}`);
    const key = await importSigningKey(c.token);
    const ours = await computeSignature(key, c.url, decoded);
    assert.equal(
      ours,
      twilio.getExpectedTwilioSignature(c.token, c.url, c.params),
      `case ${i}`,
    );
    // The raw (still-encoded) body must NOT be what gets signed.
    if (body.includes("+") || body.includes("%")) {
      const raw = body.split("&").map((kv): [string, string] => {
        const at = kv.indexOf("=");
        return [kv.slice(0, at), kv.slice(at + 1)];
      });
      assert.notEqual(
        await computeSignature(key, c.url, raw),
        ours,
        `case ${i}`,
      );
    }
  }
});

Deno.test("the random corpus covers the tricky inputs it claims to", () => {
  const values = CASES.flatMap((c) => Object.values(c.params));
  const names = CASES.flatMap((c) => Object.keys(c.params));
  for (const needle of ["😀", "é", "漢", "+", " ", "'", '"', "&", "=", "%"]) {
    assert.ok(values.some((v) => v.includes(needle)), `value with ${needle}`);
  }
  assert.ok(values.includes(""), "an empty value");
  assert.ok(
    CASES.some((c) => {
      const keys = Object.keys(c.params);
      return keys.some((k) =>
        keys.some((o) => o !== k && o.toLowerCase() === k.toLowerCase())
      );
    }),
    "names that differ only by case",
  );
  assert.ok(
    names.some((n) => [...n].some((ch) => ch.codePointAt(0)! > 0x7f)),
    "a non-ASCII name",
  );
  assert.ok(CASES.some((c) => c.url.includes("?")), "a URL with a query");
  assert.ok(CASES.some((c) => !c.url.includes("?")), "a URL without a query");
  assert.ok(
    CASES.some((c) => /:\/\/[^/]+:\d+/.test(c.url)),
    "a URL with a port",
  );
  assert.ok(
    CASES.some((c) => !/:\/\/[^/]+:\d+/.test(c.url)),
    "a URL without a port",
  );
});
