/**
 * The HTTP app: a function from Request to Response, with a route table.
 * All three security layers end here: only a Twilio-signed webhook mints a
 * stream token, and only a signed upgrade with an unused, unexpired token
 * opens an upstream Realtime session.
 */

import { CallBridge } from "./call/bridge.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { publicOrigin, websocketOrigin } from "./public_url.ts";
import { sessionConfig } from "./realtime/session.ts";
import { clientEvents } from "./realtime/events.ts";
import { PrewarmedSessions } from "./realtime/prewarm.ts";
import { RealtimeUpstream } from "./realtime/upstream.ts";
import {
  consumeStreamToken,
  importTokenKey,
  mintStreamToken,
  readStreamToken,
  type UsedTokenStore,
} from "./stream_token.ts";
import { importSigningKey, verifySignature } from "./twilio/signature.ts";
import {
  connectStreamTwiml,
  sayAndHangUpTwiml,
  twimlResponse,
} from "./twilio/twiml.ts";

export interface AppOptions {
  config: Config;
  logger: Logger;
  usedTokens: UsedTokenStore;
  /** Milliseconds allowed for the upstream handshake. */
  upstreamConnectTimeoutMs?: number;
}

export interface App {
  handler(request: Request): Promise<Response>;
  /** Live calls. */
  readonly calls: Set<CallBridge>;
  /**
   * Stops taking new calls, lets live ones go on for up to `seconds`, then
   * ends the rest (both sockets closed). Resolves when no call is left.
   */
  drain(seconds: number): Promise<void>;
  /** Ends every call and closes every upstream socket at once; resolves when they are closed. */
  close(): Promise<void>;
}

export const RESTARTING_MESSAGE =
  "Sorry, your assistant is restarting right now. Please call back in a minute.";

type Handler = (
  request: Request,
  match: URLPatternResult,
) => Promise<Response> | Response;

/** Webhook bodies are a few hundred bytes; anything far larger is refused unread. */
const MAX_WEBHOOK_BYTES = 16 * 1024;

