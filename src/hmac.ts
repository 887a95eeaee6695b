/** HMAC-SHA256 derivations: one secret, several purpose-bound values. */

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
