/**
 * The HTTP app: a function from Request to Response, wired from a route
 * table. All three security layers end here: only a Twilio-signed webhook
 * mints a stream token (src/twilio/webhooks.ts), and only a signed upgrade
 * with an unused, unexpired token becomes a call (src/call/stream_route.ts).
 */

import { Admission } from "./admission.ts";
import { AdminAuth } from "./admin/auth.ts";
import { memoryHandlers } from "./admin/memory_routes.ts";
import { ownerGuard, ownerHandlers } from "./admin/routes.ts";
import { Calls, type CallWatcher } from "./call/calls.ts";
import { mediaStreamHandler } from "./call/stream_route.ts";
import type { Config } from "./config.ts";
import { Budget } from "./cost/budget.ts";
import { SpendLedger } from "./cost/spend.ts";
import { healthHandler } from "./health.ts";
import { route, router } from "./http/router.ts";
import { JobQueue } from "./jobs/queue.ts";
import { CallJournal } from "./journal/journal.ts";
import { type Logger, rateLimited } from "./log.ts";
import { Memory } from "./memory/memory.ts";
import { Summarizer } from "./memory/summarizer.ts";
import { checkModel, type ModelStatus } from "./realtime/model_record.ts";
import { importTokenKey, KvUsedTokenStore } from "./stream_token.ts";
import { zapierToolSource } from "./mcp/zapier_client.ts";
import { endCall } from "./tools/end_call.ts";
import { forgetTool } from "./tools/forget.ts";
import { rememberTool } from "./tools/remember.ts";
import { importSigningKey } from "./twilio/signature.ts";
import { webhookHandlers } from "./twilio/webhooks.ts";
import { outboundWebhookHandlers } from "./twilio/outbound_webhooks.ts";
import { type CronRegistrar, Outbound } from "./outbound/outbound.ts";
import { scheduledCallHandlers } from "./admin/scheduled_calls_routes.ts";

// What callers hear when a call is refused or ends badly; the tests check them.
export {
  APOLOGY_MESSAGE,
  BUSY_MESSAGE,
  RESTARTING_MESSAGE,
} from "./twilio/webhooks.ts";
export { BUDGET_MESSAGE } from "./cost/budget.ts";

export interface AppOptions {
  config: Config;
  logger: Logger;
  /** Stream tokens' single use and the call journal. */
  kv: Deno.Kv;
  /** Milliseconds allowed for the upstream handshake. */
  upstreamConnectTimeoutMs?: number;
  /** Milliseconds allowed for the start-up model look-up (default 5000). */
  modelLookupTimeoutMs?: number;
  /** The summary job's timing (tests shorten it; see src/memory/summarizer.ts). */
  summary?: { timeoutMs?: number; retryDelayMs?: number; maxAttempts?: number };
  /** Registers the daily briefing's cron (default Deno.cron; tests fire their own). */
  cron?: CronRegistrar;
  /** How often DIGEST_SMS looks for a call's summary (default 30 s). */
  digestCheckEveryMs?: number;
}

