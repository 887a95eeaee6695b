/**
 * The parts of the app, built once from the configuration: the journal, the
 * calls, admission, memory, cost, outbound calling, the model check. Route
 * modules take the parts they need; `drain` and `close` end them in order.
 */

import { Admission } from "./admission.ts";
import { AdminAuth } from "./admin/auth.ts";
import { LoginThrottle } from "./admin/login_throttle.ts";
import { CallContexts } from "./call/call_context.ts";
import { Calls, type CallWatcher } from "./call/calls.ts";
import { CallLeases } from "./call/lease.ts";
import { Verdicts } from "./call/verdicts.ts";
import type { Config } from "./config.ts";
import { Budget } from "./cost/budget.ts";
import { priceUsage } from "./cost/pricing.ts";
import { SpendLedger } from "./cost/spend.ts";
import { addUsage, type UsageReport } from "./cost/usage.ts";
import { JobQueue } from "./jobs/queue.ts";
import { CallJournal } from "./journal/journal.ts";
import { liveEngine } from "./live/mod.ts";
import { type Logger, rateLimited } from "./log.ts";
import { Instances } from "./instances.ts";
import { Memory } from "./memory/memory.ts";
import { Summarizer } from "./memory/summarizer.ts";
import {
  checkModel,
  type ConfiguredModelStatus,
} from "./upstream/model_record.ts";
import { configuredModels } from "./realtime/configured_models.ts";
import { realtimeEngine } from "./realtime/mod.ts";
import { importTokenKey, KvUsedTokenStore } from "./stream_token.ts";
import { zapierToolSource } from "./mcp/zapier_client.ts";
import { endCall } from "./tools/end_call.ts";
import { forgetTool } from "./tools/forget.ts";
import { rememberTool } from "./tools/remember.ts";
import { CallerPin, WRONG_PINS_PER_HOUR } from "./twilio/caller_pin.ts";
import { importSigningKey } from "./twilio/signature.ts";
import { Outbound } from "./outbound/outbound.ts";
import type { CronRegistrar } from "./outbound/outbound.ts";

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
  /** How long a request body may take to arrive (default 15 s; tests shorten it). */
  bodyDeadlineMs?: number;
  /** How often DIGEST_SMS looks for a call's summary (default 30 s). */
  digestCheckEveryMs?: number;
}

/** How often calls whose instance died are looked for (on a heartbeat). */
const SWEEP_EVERY_MS = 5_000;

/** The model look-up is advice, not a dependency: it gives up soon. */
const MODEL_LOOKUP_TIMEOUT_MS = 5000;

export type Services = Awaited<ReturnType<typeof startServices>>;

