/**
 * HMAC helpers: purpose-bound derivations of one secret, and the
 * constant-time comparison every MAC or token check needs.
 */

const encoder = new TextEncoder();

/** HMAC-SHA256(secret, label): a value bound to one purpose, from which the secret cannot be recovered. */
export async function deriveBytes(
  secret: string,
  label: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", key, encoder.encode(label)),
  );
}

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