export interface App {
  handler(request: Request): Promise<Response>;
  calls: Calls;
  journal: CallJournal;
  /**
   * Background jobs (call summaries, ...). Whoever owns the KV handle starts
   * `jobs.listen()` and, after closing KV, awaits what it returned: the
   * listener ends only with KV.
   */
  jobs: JobQueue;
  /** Notes and summaries; undefined with MEMORY=false. */
  memory: Memory | undefined;
  /** What was spent, by day (/calls, the budget). */
  spend: SpendLedger;
  /** Calls the server places (call-backs, the briefing); undefined when not configured. */
  outbound: Outbound | undefined;
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
  const jobs = new JobQueue(kv, logger);
  const spend = new SpendLedger(kv, config.assistantTimezone);
  const memory = config.memory ? new Memory(kv, config.memoryDays) : undefined;
  // A summary is made from the journal's transcript: none without one.
  const summarize = memory !== undefined && config.journalTranscripts;
  let summarizer: Summarizer | undefined;
  const journal = new CallJournal(kv, {
    retentionDays: config.journalRetentionDays,
    transcripts: config.journalTranscripts,
    logger,
    prices: config.prices,
    spend,
    afterEnd: summarize
      ? (record) => summarizer?.schedule(record) ?? Promise.resolve()
      : undefined,
  });
  if (summarize) {
    summarizer = new Summarizer({
      kv,
      queue: jobs,
      journal,
      memory,
      logger,
      endpoint: config.voiceEngine === "live"
        ? config.openaiLiveUrl
        : config.openaiRealtimeUrl,
      apiKey: config.openaiApiKey,
      model: config.summaryModel,
      timeZone: config.assistantTimezone,
      ...options.summary,
    });
  }
  const budget = config.dailyBudgetMicroUsd === undefined
    ? undefined
    : new Budget({
      ledger: spend,
      limitMicroUsd: config.dailyBudgetMicroUsd,
      prices: config.prices,
      logger,
    });
  // GPT-Live cannot call remote MCP servers: the server is Zapier's client.
  const remoteTools =
    config.voiceEngine === "live" && config.zapierMcpPassword !== undefined
      ? zapierToolSource({
        url: config.zapierMcpUrl,
        password: config.zapierMcpPassword,
        allowedTools: config.zapierMcpAllowedTools,
        timeoutMs: config.zapierMcpTimeoutSeconds * 1000,
        logger,
      })
      : undefined;
  // Call-backs, the briefing and digest texts: only when configured.
  const outbound: Outbound | undefined = config.outbound && new Outbound({
    settings: config.outbound,
    twilioAuthToken: config.twilioAuthToken,
    timeZone: config.assistantTimezone,
    journalRetentionDays: config.journalRetentionDays,
    kv,
    jobs,
    journal,
    logger,
    cron: options.cron,
    digestCheckEveryMs: options.digestCheckEveryMs,
    draining: (): boolean => admission.draining,
  });
  const watchers: CallWatcher[] = [];
  if (budget) watchers.push((call) => budget.watch(call));
  // DIGEST_SMS: each call's summary is texted once the journal has it.
  if (outbound) {
    watchers.push((call) => ({
      ended: () => outbound.afterCall(call.callSid),
    }));
  }
  const calls = new Calls({
    config,
    logger,
    journal,
    upstreamConnectTimeoutMs: options.upstreamConnectTimeoutMs,
    remoteTools,
    tools: [
      endCall,
      ...(memory ? [rememberTool(memory.notes), forgetTool(memory.notes)] : []),
      ...(outbound?.tools ?? []),
    ],
    memory,
    watchers,
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
    memory,
    spend,
    budget,
  };
  const twilio = webhookHandlers(parts);
  const owner = ownerGuard(admin);
  const pages = ownerHandlers(parts);
  const memoryPages = memoryHandlers(parts);
  const scheduled = scheduledCallHandlers(outbound);
  const placed = outbound &&
    outboundWebhookHandlers({
      ...parts,
      publicUrl: config.publicUrl,
      streamTokenTtlSeconds: config.streamTokenTtlSeconds,
      dialler: outbound.dialler,
    });

  const handler = router([
    route("GET", "/healthz", healthHandler(parts)),
    route("POST", "/incoming-call", twilio.incomingCall),
    route("POST", "/call-ended", twilio.callEnded),
    route(
      "GET",
      "/media-stream/:token{/}?",
      mediaStreamHandler({
        ...parts,
        openingFor: outbound && ((callSid) => outbound.openingFor(callSid)),
      }),
    ),
    // Calls this server places: their TwiML and status callbacks (signed).
    ...(placed
      ? [
        route("POST", "/outbound-call/:id", placed.twiml),
        route("POST", "/outbound-status/:id", placed.status),
      ]
      : []),
    route("POST", "/login", pages.login),
    route("POST", "/logout", pages.logout),
    route("GET", "/calls", owner.html(pages.listCalls)),
    route("GET", "/calls/:callSid", owner.html(pages.showCall)),
    route("GET", "/api/calls", owner.json(pages.listCallsJson)),
    // Before /api/calls/:callSid, which would take "scheduled" for a sid.
    route("GET", "/api/calls/scheduled", owner.json(scheduled.listJson)),
    route("POST", "/api/calls/scheduled", owner.json(scheduled.createJson)),
    route(
      "DELETE",
      "/api/calls/scheduled/:id",
      owner.json(scheduled.cancelJson),
    ),
    route("GET", "/api/calls/:callSid", owner.json(pages.showCallJson)),
    route("GET", "/memory", owner.html(memoryPages.memoryPage)),
    route("POST", "/memory/notes", owner.html(memoryPages.addNoteForm)),
    route(
      "POST",
      "/memory/notes/:id/delete",
      owner.html(memoryPages.deleteNoteForm),
    ),
    route(
      "POST",
      "/memory/summaries/:id/delete",
      owner.html(memoryPages.deleteSummaryForm),
    ),
    route("GET", "/api/memory", owner.json(memoryPages.memoryJson)),
    route("POST", "/api/memory/notes", owner.json(memoryPages.addNoteJson)),
    route(
      "DELETE",
      "/api/memory/notes/:id",
      owner.json(memoryPages.deleteNoteJson),
    ),
    route(
      "DELETE",
      "/api/memory/summaries/:id",
      owner.json(memoryPages.deleteSummaryJson),
    ),
    route("GET", "/phone", owner.html(scheduled.phone)),
    route("POST", "/phone/calls", owner.html(scheduled.scheduleForm)),
    route("POST", "/phone/calls/:id/cancel", owner.html(scheduled.cancelForm)),
    route("GET", "/phone/worklet.js", pages.worklet),
    route("POST", "/phone/token", owner.json(pages.phoneToken)),
  ], logger);

  return {
    handler,
    calls,
    journal,
    jobs,
    memory,
    spend,
    outbound,
    modelCheck: model.done,
    async drain(seconds) {
      admission.drain();
      await calls.drain(seconds);
      // The last calls' summaries are queued; one being made now is left to
      // KV, which delivers it again after the restart.
      await journal.flushed();
      await budget?.settled();
      await summarizer?.close();
    },
    async close() {
      admission.drain();
      model.stop();
      await model.done;
      await calls.close();
      await remoteTools?.close();
      await journal.flushed();
      await budget?.settled();
      await summarizer?.close();
      await outbound?.close();
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
