/**
 * Twilio request signatures (`X-Twilio-Signature`):
 * base64(HMAC-SHA1(auth token, URL + each POST param name+value, sorted by name)).
 */

import { timingSafeEqual } from "../hmac.ts";

const encoder = new TextEncoder();

/** Imports the auth token once as an HMAC-SHA1 key. */
export function importSigningKey(authToken: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(authToken),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
}

/** The string Twilio signs: the URL, then every param's name and value, sorted by name. */
export function signingPayload(
  url: string,
  params: Iterable<[string, string]> = [],
): string {
  // Twilio sorts by name (case-sensitive, code-unit order) and, for a
  // repeated name, by value.
  const pairs = [...params].sort(([an, av], [bn, bv]) =>
    an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0
  );
  let payload = url;
  for (const [name, value] of pairs) payload += name + value;
  return payload;
}

export async function computeSignature(
  key: CryptoKey,
  url: string,
  params: Iterable<[string, string]> = [],
): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    encoder.encode(signingPayload(url, params)),
  );
  return new Uint8Array(mac).toBase64();
}

/**
 * True when `signature` matches any of `urls` with these params. Which URLs
 * Twilio may have signed is `signedUrlCandidates()`'s question, not this one's.
 */
export async function verifySignature(
  key: CryptoKey,
  signature: string | null,
  urls: string[],
  params: Iterable<[string, string]> = [],
): Promise<boolean> {
  if (!signature) return false;
  const pairs = [...params];
  let valid = false;
  for (const url of new Set(urls)) {
    // No early exit: every candidate is computed, so timing says nothing about which matched.
    valid =
      timingSafeEqual(await computeSignature(key, url, pairs), signature) ||
      valid;
  }
  return valid;
}
