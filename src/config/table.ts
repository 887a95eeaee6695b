/**
 * Every environment variable the server reads, one declarative entry each:
 * name, parser (with its bounds), default, one line of documentation. This
 * table is the single source of `Config`'s shape, `CONFIG_VARIABLES`,
 * `.env.example`, docs/configuration.md and the `--allow-env` lists
 * (`deno task config:docs` writes the files; tests/config_table_test.ts
 * fails when they are stale).
 *
 * To add a variable: one entry in its area below, then run
 * `deno task config:docs`. Its value is `config.<area>.<key>`.
 */

import {
  DEFAULT_PRICES,
  parsePrices,
  type PriceTable,
} from "../cost/prices.ts";
import {
  type Field,
  flag,
  list,
  localTime,
  microDollars,
  modelName,
  number,
  oneOf,
  origin,
  pattern,
  phoneNumber,
  phoneNumbers,
  secret,
  text,
  timeZone,
  url,
} from "./fields.ts";
import { BRIEFING_DAYS } from "./outbound.ts";

export interface Variable<N extends string = string, T = unknown> {
  name: N;
  field: Field<T>;
  /** The value when unset (or, after a problem, so that other checks go on). */
  fallback: T;
  required: boolean;
  /** One line: what it does. */
  doc: string;
  /** The Default column of the reference. */
  shown: string;
  /** The value in .env.example ("" leaves it blank, which is unset). */
  example: string;
}

interface Presentation {
  /** The Default column, when the default is not a plain value. */
  shown?: string;
  example?: string;
}

function plain(value: unknown): string {
  return typeof value === "string" || typeof value === "number" ||
      typeof value === "boolean"
    ? String(value)
    : "";
}

/** A variable the server refuses to start without. */
function required<const N extends string>(
  name: N,
  field: Field<string>,
  doc: string,
  { example = "" }: Presentation = {},
): Variable<N, string> {
  return {
    name,
    field,
    fallback: "",
    required: true,
    doc,
    shown: "required",
    example,
  };
}

/** A variable with a default. */
function setting<const N extends string, T>(
  name: N,
  field: Field<T>,
  fallback: T,
  doc: string,
  { shown, example }: Presentation = {},
): Variable<N, T> {
  return {
    name,
    field,
    fallback,
    required: false,
    doc,
    shown: shown ?? `\`${plain(fallback)}\``,
    example: example ?? plain(fallback),
  };
}

/** A variable that may stay unset (undefined). `shown` says what unset means. */
function optional<const N extends string, T>(
  name: N,
  field: Field<T>,
  doc: string,
  { shown = "unset", example = "" }: Presentation = {},
): Variable<N, T | undefined> {
  return {
    name,
    field,
    fallback: undefined,
    required: false,
    doc,
    shown,
    example,
  };
}

export const VOICES = [
  "alloy",
  "ash",
  "ballad",
  "cedar",
  "coral",
  "echo",
  "marin",
  "sage",
  "shimmer",
  "verse",
] as const;

export const VOICE_ENGINES = ["realtime", "live"] as const;
export type VoiceEngineName = typeof VOICE_ENGINES[number];

/** OpenAI's `RealtimeReasoningEffort` (openai-node `resources/realtime`). */
export const REASONING_EFFORTS = [
  "minimal",
  "low",
  "medium",
  "high",
  "xhigh",
] as const;
export type ReasoningEffort = typeof REASONING_EFFORTS[number];

/**
 * The default Realtime model. gpt-realtime and gpt-realtime-mini shut down on
 * 2027-01-20; gpt-realtime-2.1 replaces gpt-realtime on the same GA protocol.
 */
export const DEFAULT_REALTIME_MODEL = "gpt-realtime-2.1";
export const DEFAULT_REALTIME_URL = "wss://api.openai.com/v1/realtime";
export const DEFAULT_LIVE_URL = "wss://api.openai.com/v1/live/sessions";
export const DEFAULT_LIVE_MODEL = "gpt-live-1";
/** A current small Responses model: tool calls and short answers, cheaply. */
export const DEFAULT_LIVE_BACKEND_MODEL = "gpt-5.4-mini";
/** Summaries are short structured text: the same small model does them. */
export const DEFAULT_SUMMARY_MODEL = "gpt-5.4-mini";
export const DEFAULT_TWILIO_API_URL = "https://api.twilio.com";

