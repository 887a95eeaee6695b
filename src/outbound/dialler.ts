/**
 * Placing a scheduled call and following it to its end. The queue job
 * claims the call atomically (scheduled → dialling), so with several
 * instances on one KV, or a job delivered twice, it is dialled once; a
 * cancelled call fails the claim and is never dialled. Twilio's final status
 * decides the rest: one retry after CALLBACK_RETRY_MINUTES for no-answer,
 * busy or failed, then it gives up and the journal says why.
 */

import type { JobQueue } from "../jobs/queue.ts";
import type { CallJournal } from "../journal/journal.ts";
import type {
  OutboundCall,
  OutboundCallLog,
} from "../journal/outbound_calls.ts";
import { isRecord } from "../json.ts";
import type { Logger } from "../log.ts";
import {
  type CallRequest,
  type CallResource,
  RecipientRefusedError,
  TwilioApiError,
} from "../twilio/rest_client.ts";
import {
  MAX_ATTEMPTS,
  type ScheduledCall,
  type ScheduledCalls,
} from "./scheduled_calls.ts";
import { OUTBOUND_CALL_JOB } from "./scheduler.ts";
import type { OutboundSettings } from "../config/outbound.ts";
import { describeWhen } from "./when.ts";

/** What AMD reports for anything but a person (Twilio's AnsweredBy values). */
const MACHINE_ANSWERS = new Set([
  "machine_start",
  "machine_end_beep",
  "machine_end_silence",
  "machine_end_other",
  "fax",
]);

export function isMachine(answeredBy: string | undefined): boolean {
  return answeredBy !== undefined && MACHINE_ANSWERS.has(answeredBy);
}

/** Why a call due on a spent budget was not placed (the scheduled call's result). */
export const BUDGET_SKIPPED =
  "skipped: today's budget (DAILY_BUDGET_USD) was already spent";

/** Final statuses that mean nobody picked up: worth one more try. */
const UNANSWERED: Record<string, string> = {
  "no-answer": "no answer",
  busy: "busy",
  failed: "the call failed",
};

export interface DiallerOptions {
  store: ScheduledCalls;
  calls: OutboundCallLog;
  journal: CallJournal;
  jobs: JobQueue;
  twilio: { createCall(call: CallRequest): Promise<CallResource> };
  settings: Pick<OutboundSettings, "fromNumber" | "publicUrl" | "retryMinutes">;
  timeZone: string;
  logger: Logger;
  /** True while this instance is shutting down: it leaves calls to the next one. */
  draining?: () => boolean;
  /** DAILY_BUDGET_USD: checked before every call is created. */
  budget?: { reached(): Promise<boolean> };
  now?: () => number;
}

export class Dialler {
  readonly #options: DiallerOptions;
  readonly #now: () => number;

  constructor(options: DiallerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The queue job: dials attempt `attempt` of scheduled call `id`, once. */
  async dial(payload: Record<string, unknown>): Promise<void> {
    const { store, logger } = this.#options;
    const job = readJob(payload);
    if (!job) {
      logger.log("warn", "outbound.bad_job");
      return;
    }
    if (this.#options.draining?.()) {
      // Thrown, so KV delivers the job again: to another instance, or to
      // this server once restarted (the queue is in KV, not in memory).
      throw new Error("shutting down: the call is left in the queue");
    }
    const claim = await store.transition(
      job.id,
      (call) => call.state === "scheduled" && call.attempt === job.attempt,
      () => ({ state: "dialling" }),
    );
    if (!claim.ok) {
      // Cancelled, gone, or another instance (or delivery) has it.
      logger.log("info", "outbound.not_dialled", {
        id: job.id,
        attempt: job.attempt,
        state: claim.call?.state ?? "missing",
      });
      return;
    }
    const call = claim.call;
    // A call costs as soon as it is answered: none is placed on a spent budget.
    if (await this.#options.budget?.reached()) {
      await store.transition(
        call.id,
        (current) => current.state === "dialling",
        () => ({ state: "skipped", result: BUDGET_SKIPPED }),
      );
      logger.log("warn", "outbound.skipped", {
        id: call.id,
        attempt: call.attempt,
        reason: "budget",
      });
      return;
    }
    try {
      const placed = await this.#options.twilio.createCall(
        this.#request(call),
      );
      await this.#placed(call, placed);
    } catch (error) {
      await this.#notPlaced(call, error);
    }
  }

