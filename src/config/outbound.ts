/**
 * The outbound settings (call-backs, the daily briefing, digest texts):
 * their variables are in the configuration table (src/config/table.ts);
 * this reader applies the rule that joins them, into the one start-up
 * ConfigError. Outbound is off when none of the variables that switch it
 * on is set.
 */

import type { LocalTime } from "./fields.ts";

export const BRIEFING_DAYS = ["weekdays", "daily"] as const;
export type BriefingDays = typeof BRIEFING_DAYS[number];

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

/** The outbound variables, parsed (src/config/table.ts). */
export interface OutboundValues {
  ownerNumbers: string[] | undefined;
  accountSid: string | undefined;
  fromNumber: string | undefined;
  apiUrl: string;
  briefingAt: LocalTime | undefined;
  briefingDays: BriefingDays;
  retryMinutes: number;
  digestSms: boolean;
  maxPending: number;
  maxPerDay: number;
  minGapMinutes: number;
}

/**
 * The outbound section: undefined when outbound is off (none of
 * OWNER_NUMBERS, TWILIO_ACCOUNT_SID, TWILIO_FROM_NUMBER, BRIEFING_AT set, and
 * DIGEST_SMS not true). `isSet` says which were set, valid or not. The
 * tuning variables (TWILIO_API_URL, BRIEFING_DAYS, CALLBACK_RETRY_MINUTES)
 * do not switch it on: an .env copied from the example may carry them.
 * When on, the three and PUBLIC_URL are required; problems go to `problems`.
 */
export function outboundSettings(
  values: OutboundValues,
  isSet: (name: string) => boolean,
  publicUrl: string | undefined,
  problems: string[],
): OutboundSettings | undefined {
  const switches = [
    "OWNER_NUMBERS",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_FROM_NUMBER",
  ] as const;
  const on = switches.some(isSet) || isSet("BRIEFING_AT") || values.digestSms;
  if (!on) return undefined;

  const missing = [
    ...switches.filter((name) => !isSet(name)),
    ...(publicUrl === undefined ? ["PUBLIC_URL"] : []),
  ];
  for (const name of missing) {
    problems.push(
      `${name} is required for outbound calls (set OWNER_NUMBERS, TWILIO_ACCOUNT_SID, TWILIO_FROM_NUMBER and PUBLIC_URL, or none of the outbound variables)`,
    );
  }
  const { accountSid, fromNumber, ownerNumbers, briefingAt } = values;
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
    apiUrl: values.apiUrl,
    publicUrl,
    retryMinutes: values.retryMinutes,
    briefing: briefingAt === undefined
      ? undefined
      : { at: briefingAt, days: values.briefingDays },
    digestSms: values.digestSms,
    caps: {
      maxPending: values.maxPending,
      maxPerDay: values.maxPerDay,
      minGapMinutes: values.minGapMinutes,
    },
  };
}
