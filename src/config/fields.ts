/**
 * The field parsers every configuration variable is read with: a set value
 * (trimmed, never blank) in, a typed value or the problems out. A problem
 * reads "<NAME> must …"; a secret's value is never put in one.
 */

import { normalizeE164 } from "../e164.ts";

/** A wall-clock time of day. */
export interface LocalTime {
  hour: number;
  minute: number;
}

export type Parsed<T> = { value: T } | { problems: string[] };

/** Parses one set variable; `name` is only for the problem text. */
export type Field<T> = (raw: string, name: string) => Parsed<T>;

function refused(name: string, must: string): { problems: string[] } {
  return { problems: [`${name} must ${must}`] };
}

/** The value as given. */
export const text: Field<string> = (raw) => ({ value: raw });

/** A value of at least `min` characters, never echoed in a problem. */
export function secret(min = 1): Field<string> {
  return (raw, name) =>
    raw.length >= min
      ? { value: raw }
      : refused(name, `be at least ${min} characters`);
}

export function number(
  { min, max, integer }: { min: number; max: number; integer: boolean },
): Field<number> {
  return (raw, name) => {
    const value = Number(raw);
    if (
      Number.isFinite(value) && (!integer || Number.isInteger(value)) &&
      value >= min && value <= max
    ) {
      return { value };
    }
    return refused(
      name,
      `be ${
        integer ? "a whole number" : "a number"
      } from ${min} to ${max} (got "${raw}")`,
    );
  };
}

/** Dollars as whole micro-dollars, so sums compare exactly with priced calls. */
export function microDollars(
  { min, max }: { min: number; max: number },
): Field<number> {
  const dollars = number({ min, max, integer: false });
  return (raw, name) => {
    const parsed = dollars(raw, name);
    return "value" in parsed
      ? { value: Math.round(parsed.value * 1_000_000) }
      : parsed;
  };
}

const TRUE = ["true", "1", "yes", "on"];
const FALSE = ["false", "0", "no", "off"];

export const flag: Field<boolean> = (raw, name) => {
  const word = raw.toLowerCase();
  if (TRUE.includes(word)) return { value: true };
  if (FALSE.includes(word)) return { value: false };
  return refused(name, `be true or false (got "${raw}")`);
};

/** One of `values`; `anyCase` accepts "Daily" for "daily". */
export function oneOf<const T extends string>(
  values: readonly T[],
  { anyCase = false }: { anyCase?: boolean } = {},
): Field<T> {
  return (raw, name) => {
    const word = anyCase ? raw.toLowerCase() : raw;
    const value = values.find((v) => v === word);
    return value !== undefined
      ? { value }
      : refused(name, `be one of ${values.join(", ")} (got "${word}")`);
  };
}

const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

/** The secure protocol of each plain one. */
const SECURE: Record<string, string> = { "http:": "https:", "ws:": "wss:" };

/**
 * A plain (ws:, http:) URL anywhere but this machine: a key travels in its
 * headers, so it must not cross a network unencrypted. Undefined when fine.
 */
function plainOffLoopback(
  parsed: URL,
  name: string,
): { problems: string[] } | undefined {
  const secure = SECURE[parsed.protocol];
  if (secure === undefined || LOOPBACK_HOSTS.includes(parsed.hostname)) {
    return undefined;
  }
  return refused(
    name,
    `start with ${secure}// (${parsed.protocol}// only for a server on this machine: localhost, 127.0.0.1 or [::1])`,
  );
}

/**
 * A URL with one of `protocols`; a plain one (ws:, http:) only to a server
 * on this machine. `noQuery`: why the URL may have no query string.
 */
export function url(
  protocols: string[],
  { noQuery }: { noQuery?: string } = {},
): Field<string> {
  return (raw, name) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return refused(name, `be a URL (got "${raw}")`);
    }
    if (!protocols.includes(parsed.protocol)) {
      return refused(
        name,
        `start with ${protocols.map((p) => `${p}//`).join(" or ")}`,
      );
    }
    const plain = plainOffLoopback(parsed, name);
    if (plain) return plain;
    return noQuery !== undefined && parsed.search
      ? refused(name, `have no query string: ${noQuery}`)
      : { value: raw };
  };
}