  #request(call: ScheduledCall): CallRequest {
    const { fromNumber, publicUrl } = this.#options.settings;
    return {
      to: call.to,
      from: fromNumber,
      url: `${publicUrl}/outbound-call/${call.id}`,
      statusCallback: `${publicUrl}/outbound-status/${call.id}`,
      statusCallbackEvents: ["initiated", "ringing", "answered", "completed"],
      machineDetection: "DetectMessageEnd",
      // The assistant starts at once; a machine's verdict comes later.
      asyncAmdStatusCallback: `${publicUrl}/outbound-amd/${call.id}`,
    };
  }

  async #placed(call: ScheduledCall, placed: CallResource): Promise<void> {
    const { store, calls, logger } = this.#options;
    // From here the CallSid is one this server created: the webhooks accept it.
    await calls.created({
      callSid: placed.sid,
      scheduledId: call.id,
      to: call.to,
      topic: call.topic,
      requestedBy: call.requestedBy,
      attempt: call.attempt,
      dialledAt: this.#now(),
      status: placed.status,
    });
    await store.transition(
      call.id,
      (current) => current.state === "dialling",
      (current) => ({
        state: "calling",
        callSids: [...current.callSids, placed.sid],
      }),
    );
    logger.log("info", "outbound.dialled", {
      id: call.id,
      callSid: placed.sid,
      attempt: call.attempt,
    });
  }

  async #notPlaced(call: ScheduledCall, error: unknown): Promise<void> {
    const { logger } = this.#options;
    const reason = error instanceof RecipientRefusedError
      ? "refused: not one of the owner's numbers"
      : error instanceof Error
      ? error.message
      : String(error);
    logger.log("error", "outbound.dial_failed", {
      id: call.id,
      attempt: call.attempt,
      error: reason,
      ...(error instanceof TwilioApiError
        ? { status: error.status, code: error.code }
        : {}),
    });
    // Only a refusal Twilio itself says may pass is tried again: after a
    // lost answer the call may have been placed, and twice is worse than once.
    const retry = error instanceof TwilioApiError && error.retryable &&
      call.attempt < MAX_ATTEMPTS;
    if (retry) {
      await this.#retry(call.id, call.attempt, reason);
      return;
    }
    await this.#options.store.transition(
      call.id,
      (current) => current.state === "dialling",
      () => ({ state: "failed", result: reason }),
    );
  }

  /** Attempt `attempt` is over without a conversation: queue the next one. */
  async #retry(id: string, attempt: number, reason: string): Promise<string> {
    const now = this.#now();
    const dueAt = now + this.#options.settings.retryMinutes * 60_000;
    const result = `${reason}: trying again ${
      describeWhen(dueAt, now, this.#options.timeZone)
    }`;
    const moved = await this.#options.store.transition(
      id,
      (call) =>
        (call.state === "dialling" || call.state === "calling") &&
        call.attempt === attempt,
      (call) => ({
        state: "scheduled",
        attempt: call.attempt + 1,
        dueAt,
        result,
      }),
      (atomic, next) =>
        this.#options.jobs.enqueueWith(atomic, OUTBOUND_CALL_JOB, {
          id,
          attempt: next.attempt,
        }, dueAt - now),
    );
    if (moved.ok) {
      this.#options.logger.log("info", "outbound.retry_scheduled", {
        id,
        attempt: moved.call.attempt,
      });
    }
    return result;
  }

  /** The call this server placed with this CallSid; undefined for any other. */
  find(callSid: string): Promise<OutboundCall | undefined> {
    return this.#options.calls.get(callSid);
  }

  /**
   * The TwiML request came: AMD's verdict, and `result` when the call will
   * not reach the assistant for another reason (the server is busy).
   * Undefined for a CallSid this server did not create.
   */
  answered(
    callSid: string,
    answeredBy: string,
    result?: string,
  ): Promise<OutboundCall | undefined> {
    return this.#options.calls.update(callSid, () => ({
      answeredBy,
      status: "in-progress",
      ...(result === undefined ? {} : { result }),
    }));
  }

  /**
   * A status callback for one of this server's calls; a final status
   * settles it: a retry or giving up, or what happened, in the journal.
   */
  async statusChanged(callSid: string, status: string): Promise<void> {
    const { calls, journal, logger } = this.#options;
    const call = await calls.update(callSid, () => ({ status }));
    if (!call) return;
    const unanswered = UNANSWERED[status];
    let result: string;
    if (unanswered !== undefined) {
      if (call.attempt < MAX_ATTEMPTS) {
        result = await this.#retry(call.scheduledId, call.attempt, unanswered);
      } else {
        result = `${unanswered} on all ${MAX_ATTEMPTS} tries: gave up`;
        await this.#settle(call, result);
        logger.log("warn", "outbound.gave_up", {
          id: call.scheduledId,
          callSid,
          status,
        });
      }
    } else if (status === "completed" || status === "canceled") {
      // A result set when it was answered (turned away as busy) stands.
      result = call.result ??
        (status === "canceled"
          ? "cancelled before it was answered"
          : call.answeredBy === "fax"
          ? "a fax machine answered: hung up"
          : isMachine(call.answeredBy)
          ? "left a voicemail"
          : "talked");
      await this.#settle(call, result);
    } else {
      return;
    }
    await calls.update(callSid, () => ({ result }));
    // A call the assistant took is in the journal already (its stream).
    if (result !== "talked") {
      await journal.recordUnconnected({
        callSid,
        to: call.to,
        startedAt: call.dialledAt,
        reason: result,
      });
    }
    logger.log("info", "outbound.finished", {
      id: call.scheduledId,
      callSid,
      status,
      answeredBy: call.answeredBy,
    });
  }

  async #settle(call: OutboundCall, result: string): Promise<void> {
    await this.#options.store.transition(
      call.scheduledId,
      (current) =>
        (current.state === "calling" || current.state === "dialling") &&
        current.attempt === call.attempt,
      () => ({ state: "done", result }),
    );
  }
}

function readJob(
  payload: Record<string, unknown>,
): { id: string; attempt: number } | undefined {
  if (
    !isRecord(payload) || typeof payload.id !== "string" ||
    typeof payload.attempt !== "number"
  ) {
    return undefined;
  }
  return { id: payload.id, attempt: payload.attempt };
}
