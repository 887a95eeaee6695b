/**
 * The outbound settings (call-backs, the daily briefing, digest texts):
 * read and validated with the rest of the configuration (src/config.ts),
 * into the one start-up ConfigError. Outbound is off when none of the
 * variables that switch it on is set.
 */

import { plainOnlyToLoopback } from "../loopback_url.ts";
import { normalizeE164 } from "./phone_numbers.ts";
import { type LocalTime, parseLocalTime } from "./zoned_time.ts";

export const OUTBOUND_VARIABLES = [
  "OWNER_NUMBERS",
  "TWILIO_ACCOUNT_SID",
  "TWILIO_FROM_NUMBER",
  "TWILIO_API_URL",
  "BRIEFING_AT",
  "BRIEFING_DAYS",
  "CALLBACK_RETRY_MINUTES",
  "DIGEST_SMS",
  "SCHEDULED_CALLS_MAX_PENDING",
  "SCHEDULED_CALLS_MAX_PER_DAY",
  "SCHEDULED_CALLS_MIN_GAP_MINUTES",
] as const;

export type OutboundVariable = typeof OUTBOUND_VARIABLES[number];

export const BRIEFING_DAYS = ["weekdays", "daily"] as const;
export type BriefingDays = typeof BRIEFING_DAYS[number];

export const DEFAULT_TWILIO_API_URL = "https://api.twilio.com";

export interface BriefingSettings {
  /** Local time in ASSISTANT_TIMEZONE. */
  at: LocalTime;
  days: BriefingDays;
}

export interface OutboundSettings {
  accountSid: string;
  /** The Twilio number calls and texts come from. */
  fromNumber: string;
  /** The only numbers ever dialled or texted; the first is the default. */
  ownerNumbers: readonly string[];
  /** Twilio's REST origin (a local stand-in in tests). */
  apiUrl: string;
  /** PUBLIC_URL: Twilio fetches the call's TwiML and posts its status here. */
  publicUrl: string;
  /** A call not answered (no-answer, busy, failed) is tried once more after this. */
  retryMinutes: number;
  /** Undefined: no daily briefing call. */
  briefing: BriefingSettings | undefined;
  /** Text the owner each call's summary once the journal has one. */
  digestSms: boolean;
  /** How many scheduled calls may wait, how many a day, how far apart. */
  caps: ScheduleCaps;
}

export interface ScheduleCaps {
  /** At most this many calls waiting to be dialled. */
  maxPending: number;
  /** At most this many calls placed on one day (ASSISTANT_TIMEZONE), the briefing included. */
  maxPerDay: number;
  /** No call within this many minutes of another. */
  minGapMinutes: number;
}

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;

/**
 * Reads the outbound variables; problems go to `problems`. Undefined when
 * outbound is off (none of OWNER_NUMBERS, TWILIO_ACCOUNT_SID,
 * TWILIO_FROM_NUMBER, BRIEFING_AT, DIGEST_SMS=true set). The tuning
 * variables (TWILIO_API_URL, BRIEFING_DAYS, CALLBACK_RETRY_MINUTES) are
 * checked either way but do not switch it on: an .env copied from the
 * example may carry them.
 */
