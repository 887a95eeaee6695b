/**
 * The daily briefing call. Deno.cron takes UTC schedules and knows no time
 * zones, so instead of converting BRIEFING_AT to a UTC schedule (which
 * would drift by an hour at every DST change) a cron runs every minute and
 * asks the owner's clock: is it BRIEFING_AT (or up to half an hour after,
 * for a restart across it) on a briefing day, and has today's briefing not
 * been placed yet? The per-day claim is set in the same KV commit as the
 * call and its queued job, so with several instances, or after a restart,
 * there is one briefing a day. A BRIEFING_AT skipped by a spring-forward
 * change happens when the clock resumes (02:30 → 03:30); one repeated in
 * the autumn happens the first time.
 */

import type { Logger } from "../log.ts";
import { BRIEFING_TOPIC } from "./opening.ts";
import type { CallScheduler } from "./scheduler.ts";
import type { BriefingSettings } from "../config/outbound.ts";
import { dateKey, localParts, localToEpoch } from "./zoned_time.ts";

/** Every minute, in UTC: the owner's clock is checked in the handler. */
export const BRIEFING_CRON_SCHEDULE = "* * * * *";
export const BRIEFING_CRON_NAME = "daily-briefing-call";
/** A briefing missed by more than this (server down) waits for tomorrow. */
export const BRIEFING_GRACE_MS = 30 * 60_000;

/** The owner's date ("2026-11-30") when a briefing is due at `now`; undefined otherwise. */
export function briefingDue(
  now: number,
  briefing: BriefingSettings,
  timeZone: string,
): string | undefined {
  const today = localParts(now, timeZone);
  const weekend = today.weekday === 0 || today.weekday === 6;
  if (briefing.days === "weekdays" && weekend) return undefined;
  const due = localToEpoch(today, briefing.at, timeZone);
  return now >= due && now < due + BRIEFING_GRACE_MS
    ? dateKey(today)
    : undefined;
}

export interface BriefingOptions {
  scheduler: CallScheduler;
  briefing: BriefingSettings;
  timeZone: string;
  logger: Logger;
  now?: () => number;
}

export class DailyBriefing {
  readonly #options: BriefingOptions;
  readonly #now: () => number;

  constructor(options: BriefingOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The cron's handler: places today's briefing call if it is due and not yet placed. */
  async tick(): Promise<void> {
    const { scheduler, briefing, timeZone, logger } = this.#options;
    const now = this.#now();
    const day = briefingDue(now, briefing, timeZone);
    if (day === undefined) return;
    try {
      const result = await scheduler.schedule({
        when: now,
        topic: BRIEFING_TOPIC,
        requestedBy: { by: "briefing" },
        once: ["briefing_calls", day],
      });
      if (result.ok) {
        logger.log("info", "briefing.scheduled", { day, id: result.call.id });
      }
    } catch (error) {
      // Nothing was committed: the next minute's tick tries again.
      logger.log("warn", "briefing.failed", {
        day,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
