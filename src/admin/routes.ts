/**
 * The owner's side (ADMIN_TOKEN): sign-in, the call journal as pages and
 * JSON, and the browser softphone with its single-use stream tokens.
 */

import type { Admission } from "../admission.ts";
import type { Calls } from "../call/calls.ts";
import type { Config } from "../config.ts";
import type { Budget } from "../cost/budget.ts";
import type { SpendLedger } from "../cost/spend.ts";
import {
  privateHtml,
  privateJson,
  readLimitedText,
  text,
} from "../http/responses.ts";
import { clientAddress, type Handler } from "../http/router.ts";
import type { CallJournal } from "../journal/journal.ts";
import type { Logger, LogLine } from "../log.ts";
import { phonePage, phoneWorklet } from "../phone/page.ts";
import { publicOrigin, websocketOrigin } from "../public_url.ts";
import type { ConfiguredModelStatus } from "../upstream/model_record.ts";
import { mintStreamToken } from "../stream_token.ts";
import { type AdminAuth, clearedSessionCookie } from "./auth.ts";
import type { LoginThrottle } from "./login_throttle.ts";
import { isSameOrigin } from "./same_origin.ts";
import type { CallerPin } from "../twilio/caller_pin.ts";
import { callPage, callsPage, loginPage } from "./pages.ts";

/**
 * Wraps owner-only handlers: 404 without ADMIN_TOKEN, and without a session
 * a login page (html) or a 401 (json).
 */
export function ownerGuard(
  admin: AdminAuth | undefined,
  publicUrl: string | undefined,
): {
  html(handle: Handler): Handler;
  json(handle: Handler): Handler;
} {
  const guard =
    (handle: Handler, kind: "html" | "json"): Handler =>
    async (request, match) => {
      if (!admin) return text(404, "not found");
      // Every change must come from the owner's own pages (or a script).
      if (request.method !== "GET" && !isSameOrigin(request, publicUrl)) {
        return kind === "json"
          ? privateJson({ error: "cross-origin request" }, 403)
          : privateHtml(
            "<!doctype html><p>Cross-origin request refused.</p>",
            403,
          );
      }
      if (await admin.allows(request)) return handle(request, match);
      return kind === "json"
        ? privateJson({ error: "unauthorized" }, 401)
        : privateHtml(
          loginPage(new URL(request.url).pathname),
          401,
          { "www-authenticate": 'Bearer realm="assistant"' },
        );
    };
  return {
    html: (handle) => guard(handle, "html"),
    json: (handle) => guard(handle, "json"),
  };
}

export interface OwnerOptions {
  config: Config;
  logger: Logger;
  admin: AdminAuth | undefined;
  journal: CallJournal;
  calls: Calls;
  admission: Admission;
  tokenKey: CryptoKey;
  /** The start-up model look-up as it stands: /calls warns of a shutdown date. */
  models: () => readonly ConfiguredModelStatus[];
  /** Spending by day: /calls shows today and month to date. */
  spend: SpendLedger;
  /** DAILY_BUDGET_USD: the softphone is refused like a phone call once it is spent. */
  budget?: Budget;
  /** Failed sign-ins per client address and overall. */
  loginThrottle: LoginThrottle;
  /** Rate-limited: refused sign-ins can come in floods. */
  refusal: LogLine;
  /** CALLER_PIN: /calls shows the hours it refused calls after too many wrong PINs. */
  callerPin?: CallerPin;
}

/** The owner's handlers; those behind `ownerGuard` assume a signed-in owner. */
export function ownerHandlers(options: OwnerOptions) {
  const { config, logger, admin, journal } = options;

  const login: Handler = async (request) => {
    if (!admin) return text(404, "not found");
    const address = clientAddress(request);
    const throttle = options.loginThrottle;
    if (throttle.blocked(address)) {
      await request.body?.cancel();
      options.refusal("warn", "admin.login_throttled");
      return new Response("too many failed sign-ins: try again later\n", {
        status: 429,
        headers: {
          "content-type": "text/plain; charset=utf-8",
          "retry-after": String(throttle.retryAfterSeconds(address)),
        },
      });
    }
    const form = new URLSearchParams(
      await readLimitedText(request, 4096) ?? "",
    );
    const next = safeNext(form.get("next"));
    if (!admin.isToken(form.get("token") ?? "")) {
      throttle.failed(address);
      options.refusal("warn", "admin.login_failed");
      return privateHtml(loginPage(next, "That token is not right."), 401);
    }
    throttle.succeeded(address);
    const secure = publicOrigin(request, config.server.publicUrl).startsWith(
      "https:",
    );
    return new Response(null, {
      status: 303,
      headers: {
        location: next,
        "set-cookie": await admin.startSession(secure),
        "cache-control": "no-store",
      },
    });
  };

  const logout: Handler = async (request) => {
    // From another site, a logout would only be a nuisance: refused too.
    if (!isSameOrigin(request, config.server.publicUrl)) {
      return text(403, "cross-origin request");
    }
    await admin?.endSession(request);
    return new Response(null, {
      status: 303,
      headers: { location: "/calls", "set-cookie": clearedSessionCookie() },
    });
  };

  const spending = async () => {
    const now = Date.now();
    const [todayMicroUsd, monthToDateMicroUsd] = await Promise.all([
      options.spend.day(now),
      options.spend.monthToDate(now),
    ]);
    return {
      todayMicroUsd,
      monthToDateMicroUsd,
      budgetMicroUsd: config.cost.dailyBudgetMicroUsd,
    };
  };

  const listCalls: Handler = async () =>
    privateHtml(
      callsPage(
        await journal.list(),
        options.models(),
        await spending(),
        await options.callerPin?.lockouts(),
      ),
    );

  const showCall: Handler = async (_request, match) => {
    const call = await journal.get(match.pathname.groups.callSid ?? "");
    return call ? privateHtml(callPage(call.record, call.lines)) : privateHtml(
      "<!doctype html><title>Not found</title><p>No such call.</p>",
      404,
    );
  };

  const listCallsJson: Handler = async () =>
    privateJson({
      calls: await journal.list(),
      spending: await spending(),
      pinLockouts: await options.callerPin?.lockouts() ?? [],
    });

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
    const refused = options.admission.refusal();
    if (refused) {
      return privateJson(
        { error: refused === "draining" ? "restarting" : "busy" },
        503,
      );
    }
    if (await options.budget?.reached()) {
      return privateJson({ error: "over budget" }, 503);
    }
    const callSid = `BR${crypto.randomUUID().replaceAll("-", "")}`;
    const { token, claims } = await mintStreamToken(
      options.tokenKey,
      callSid,
      config.calls.streamTokenTtlSeconds,
      Date.now(),
      "browser",
    );
    options.calls.prewarm(claims);
    logger.log("info", "phone.token", { callSid });
    const origin = websocketOrigin(
      publicOrigin(request, config.server.publicUrl),
    );
    return privateJson({
      callSid,
      streamUrl: `${origin}/media-stream/${token}`,
    });
  };

  return {
    login,
    logout,
    listCalls,
    showCall,
    listCallsJson,
    showCallJson,
    phone,
    worklet,
    phoneToken,
  };
}

/** Only same-site paths after login: no open redirect. */
function safeNext(next: string | null): string {
  return next && /^\/(?!\/)[A-Za-z0-9/_-]*$/.test(next) ? next : "/calls";
}
