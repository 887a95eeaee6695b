/**
 * Asking for a call: the time in the owner's words (or an instant), the
 * topic, and which of the owner's numbers; checked, stored and queued in one
 * commit. The model (schedule_call), the /phone form, the API and the
 * briefing all come through here, so one set of rules holds for all.
 */

import type { JobQueue } from "../jobs/queue.ts";
import type { RequestedBy } from "../journal/outbound_calls.ts";
import type { Logger } from "../log.ts";
import { MAX_TOPIC_CHARS } from "./opening.ts";
import type { OwnerNumbers } from "./phone_numbers.ts";
import type { ScheduledCall, ScheduledCalls } from "./scheduled_calls.ts";
import { localDay } from "../cost/spend.ts";
import type { ScheduleCaps } from "../config/outbound.ts";
import {
  describeWhen,
  MAX_AHEAD_MS,
  parseWhen,
  type WhenResult,
} from "./when.ts";

/** The KV queue job that dials a scheduled call: `{id, attempt}`. */
export const OUTBOUND_CALL_JOB = "outbound_call";

export interface ScheduleRequest {
  /** The owner's words ("8pm tomorrow"), or an instant the server chose (epoch ms). */
  when: string | number;
  topic: string;
  /** One of the owner's numbers; default: the number of the call asking, else the first. */
  to?: string;
  requestedBy: RequestedBy;
  /** Scheduled only if this key is absent, set in the same commit (once a day). */
  once?: Deno.KvKey;
}

export type ScheduleResult =
  | { ok: true; call: ScheduledCall; when: string }
  /** `cap`: refused by a SCHEDULED_CALLS_* limit, not for what was asked. */
  | { ok: false; error: string; cap?: true };

export type CancelResult =
  | { ok: true; call: ScheduledCall; when: string }
  | { ok: false; error: string; status: "not_found" | "too_late" };

export interface SchedulerOptions {
  store: ScheduledCalls;
  jobs: JobQueue;
  owners: OwnerNumbers;
  timeZone: string;
  logger: Logger;
  /** Limits on what may be scheduled (SCHEDULED_CALLS_*). */
  caps: ScheduleCaps;
  /** The number a call came from (the journal), to call the owner back there. */
  callerOf?: (callSid: string) => Promise<string | undefined>;
  now?: () => number;
}