export async function startServices(options: AppOptions) {
  const { config, logger, kv } = options;
  const signingKey = await importSigningKey(config.twilio.authToken);
  const tokenKey = await importTokenKey(config.twilio.authToken);
  const admin = config.admin.token === undefined
    ? undefined
    : new AdminAuth(config.admin.token, kv);
  const jobs = new JobQueue(kv, logger);
  const spend = new SpendLedger(kv, config.assistant.timeZone);
  const memory = config.memory.enabled
    ? new Memory(kv, config.memory.days)
    : undefined;
  // A summary is made from the journal's transcript: none without one.
  const summarize = memory !== undefined && config.journal.transcripts;
  let summarizer: Summarizer | undefined;
  const journal = new CallJournal(kv, {
    retentionDays: config.journal.retentionDays,
    transcripts: config.journal.transcripts,
    logger,
    prices: config.cost.prices,
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
      // The Responses API lives beside the Realtime API, whichever engine talks.
      endpoint: config.realtime.url,
      apiKey: config.openai.apiKey,
      model: config.memory.summaryModel,
      timeZone: config.assistant.timeZone,
      ...options.summary,
    });
  }
  const budget = config.cost.dailyBudgetMicroUsd === undefined
    ? undefined
    : new Budget({
      ledger: spend,
      limitMicroUsd: config.cost.dailyBudgetMicroUsd,
      prices: config.cost.prices,
      logger,
    });
  // GPT-Live cannot call remote MCP servers: the server is Zapier's client.
  const remoteTools =
    config.assistant.engine === "live" && config.zapier.password !== undefined
      ? zapierToolSource({
        url: config.zapier.url,
        password: config.zapier.password,
        allowedTools: config.zapier.allowedTools,
        timeoutMs: config.zapier.timeoutSeconds * 1000,
        logger,
      })
      : undefined;
  // Call-backs, the briefing and digest texts: only when configured.
  const outbound: Outbound | undefined = config.outbound && new Outbound({
    settings: config.outbound,
    twilioAuthToken: config.twilio.authToken,
    timeZone: config.assistant.timeZone,
    journalRetentionDays: config.journal.retentionDays,
    kv,
    jobs,
    journal,
    logger,
    cron: options.cron,
    digestCheckEveryMs: options.digestCheckEveryMs,
    draining: (): boolean => admission.draining,
    budget,
  });
  // One stream per call, resumes on any instance, and handovers.
  const instances = new Instances(kv);
  const leases = new CallLeases(
    kv,
    instances,
    config.calls.streamTokenTtlSeconds * 1000,
    { retentionDays: config.journal.retentionDays },
  );
  const contexts = new CallContexts(kv);
  const watchers: CallWatcher[] = [];
  if (budget) watchers.push((call) => budget.watch(call));
  // DIGEST_SMS: each call's summary is texted once the journal has it.
  if (outbound) {
    watchers.push((call) => ({
      ended: () => outbound.afterCall(call.callSid),
    }));
  }
  // A pre-warmed session no stream claimed was still paid for: count it.
  const unclaimedWrites = new Set<Promise<void>>();
  const unclaimed = (callSid: string, usage: UsageReport[]) => {
    const totals = usage.reduce(addUsage, {});
    const { microUsd } = priceUsage(totals, config.cost.prices);
    logger.log("info", "prewarm.unclaimed", {
      callSid,
      costMicroUsd: microUsd,
    });
    if (microUsd <= 0) return;
    const write = spend.write(
      kv.atomic(),
      `${callSid}/unclaimed`,
      Date.now(),
      microUsd,
    ).commit().then(
      () => {},
      (error) =>
        logger.log("warn", "prewarm.unclaimed_not_counted", {
          callSid,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
    unclaimedWrites.add(write);
    write.finally(() => unclaimedWrites.delete(write));
  };
  const calls = new Calls({
    config,
    unclaimed,
    logger,
    journal,
    // The voice engines by name (VOICE_ENGINE picks one), the way a route table is handed over.
    engines: { realtime: realtimeEngine, live: liveEngine(remoteTools) },
    upstreamConnectTimeoutMs: options.upstreamConnectTimeoutMs,
    tools: [
      endCall,
      ...(memory ? [rememberTool(memory.notes), forgetTool(memory.notes)] : []),
      ...(outbound?.tools ?? []),
    ],
    memory,
    watchers,
    leases,
    contexts,
    verdicts: new Verdicts(kv),
  });
  const admission = new Admission(() => calls.load, config.calls.maxConcurrent);
  const callerPin = config.callers.pin === undefined
    ? undefined
    : new CallerPin(config.callers.pin, kv, {
      onLockout: (lockout) =>
        logger.log("warn", "caller_pin.lockout", {
          wrongPins: WRONG_PINS_PER_HOUR + 1,
          refusedUntil: new Date(lockout.hourStart + 3_600_000).toISOString(),
        }),
    });
  if (config.callers.pin !== undefined && config.callers.pin.length < 6) {
    logger.log("warn", "config.caller_pin_short", {
      digits: config.callers.pin.length,
      advice: "a CALLER_PIN of 6 or more digits is much harder to guess",
    });
  }
  const model = watchModel(
    config,
    logger,
    options.modelLookupTimeoutMs ?? MODEL_LOOKUP_TIMEOUT_MS,
  );
  // What the route modules share; each takes the part it needs.
  return {
    config,
    logger,
    // Refused requests can come in floods: their log lines are rate-limited.
    refusal: rateLimited(logger, 5),
    signingKey,
    tokenKey,
    usedTokens: new KvUsedTokenStore(kv),
    instances,
    leases,
    admin,
    loginThrottle: new LoginThrottle(),
    journal,
    calls,
    admission,
    callerPin,
    model: model.current,
    models: model.all,
    memory,
    spend,
    budget,
    jobs,
    outbound,
    modelCheck: model.done,
    /**
     * Announces this instance and, with each heartbeat, applies AMD verdicts
     * that reached another instance and closes calls whose instance died and
     * that nobody continued (as interrupted).
     */
    async startHeartbeat(): Promise<void> {
      let sweptAt = Date.now();
      await instances.start(async () => {
        // AMD's verdict on a call here may have reached another instance.
        await calls.applyVerdicts();
        if (Date.now() - sweptAt < SWEEP_EVERY_MS) return;
        sweptAt = Date.now();
        await leases.sweep(async (lease) => {
          logger.log("warn", "call.interrupted", { callSid: lease.callSid });
          await journal.finish(lease.callSid, true);
          await contexts.delete(lease.callSid);
        });
      }, () => calls.load > 0);
    },
    /**
     * Stops new calls. With another live instance known, each live call is
     * handed over to it at a quiet moment; else live calls go on for up to
     * `seconds` and what is left is handed over then.
     */
    async drain(seconds: number): Promise<void> {
      admission.drain();
      await instances.drain();
      if (await instances.others() > 0) {
        logger.log("info", "server.handing_over", { calls: calls.live.size });
        await calls.handOver();
      }
      await calls.drain(seconds);
      await instances.stop();
      await Promise.all([...unclaimedWrites]);
      // The last calls' summaries are queued; one being made now is left to
      // KV, which delivers it again after the restart.
      await journal.flushed();
      await budget?.settled();
      await summarizer?.close();
    },
    /** Ends every call and closes every upstream socket at once. */
    async close(): Promise<void> {
      admission.drain();
      model.stop();
      await model.done;
      await calls.close();
      await instances.stop();
      await Promise.all([...unclaimedWrites]);
      await remoteTools?.close();
      await journal.flushed();
      await budget?.settled();
      await summarizer?.close();
      await outbound?.close();
    },
  };
}

/** Looks up every configured model's record, on the host of the endpoint that uses it. */
function watchModel(config: Config, logger: Logger, timeoutMs: number) {
  const models = configuredModels(config);
  const statuses: ConfiguredModelStatus[] = models.map((
    { endpoint: _, ...model },
  ) => ({ ...model, lookup: "pending", shutdownDate: null }));
  const voice = () => {
    const { id, lookup, shutdownDate } = statuses[0];
    return { id, lookup, shutdownDate };
  };
  const cancel = new AbortController();
  const done = Promise.all(statuses.map((model, i) =>
    checkModel({
      endpoint: models[i].endpoint,
      model: model.id,
      variable: model.variable,
      apiKey: config.openai.apiKey,
      timeoutMs,
      signal: cancel.signal,
      logger,
    }).then((result) => statuses[i] = { ...model, ...result })
  )).then(voice);
  return {
    /** The voice model's status (what /healthz's `model` shows). */
    current: voice,
    all: (): readonly ConfiguredModelStatus[] => statuses,
    done,
    stop: () => cancel.abort(),
  };
}
