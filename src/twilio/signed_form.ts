/**
 * Reading a Twilio form webhook (call webhooks, status callbacks): bounded
 * in size, then checked against X-Twilio-Signature over every URL Twilio
 * may have signed for it. Every signed POST route goes through here.
 */

import { readLimitedText, text } from "../http/responses.ts";
import type { LogLine } from "../log.ts";
import { verifySignature } from "./signature.ts";
import { signedUrlCandidates } from "./signed_urls.ts";

/** Webhook bodies are a few hundred bytes; anything far larger is refused unread. */
export const MAX_WEBHOOK_BYTES = 16 * 1024;

export interface SignedFormOptions {
  publicUrl: string | undefined;
  signingKey: CryptoKey;
  /** Rate-limited: refused requests can come in floods. */
  refusal: LogLine;
}

/** The webhook's params, or the Response refusing it (413, 403). */
export async function readSignedForm(
  request: Request,
  options: SignedFormOptions,
): Promise<URLSearchParams | Response> {
  const body = await readLimitedText(request, MAX_WEBHOOK_BYTES);
  if (body === undefined) return text(413, "payload too large");
  const params = new URLSearchParams(body);
  const signed = await verifySignature(
    options.signingKey,
    request.headers.get("x-twilio-signature"),
    signedUrlCandidates(request, options.publicUrl, "webhook"),
    params,
  );
  if (!signed) {
    options.refusal("warn", "webhook.rejected", {
      path: new URL(request.url).pathname,
      reason: "invalid signature",
    });
    return text(403, "invalid signature");
  }
  return params;
}