/**
 * An http(s) origin such as `example`, normalised ("https://Host:443/" →
 * "https://host"). `plainOnLoopback`: it is dialled with a key, so http://
 * only to this machine (PUBLIC_URL is not dialled: any host).
 */
export function origin(
  example: string,
  { plainOnLoopback = false }: { plainOnLoopback?: boolean } = {},
): Field<string> {
  return (raw, name) => {
    try {
      const parsed = new URL(raw);
      if (
        (parsed.protocol === "https:" || parsed.protocol === "http:") &&
        parsed.pathname === "/" && !parsed.search && !parsed.hash
      ) {
        const plain = plainOnLoopback && plainOffLoopback(parsed, name);
        return plain ? plain : { value: parsed.origin };
      }
    } catch {
      // Refused below.
    }
    return refused(
      name,
      `be an origin such as ${example} (no path or query; got "${raw}")`,
    );
  };
}

/**
 * Model ids as OpenAI spells them ("gpt-realtime-2.1-mini",
 * "gpt-realtime-2025-08-28"). Anything else would be a typo, or would break
 * the URL path of the start-up model lookup.
 */
export const MODEL_NAME = /^[A-Za-z0-9._-]{1,100}$/;

export function modelNameProblem(example: string, got: string): string {
  return `be a model name of letters, digits, ".", "-" and "_" such as ${example} (got "${got}")`;
}

export function modelName(example: string): Field<string> {
  return (raw, name) =>
    MODEL_NAME.test(raw)
      ? { value: raw }
      : refused(name, modelNameProblem(example, raw));
}

/** A comma list, trimmed, empty entries dropped, every entry matching `entry`. */
export function list(
  entry: RegExp,
  what: string,
  example: string,
): Field<string[]> {
  return (raw, name) => {
    const items = raw.split(",").map((item) => item.trim()).filter(Boolean);
    if (items.length === 0) {
      return refused(name, `list at least one ${what}, comma-separated`);
    }
    const bad = items.filter((item) => !entry.test(item));
    return bad.length === 0 ? { value: items } : refused(
      name,
      `be ${what}s ${example} (got ${
        bad.map((item) => JSON.stringify(item)).join(", ")
      })`,
    );
  };
}

/** One phone number, normalised to E.164. */
export const phoneNumber: Field<string> = (raw, name) => {
  const value = normalizeE164(raw);
  return value !== undefined ? { value } : refused(
    name,
    `be a number in international form such as +14155550100 (got "${raw}")`,
  );
};

/** A comma list of phone numbers in E.164, duplicates dropped. */
export const phoneNumbers: Field<string[]> = (raw, name) => {
  const entries = raw.split(",").map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) return refused(name, "list at least one number");
  const numbers = entries.map(normalizeE164);
  const bad = entries.filter((_, i) => numbers[i] === undefined);
  if (bad.length > 0) {
    return refused(
      name,
      `be numbers in international form such as +14155550123, comma-separated (got ${
        bad.map((entry) => JSON.stringify(entry)).join(", ")
      })`,
    );
  }
  return { value: [...new Set(numbers.filter((n) => n !== undefined))] };
};

/** A value matching `pattern`, not echoed (`must` says what it should be). */
export function pattern(pattern: RegExp, must: string): Field<string> {
  return (raw, name) =>
    pattern.test(raw) ? { value: raw } : refused(name, `be ${must}`);
}

export const timeZone: Field<string> = (raw, name) => {
  try {
    new Intl.DateTimeFormat("en", { timeZone: raw });
    return { value: raw };
  } catch {
    return refused(
      name,
      `be an IANA time zone such as Europe/Paris (got "${raw}")`,
    );
  }
};

/** "07:30", "7:30" → {hour: 7, minute: 30}. */
export const localTime: Field<LocalTime> = (raw, name) => {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(raw.trim());
  return match
    ? { value: { hour: Number(match[1]), minute: Number(match[2]) } }
    : refused(name, `be a 24-hour time such as 07:30 (got "${raw}")`);
};
