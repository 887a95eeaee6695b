/**
 * Wall-clock time in the owner's zone (ASSISTANT_TIMEZONE), with Intl only:
 * an instant's local date and time, and a local date and time's instant,
 * correct across daylight-saving changes.
 */

import type { LocalTime } from "../config/fields.ts";

export type { LocalTime };

export interface LocalDate {
  year: number;
  /** 1 to 12. */
  month: number;
  day: number;
}

export interface LocalDateTime extends LocalDate, LocalTime {
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short",
    });
    formatters.set(timeZone, format);
  }
  return format;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** The owner's wall clock at `epochMs`. */
export function localParts(epochMs: number, timeZone: string): LocalDateTime {
  const parts: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(epochMs))) {
    parts[part.type] = part.value;
  }
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAYS.indexOf(parts.weekday),
  };
}

/** How far the zone's wall clock is ahead of UTC at `epochMs`, in ms (to the minute). */
function offsetAt(epochMs: number, timeZone: string): number {
  const local = localParts(epochMs, timeZone);
  const asUtc = Date.UTC(
    local.year,
    local.month - 1,
    local.day,
    local.hour,
    local.minute,
  );
  return asUtc - Math.floor(epochMs / 60_000) * 60_000;
}

/**
 * The instant the owner's clock shows `date` `time`. A time skipped by a
 * spring-forward change is moved on by the gap (02:30 → 03:30), and a time
 * that happens twice in the autumn is its first occurrence, as Temporal's
 * "compatible" disambiguation does.
 */
export function localToEpoch(
  date: LocalDate,
  time: LocalTime,
  timeZone: string,
): number {
  const asUtc = Date.UTC(
    date.year,
    date.month - 1,
    date.day,
    time.hour,
    time.minute,
  );
  // At most one change happens within a day either side.
  const before = offsetAt(asUtc - 86_400_000, timeZone);
  const after = offsetAt(asUtc + 86_400_000, timeZone);
  const matches = [...new Set([before, after])]
    .map((offset) => asUtc - offset)
    .filter((epoch) => {
      const local = localParts(epoch, timeZone);
      return local.hour === time.hour && local.minute === time.minute &&
        local.day === date.day;
    });
  if (matches.length > 0) return Math.min(...matches);
  // In the gap: the offset from before the change carries it past the gap.
  return asUtc - before;
}

/** The calendar date `days` after `date` (no time zone involved). */
export function addDays(date: LocalDate, days: number): LocalDate {
  const next = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return {
    year: next.getUTCFullYear(),
    month: next.getUTCMonth() + 1,
    day: next.getUTCDate(),
  };
}

/** "2026-11-30": a local date as a key (the briefing's one call a day). */
export function dateKey(date: LocalDate): string {
  return `${date.year}-${String(date.month).padStart(2, "0")}-${
    String(date.day).padStart(2, "0")
  }`;
}
