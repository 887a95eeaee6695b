/**
 * The HTTP app: a function from Request to Response, wired from a route
 * table. All three security layers end here: only a Twilio-signed webhook
 * mints a stream token (src/twilio/webhooks.ts), and only a signed upgrade
 * with an unused, unexpired token becomes a call (src/call/stream_route.ts).
 */

import { Admission } from "./admission.ts";
import { AdminAuth } from "./admin/auth.ts";
import { ownerGuard, ownerHandlers } from "./admin/routes.ts";
import { Calls } from "./call/calls.ts";
import { mediaStreamHandler } from "./call/stream_route.ts";
import type { Config } from "./config.ts";
import { healthHandler } from "./health.ts";
import { route, router } from "./http/router.ts";
import { CallJournal } from "./journal/journal.ts";
import { type Logger, rateLimited } from "./log.ts";
import { checkModel, type ModelStatus } from "./realtime/model_record.ts";
import { importTokenKey, KvUsedTokenStore } from "./stream_token.ts";
import { zapierToolSource } from "./mcp/zapier_client.ts";
import { importSigningKey } from "./twilio/signature.ts";
import { webhookHandlers } from "./twilio/webhooks.ts";

// What callers hear when a call is refused or ends badly; the tests check them.
export {
  APOLOGY_MESSAGE,
  BUSY_MESSAGE,
  RESTARTING_MESSAGE,
} from "./twilio/webhooks.ts";

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

/** The model look-up is advice, not a dependency: it gives up soon. */
const MODEL_LOOKUP_TIMEOUT_MS = 5000;

export async function createApp(options: AppOptions): Promise<App> {
  const { config, logger, kv } = options;
  const signingKey = await importSigningKey(config.twilioAuthToken);
  const tokenKey = await importTokenKey(config.twilioAuthToken);
  const admin = config.adminToken === undefined
    ? undefined
    : await AdminAuth.create(config.adminToken);
  const journal = new CallJournal(kv, {
    retentionDays: config.journalRetentionDays,
    transcripts: config.journalTranscripts,
    logger,
  });
  // GPT-Live cannot call remote MCP servers: the server is Zapier's client.
  const remoteTools =
    config.voiceEngine === "live" && config.zapierMcpPassword !== undefined
      ? zapierToolSource({
        url: config.zapierMcpUrl,
        password: config.zapierMcpPassword,
        allowedTools: config.zapierMcpAllowedTools,
        logger,
      })
      : undefined;
  const calls = new Calls({
    config,
    logger,
    journal,
    upstreamConnectTimeoutMs: options.upstreamConnectTimeoutMs,
    remoteTools,
  });
  const admission = new Admission(() => calls.load, config.maxConcurrentCalls);
  const model = watchModel(
    config,
    logger,
    options.modelLookupTimeoutMs ?? MODEL_LOOKUP_TIMEOUT_MS,
  );
  // What the route modules share; each takes the part it needs.
  const parts = {
    config,
    logger,
    // Refused requests can come in floods: their log lines are rate-limited.
    refusal: rateLimited(logger, 5),
    signingKey,
    tokenKey,
    usedTokens: new KvUsedTokenStore(kv),
    admin,
    journal,
    calls,
    admission,
    model: model.current,
  };
  const twilio = webhookHandlers(parts);
  const owner = ownerGuard(admin);
  const pages = ownerHandlers(parts);

  const handler = router([
    route("GET", "/healthz", healthHandler(parts)),
    route("POST", "/incoming-call", twilio.incomingCall),
    route("POST", "/call-ended", twilio.callEnded),
    route("GET", "/media-stream/:token{/}?", mediaStreamHandler(parts)),
    route("POST", "/login", pages.login),
    route("POST", "/logout", pages.logout),
    route("GET", "/calls", owner.html(pages.listCalls)),
    route("GET", "/calls/:callSid", owner.html(pages.showCall)),
    route("GET", "/api/calls", owner.json(pages.listCallsJson)),
    route("GET", "/api/calls/:callSid", owner.json(pages.showCallJson)),
    route("GET", "/phone", owner.html(pages.phone)),
    route("GET", "/phone/worklet.js", pages.worklet),
    route("POST", "/phone/token", owner.json(pages.phoneToken)),
  ], logger);

  return {
    handler,
    calls,
    journal,
    modelCheck: model.done,
    async drain(seconds) {
      admission.drain();
      await calls.drain(seconds);
    },
    async close() {
      admission.drain();
      model.stop();
      await model.done;
      await calls.close();
      await remoteTools?.close();
      await journal.flushed();
    },
  };
}

/**
 * Starts the model look-up in the background: `current()` is what /healthz
 * and /calls show (pending until it resolves), `stop()` cancels it.
 */
function watchModel(config: Config, logger: Logger, timeoutMs: number) {
  // The engine in use: its model and its endpoint's host.
  const live = config.voiceEngine === "live";
  const id = live ? config.liveModel : config.realtimeModel;
  let status: ModelStatus = { id, lookup: "pending", shutdownDate: null };
  const cancel = new AbortController();
  const done = checkModel({
    realtimeUrl: live ? config.openaiLiveUrl : config.openaiRealtimeUrl,
    model: id,
    apiKey: config.openaiApiKey,
    timeoutMs,
    signal: cancel.signal,
    logger,
  }).then((result) => status = result);
  return {
    current: () => status,
    done,
    stop: () => cancel.abort(),
  };
}