export async function createApp(options: AppOptions): Promise<App> {
  const { config, logger, usedTokens } = options;
  const signingKey = await importSigningKey(config.twilioAuthToken);
  const tokenKey = await importTokenKey(config.twilioAuthToken);
  const calls = new Set<CallBridge>();
  const prewarmed = new PrewarmedSessions();
  const openUpstream = () =>
    new RealtimeUpstream({
      url: config.openaiRealtimeUrl,
      apiKey: config.openaiApiKey,
      sessionUpdate: clientEvents.sessionUpdate(
        sessionConfig(config, new Date()),
      ),
      connectTimeoutMs: options.upstreamConnectTimeoutMs ?? 10_000,
    });
  const startedAt = Date.now();
  let draining = false;

  const healthz: Handler = () =>
    Response.json({
      status: draining ? "draining" : "ok",
      calls: calls.size,
      uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
    });

  const incomingCall: Handler = async (request) => {
    const body = await readLimitedText(request, MAX_WEBHOOK_BYTES);
    if (body === undefined) return text(413, "payload too large");
    const params = new URLSearchParams(body);
    const url = new URL(request.url);
    const origin = publicOrigin(request, config.publicUrl);
    const signed = await verifySignature(
      signingKey,
      request.headers.get("x-twilio-signature"),
      [origin + url.pathname + url.search],
      params,
    );
    if (!signed) {
      logger.log("warn", "webhook.rejected", { reason: "invalid signature" });
      return text(403, "invalid signature");
    }
    const callSid = params.get("CallSid");
    if (!callSid) return text(400, "missing CallSid");
    if (draining) {
      logger.log("info", "webhook.refused", { callSid, reason: "draining" });
      return twimlResponse(sayAndHangUpTwiml(RESTARTING_MESSAGE));
    }
    const { token, claims } = await mintStreamToken(
      tokenKey,
      callSid,
      config.streamTokenTtlSeconds,
    );
    // Open the Realtime session now, while Twilio fetches the TwiML and
    // connects the stream, so the caller's first words do not wait for it.
    prewarmed.add(claims.nonce, openUpstream(), claims.expiresAt);
    const caller = params.get("From") ?? "";
    logger.log("info", "webhook.accepted", {
      callSid,
      caller: maskNumber(caller),
    });
    return twimlResponse(
      connectStreamTwiml(
        `${websocketOrigin(origin)}/media-stream/${token}`,
        { caller },
      ),
    );
  };

  const mediaStream: Handler = async (request, match) => {
    const token = match.pathname.groups.token ?? "";
    // Cheap checks first (no I/O), so floods of bad tokens cost little.
    const readable = await readStreamToken(tokenKey, token);
    if (!readable.ok) {
      logger.log("warn", "stream.rejected", {
        reason: `token ${readable.reason}`,
      });
      return text(401, "invalid stream token");
    }
    const url = new URL(request.url);
    const streamUrl = websocketOrigin(publicOrigin(request, config.publicUrl)) +
      url.pathname;
    const bare = streamUrl.replace(/\/$/, "");
    const signed = await verifySignature(
      signingKey,
      request.headers.get("x-twilio-signature"),
      [bare, `${bare}/`],
    );
    if (!signed) {
      logger.log("warn", "stream.rejected", {
        reason: "invalid signature",
        callSid: readable.claims.callSid,
      });
      return text(403, "invalid signature");
    }
    // Only a real upgrade may spend the token.
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return text(426, "expected a WebSocket upgrade");
    }
    const consumed = await consumeStreamToken(tokenKey, usedTokens, token);
    if (!consumed.ok) {
      logger.log("warn", "stream.rejected", {
        reason: `token ${consumed.reason}`,
        callSid: readable.claims.callSid,
      });
      return text(401, "invalid stream token");
    }

    const { socket, response } = Deno.upgradeWebSocket(request);
    const warm = prewarmed.take(consumed.claims.nonce);
    const upstream = warm ?? openUpstream();
    const bridge = new CallBridge({
      twilio: socket,
      expectedCallSid: consumed.claims.callSid,
      upstream,
      logger,
      prewarmed: warm !== undefined,
    });
    calls.add(bridge);
    bridge.done.then(() => calls.delete(bridge));
    return response;
  };

  const routes: [method: string, pattern: URLPattern, handler: Handler][] = [
    ["GET", new URLPattern({ pathname: "/healthz" }), healthz],
    ["POST", new URLPattern({ pathname: "/incoming-call" }), incomingCall],
    [
      "GET",
      new URLPattern({ pathname: "/media-stream/:token{/}?" }),
      mediaStream,
    ],
  ];

  async function drain(seconds: number): Promise<void> {
    draining = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([...calls].map((call) => call.done)),
      new Promise((resolve) => timer = setTimeout(resolve, seconds * 1000)),
    ]);
    clearTimeout(timer);
    await close();
  }

  async function close(): Promise<void> {
    draining = true;
    const ending = [...calls];
    for (const call of ending) call.end("server shutting down");
    await Promise.all([
      prewarmed.closeAll(),
      ...ending.map((call) => call.closed),
    ]);
  }

  return {
    calls,
    drain,
    close,
    async handler(request) {
      let pathMatched = false;
      for (const [method, pattern, handle] of routes) {
        const match = pattern.exec(request.url);
        if (!match) continue;
        pathMatched = true;
        if (request.method !== method) continue;
        try {
          return await handle(request, match);
        } catch (error) {
          logger.log("error", "request.failed", {
            path: pattern.pathname,
            error: error instanceof Error ? error.name : "unknown",
          });
          return text(500, "internal error");
        }
      }
      return pathMatched
        ? text(405, "method not allowed")
        : text(404, "not found");
    },
  };
}

function text(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** Reads at most `limit` bytes of body; undefined when it is larger. */
async function readLimitedText(
  request: Request,
  limit: number,
): Promise<string | undefined> {
  if (Number(request.headers.get("content-length") ?? 0) > limit) {
    return undefined;
  }
  if (!request.body) return "";
  const reader = request.body.getReader();
  const decoder = new TextDecoder();
  let body = "";
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.length;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    body += decoder.decode(read.value, { stream: true });
  }
  return body + decoder.decode();
}

/** "+14155550123" → "+1415•••0123": enough to recognise, not to dial. */
export function maskNumber(number: string): string {
  if (number.length <= 8) return number.replace(/\d(?=\d{2})/g, "•");
  return number.slice(0, 5) + "•".repeat(number.length - 9) + number.slice(-4);
}
