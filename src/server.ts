/**
 * The HTTP app: a function from Request to Response, with a route table.
 * All three security layers end here: only a Twilio-signed webhook mints a
 * stream token, and only a signed upgrade with an unused, unexpired token
 * becomes a call.
 */

import { AdminAuth, clearedSessionCookie } from "./admin/auth.ts";
import { callPage, callsPage, loginPage } from "./admin/pages.ts";
import { Calls } from "./call/calls.ts";
import type { Config } from "./config.ts";
import {
  privateHtml,
  privateJson,
  readLimitedText,
  text,
} from "./http/responses.ts";
import { CallJournal } from "./journal/journal.ts";
import { type Logger, rateLimited } from "./log.ts";
import { phonePage, phoneWorklet } from "./phone/page.ts";
import { publicOrigin, websocketOrigin } from "./public_url.ts";
import { checkModel, type ModelStatus } from "./realtime/model_record.ts";
import {
  consumeStreamToken,
  importTokenKey,
  KvUsedTokenStore,
  mintStreamToken,
  readStreamToken,
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
  /** Stream tokens' single use and the call journal. */
  kv: Deno.Kv;
  /** Milliseconds allowed for the upstream handshake. */
  upstreamConnectTimeoutMs?: number;
  /** Milliseconds allowed for the start-up model look-up (default 5000). */
  modelLookupTimeoutMs?: number;
}

export interface App {
  handler(request: Request): Promise<Response>;
  calls: Calls;
  journal: CallJournal;
  /**
   * The start-up look-up of the model's record (its shutdown date), run in
   * the background so serving never waits for it. Resolves, never rejects,
   * once /healthz and /calls show its result; a failed look-up is logged
   * once and resolves with `lookup: "failed"`.
   */
  modelCheck: Promise<ModelStatus>;
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
export const BUSY_MESSAGE =
  "Sorry, your assistant is busy with other calls. Please try again in a few minutes.";
export const APOLOGY_MESSAGE =
  "Sorry, your assistant ran into a problem and has to hang up. Please call again.";

type Handler = (
  request: Request,
  match: URLPatternResult,
) => Promise<Response> | Response;

/** Webhook bodies are a few hundred bytes; anything far larger is refused unread. */
const MAX_WEBHOOK_BYTES = 16 * 1024;
/** How long /call-ended waits for the journal to learn how the stream ended. */
const CALL_END_WAIT_MS = 2000;
/** The model look-up is advice, not a dependency: it gives up soon. */
const MODEL_LOOKUP_TIMEOUT_MS = 5000;

export async function createApp(options: AppOptions): Promise<App> {
  const { config, logger, kv } = options;
  const signingKey = await importSigningKey(config.twilioAuthToken);
  const tokenKey = await importTokenKey(config.twilioAuthToken);
  const usedTokens = new KvUsedTokenStore(kv);
  const admin = config.adminToken === undefined
    ? undefined
    : await AdminAuth.create(config.adminToken);
  const journal = new CallJournal(kv, {
    retentionDays: config.journalRetentionDays,
    transcripts: config.journalTranscripts,
    logger,
  });
  const calls = new Calls({
    config,
    logger,
    journal,
    upstreamConnectTimeoutMs: options.upstreamConnectTimeoutMs,
  });
  const startedAt = Date.now();
  let draining = false;

  let model: ModelStatus = {
    id: config.realtimeModel,
    lookup: "pending",
    shutdownDate: null,
  };
  // Closing the app cancels a look-up still under way.
  const stopModelCheck = new AbortController();
  const modelCheck = checkModel({
    realtimeUrl: config.openaiRealtimeUrl,
    model: config.realtimeModel,
    apiKey: config.openaiApiKey,
    timeoutMs: options.modelLookupTimeoutMs ?? MODEL_LOOKUP_TIMEOUT_MS,
    signal: stopModelCheck.signal,
    logger,
  }).then((status) => {
    model = status;
    return status;
  });
  // Refused requests can come in floods: their log lines are rate-limited.
  const refusal = rateLimited(logger, 5);

  /** Reads a form webhook and checks Twilio's signature; a Response when it fails. */
  const signedForm = async (
    request: Request,
  ): Promise<URLSearchParams | Response> => {
    const body = await readLimitedText(request, MAX_WEBHOOK_BYTES);
    if (body === undefined) return text(413, "payload too large");
    const params = new URLSearchParams(body);
    const url = new URL(request.url);
    const origin = publicOrigin(request, config.publicUrl);
    const signed = await verifySignature(
      signingKey,
      request.headers.get("x-twilio-signature"),
      signedUrlCandidates(origin + url.pathname + url.search),
      params,
    );
    if (!signed) {
      refusal("warn", "webhook.rejected", {
        path: url.pathname,
        reason: "invalid signature",
      });
      return text(403, "invalid signature");
    }
    return params;
  };

  const healthz: Handler = () =>
    Response.json({
      status: draining ? "draining" : "ok",
      calls: calls.live.size,
      uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
      // Public like the rest: the model id and its date are no secret.
      model,
    });

  const incomingCall: Handler = async (request) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const callSid = params.get("CallSid");
    if (!callSid) return text(400, "missing CallSid");
    if (draining) {
      logger.log("info", "webhook.refused", { callSid, reason: "draining" });
      return twimlResponse(sayAndHangUpTwiml(RESTARTING_MESSAGE));
    }
    if (calls.load >= config.maxConcurrentCalls) {
      logger.log("warn", "webhook.refused", { callSid, reason: "busy" });
      return twimlResponse(sayAndHangUpTwiml(BUSY_MESSAGE));
    }
    const { token, claims } = await mintStreamToken(
      tokenKey,
      callSid,
      config.streamTokenTtlSeconds,
    );
    // Open the Realtime session now, while Twilio fetches the TwiML and
    // connects the stream, so the caller's first words do not wait for it.
    calls.prewarm(claims);
    const caller = params.get("From") ?? "";
    logger.log("info", "webhook.accepted", {
      callSid,
      caller: maskNumber(caller),
    });
    const origin = publicOrigin(request, config.publicUrl);
    return twimlResponse(
      connectStreamTwiml(
        `${websocketOrigin(origin)}/media-stream/${token}`,
        { caller },
        `${origin}/call-ended`,
      ),
    );
  };

