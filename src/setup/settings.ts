/**
 * What `deno task setup` reads from the environment, validated into one
 * object, or one plain sentence saying what to fix (never a secret).
 */

import { CONFIG_TABLE } from "../config/table.ts";
import { normalizeE164 } from "../e164.ts";

export const SETUP_VARIABLES = [
  "TWILIO_ACCOUNT_SID",
  "TWILIO_AUTH_TOKEN",
  "TWILIO_FROM_NUMBER",
  "PUBLIC_URL",
  "ALLOWED_NUMBERS",
  "OWNER_NUMBERS",
  "REJECT_REASON",
] as const;

export type SetupVariable = typeof SETUP_VARIABLES[number];

export interface SetupSettings {
  accountSid: string;
  authToken: string;
  /** The Twilio number to set up, E.164. */
  number: string;
  /** The server's public https origin. */
  publicUrl: string;
  /** Who may call, E.164 (ALLOWED_NUMBERS, else OWNER_NUMBERS). */
  allowedNumbers: string[];
  rejectReason: "rejected" | "busy";
}

/** A problem with the configuration or at Twilio, as one sentence for the owner. */
export class SetupError extends Error {
  override readonly name = "SetupError";
}

const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;
/** Twilio's limit on one environment variable's value. */
const MAX_VARIABLE_BYTES = 450;

export function readSetupSettings(
  read: (name: SetupVariable) => string | undefined,
): SetupSettings {
  const value = (name: SetupVariable) => read(name)?.trim() || undefined;
  const required = [
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER",
    "PUBLIC_URL",
  ] as const;
  const missing: string[] = required.filter((name) => !value(name));
  if (!value("ALLOWED_NUMBERS") && !value("OWNER_NUMBERS")) {
    missing.push("OWNER_NUMBERS (or ALLOWED_NUMBERS)");
  }
  if (missing.length > 0) {
    throw new SetupError(
      `Set ${missing.join(", ")} in .env first (see .env.example).`,
    );
  }
  const accountSid = value("TWILIO_ACCOUNT_SID")!;
  if (!ACCOUNT_SID.test(accountSid)) {
    throw new SetupError(
      "TWILIO_ACCOUNT_SID must be your account SID, AC and 32 hex digits, from the Twilio Console's Account Info.",
    );
  }
  const number = normalizeE164(value("TWILIO_FROM_NUMBER")!);
  if (number === undefined) {
    throw new SetupError(
      "TWILIO_FROM_NUMBER must be your Twilio number in international form, e.g. +14155550123.",
    );
  }
  const publicUrl = httpsOrigin(value("PUBLIC_URL")!);
  // The server's own entries (src/config/table.ts): one list, one parser.
  const list = value("ALLOWED_NUMBERS")
    ? CONFIG_TABLE.callers.variables.allowedNumbers
    : CONFIG_TABLE.outbound.variables.ownerNumbers;
  const listName = list.name;
  const parsed = list.field(value(listName)!, listName);
  if (!("value" in parsed) || parsed.value === undefined) {
    throw new SetupError(
      `${"problems" in parsed ? parsed.problems[0] : listName}.`,
    );
  }
  const allowedNumbers = parsed.value;
  if (
    new TextEncoder().encode(allowedNumbers.join(",")).length >
      MAX_VARIABLE_BYTES
  ) {
    throw new SetupError(
      `${listName} is longer than the ${MAX_VARIABLE_BYTES} bytes a Twilio Function variable may hold.`,
    );
  }
  const rejectReason = value("REJECT_REASON") ?? "rejected";
  if (rejectReason !== "rejected" && rejectReason !== "busy") {
    throw new SetupError("REJECT_REASON must be rejected or busy.");
  }
  return {
    accountSid,
    authToken: value("TWILIO_AUTH_TOKEN")!,
    number,
    publicUrl,
    allowedNumbers,
    rejectReason,
  };
}

/** Twilio only redirects to https, and only to a host it can reach. */
function httpsOrigin(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    url = new URL("invalid:");
  }
  if (
    url.protocol !== "https:" ||
    (url.pathname !== "/" && url.pathname !== "") ||
    url.search !== "" || url.hash !== ""
  ) {
    throw new SetupError(
      "PUBLIC_URL must be the server's public https origin with no path, e.g. https://assistant.example.com: Twilio sends callers only to https.",
    );
  }
  if (LOOPBACK.test(url.hostname)) {
    throw new SetupError(
      "PUBLIC_URL names this machine, which Twilio cannot reach: use the public https origin of your tunnel or host (docs/deploying.md).",
    );
  }
  return url.origin;
}
