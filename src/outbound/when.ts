/**
 * "When should I call?" in the owner's words, to an instant: "in 20
 * minutes", "20:00", "8pm", "tomorrow 7:30", "friday at 9am", ISO 8601. Local
 * times are in the owner's zone (ASSISTANT_TIMEZONE), DST-correct. Pure: the
 * clock and the zone are arguments.
 */

import {
  addDays,
  type LocalDate,
  localParts,
  type LocalTime,
  localToEpoch,
} from "./zoned_time.ts";

/** KV queues delay at most 30 days, and a call-back further out is a mistake. */
export const MAX_AHEAD_MS = 30 * 86_400_000;

export type WhenResult =
  | { ok: true; at: number }
  | { ok: false; error: string };

const WEEKDAY_NAMES = [
  "sunday",
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
];

const UNIT_MS: Record<string, number> = {
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
};

const FORMAT_HINT =
  'say it like "in 20 minutes", "20:00", "8pm", "tomorrow 7:30" or "2026-12-01T08:00"';

export function parseWhen(
  text: string,
  now: number,
  timeZone: string,
): WhenResult {
  const words = text.trim().toLowerCase().replace(/\s+/g, " ").replace(
    /[.!]$/,
    "",
  );
  if (!words) return fail(`No time given: ${FORMAT_HINT}.`);
  const at = relative(words, now) ?? iso(words, timeZone) ??
    dayAndTime(words, now, timeZone);
  if (typeof at === "string") return fail(at);
  if (at === undefined) {
    return fail(`I did not understand "${text}": ${FORMAT_HINT}.`);
  }
  if (at <= now) return fail(`That time (${text}) has already passed.`);
  if (at - now > MAX_AHEAD_MS) {
    return fail("That is more than 30 days ahead: pick a sooner time.");
  }
  return { ok: true, at };
}

function fail(error: string): WhenResult {
  return { ok: false, error };
}

/** "in 20 minutes", "in an hour", "in half an hour", "in 1.5 hours". */
function relative(words: string, now: number): number | undefined {
  if (/^in half an? hour$/.test(words)) return now + 30 * 60_000;
  const match = /^in (an?|one|\d+(?:\.\d+)?) ?([a-z]+)$/.exec(words);
  const unit = match && UNIT_MS[match[2]];
  if (!match || !unit) return undefined;
  const count = /^\d/.test(match[1]) ? Number(match[1]) : 1;
  return count > 0 ? now + Math.round(count * unit) : undefined;
}

/** ISO 8601 with or without an offset; without one it is the owner's local time. */
function iso(words: string, timeZone: string): number | undefined {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})[t ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(z|[+-]\d{2}:?\d{2})?$/
      .exec(words);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, , zone] = match;
  const date = { year: Number(y), month: Number(mo), day: Number(d) };
  const time = { hour: Number(h), minute: Number(mi) };
  if (!validDate(date) || time.hour > 23 || time.minute > 59) return undefined;
  if (zone) {
    const epoch = Date.parse(words.toUpperCase().replace(" ", "T"));
    return Number.isNaN(epoch) ? undefined : epoch;
  }
  return localToEpoch(date, time, timeZone);
}

function validDate(date: LocalDate): boolean {
  const probe = new Date(Date.UTC(date.year, date.month - 1, date.day));
  return probe.getUTCMonth() === date.month - 1 &&
    probe.getUTCDate() === date.day;
}

/**
 * A time of day with an optional day: "20:00", "8pm", "tomorrow 7:30",
 * "7:30 tomorrow", "today at 8:15 pm", "friday 9am", "tonight at 8". A bare
 * time that has passed today means tomorrow; "today" that has passed is
 * refused by the caller. A string is an error to give back.
 */
