import assert from "node:assert/strict";
import {
  consumeStreamToken,
  importTokenKey,
  KvUsedTokenStore,
  mintStreamToken,
  readStreamToken,
  type StreamTokenClaims,
  type TokenCheck,
  type UsedTokenStore,
} from "../src/stream_token.ts";

const AUTH_TOKEN = "0123456789abcdef0123456789abcdef";
const CALL_SID = "CA0123456789abcdef0123456789abcdef";
const T0 = Date.UTC(2026, 10, 24, 9, 30);
const TTL = 60;

const BASE64URL_ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The token with the character at `index` replaced by the one `xor` away in the base64url alphabet. */
function withCharChanged(token: string, index: number, xor: number): string {
  const position = BASE64URL_ALPHABET.indexOf(token[index]);
  assert.ok(position >= 0, `not base64url: ${token[index]}`);
  return token.slice(0, index) + BASE64URL_ALPHABET[position ^ xor] +
    token.slice(index + 1);
}

function refused(check: TokenCheck): string {
  if (check.ok) assert.fail(`accepted: ${JSON.stringify(check.claims)}`);
  return check.reason;
}

Deno.test("readStreamToken() returns the claims of a freshly minted token", async () => {
  const key = await importTokenKey(AUTH_TOKEN);
  const { token, claims } = await mintStreamToken(key, CALL_SID, TTL, T0);
  assert.equal(claims.callSid, CALL_SID);
  assert.equal(claims.expiresAt, T0 + TTL * 1000);
  assert.equal(typeof claims.nonce, "string");
  assert.ok(claims.nonce.length >= 16);
  assert.deepEqual(await readStreamToken(key, token, T0), {
    ok: true,
    claims,
  });
});

Deno.test("readStreamToken() round-trips a CallSid with characters JSON must escape", async () => {
  const key = await importTokenKey(AUTH_TOKEN);
  const callSid = `CA"\\é😀`;
  const { token } = await mintStreamToken(key, callSid, TTL, T0);
  const check = await readStreamToken(key, token, T0);
  assert.ok(check.ok);
  assert.equal(check.claims.callSid, callSid);
});

Deno.test("readStreamToken() accepts a token read by another key from the same auth token", async () => {
  const minting = await importTokenKey(AUTH_TOKEN);
  const reading = await importTokenKey(AUTH_TOKEN);
  const { token, claims } = await mintStreamToken(minting, CALL_SID, TTL, T0);
  assert.deepEqual(await readStreamToken(reading, token, T0 + 1), {
    ok: true,
    claims,
  });
});

Deno.test("readStreamToken() refuses a token with any one character changed", async () => {
  const key = await importTokenKey(AUTH_TOKEN);
  const { token } = await mintStreamToken(key, CALL_SID, TTL, T0);
  for (let i = 0; i < token.length; i++) {
    if (token[i] === ".") continue;
    // xor 32 flips the character's highest bit, which always carries data.
    const changed = withCharChanged(token, i, 32);
    assert.notEqual(changed, token);
    const reason = refused(await readStreamToken(key, changed, T0));
    assert.ok(
      reason === "forged" || reason === "malformed",
      `position ${i}: ${reason}`,
    );
  }
});

Deno.test({
  name:
    "readStreamToken() refuses a token whose last MAC character changed only in its spare bits",
  async fn() {
    const key = await importTokenKey(AUTH_TOKEN);
    const { token } = await mintStreamToken(key, CALL_SID, TTL, T0);
    for (const xor of [1, 2, 3]) {
      const changed = withCharChanged(token, token.length - 1, xor);
      assert.notEqual(changed, token);
      const reason = refused(await readStreamToken(key, changed, T0));
      assert.ok(reason === "forged" || reason === "malformed", reason);
    }
  },
});

Deno.test("readStreamToken() refuses a token minted with another auth token as forged", async () => {
  const other = await importTokenKey("fedcba9876543210fedcba9876543210");
  const key = await importTokenKey(AUTH_TOKEN);
  const { token } = await mintStreamToken(other, CALL_SID, TTL, T0);
  assert.deepEqual(await readStreamToken(key, token, T0), {
    ok: false,
    reason: "forged",
  });
});

Deno.test("readStreamToken() refuses a payload swapped between two tokens as forged", async () => {
  const key = await importTokenKey(AUTH_TOKEN);
  const a = await mintStreamToken(key, CALL_SID, TTL, T0);
  const b = await mintStreamToken(key, "CAother", 3600, T0);
  const [payloadB] = b.token.split(".");
  const [, macA] = a.token.split(".");
  assert.deepEqual(await readStreamToken(key, `${payloadB}.${macA}`, T0), {
    ok: false,
    reason: "forged",
  });
});

Deno.test("readStreamToken() refuses strings that are not token-shaped as malformed", async () => {
  const key = await importTokenKey(AUTH_TOKEN);
  const { token } = await mintStreamToken(key, CALL_SID, TTL, T0);
  const [payload, mac] = token.split(".");
  for (
    const bad of [
      "",
      ".",
      payload,
      `${payload}.`,
      `.${mac}`,
      `${payload}.${mac}.`,
      `${payload}.${mac}x`,
      `${payload}.${mac.slice(1)}`,
      `${payload}.${mac}=`,
      `${payload}+.${mac}`,
      ` ${token}`,
      `${token}\n`,
      `${payload}/${mac}`,
      `${"A".repeat(513)}.${mac}`,
    ]
  ) {
    assert.deepEqual(
      await readStreamToken(key, bad, T0),
      { ok: false, reason: "malformed" },
      JSON.stringify(bad),
    );
  }
});

