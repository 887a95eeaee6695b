/**
 * `GET /media-stream/:token`: the WebSocket upgrade that becomes a call.
 * Everything is checked before the upgrade, cheapest first, so floods of
 * bad tokens cost an HMAC and no KV or upstream: the token (signed,
 * unexpired), then who may use it (Twilio's signature, or the owner's
 * session for a softphone token), and only then its single use.
 */

import type { Config } from "../config.ts";
import { text } from "../http/responses.ts";
import type { Handler } from "../http/router.ts";
import type { LogLine } from "../log.ts";
import {
  consumeStreamToken,
  readStreamToken,
  type UsedTokenStore,
} from "../stream_token.ts";
import { verifySignature } from "../twilio/signature.ts";
import { signedUrlCandidates } from "../twilio/signed_urls.ts";
import type { Calls } from "./calls.ts";

export interface StreamRouteOptions {
  config: Config;
  /** Rate-limited: refused handshakes can come in floods. */
  refusal: LogLine;
  signingKey: CryptoKey;
  tokenKey: CryptoKey;
  usedTokens: UsedTokenStore;
  /** Undefined without ADMIN_TOKEN: softphone tokens are then refused. */
  /** The owner's sign-in (src/admin/auth.ts), for the browser softphone's streams. */
  admin: { allows(request: Request): Promise<boolean> } | undefined;
  calls: Calls;
  /** What the assistant says first on a call the server placed (outbound on). */
  openingFor?: (callSid: string) => Promise<string | undefined>;
}

export function mediaStreamHandler(options: StreamRouteOptions): Handler {
  const { tokenKey } = options;
  const rejected = (reason: string, callSid?: string) =>
    options.refusal("warn", "stream.rejected", { reason, callSid });

  return async (request, match) => {
    const token = match.pathname.groups.token ?? "";
    const readable = await readStreamToken(tokenKey, token);
    if (!readable.ok) {
      rejected(`token ${readable.reason}`);
      return text(401, "invalid stream token");
    }
    const { callSid, source } = readable.claims;
    if (source === "browser") {
      // The browser softphone: the owner's session replaces Twilio's signature.
      if (!await options.admin?.allows(request)) {
        rejected("no admin session", callSid);
        return text(403, "forbidden");
      }
    } else {
      const signed = await verifySignature(
        options.signingKey,
        request.headers.get("x-twilio-signature"),
        signedUrlCandidates(request, options.config.server.publicUrl, "stream"),
      );
      if (!signed) {
        rejected("invalid signature", callSid);
        return text(403, "invalid signature");
      }
    }
    // Only a real upgrade may spend the token.
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return text(426, "expected a WebSocket upgrade");
    }
    const consumed = await consumeStreamToken(
      tokenKey,
      options.usedTokens,
      token,
    );
    if (!consumed.ok) {
      rejected(`token ${consumed.reason}`, callSid);
      return text(401, "invalid stream token");
    }
    // The instance that answered Twilio's webhook may not be this one: the
    // opening of a call the server placed is read again here.
    const opening = source === "twilio"
      ? await options.openingFor?.(callSid)
      : undefined;
    // This instance now carries the call; a resume comes with its conversation.
    const segment = source === "twilio"
      ? await options.calls.claimStream(callSid)
      : undefined;
    const { socket, response } = Deno.upgradeWebSocket(request);
    options.calls.start(socket, consumed.claims, opening, segment);
    return response;
  };
}