export const DEFAULT_INSTRUCTIONS =
  "You are a helpful, concise personal assistant speaking on the phone with your owner. " +
  "Keep answers short and natural for speech. You can read and manage their Todoist tasks " +
  "and Gmail through your Zapier tools; confirm before sending email or deleting anything.";

/** MCP tool names: letters, digits, `_`, `-`, `.` (the MCP spec's advice), at most 128. */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;

const prices: Field<PriceTable> = (raw) => {
  const { table, problems } = parsePrices(raw);
  return problems.length > 0 ? { problems } : { value: table };
};

const wsUrl = url(["wss:", "ws:"]);

/** The areas of the configuration, in the order the reference lists them. */
export const CONFIG_TABLE = {
  openai: {
    title: "OpenAI",
    variables: {
      apiKey: required(
        "OPENAI_API_KEY",
        text,
        "OpenAI key for the Realtime and GPT-Live APIs (both bill by the minute)",
        { example: "sk-..." },
      ),
    },
  },
  twilio: {
    title: "Twilio",
    variables: {
      authToken: required(
        "TWILIO_AUTH_TOKEN",
        text,
        "your Twilio account's primary auth token: verifies Twilio signatures, keys the stream tokens",
      ),
    },
  },
  callers: {
    title: "Caller verification",
    variables: {
      pin: optional(
        "CALLER_PIN",
        pattern(/^\d{4,12}$/, "4 to 12 digits"),
        "recommended: every call to `/incoming-call` must key in this PIN (4–12 digits, 6 or more advised) before anything reaches OpenAI; 3 wrong in a call hang up, more than 10 wrong in an hour refuse calls until the hour ends",
        { shown: "unset (no PIN)" },
      ),
      pinSkipVerified: setting(
        "CALLER_PIN_SKIP_VERIFIED",
        flag,
        false,
        "`true`: a call whose STIR/SHAKEN verdict is `TN-Validation-Passed-A` skips the PIN and the hourly refusal",
      ),
      allowedNumbers: optional(
        "ALLOWED_NUMBERS",
        phoneNumbers,
        "who may call the assistant, E.164, comma-separated: the server `<Reject>`s any other caller before the PIN, and `deno task setup` gives the list to the allowlist Function",
        { shown: "`OWNER_NUMBERS` (unset too: any caller)" },
      ),
    },
  },
  server: {
    title: "Server",
    variables: {
      publicUrl: optional(
        "PUBLIC_URL",
        origin("https://assistant.example.com"),
        "the origin Twilio calls, e.g. `https://assistant.example.com` (set it behind a proxy whose headers you do not control)",
        { shown: "from `X-Forwarded-Proto`/`X-Forwarded-Host`/`Host`" },
      ),
      port: setting(
        "PORT",
        number({ min: 0, max: 65535, integer: true }),
        5050,
        "listening port (all interfaces)",
      ),
      kvPath: optional(
        "KV_PATH",
        text,
        "KV file path (`./data/…` needs no extra flag), or a remote KV URL (see [deploying.md](deploying.md))",
        { shown: "Deno's default store" },
      ),
      drainSeconds: setting(
        "DRAIN_SECONDS",
        number({ min: 0, max: 3600, integer: true }),
        20,
        "on SIGTERM/SIGINT with no other live instance, how long live calls may go on before they are handed over (with one, they are handed over at once)",
      ),
    },
  },
  calls: {
    title: "Calls",
    variables: {
      maxConcurrent: setting(
        "MAX_CONCURRENT_CALLS",
        number({ min: 1, max: 10_000, integer: true }),
        10,
        'calls live or being set up; beyond it a caller hears a short "busy" message and no upstream session is opened',
      ),
      // OpenAI ends a Realtime session at 60 minutes: stay under it so the
      // goodbye is ours.
      maxMinutes: setting(
        "MAX_CALL_MINUTES",
        number({ min: 0.05, max: 55, integer: false }),
        30,
        "at this length the assistant says goodbye and the call ends (0.05–55)",
      ),
      streamStartTimeoutSeconds: setting(
        "STREAM_START_TIMEOUT_SECONDS",
        number({ min: 1, max: 120, integer: true }),
        10,
        "a media stream that sends no `start` within this is closed",
      ),
      streamTokenTtlSeconds: setting(
        "STREAM_TOKEN_TTL_SECONDS",
        number({ min: 5, max: 3600, integer: true }),
        60,
        "lifetime of a stream token (5–3600)",
      ),
    },
  },
  assistant: {
    title: "The assistant",
    variables: {
      engine: setting(
        "VOICE_ENGINE",
        oneOf(VOICE_ENGINES, { anyCase: true }),
        "realtime",
        "`realtime` or `live` (GPT-Live): the OpenAI voice API that carries calls",
      ),
      voice: setting(
        "VOICE",
        oneOf(VOICES),
        "alloy",
        `one of ${VOICES.map((voice) => `\`${voice}\``).join(" ")}`,
      ),
      instructions: setting(
        "ASSISTANT_INSTRUCTIONS",
        text,
        DEFAULT_INSTRUCTIONS,
        "system instructions; today's date and time are appended on every call",
        { shown: "a short phone-assistant prompt", example: "" },
      ),
      // Accepted for compatibility only: the GA Realtime session rejects it.
      temperature: setting(
        "TEMPERATURE",
        number({ min: 0.6, max: 1.2, integer: false }),
        0.8,
        "validated (0.6–1.2) but **not sent**: the GA Realtime session refuses a temperature",
      ),
      greeting: optional(
        "GREETING",
        text,
        "when set, the assistant speaks first with this greeting",
      ),
      timeZone: setting(
        "ASSISTANT_TIMEZONE",
        timeZone,
        "UTC",
        "IANA time zone of the date and time given to the assistant",
      ),
      thinkingSound: setting(
        "THINKING_SOUND",
        flag,
        true,
        "a quiet sound on the line while a tool runs",
      ),
    },
  },
  realtime: {
    title: "OpenAI Realtime engine",
    variables: {
      url: setting(
        "OPENAI_REALTIME_URL",
        wsUrl,
        DEFAULT_REALTIME_URL,
        "Realtime endpoint; the server adds `?model=` (other query parameters are kept)",
      ),
      model: optional(
        "OPENAI_REALTIME_MODEL",
        modelName(DEFAULT_REALTIME_MODEL),
        "Realtime model, e.g. `gpt-realtime-2.1-mini`; unset: a `model` in `OPENAI_REALTIME_URL` (older .env files)",
        { shown: `\`${DEFAULT_REALTIME_MODEL}\`` },
      ),
      reasoningEffort: setting(
        "REASONING_EFFORT",
        oneOf(REASONING_EFFORTS, { anyCase: true }),
        "low",
        `${
          REASONING_EFFORTS.map((e) => `\`${e}\``).join(" ")
        }: how long gpt-realtime-2.x models think; not sent to older models`,
      ),
    },
  },
  live: {
    title: "OpenAI GPT-Live engine",
    variables: {
      url: setting(
        "OPENAI_LIVE_URL",
        url(["wss:", "ws:"], {
          noQuery: "GPT-Live takes the model in session.start (set LIVE_MODEL)",
        }),
        DEFAULT_LIVE_URL,
        "GPT-Live endpoint (no query string)",
        { example: "" },
      ),
      model: setting(
        "LIVE_MODEL",
        modelName(DEFAULT_LIVE_MODEL),
        DEFAULT_LIVE_MODEL,
        "GPT-Live voice model",
        { example: "" },
      ),
      backendModel: setting(
        "LIVE_BACKEND_MODEL",
        modelName(DEFAULT_LIVE_BACKEND_MODEL),
        DEFAULT_LIVE_BACKEND_MODEL,
        "the Responses model GPT-Live delegates reasoning and tool calls to",
        { example: "" },
      ),
    },
  },
  zapier: {
    title: "Zapier MCP",
    variables: {
      url: setting(
        "ZAPIER_MCP_URL",
        url(["https:", "http:"]),
        "https://mcp.zapier.com/api/mcp/mcp",
        "Zapier MCP server",
      ),
      password: optional(
        "ZAPIER_MCP_PASSWORD",
        text,
        "Zapier MCP key, sent as the MCP server's bearer token",
        { shown: "unset (no tools)" },
      ),
      allowedTools: optional(
        "ZAPIER_MCP_ALLOWED_TOOLS",
        list(TOOL_NAME, "tool name", 'of letters, digits, "_", "-" and "."'),
        "comma-separated Zapier tool names the assistant may use (MCP `allowed_tools`)",
        { shown: "unset (every tool)" },
      ),
      timeoutSeconds: setting(
        "ZAPIER_MCP_TIMEOUT_SECONDS",
        number({ min: 1, max: 120, integer: true }),
        20,
        "GPT-Live: how long one Zapier tool call may take (1–120) before the model is told it timed out",
        { example: "" },
      ),
    },
  },
  admin: {
    title: "Owner's pages",
    variables: {
      token: optional(
        "ADMIN_TOKEN",
        secret(16),
        "protects `/calls`, `/phone` and `/memory`; at least 16 characters",
        { shown: "unset (pages disabled)" },
      ),
    },
  },
  journal: {
    title: "Call journal",
    variables: {
      retentionDays: setting(
        "JOURNAL_RETENTION_DAYS",
        number({ min: 1, max: 3650, integer: true }),
        30,
        "how long the call journal keeps calls",
      ),
      transcripts: setting(
        "JOURNAL_TRANSCRIPTS",
        flag,
        true,
        "`false`: the journal keeps metadata only (no transcript, no summary); a live call's words and tool results are still kept in KV for a resume while the call lasts, deleted at its end (12 h at most)",
      ),
    },
  },
  memory: {
    title: "Memory",
    variables: {
      enabled: setting(
        "MEMORY",
        flag,
        true,
        "notes (`remember`/`forget`) and call summaries carried into later calls",
      ),
      days: setting(
        "MEMORY_DAYS",
        number({ min: 1, max: 3650, integer: true }),
        30,
        "how far back the summaries in a call's instructions reach, and how long they are kept (1–3650)",
      ),
      summaryModel: setting(
        "SUMMARY_MODEL",
        modelName(DEFAULT_SUMMARY_MODEL),
        DEFAULT_SUMMARY_MODEL,
        "the Responses model that summarises each call after it ends",
      ),
    },
  },
  cost: {
    title: "Cost",
    variables: {
      prices: setting(
        "PRICES_JSON",
        prices,
        DEFAULT_PRICES,
        "per-model prices replacing the built-in ones (dollars per 1M tokens, per minute for GPT-Live)",
        { shown: "the built-in table" },
      ),
      dailyBudgetMicroUsd: optional(
        "DAILY_BUDGET_USD",
        microDollars({ min: 0.01, max: 100_000 }),
        "once the day's spend reaches it, new calls hear one sentence; a live call is ended politely",
        { shown: "unset (no budget)" },
      ),
    },
  },
  outbound: {
    title: "Outbound calls",
    variables: {
      ownerNumbers: optional(
        "OWNER_NUMBERS",
        phoneNumbers,
        "your numbers, E.164, comma-separated: the only numbers the server ever calls or texts (first = default)",
        { shown: "unset (outbound off)" },
      ),
      accountSid: optional(
        "TWILIO_ACCOUNT_SID",
        pattern(
          ACCOUNT_SID,
          "your account's SID: AC followed by 32 hexadecimal characters",
        ),
        "your account SID (`AC…`), for Twilio's REST API (with `TWILIO_AUTH_TOKEN`)",
      ),
      fromNumber: optional(
        "TWILIO_FROM_NUMBER",
        phoneNumber,
        "your Twilio number: outbound calls and texts come from it",
      ),
      apiUrl: setting(
        "TWILIO_API_URL",
        origin(DEFAULT_TWILIO_API_URL, { plainOnLoopback: true }),
        DEFAULT_TWILIO_API_URL,
        "Twilio's REST origin (a local stand-in in tests; another host needs `--allow-net`)",
        { example: "" },
      ),
      briefingAt: optional(
        "BRIEFING_AT",
        localTime,
        "a daily briefing call at this local time (`ASSISTANT_TIMEZONE`), e.g. `07:30`",
        { shown: "unset (no briefing)" },
      ),
      briefingDays: setting(
        "BRIEFING_DAYS",
        oneOf(BRIEFING_DAYS, { anyCase: true }),
        "weekdays",
        "`weekdays` (Monday–Friday) or `daily`",
        { example: "" },
      ),
      // Fractions are allowed (tests use seconds); a day is the useful limit.
      retryMinutes: setting(
        "CALLBACK_RETRY_MINUTES",
        number({ min: 0.01, max: 1440, integer: false }),
        5,
        "a call not picked up (no answer, busy, failed) is tried once more after this (0.01–1440)",
        { example: "" },
      ),
      digestSms: setting(
        "DIGEST_SMS",
        flag,
        false,
        "`true`: after each call, text its summary to your first number, once the journal has one",
      ),
      maxPending: setting(
        "SCHEDULED_CALLS_MAX_PENDING",
        number({ min: 1, max: 100, integer: true }),
        10,
        "at most this many scheduled calls waiting to be dialled (1–100); past it a request is refused with the reason",
        { example: "" },
      ),
      maxPerDay: setting(
        "SCHEDULED_CALLS_MAX_PER_DAY",
        number({ min: 1, max: 100, integer: true }),
        10,
        "at most this many calls placed on one day in `ASSISTANT_TIMEZONE`, the briefing included (1–100)",
        { example: "" },
      ),
      minGapMinutes: setting(
        "SCHEDULED_CALLS_MIN_GAP_MINUTES",
        number({ min: 0, max: 720, integer: true }),
        10,
        "no scheduled call within this many minutes of another (0–720)",
        { example: "" },
      ),
    },
  },
} as const satisfies Record<
  string,
  { title: string; variables: Record<string, Variable> }
>;

/**
 * Variables Deno itself reads, not the server: they are granted by
 * `--allow-env` and documented, but not in `Config`.
 */
export const DENO_VARIABLES = [
  {
    name: "DENO_KV_ACCESS_TOKEN",
    doc:
      "read by Deno, not the server: the access token of a remote `KV_PATH` (KV Connect)",
  },
] as const;

/** Read only by `deno task setup` (src/setup/settings.ts), never by the server. */
export const SETUP_VARIABLES = [
  {
    name: "REJECT_REASON",
    doc:
      "what every caller not in `ALLOWED_NUMBERS` (else `OWNER_NUMBERS`) hears: `rejected` (default) or `busy`; setup also reads those two, `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_FROM_NUMBER` and `PUBLIC_URL`",
  },
] as const;

type Table = typeof CONFIG_TABLE;
type ValueOf<V> = V extends Variable<string, infer T> ? T : never;

/** Each area's values, as the table parses them. */
export type TableValues = {
  [Area in keyof Table]: {
    -readonly [Key in keyof Table[Area]["variables"]]: ValueOf<
      Table[Area]["variables"][Key]
    >;
  };
};

type NameOf<V> = V extends Variable<infer N> ? N : never;

/** The name of every variable the server reads. */
export type ConfigVariable = {
  [Area in keyof Table]: NameOf<
    Table[Area]["variables"][keyof Table[Area]["variables"]]
  >;
}[keyof Table];

/** Every entry of the table, in order. */
export function tableVariables(): Variable<ConfigVariable>[] {
  return Object.values(CONFIG_TABLE).flatMap((area) =>
    Object.values(area.variables) as Variable<ConfigVariable>[]
  );
}