Deno.test("readStreamToken() refuses an expired token", async () => {
  const key = await importTokenKey(AUTH_TOKEN);
  const { token, claims } = await mintStreamToken(key, CALL_SID, TTL, T0);
  assert.equal(
    (await readStreamToken(key, token, claims.expiresAt - 1)).ok,
    true,
  );
  assert.deepEqual(await readStreamToken(key, token, claims.expiresAt), {
    ok: false,
    reason: "expired",
  });
  assert.deepEqual(
    await readStreamToken(key, token, claims.expiresAt + 3_600_000),
    { ok: false, reason: "expired" },
  );
});

Deno.test("mintStreamToken() tokens are path-safe", async () => {
  const key = await importTokenKey(AUTH_TOKEN);
  for (let i = 0; i < 200; i++) {
    const { token } = await mintStreamToken(key, `CA${i}`, TTL, T0 + i);
    assert.match(token, /^[A-Za-z0-9_.-]+$/);
    assert.equal(encodeURIComponent(token), token);
  }
});

Deno.test("mintStreamToken() gives different tokens and nonces to different calls, and to repeats", async () => {
  const key = await importTokenKey(AUTH_TOKEN);
  const tokens = new Set<string>();
  const nonces = new Set<string>();
  for (let i = 0; i < 100; i++) {
    // Half the mints repeat the same CallSid at the same instant.
    const { token, claims } = await mintStreamToken(
      key,
      i % 2 ? CALL_SID : `CA${i}`,
      TTL,
      T0,
    );
    tokens.add(token);
    nonces.add(claims.nonce);
  }
  assert.equal(tokens.size, 100);
  assert.equal(nonces.size, 100);
});

// ---- Single use ----

Deno.test("consumeStreamToken() with KV accepts a token once, then refuses it as used", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const key = await importTokenKey(AUTH_TOKEN);
    const store = new KvUsedTokenStore(kv);
    const { token, claims } = await mintStreamToken(key, CALL_SID, TTL);
    assert.deepEqual(await consumeStreamToken(key, store, token), {
      ok: true,
      claims,
    });
    assert.deepEqual(await consumeStreamToken(key, store, token), {
      ok: false,
      reason: "used",
    });
    // Another token for the same call is a separate use.
    const second = await mintStreamToken(key, CALL_SID, TTL);
    assert.equal((await consumeStreamToken(key, store, second.token)).ok, true);
  } finally {
    kv.close();
  }
});

Deno.test("consumeStreamToken() checks the token before touching the store", async () => {
  const marked: StreamTokenClaims[] = [];
  const store: UsedTokenStore = {
    markUsed(claims) {
      marked.push(claims);
      return Promise.resolve(true);
    },
  };
  const key = await importTokenKey(AUTH_TOKEN);
  const other = await importTokenKey("another-auth-token");
  const { token, claims } = await mintStreamToken(key, CALL_SID, TTL, T0);
  const forged = await mintStreamToken(other, CALL_SID, TTL, T0);

  assert.deepEqual(await consumeStreamToken(key, store, "junk", T0), {
    ok: false,
    reason: "malformed",
  });
  assert.deepEqual(await consumeStreamToken(key, store, forged.token, T0), {
    ok: false,
    reason: "forged",
  });
  assert.deepEqual(
    await consumeStreamToken(key, store, token, claims.expiresAt),
    { ok: false, reason: "expired" },
  );
  assert.deepEqual(marked, []);

  assert.equal((await consumeStreamToken(key, store, token, T0)).ok, true);
  assert.deepEqual(marked, [claims]);
});

Deno.test("consumeStreamToken() refuses through one KV handle a token consumed through another", async () => {
  const path = await Deno.makeTempFile({ suffix: ".sqlite" });
  const first = await Deno.openKv(path);
  let second: Deno.Kv | undefined;
  try {
    second = await Deno.openKv(path);
    const key = await importTokenKey(AUTH_TOKEN);
    const { token } = await mintStreamToken(key, CALL_SID, TTL);
    const storeA = new KvUsedTokenStore(first);
    const storeB = new KvUsedTokenStore(second);

    assert.equal((await consumeStreamToken(key, storeA, token)).ok, true);
    assert.deepEqual(await consumeStreamToken(key, storeB, token), {
      ok: false,
      reason: "used",
    });
    assert.deepEqual(await consumeStreamToken(key, storeA, token), {
      ok: false,
      reason: "used",
    });

    // And the other way round.
    const other = await mintStreamToken(key, "CAsecond", TTL);
    assert.equal((await consumeStreamToken(key, storeB, other.token)).ok, true);
    assert.deepEqual(await consumeStreamToken(key, storeA, other.token), {
      ok: false,
      reason: "used",
    });
  } finally {
    second?.close();
    first.close();
    for (
      const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]
    ) {
      await Deno.remove(file).catch(() => {});
    }
  }
});

Deno.test("KvUsedTokenStore.markUsed() is true once per nonce, even when raced", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new KvUsedTokenStore(kv);
    const claims: StreamTokenClaims = {
      callSid: CALL_SID,
      source: "twilio",
      expiresAt: Date.now() + 60_000,
      nonce: "race-nonce",
    };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.markUsed(claims)),
    );
    assert.equal(results.filter((r) => r).length, 1);
    assert.equal(
      await store.markUsed({ ...claims, nonce: "another-nonce" }),
      true,
    );
  } finally {
    kv.close();
  }
});
