/**
 * DIGEST_SMS: after a call, the owner gets its summary by text. Summaries
 * are made after the call by another job and land on the journal record
 * (`summary`), so a queued check waits for one: it texts once the summary is
 * there, checks again a little later while it is still being made, and
 * gives up when there will be none. A per-call claim in KV makes it one
 * text, whatever the queue delivers twice.
 */

import type { JobQueue } from "../jobs/queue.ts";
import type { CallJournal, CallRecord } from "../journal/journal.ts";
import { isRecord } from "../json.ts";
import type { Logger } from "../log.ts";
import type { MessageRequest, MessageResource } from "../twilio/rest_client.ts";
import { localParts } from "./zoned_time.ts";

export const DIGEST_SMS_JOB = "digest_sms";
/** How long between looks for the summary, and how many looks. */
export const DIGEST_CHECK_EVERY_MS = 30_000;
export const DIGEST_MAX_CHECKS = 20;
/** Twilio splits long texts; one summary should not cost ten segments. */
const MAX_BODY_CHARS = 1000;

export interface DigestOptions {
  kv: Deno.Kv;
  journal: CallJournal;
  jobs: JobQueue;
  twilio: { sendMessage(message: MessageRequest): Promise<MessageResource> };
  from: string;
  /** The owner's (first) number. */
  to: string;
  timeZone: string;
  logger: Logger;
  checkEveryMs?: number;
}

/** Where the record's summary stands: its text, still to come, or none to wait for. */
export type SummaryReading =
  | { state: "ready"; text: string }
  | { state: "pending" }
  | { state: "none" };

/**
 * Reads `summary` from a stored record, parsed at the edge: a plain string,
 * or `{status, text}` (status "done" with text; "pending"/"retrying" still
 * to come; anything else: none).
 */
export function readSummary(record: CallRecord): SummaryReading {
  const summary: unknown = (record as { summary?: unknown }).summary;
  if (typeof summary === "string") {
    return summary.trim() ? { state: "ready", text: summary.trim() } : {
      state: "none",
    };
  }
  if (!isRecord(summary)) return { state: "pending" };
  if (typeof summary.text === "string" && summary.text.trim()) {
    return { state: "ready", text: summary.text.trim() };
  }
  return summary.status === "pending" || summary.status === "retrying"
    ? { state: "pending" }
    : { state: "none" };
}

export class DigestTexts {
  readonly #options: DigestOptions;

  constructor(options: DigestOptions) {
    this.#options = options;
  }

  /** A call ended: its summary will be texted once the journal has it. */
  async afterCall(callSid: string): Promise<void> {
    await this.#options.jobs.enqueue(
      DIGEST_SMS_JOB,
      { callSid, check: 1 },
      this.#options.checkEveryMs ?? DIGEST_CHECK_EVERY_MS,
    );
  }

  /** The queue job: text the summary if it is there, else look again later. */
  async run(payload: Record<string, unknown>): Promise<void> {
    const { journal, jobs, logger } = this.#options;
    const callSid = typeof payload.callSid === "string"
      ? payload.callSid
      : undefined;
    const check = typeof payload.check === "number" ? payload.check : 1;
    if (!callSid) return;
    const call = await journal.get(callSid);
    if (!call) return;
    const summary = readSummary(call.record);
    if (summary.state === "pending" && check < DIGEST_MAX_CHECKS) {
      await jobs.enqueue(
        DIGEST_SMS_JOB,
        { callSid, check: check + 1 },
        this.#options.checkEveryMs ?? DIGEST_CHECK_EVERY_MS,
      );
      return;
    }
    if (summary.state !== "ready") {
      logger.log("info", "digest.no_summary", { callSid });
      return;
    }
    await this.#send(call.record, summary.text);
  }

  async #send(record: CallRecord, summary: string): Promise<void> {
    const { kv, twilio, from, to, logger } = this.#options;
    const claim = ["digest_sms_sent", record.callSid];
    const claimed = await kv.atomic()
      .check({ key: claim, versionstamp: null })
      .set(claim, Date.now(), { expireIn: 7 * 86_400_000 })
      .commit();
    if (!claimed.ok) return;
    try {
      const message = await twilio.sendMessage({
        to,
        from,
        body: this.#body(record, summary),
      });
      logger.log("info", "digest.sent", {
        callSid: record.callSid,
        messageSid: message.sid,
      });
    } catch (error) {
      // One text at most: a failure is logged, not retried into a duplicate.
      logger.log("error", "digest.failed", {
        callSid: record.callSid,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  #body(record: CallRecord, summary: string): string {
    const local = localParts(record.startedAt, this.#options.timeZone);
    const time = `${String(local.hour).padStart(2, "0")}:${
      String(local.minute).padStart(2, "0")
    }`;
    const kind = record.outbound ? "Call from your assistant" : "Your call";
    const text = `${kind} at ${time}: ${summary}`;
    return text.length > MAX_BODY_CHARS
      ? `${text.slice(0, MAX_BODY_CHARS - 1)}…`
      : text;
  }
}