  /** Twilio comes here when the stream closed and the call is still up. */
  const callEnded: Handler = async (request) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const callSid = params.get("CallSid") ?? "";
    const deadline = Date.now() + CALL_END_WAIT_MS;
    let outcome = (await journal.get(callSid))?.record.outcome;
    while (!outcome && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      outcome = (await journal.get(callSid))?.record.outcome;
    }
    const clean = outcome === "assistant_ended" || outcome === "limit" ||
      outcome === "caller_hung_up";
    logger.log("info", "call.continued", {
      callSid,
      outcome: outcome ?? "unknown",
    });
    return twimlResponse(
      clean ? sayAndHangUpTwiml() : sayAndHangUpTwiml(APOLOGY_MESSAGE),
    );
  };

  const mediaStream: Handler = async (request, match) => {
    const token = match.pathname.groups.token ?? "";
    // Cheap checks first (no I/O), so floods of bad tokens cost little.
    const readable = await readStreamToken(tokenKey, token);
    if (!readable.ok) {
      rejectedStream(`token ${readable.reason}`);
      return text(401, "invalid stream token");
    }
    const { callSid, source } = readable.claims;
    if (source === "browser") {
      // The browser softphone: the owner's session replaces Twilio's signature.
      if (!admin?.allows(request)) {
        rejectedStream("no admin session", callSid);
        return text(403, "forbidden");
      }
    } else {
      const url = new URL(request.url);
      const bare = (websocketOrigin(publicOrigin(request, config.publicUrl)) +
        url.pathname).replace(/\/$/, "");
      const signed = await verifySignature(
        signingKey,
        request.headers.get("x-twilio-signature"),
        [bare, `${bare}/`].flatMap(signedUrlCandidates),
      );
      if (!signed) {
        rejectedStream("invalid signature", callSid);
        return text(403, "invalid signature");
      }
    }
    // Only a real upgrade may spend the token.
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return text(426, "expected a WebSocket upgrade");
    }
    const consumed = await consumeStreamToken(tokenKey, usedTokens, token);
    if (!consumed.ok) {
      rejectedStream(`token ${consumed.reason}`, callSid);
      return text(401, "invalid stream token");
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    calls.start(socket, consumed.claims);
    return response;
  };

  const rejectedStream = (reason: string, callSid?: string) =>
    refusal("warn", "stream.rejected", { reason, callSid });

  // --- The owner's pages (ADMIN_TOKEN) ----------------------------------

  /** Wraps an owner-only handler: 404 without ADMIN_TOKEN, 401 without a session. */
  const owner =
    (handle: Handler, kind: "html" | "json"): Handler => (request, match) => {
      if (!admin) return text(404, "not found");
      if (admin.allows(request)) return handle(request, match);
      return kind === "json"
        ? privateJson({ error: "unauthorized" }, 401)
        : privateHtml(
          loginPage(new URL(request.url).pathname),
          401,
          { "www-authenticate": 'Bearer realm="assistant"' },
        );
    };

  const login: Handler = async (request) => {
    if (!admin) return text(404, "not found");
    const form = new URLSearchParams(
      await readLimitedText(request, 4096) ?? "",
    );
    const next = safeNext(form.get("next"));
    if (!admin.isToken(form.get("token") ?? "")) {
      logger.log("warn", "admin.login_failed");
      return privateHtml(loginPage(next, "That token is not right."), 401);
    }
    const secure = publicOrigin(request, config.publicUrl).startsWith("https:");
    return new Response(null, {
      status: 303,
      headers: {
        location: next,
        "set-cookie": admin.sessionCookie(secure),
        "cache-control": "no-store",
      },
    });
  };

  const logout: Handler = () =>
    new Response(null, {
      status: 303,
      headers: { location: "/calls", "set-cookie": clearedSessionCookie() },
    });

  const listCalls: Handler = async () =>
    privateHtml(callsPage(await journal.list(), model));
  const showCall: Handler = async (_request, match) => {
    const call = await journal.get(match.pathname.groups.callSid ?? "");
    return call ? privateHtml(callPage(call.record, call.lines)) : privateHtml(
      "<!doctype html><title>Not found</title><p>No such call.</p>",
      404,
    );
  };
  const listCallsJson: Handler = async () =>
    privateJson({ calls: await journal.list() });
  const showCallJson: Handler = async (_request, match) => {
    const call = await journal.get(match.pathname.groups.callSid ?? "");
    return call ? privateJson(call) : privateJson({ error: "not found" }, 404);
  };

  const phone: Handler = () => privateHtml(phonePage());
  const worklet: Handler = () =>
    new Response(phoneWorklet(), {
      headers: { "content-type": "text/javascript; charset=utf-8" },
    });

  /** A single-use stream token for the browser softphone. */
  const phoneToken: Handler = async (request) => {
    if (draining || calls.load >= config.maxConcurrentCalls) {
      return privateJson({ error: draining ? "restarting" : "busy" }, 503);
    }
    const callSid = `BR${crypto.randomUUID().replaceAll("-", "")}`;
    const { token, claims } = await mintStreamToken(
      tokenKey,
      callSid,
      config.streamTokenTtlSeconds,
      Date.now(),
      "browser",
    );
    calls.prewarm(claims);
    logger.log("info", "phone.token", { callSid });
    const origin = websocketOrigin(publicOrigin(request, config.publicUrl));
    return privateJson({
      callSid,
      streamUrl: `${origin}/media-stream/${token}`,
    });
  };

  const route = (method: string, pathname: string, handle: Handler) =>
    [method, new URLPattern({ pathname }), handle] as const;
  const routes = [
    route("GET", "/healthz", healthz),
    route("POST", "/incoming-call", incomingCall),
    route("POST", "/call-ended", callEnded),
    route("GET", "/media-stream/:token{/}?", mediaStream),
    route("POST", "/login", login),
    route("POST", "/logout", logout),
    route("GET", "/calls", owner(listCalls, "html")),
    route("GET", "/calls/:callSid", owner(showCall, "html")),
    route("GET", "/api/calls", owner(listCallsJson, "json")),
    route("GET", "/api/calls/:callSid", owner(showCallJson, "json")),
    route("GET", "/phone", owner(phone, "html")),
    route("GET", "/phone/worklet.js", worklet),
    route("POST", "/phone/token", owner(phoneToken, "json")),
  ];

  const close = async () => {
    draining = true;
    stopModelCheck.abort();
    await modelCheck;
    await calls.close();
    await journal.flushed();
  };

  return {
    calls,
    journal,
    modelCheck,
    close,
    async drain(seconds) {
      draining = true;
      await calls.drain(seconds);
    },
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

/**
 * The URLs Twilio may have signed for a request. With PUBLIC_URL unset and
 * a proxy that terminates TLS without X-Forwarded-Proto, the server cannot
 * see the scheme Twilio used, so both are tried; host, path, query and
 * params stay bound by the HMAC either way.
 */
function signedUrlCandidates(url: string): string[] {
  const swapped = url.replace(
    /^(https?|wss?):/,
    (scheme) =>
      ({ "https:": "http:", "http:": "https:", "wss:": "ws:", "ws:": "wss:" })[
        scheme
      ]!,
  );
  return [url, swapped];
}

/** Only same-site paths after login: no open redirect. */
function safeNext(next: string | null): string {
  return next && /^\/(?!\/)[A-Za-z0-9/_-]*$/.test(next) ? next : "/calls";
}

/** "+14155550123" → "+1415•••0123": enough to recognise, not to dial. */
function maskNumber(number: string): string {
  if (number.length <= 8) return number.replace(/\d(?=\d{2})/g, "•");
  return number.slice(0, 5) + "•".repeat(number.length - 9) +
    number.slice(-4);
}