export function outboundSettings(
  read: (name: OutboundVariable) => string | undefined,
  publicUrl: string | undefined,
  problems: string[],
): OutboundSettings | undefined {
  const apiUrl = twilioApiUrl(read("TWILIO_API_URL"), problems);
  const rawDays = read("BRIEFING_DAYS")?.toLowerCase() ?? "weekdays";
  const days = BRIEFING_DAYS.find((d) => d === rawDays);
  if (!days) {
    problems.push(
      `BRIEFING_DAYS must be one of ${
        BRIEFING_DAYS.join(", ")
      } (got "${rawDays}")`,
    );
  }
  const retryMinutes = retryDelay(read("CALLBACK_RETRY_MINUTES"), problems);
  const cap = (
    name: OutboundVariable,
    fallback: number,
    min: number,
    max: number,
  ) => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (Number.isInteger(value) && value >= min && value <= max) return value;
    problems.push(
      `${name} must be a whole number from ${min} to ${max} (got "${raw}")`,
    );
    return fallback;
  };
  const caps: ScheduleCaps = {
    maxPending: cap("SCHEDULED_CALLS_MAX_PENDING", 10, 1, 100),
    maxPerDay: cap("SCHEDULED_CALLS_MAX_PER_DAY", 10, 1, 100),
    minGapMinutes: cap("SCHEDULED_CALLS_MIN_GAP_MINUTES", 10, 0, 720),
  };
  const digestSms = digestFlag(read("DIGEST_SMS"), problems);
  const rawBriefing = read("BRIEFING_AT");
  const briefingAt = rawBriefing === undefined
    ? undefined
    : parseLocalTime(rawBriefing);
  if (rawBriefing !== undefined && briefingAt === undefined) {
    problems.push(
      `BRIEFING_AT must be a 24-hour time such as 07:30 (got "${rawBriefing}")`,
    );
  }

  const rawOwners = read("OWNER_NUMBERS");
  const accountSid = read("TWILIO_ACCOUNT_SID");
  const rawFrom = read("TWILIO_FROM_NUMBER");
  const on = rawOwners !== undefined || accountSid !== undefined ||
    rawFrom !== undefined || rawBriefing !== undefined || digestSms;
  if (!on) return undefined;

  const missing = [
    rawOwners === undefined ? "OWNER_NUMBERS" : undefined,
    accountSid === undefined ? "TWILIO_ACCOUNT_SID" : undefined,
    rawFrom === undefined ? "TWILIO_FROM_NUMBER" : undefined,
    publicUrl === undefined ? "PUBLIC_URL" : undefined,
  ].filter((name) => name !== undefined);
  for (const name of missing) {
    problems.push(
      `${name} is required for outbound calls (set OWNER_NUMBERS, TWILIO_ACCOUNT_SID, TWILIO_FROM_NUMBER and PUBLIC_URL, or none of the outbound variables)`,
    );
  }
  const ownerNumbers = owners(rawOwners, problems);
  if (accountSid !== undefined && !ACCOUNT_SID.test(accountSid)) {
    // The SID is not a secret, but it has no place in a log either.
    problems.push(
      "TWILIO_ACCOUNT_SID must be your account's SID: AC followed by 32 hexadecimal characters",
    );
  }
  const fromNumber = rawFrom === undefined ? undefined : normalizeE164(rawFrom);
  if (rawFrom !== undefined && fromNumber === undefined) {
    problems.push(
      `TWILIO_FROM_NUMBER must be your Twilio number in international form such as +14155550100 (got "${rawFrom}")`,
    );
  }
  if (
    accountSid === undefined || fromNumber === undefined ||
    publicUrl === undefined || ownerNumbers === undefined
  ) {
    return undefined;
  }
  return {
    accountSid,
    fromNumber,
    ownerNumbers,
    apiUrl,
    publicUrl,
    retryMinutes,
    briefing: briefingAt === undefined
      ? undefined
      : { at: briefingAt, days: days ?? "weekdays" },
    digestSms,
    caps,
  };
}

function owners(
  raw: string | undefined,
  problems: string[],
): string[] | undefined {
  if (raw === undefined) return undefined;
  const entries = raw.split(",").map((entry) => entry.trim()).filter(Boolean);
  const numbers = entries.map(normalizeE164);
  const bad = entries.filter((_, i) => numbers[i] === undefined);
  if (entries.length === 0) {
    problems.push("OWNER_NUMBERS must list at least one number");
    return undefined;
  }
  if (bad.length > 0) {
    problems.push(
      `OWNER_NUMBERS must be numbers in international form such as +14155550123, comma-separated (got ${
        bad.map((entry) => JSON.stringify(entry)).join(", ")
      })`,
    );
    return undefined;
  }
  return [...new Set(numbers.filter((n) => n !== undefined))];
}

function twilioApiUrl(raw: string | undefined, problems: string[]): string {
  if (raw === undefined) return DEFAULT_TWILIO_API_URL;
  try {
    const url = new URL(raw);
    if (
      (url.protocol === "https:" || url.protocol === "http:") &&
      url.pathname === "/" && !url.search && !url.hash
    ) {
      const before = problems.length;
      plainOnlyToLoopback("TWILIO_API_URL", url.origin, problems);
      return problems.length === before ? url.origin : DEFAULT_TWILIO_API_URL;
    }
  } catch {
    // Reported below.
  }
  problems.push(
    `TWILIO_API_URL must be an origin such as ${DEFAULT_TWILIO_API_URL} (got "${raw}")`,
  );
  return DEFAULT_TWILIO_API_URL;
}

function retryDelay(raw: string | undefined, problems: string[]): number {
  if (raw === undefined) return 5;
  const minutes = Number(raw);
  // Fractions are allowed (tests use seconds); a day is the useful limit.
  if (Number.isFinite(minutes) && minutes >= 0.01 && minutes <= 1440) {
    return minutes;
  }
  problems.push(
    `CALLBACK_RETRY_MINUTES must be a number from 0.01 to 1440 (got "${raw}")`,
  );
  return 5;
}

function digestFlag(raw: string | undefined, problems: string[]): boolean {
  const value = raw?.toLowerCase();
  if (value === undefined) return false;
  if (["true", "1", "yes", "on"].includes(value)) return true;
  if (["false", "0", "no", "off"].includes(value)) return false;
  problems.push(`DIGEST_SMS must be true or false (got "${raw}")`);
  return false;
}
