/**
 * Outbound calls, put together: the scheduler, the dialler and the digest
 * texts on the one job queue, the daily briefing on a cron, and the tools
 * the assistant gets. Built by createApp only when outbound is configured.
 */

import type { JobQueue } from "../jobs/queue.ts";
import type { CallJournal } from "../journal/journal.ts";
import { OutboundCallLog } from "../journal/outbound_calls.ts";
import type { Logger } from "../log.ts";
import { cancelCallTool } from "../tools/cancel_call.ts";
import { scheduleCallTool } from "../tools/schedule_call.ts";
import type { ServerTool } from "../tools/toolbox.ts";
import { TwilioRestClient } from "../twilio/rest_client.ts";
import {
  BRIEFING_CRON_NAME,
  BRIEFING_CRON_SCHEDULE,
  DailyBriefing,
} from "./briefing.ts";
import { Dialler } from "./dialler.ts";
import { DIGEST_SMS_JOB, DigestTexts } from "./digest_sms.ts";
import { outboundOpening, voicemailMessage } from "./opening.ts";
import { OwnerNumbers } from "./phone_numbers.ts";
import { ScheduledCalls } from "./scheduled_calls.ts";
import { CallScheduler, OUTBOUND_CALL_JOB } from "./scheduler.ts";
import type { OutboundSettings } from "../config/outbound.ts";

/** `Deno.cron`'s shape; tests pass their own to fire it at will. */
export type CronRegistrar = (
  name: string,
  schedule: string,
  options: { signal: AbortSignal },
  handler: () => Promise<void>,
) => Promise<void>;

export interface OutboundOptions {
  settings: OutboundSettings;
  twilioAuthToken: string;
  timeZone: string;
  journalRetentionDays: number;
  kv: Deno.Kv;
  jobs: JobQueue;
  journal: CallJournal;
  logger: Logger;
  /** Default: Deno.cron. */
  cron?: CronRegistrar;
  /** True once the server is shutting down: no new call is dialled. */
  draining?: () => boolean;
  /** DAILY_BUDGET_USD: a call due once it is spent is skipped, not dialled. */
  budget?: { reached(): Promise<boolean> };
  /** How often the digest looks for a call's summary (tests shorten it). */
  digestCheckEveryMs?: number;
}

export class Outbound {
  readonly owners: OwnerNumbers;
  readonly scheduler: CallScheduler;
  readonly dialler: Dialler;
  readonly briefing: DailyBriefing | undefined;
  readonly #digest: DigestTexts | undefined;
  readonly #calls: OutboundCallLog;
  readonly #logger: Logger;
  readonly #stopCron = new AbortController();
  #cron: Promise<void> | undefined;

  constructor(options: OutboundOptions) {
    const { settings, kv, jobs, journal, logger, timeZone } = options;
    this.#logger = logger;
    this.owners = new OwnerNumbers(settings.ownerNumbers);
    const twilio = new TwilioRestClient({
      accountSid: settings.accountSid,
      authToken: options.twilioAuthToken,
      baseUrl: settings.apiUrl,
      recipients: this.owners,
    });
    const store = new ScheduledCalls(kv);
    this.#calls = new OutboundCallLog(kv, options.journalRetentionDays);
    this.scheduler = new CallScheduler({
      store,
      jobs,
      owners: this.owners,
      timeZone,
      logger,
      caps: settings.caps,
      callerOf: async (callSid) => (await journal.get(callSid))?.record.caller,
    });
    this.dialler = new Dialler({
      store,
      calls: this.#calls,
      journal,
      jobs,
      twilio,
      settings,
      timeZone,
      logger,
      draining: options.draining,
      budget: options.budget,
    });
    jobs.on(OUTBOUND_CALL_JOB, (payload) => this.dialler.dial(payload));
    if (settings.digestSms) {
      this.#digest = new DigestTexts({
        kv,
        journal,
        jobs,
        twilio,
        from: settings.fromNumber,
        to: this.owners.primary,
        timeZone,
        logger,
        checkEveryMs: options.digestCheckEveryMs,
      });
      const digest = this.#digest;
      jobs.on(DIGEST_SMS_JOB, (payload) => digest.run(payload));
    }
    if (settings.briefing) {
      this.briefing = new DailyBriefing({
        scheduler: this.scheduler,
        briefing: settings.briefing,
        timeZone,
        logger,
      });
      const briefing = this.briefing;
      const cron = options.cron ?? Deno.cron;
      this.#cron = cron(
        BRIEFING_CRON_NAME,
        BRIEFING_CRON_SCHEDULE,
        { signal: this.#stopCron.signal },
        () => briefing.tick(),
      );
    }
  }

  /** The function tools the assistant gets: schedule_call and cancel_call. */
  get tools(): ServerTool[] {
    return [scheduleCallTool(this.scheduler), cancelCallTool(this.scheduler)];
  }

  /** What the assistant opens a call this server placed with; undefined for any other call. */
  async openingFor(callSid: string): Promise<string | undefined> {
    if (!callSid.startsWith("CA")) return undefined;
    const call = await this.#calls.get(callSid);
    return call && outboundOpening(call.topic, call.requestedBy);
  }

  /** The message Twilio reads to a voicemail box on a call this server placed; undefined for any other call. */
  async voicemailFor(callSid: string): Promise<string | undefined> {
    if (!callSid.startsWith("CA")) return undefined;
    const call = await this.#calls.get(callSid);
    // A fax gets no message, just the hang-up.
    return call && call.answeredBy !== "fax"
      ? voicemailMessage(call.topic, call.requestedBy)
      : undefined;
  }

  /** A call ended: with DIGEST_SMS, its summary is texted once there is one. */
  afterCall(callSid: string): void {
    this.#digest?.afterCall(callSid).catch((error) =>
      this.#logger.log("warn", "digest.queue_failed", {
        callSid,
        error: error instanceof Error ? error.message : String(error),
      })
    );
  }

  /** Stops the briefing cron. */
  async close(): Promise<void> {
    this.#stopCron.abort();
    await this.#cron;
  }
}
