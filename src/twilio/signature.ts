/**
 * Twilio request signatures (`X-Twilio-Signature`):
 * base64(HMAC-SHA1(auth token, URL + each POST param name+value, sorted by name)).
 */

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
 * Twilio signs HTTPS voice webhooks without the port, but other products and
 * proxies differ: accept the URL as given and with the default port toggled.
 */
export function urlVariants(url: string): string[] {
  const match = /^([a-z]+):\/\/([^/?#]*)(.*)$/i.exec(url);
  const defaultPort = match && DEFAULT_PORTS[match[1].toLowerCase()];
  if (!match || !defaultPort) return [url];
  const [, scheme, authority, rest] = match;
  if (authority.endsWith(`:${defaultPort}`)) {
    return [
      url,
      `${scheme}://${authority.slice(0, -defaultPort.length - 1)}${rest}`,
    ];
  }
  // An authority with another explicit port (or an IPv6 literal's colons
  // inside brackets) has no default-port variant.
  if (/:\d*$/.test(authority)) return [url];
  return [url, `${scheme}://${authority}:${defaultPort}${rest}`];
}

const DEFAULT_PORTS: Record<string, string | undefined> = {
  https: "443",
  http: "80",
  wss: "443",
  ws: "80",
};

/** Compares two strings in time that depends only on their lengths. */
export function timingSafeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let difference = left.length ^ right.length;
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i++) {
    difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  }
  return difference === 0;
}

/**
 * True when `signature` matches any of `urls` (each also tried with the
 * default port toggled) with these params.
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
  for (const url of new Set(urls.flatMap(urlVariants))) {
    // No early exit: every candidate is computed, so timing says nothing about which matched.
    valid =
      timingSafeEqual(await computeSignature(key, url, pairs), signature) ||
      valid;
  }
  return valid;
}
