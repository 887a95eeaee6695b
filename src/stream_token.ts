/**
 * Single-use, short-lived stream tokens. The token is self-verifying (an
 * HMAC over the CallSid, expiry and a nonce), so any instance sharing the
 * auth token can check it; single use is enforced by an atomic
 * insert-if-absent of the nonce in Deno KV.
 */

import { deriveBytes } from "./hmac.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Who the stream was granted to: Twilio (signed upgrade) or the owner's browser (admin session). */
export type StreamSource = "twilio" | "browser";

export interface StreamTokenClaims {
  callSid: string;
  source: StreamSource;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  nonce: string;
}

export type TokenCheck =
  | { ok: true; claims: StreamTokenClaims }
  | { ok: false; reason: "malformed" | "forged" | "expired" | "used" };

/** Derives the token key from the auth token, so instances share it with no extra secret. */
export async function importTokenKey(authToken: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    await deriveBytes(authToken, "stream-token/v1"),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

const BASE64URL = { alphabet: "base64url", omitPadding: true } as const;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{1,512}\.[A-Za-z0-9_-]{43}$/;

export async function mintStreamToken(
  key: CryptoKey,
  callSid: string,
  ttlSeconds: number,
  now = Date.now(),
  source: StreamSource = "twilio",
): Promise<{ token: string; claims: StreamTokenClaims }> {
  const claims: StreamTokenClaims = {
    callSid,
    source,
    expiresAt: now + ttlSeconds * 1000,
    nonce: crypto.getRandomValues(new Uint8Array(16)).toBase64(BASE64URL),
  };
  const payload = encoder.encode(
    JSON.stringify([
      claims.callSid,
      claims.expiresAt,
      claims.nonce,
      claims.source,
    ]),
  ).toBase64(BASE64URL);
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, encoder.encode(payload)),
  );
  return { token: `${payload}.${mac.toBase64(BASE64URL)}`, claims };
}

/** Checks shape, signature and expiry; no I/O. */
export async function readStreamToken(
  key: CryptoKey,
  token: string,
  now = Date.now(),
): Promise<TokenCheck> {
  if (!TOKEN_SHAPE.test(token)) return { ok: false, reason: "malformed" };
  const [payload, mac] = token.split(".");
  let macBytes: Uint8Array<ArrayBuffer>;
  try {
    // Strict: the spare bits of the last character must be zero, so each
    // MAC has exactly one spelling.
    macBytes = Uint8Array.fromBase64(`${mac}=`, {
      alphabet: "base64url",
      lastChunkHandling: "strict",
    });
  } catch {
    return { ok: false, reason: "malformed" };
  }
  const authentic = await crypto.subtle.verify(
    "HMAC",
    key,
    macBytes,
    encoder.encode(payload),
  );
  if (!authentic) return { ok: false, reason: "forged" };
  let fields: unknown;
  try {
    fields = JSON.parse(
      decoder.decode(Uint8Array.fromBase64(payload, BASE64URL)),
    );
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (
    !Array.isArray(fields) || typeof fields[0] !== "string" ||
    typeof fields[1] !== "number" || typeof fields[2] !== "string" ||
    (fields[3] !== "twilio" && fields[3] !== "browser")
  ) {
    return { ok: false, reason: "malformed" };
  }
  const claims: StreamTokenClaims = {
    callSid: fields[0],
    expiresAt: fields[1],
    nonce: fields[2],
    source: fields[3],
  };
  if (now >= claims.expiresAt) return { ok: false, reason: "expired" };
  return { ok: true, claims };
}

/** Where used nonces are remembered; shared by every instance that serves streams. */
export interface UsedTokenStore {
  /** Records the nonce; false when it was already recorded. */
  markUsed(claims: StreamTokenClaims): Promise<boolean>;
}

export class KvUsedTokenStore implements UsedTokenStore {
  constructor(private readonly kv: Deno.Kv) {}

  async markUsed(claims: StreamTokenClaims): Promise<boolean> {
    const key = ["used-stream-token", claims.nonce];
    // expireIn is only the earliest deletion time; the expiry inside the
    // token is what refuses it later, so the record need only outlive it.
    const result = await this.kv.atomic()
      .check({ key, versionstamp: null })
      .set(key, claims.expiresAt, {
        expireIn: Math.max(1000, claims.expiresAt - Date.now()) + 60_000,
      })
      .commit();
    return result.ok;
  }
}

/** Full check: authentic, unexpired, then consumed (single use). */
export async function consumeStreamToken(
  key: CryptoKey,
  store: UsedTokenStore,
  token: string,
  now = Date.now(),
): Promise<TokenCheck> {
  const check = await readStreamToken(key, token, now);
  if (!check.ok) return check;
  return await store.markUsed(check.claims)
    ? check
    : { ok: false, reason: "used" };
}