export class CallScheduler {
  readonly #options: SchedulerOptions;
  readonly #now: () => number;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get timeZone(): string {
    return this.#options.timeZone;
  }

  /** The words for an instant, as the assistant should repeat them. */
  describe(at: number): string {
    return describeWhen(at, this.#now(), this.#options.timeZone);
  }

  /** The owner's words ("8pm", "tomorrow 7:30") as an instant after `now`. */
  instant(words: string, now: number): WhenResult {
    return parseWhen(words, now, this.#options.timeZone);
  }

  async schedule(request: ScheduleRequest): Promise<ScheduleResult> {
    const { store, jobs, owners, logger } = this.#options;
    const now = this.#now();
    const topic = request.topic.trim().replace(/\s+/g, " ");
    if (!topic) return { ok: false, error: "Say what the call is about." };
    if (topic.length > MAX_TOPIC_CHARS) {
      return {
        ok: false,
        error: `Keep the topic under ${MAX_TOPIC_CHARS} characters.`,
      };
    }
    let to = owners.primary;
    if (request.to !== undefined && request.to.trim() !== "") {
      const owner = owners.find(request.to);
      if (!owner) {
        // Whatever the model (or a script) asks: only the owner is dialled.
        logger.log("warn", "outbound.refused_number", {
          requestedBy: request.requestedBy.by,
        });
        return {
          ok: false,
          error:
            "Refused: I can only call my owner's own numbers, never anyone else.",
        };
      }
      to = owner;
    } else if (request.requestedBy.by === "model") {
      const caller = await this.#options.callerOf?.(
        request.requestedBy.callSid,
      );
      to = (caller && owners.find(caller)) || owners.primary;
    }
    const at = typeof request.when === "number"
      ? checkInstant(request.when, now)
      : parseWhen(request.when, now, this.#options.timeZone);
    if (!at.ok) return at;
    const created = await store.create(
      {
        to,
        topic,
        requestedBy: request.requestedBy,
        createdAt: now,
        at: at.at,
        dueAt: at.at,
        attempt: 1,
        state: "scheduled",
        callSids: [],
      },
      (atomic, stored) =>
        jobs.enqueueWith(
          atomic,
          OUTBOUND_CALL_JOB,
          { id: stored.id, attempt: 1 },
          stored.dueAt - now,
        ),
      request.once,
      (stored) => this.#overCap(stored, at.at),
    );
    if (!created.ok) {
      if (created.error === "once") {
        return { ok: false, error: "Already scheduled." };
      }
      logger.log("warn", "outbound.cap_reached", {
        requestedBy: request.requestedBy.by,
      });
      return { ok: false, error: created.error, cap: true };
    }
    const call = created.call;
    logger.log("info", "outbound.scheduled", {
      id: call.id,
      requestedBy: call.requestedBy.by,
      inMinutes: Math.round((call.dueAt - now) / 60_000),
    });
    return { ok: true, call, when: this.describe(call.at) };
  }

  /** Why a call at `at` would go past a cap, given the calls stored; undefined when it would not. */
  #overCap(stored: ScheduledCall[], at: number): string | undefined {
    const { maxPending, maxPerDay, minGapMinutes } = this.#options.caps;
    const { timeZone } = this.#options;
    const pending = stored.filter((call) => call.state === "scheduled");
    if (pending.length >= maxPending) {
      return `Refused: ${
        calls(maxPending)
      } already scheduled, the most allowed. Cancel one first.`;
    }
    const day = localDay(at, timeZone);
    const sameDay = stored.filter((call) =>
      call.state !== "cancelled" && call.state !== "skipped" &&
      localDay(call.at, timeZone) === day
    );
    if (sameDay.length >= maxPerDay) {
      return `Refused: ${
        calls(maxPerDay)
      } already planned for that day, the most allowed. Pick another day.`;
    }
    const gapMs = minGapMinutes * 60_000;
    const near = stored.find((call) =>
      (call.state === "scheduled" || call.state === "dialling" ||
        call.state === "calling") && Math.abs(call.dueAt - at) < gapMs
    );
    if (near) {
      return `Refused: another call is due ${
        this.describe(near.dueAt)
      }; calls must be at least ${minGapMinutes} minutes apart.`;
    }
    return undefined;
  }

  /** Cancels a call not yet being dialled (a pending retry included). */
  async cancel(id: string): Promise<CancelResult> {
    const result = await this.#options.store.transition(
      id,
      (call) => call.state === "scheduled",
      () => ({ state: "cancelled", result: "cancelled" }),
    );
    if (result.ok) {
      this.#options.logger.log("info", "outbound.cancelled", { id });
      return {
        ok: true,
        call: result.call,
        when: this.describe(result.call.dueAt),
      };
    }
    if (!result.call) {
      return { ok: false, status: "not_found", error: `No call ${id}.` };
    }
    return {
      ok: false,
      status: "too_late",
      error: result.call.state === "cancelled"
        ? "That call was already cancelled."
        : `That call can no longer be cancelled (it is ${result.call.state}).`,
    };
  }

  /** Calls still to be dialled (first tries and pending retries), soonest first. */
  async upcoming(): Promise<ScheduledCall[]> {
    return (await this.#options.store.list()).filter((call) =>
      call.state === "scheduled"
    );
  }

  list(): Promise<ScheduledCall[]> {
    return this.#options.store.list();
  }

  get(id: string): Promise<ScheduledCall | undefined> {
    return this.#options.store.get(id);
  }
}

function calls(count: number): string {
  return count === 1 ? "1 call is" : `${count} calls are`;
}

/** An instant the server chose (the briefing's "now"): a minute late still means now. */
function checkInstant(
  at: number,
  now: number,
): { ok: true; at: number } | { ok: false; error: string } {
  if (!Number.isFinite(at) || at < now - 60_000) {
    return { ok: false, error: "That time has already passed." };
  }
  if (at - now > MAX_AHEAD_MS) {
    return {
      ok: false,
      error: "That is more than 30 days ahead: pick a sooner time.",
    };
  }
  return { ok: true, at: Math.max(at, now) };
}