function dayAndTime(
  words: string,
  now: number,
  timeZone: string,
): number | string | undefined {
  const tokens = words.replace(/,/g, " ").split(" ").filter((token) =>
    token && !["at", "on", "next", "this"].includes(token)
  );
  let day: string | undefined;
  const rest: string[] = [];
  for (const token of tokens) {
    if (isDayWord(token) && day === undefined) day = token;
    else rest.push(token);
  }
  const clock = rest.join(" ");
  const time = clock === "" && day === "tonight"
    ? undefined
    : timeOfDay(clock, day === "tonight");
  if (typeof time === "string" || time === undefined) return time;
  const today = localParts(now, timeZone);
  const atOn = (date: LocalDate) => localToEpoch(date, time, timeZone);
  if (day === "today" || day === "tonight") return atOn(today);
  if (day === "tomorrow") return atOn(addDays(today, 1));
  if (day !== undefined) {
    const weekday = WEEKDAY_NAMES.findIndex((name) => name.startsWith(day));
    for (let ahead = 0; ahead <= 7; ahead++) {
      const date = addDays(today, ahead);
      const epoch = atOn(date);
      if ((today.weekday + ahead) % 7 === weekday && epoch > now) return epoch;
    }
  }
  const todayAt = atOn(today);
  return todayAt > now ? todayAt : atOn(addDays(today, 1));
}

function isDayWord(token: string): boolean {
  return ["today", "tonight", "tomorrow"].includes(token) ||
    (token.length >= 3 &&
      WEEKDAY_NAMES.some((name) =>
        name === token || name.slice(0, 3) === token ||
        name.slice(0, 4) === token
      ));
}

/** "20:00", "8pm", "8 pm", "8:30pm", "8.30 a.m.", "noon", "midnight"; a string is an error. */
function timeOfDay(
  clock: string,
  evening: boolean,
): LocalTime | string | undefined {
  if (clock === "noon" || clock === "midday") return { hour: 12, minute: 0 };
  if (clock === "midnight") return { hour: 0, minute: 0 };
  const match = /^(\d{1,2})(?:[:.h](\d{2}))? ?(am|pm|a\.m|p\.m|a\.m\.|p\.m\.)?$/
    .exec(clock);
  if (!match) return undefined;
  let hour = Number(match[1]);
  const minute = match[2] === undefined ? 0 : Number(match[2]);
  const meridiem = match[3]?.[0];
  if (minute > 59) return undefined;
  if (meridiem) {
    if (hour < 1 || hour > 12) return undefined;
    hour = hour % 12 + (meridiem === "p" ? 12 : 0);
  } else if (evening && hour >= 1 && hour < 12) {
    hour += 12;
  } else if (match[2] === undefined) {
    // "at 8" could be morning or evening: better to ask than to guess.
    return `"${clock}" could be morning or evening: say 8am, 8pm or 20:00.`;
  }
  if (hour > 23) return undefined;
  return { hour, minute };
}

/**
 * The instant in the words the assistant repeats to the owner: "today at
 * 8:00 pm", "tomorrow at 7:30 am", "on Friday 4 December at 9:00 am", with
 * "(in 20 minutes)" when it is close.
 */
export function describeWhen(
  at: number,
  now: number,
  timeZone: string,
): string {
  const local = localParts(at, timeZone);
  const today = localParts(now, timeZone);
  const tomorrow = addDays(today, 1);
  const same = (a: LocalDate, b: LocalDate) =>
    a.year === b.year && a.month === b.month && a.day === b.day;
  const day = same(local, today)
    ? "today"
    : same(local, tomorrow)
    ? "tomorrow"
    : `on ${
      new Intl.DateTimeFormat("en-GB", {
        timeZone,
        weekday: "long",
        day: "numeric",
        month: "long",
      }).format(new Date(at))
    }`;
  const hour12 = local.hour % 12 === 0 ? 12 : local.hour % 12;
  const time = `${hour12}:${String(local.minute).padStart(2, "0")} ${
    local.hour < 12 ? "am" : "pm"
  }`;
  const minutes = Math.round((at - now) / 60_000);
  const soon = minutes <= 90
    ? ` (in ${minutes} minute${minutes === 1 ? "" : "s"})`
    : "";
  return `${day} at ${time}${soon}`;
}
