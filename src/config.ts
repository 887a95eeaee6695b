/**
 * The one configuration object: read from the environment once at start-up,
 * validated as a whole, then passed down.
 */

import { parsePrices, priceOf, type PriceTable } from "./cost/prices.ts";
import { plainOnlyToLoopback } from "./loopback_url.ts";
import {
  OUTBOUND_VARIABLES,
  type OutboundSettings,
  outboundSettings,
} from "./outbound/settings.ts";

export interface Config {
  openaiApiKey: string;
  twilioAuthToken: string;
  /** Origin Twilio calls, e.g. "https://assistant.example.com"; undefined: derive from request headers. */
  publicUrl: string | undefined;
  port: number;
  voice: string;
  assistantInstructions: string;
  /** Accepted for compatibility only: the GA Realtime session rejects a temperature field. */
  temperature: number;
  zapierMcpUrl: string;
  /** Undefined: no Zapier tools in the session. */
  zapierMcpPassword: string | undefined;
  /** GPT-Live: how long one Zapier tool call may take before the model hears it timed out. */
  zapierMcpTimeoutSeconds: number;
  /**
   * The only Zapier tools the session lists (MCP `allowed_tools`); undefined:
   * every tool the Zapier server offers.
   */
  zapierMcpAllowedTools: string[] | undefined;
  /** The Realtime endpoint the server dials, its `model` query set to `realtimeModel`. */
  openaiRealtimeUrl: string;
  /** OPENAI_REALTIME_MODEL, else the URL's `model`, else the default. */
  realtimeModel: string;
  /** Sent only to models that reason (the gpt-realtime-2 family). */
  reasoningEffort: ReasoningEffort;
  /** A quiet sound on the line while a tool runs, so the caller knows to wait. */
  thinkingSound: boolean;
  streamTokenTtlSeconds: number;
  /** Deno KV location: undefined for Deno's default store, a file path, or a remote KV URL. */
  kvPath: string | undefined;
  /** How long live calls may go on after SIGTERM/SIGINT before they are closed. */
  drainSeconds: number;
  /** Calls (live or being set up) beyond this get a spoken "busy" and no upstream session. */
  maxConcurrentCalls: number;
  /** At this length the assistant says goodbye and the call ends. */
  maxCallMinutes: number;
  /** A media stream that sends no `start` within this is closed. */
  streamStartTimeoutSeconds: number;
  /** Protects /calls and /phone; undefined: those pages are disabled. */
  adminToken: string | undefined;
  journalRetentionDays: number;
  /** False: the journal keeps metadata only, no transcript lines. */
  journalTranscripts: boolean;
  /** Spoken first when the stream starts; undefined: the caller speaks first. */
  greeting: string | undefined;
  /** IANA time zone for the date and time given to the assistant. */
  assistantTimezone: string;
  /** Which OpenAI voice API carries calls. */
  voiceEngine: VoiceEngineName;
  /** GPT-Live's endpoint (no query string: the model goes in session.start). */
  openaiLiveUrl: string;
  liveModel: string;
  /** The Responses model GPT-Live delegates reasoning and tool calls to. */
  liveBackendModel: string;
  /** Notes the owner asks for and call summaries, carried into later calls. */
  memory: boolean;
  /** How far back the summaries in a call's instructions reach. */
  memoryDays: number;
  /** The Responses model that summarises a call after it ends. */
  summaryModel: string;
  /** Prices by model: the built-in table with PRICES_JSON's entries over it. */
  prices: PriceTable;
  /** DAILY_BUDGET_USD in micro-dollars; undefined: no budget. */
  dailyBudgetMicroUsd: number | undefined;
  /** Call-backs, the daily briefing and digest texts; undefined: outbound is off. */
  outbound: OutboundSettings | undefined;
  /** CALLER_PIN: 4 to 12 digits keyed in before a call reaches the assistant; undefined: no PIN. */
  callerPin: string | undefined;
  /** A call whose STIR/SHAKEN verdict is TN-Validation-Passed-A skips the PIN. */
  callerPinSkipVerified: boolean;
}

export const VOICE_ENGINES = ["realtime", "live"] as const;
export type VoiceEngineName = typeof VOICE_ENGINES[number];
export const DEFAULT_LIVE_URL = "wss://api.openai.com/v1/live/sessions";
export const DEFAULT_LIVE_MODEL = "gpt-live-1";
/** A current small Responses model: tool calls and short answers, cheaply. */
export const DEFAULT_LIVE_BACKEND_MODEL = "gpt-5.4-mini";
/** Summaries are short structured text: the same small model does them. */
export const DEFAULT_SUMMARY_MODEL = "gpt-5.4-mini";

/**
 * Every variable the server reads. `deno task start` grants `--allow-env` for
 * exactly these (a test keeps the two in step), because reading any other
 * variable throws under that flag.
 */
export const CONFIG_VARIABLES = [
  "OPENAI_API_KEY",
  "TWILIO_AUTH_TOKEN",
  "PUBLIC_URL",
  "PORT",
  "VOICE",
  "ASSISTANT_INSTRUCTIONS",
  "TEMPERATURE",
  "ZAPIER_MCP_URL",
  "ZAPIER_MCP_PASSWORD",
  "ZAPIER_MCP_ALLOWED_TOOLS",
  "ZAPIER_MCP_TIMEOUT_SECONDS",
  "OPENAI_REALTIME_URL",
  "OPENAI_REALTIME_MODEL",
  "REASONING_EFFORT",
  "THINKING_SOUND",
  "VOICE_ENGINE",
  "OPENAI_LIVE_URL",
  "LIVE_MODEL",
  "LIVE_BACKEND_MODEL",
  "STREAM_TOKEN_TTL_SECONDS",
  "KV_PATH",
  "DRAIN_SECONDS",
  "MAX_CONCURRENT_CALLS",
  "MAX_CALL_MINUTES",
  "STREAM_START_TIMEOUT_SECONDS",
  "ADMIN_TOKEN",
  "JOURNAL_RETENTION_DAYS",
  "JOURNAL_TRANSCRIPTS",
  "GREETING",
  "ASSISTANT_TIMEZONE",
  "MEMORY",
  "MEMORY_DAYS",
  "SUMMARY_MODEL",
  "PRICES_JSON",
  "DAILY_BUDGET_USD",
  "CALLER_PIN",
  "CALLER_PIN_SKIP_VERIFIED",
  ...OUTBOUND_VARIABLES,
] as const;

export type ConfigVariable = typeof CONFIG_VARIABLES[number];

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

/**
 * The default Realtime model. gpt-realtime and gpt-realtime-mini shut down on
 * 2027-01-20; gpt-realtime-2.1 replaces gpt-realtime on the same GA protocol.
 */
export const DEFAULT_REALTIME_MODEL = "gpt-realtime-2.1";

export const DEFAULT_REALTIME_URL = "wss://api.openai.com/v1/realtime";

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
 * Model ids as OpenAI spells them ("gpt-realtime-2.1-mini",
 * "gpt-realtime-2025-08-28"). Anything else would be a typo, or would break
 * the URL path of the start-up model lookup.
 */
const MODEL_NAME = /^[A-Za-z0-9._-]{1,100}$/;

/** MCP tool names: letters, digits, `_`, `-`, `.` (the MCP spec's advice), at most 128. */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export const DEFAULT_INSTRUCTIONS =
  "You are a helpful, concise personal assistant speaking on the phone with your owner. " +
  "Keep answers short and natural for speech. You can read and manage their Todoist tasks " +
  "and Gmail through your Zapier tools; confirm before sending email or deleting anything.";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

/** Reads one variable; returns undefined when unset or blank. */
export type EnvReader = (name: ConfigVariable) => string | undefined;

export function envReader(
  env: { get(name: string): string | undefined },
): EnvReader {
  return (name) => {
    const value = env.get(name)?.trim();
    return value ? value : undefined;
  };
}

/** Validates every variable and throws one ConfigError listing all problems. */
export function loadConfig(read: EnvReader): Config {
  const problems: string[] = [];

  const required = (name: ConfigVariable): string => {
    const value = read(name);
    if (value === undefined) problems.push(`${name} is required`);
    return value ?? "";
  };

  const number = (
    name: ConfigVariable,
    fallback: number,
    { min, max, integer }: { min: number; max: number; integer: boolean },
  ): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (
      !Number.isFinite(value) || (integer && !Number.isInteger(value)) ||
      value < min || value > max
    ) {
      problems.push(
        `${name} must be ${
          integer ? "a whole number" : "a number"
        } from ${min} to ${max} (got "${raw}")`,
      );
      return fallback;
    }
    return value;
  };

  const url = (
    name: ConfigVariable,
    fallback: string | undefined,
    protocols: string[],
  ): string | undefined => {
    const raw = read(name) ?? fallback;
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      problems.push(`${name} must be a URL (got "${raw}")`);
      return fallback;
    }
    if (!protocols.includes(parsed.protocol)) {
      problems.push(
        `${name} must start with ${
          protocols.map((p) => `${p}//`).join(" or ")
        }`,
      );
      return fallback;
    }
    return raw;
  };

  const openaiApiKey = required("OPENAI_API_KEY");
  const twilioAuthToken = required("TWILIO_AUTH_TOKEN");

  let publicUrl = url("PUBLIC_URL", undefined, ["https:", "http:"]);
  if (publicUrl !== undefined) {
    const parsed = new URL(publicUrl);
    if (parsed.pathname !== "/" || parsed.search || parsed.hash) {
      problems.push(
        `PUBLIC_URL must be an origin such as https://assistant.example.com (no path or query)`,
      );
    }
    publicUrl = parsed.origin;
  }

  const flag = (name: ConfigVariable, fallback: boolean): boolean => {
    const raw = read(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (["true", "1", "yes", "on"].includes(raw)) return true;
    if (["false", "0", "no", "off"].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };

  const assistantTimezone = read("ASSISTANT_TIMEZONE") ?? "UTC";
  try {
    new Intl.DateTimeFormat("en", { timeZone: assistantTimezone });
  } catch {
    problems.push(
      `ASSISTANT_TIMEZONE must be an IANA time zone such as Europe/Paris (got "${assistantTimezone}")`,
    );
  }

  const adminToken = read("ADMIN_TOKEN");
  if (adminToken !== undefined && adminToken.length < 16) {
    problems.push("ADMIN_TOKEN must be at least 16 characters");
  }

  const voice = read("VOICE") ?? "alloy";
  if (!(VOICES as readonly string[]).includes(voice)) {
    problems.push(`VOICE must be one of ${VOICES.join(", ")} (got "${voice}")`);
  }

  const realtimeUrl = url("OPENAI_REALTIME_URL", DEFAULT_REALTIME_URL, [
    "wss:",
    "ws:",
  ])!;
  plainOnlyToLoopback("OPENAI_REALTIME_URL", realtimeUrl, problems);
  const { realtimeModel, openaiRealtimeUrl } = realtimeEndpoint(
    realtimeUrl,
    read("OPENAI_REALTIME_MODEL"),
    problems,
  );

  const rawEffort = read("REASONING_EFFORT")?.toLowerCase() ?? "low";
  const reasoningEffort = REASONING_EFFORTS.find((e) => e === rawEffort);
  if (reasoningEffort === undefined) {
    problems.push(
      `REASONING_EFFORT must be one of ${
        REASONING_EFFORTS.join(", ")
      } (got "${rawEffort}")`,
    );
  }

  const zapierMcpUrl = url(
    "ZAPIER_MCP_URL",
    "https://mcp.zapier.com/api/mcp/mcp",
    ["https:", "http:"],
  )!;
  plainOnlyToLoopback("ZAPIER_MCP_URL", zapierMcpUrl, problems);

  const rawEngine = read("VOICE_ENGINE")?.toLowerCase() ?? "realtime";
  const voiceEngine = VOICE_ENGINES.find((name) => name === rawEngine);
  if (!voiceEngine) {
    problems.push(
      `VOICE_ENGINE must be one of ${
        VOICE_ENGINES.join(", ")
      } (got "${rawEngine}")`,
    );
  }
  const openaiLiveUrl = url("OPENAI_LIVE_URL", DEFAULT_LIVE_URL, [
    "wss:",
    "ws:",
  ])!;
  plainOnlyToLoopback("OPENAI_LIVE_URL", openaiLiveUrl, problems);
  if (new URL(openaiLiveUrl).search) {
    problems.push(
      "OPENAI_LIVE_URL must have no query string: GPT-Live takes the model in session.start (set LIVE_MODEL)",
    );
  }
  const modelName = (name: ConfigVariable, fallback: string): string => {
    const value = read(name) ?? fallback;
    if (MODEL_NAME.test(value)) return value;
    problems.push(
      `${name} must be a model name such as ${fallback} (got "${value}")`,
    );
    return fallback;
  };

  const { table: prices, problems: priceProblems } = parsePrices(
    read("PRICES_JSON"),
  );
  problems.push(...priceProblems);
  const budgetDollars = read("DAILY_BUDGET_USD") === undefined
    ? undefined
    : number("DAILY_BUDGET_USD", 0, {
      min: 0.01,
      max: 100_000,
      integer: false,
    });

  const callerPin = read("CALLER_PIN");
  if (callerPin !== undefined && !/^\d{4,12}$/.test(callerPin)) {
    // The value itself is a secret: never echoed.
    problems.push(
      `CALLER_PIN must be 4 to 12 digits (got ${callerPin.length} characters)`,
    );
  }
  const callerPinSkipVerified = flag("CALLER_PIN_SKIP_VERIFIED", false);
  if (callerPinSkipVerified && callerPin === undefined) {
    problems.push("CALLER_PIN_SKIP_VERIFIED needs CALLER_PIN");
  }

  const config: Config = {
    openaiApiKey,
    twilioAuthToken,
    publicUrl,
    port: number("PORT", 5050, { min: 0, max: 65535, integer: true }),
    voice,
    assistantInstructions: read("ASSISTANT_INSTRUCTIONS") ??
      DEFAULT_INSTRUCTIONS,
    temperature: number("TEMPERATURE", 0.8, {
      min: 0.6,
      max: 1.2,
      integer: false,
    }),
    zapierMcpUrl,
    zapierMcpTimeoutSeconds: number("ZAPIER_MCP_TIMEOUT_SECONDS", 20, {
      min: 1,
      max: 120,
      integer: true,
    }),
    zapierMcpPassword: read("ZAPIER_MCP_PASSWORD"),
    zapierMcpAllowedTools: toolNames(
      read("ZAPIER_MCP_ALLOWED_TOOLS"),
      problems,
    ),
    openaiRealtimeUrl,
    realtimeModel,
    reasoningEffort: reasoningEffort ?? "low",
    thinkingSound: flag("THINKING_SOUND", true),
    streamTokenTtlSeconds: number("STREAM_TOKEN_TTL_SECONDS", 60, {
      min: 5,
      max: 3600,
      integer: true,
    }),
    kvPath: read("KV_PATH"),
    drainSeconds: number("DRAIN_SECONDS", 20, {
      min: 0,
      max: 3600,
      integer: true,
    }),
    maxConcurrentCalls: number("MAX_CONCURRENT_CALLS", 10, {
      min: 1,
      max: 10_000,
      integer: true,
    }),
    // OpenAI ends a Realtime session at 60 minutes: stay under it so the
    // goodbye is ours.
    maxCallMinutes: number("MAX_CALL_MINUTES", 30, {
      min: 0.05,
      max: 55,
      integer: false,
    }),
    streamStartTimeoutSeconds: number("STREAM_START_TIMEOUT_SECONDS", 10, {
      min: 1,
      max: 120,
      integer: true,
    }),
    adminToken,
    journalRetentionDays: number("JOURNAL_RETENTION_DAYS", 30, {
      min: 1,
      max: 3650,
      integer: true,
    }),
    journalTranscripts: flag("JOURNAL_TRANSCRIPTS", true),
    greeting: read("GREETING"),
    assistantTimezone,
    voiceEngine: voiceEngine ?? "realtime",
    openaiLiveUrl,
    liveModel: modelName("LIVE_MODEL", DEFAULT_LIVE_MODEL),
    liveBackendModel: modelName(
      "LIVE_BACKEND_MODEL",
      DEFAULT_LIVE_BACKEND_MODEL,
    ),
    memory: flag("MEMORY", true),
    memoryDays: number("MEMORY_DAYS", 30, {
      min: 1,
      max: 3650,
      integer: true,
    }),
    summaryModel: modelName("SUMMARY_MODEL", DEFAULT_SUMMARY_MODEL),
    prices,
    // Whole micro-dollars, so the budget compares exactly with priced calls.
    dailyBudgetMicroUsd: budgetDollars === undefined
      ? undefined
      : Math.round(budgetDollars * 1_000_000),
    outbound: outboundSettings(read, publicUrl, problems),
    callerPin,
    callerPinSkipVerified,
  };

  if (config.dailyBudgetMicroUsd !== undefined) {
    problems.push(...unpricedModels(config));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * A budget cannot hold if a model it pays for is priced at nothing: each
 * model the configuration will bill must have a price.
 */
function unpricedModels(config: Config): string[] {
  const billed: [string, string][] = config.voiceEngine === "live"
    ? [["LIVE_MODEL", config.liveModel], [
      "LIVE_BACKEND_MODEL",
      config.liveBackendModel,
    ]]
    : [["OPENAI_REALTIME_MODEL", config.realtimeModel]];
  if (config.memory && config.journalTranscripts) {
    billed.push(["SUMMARY_MODEL", config.summaryModel]);
  }
  return billed
    .filter(([, model]) => priceOf(config.prices, model) === undefined)
    .map(([variable, model]) =>
      `DAILY_BUDGET_USD is set, but the model "${model}" (${variable}) has no known price, so its calls would count as $0: add its price to PRICES_JSON (see .env.example) or use a model with a built-in price`
    );
}

/**
 * The model and the URL dialled. OPENAI_REALTIME_MODEL wins; an old .env that
 * names the model only in OPENAI_REALTIME_URL's query keeps it; otherwise the
 * default. The URL always carries the resolved model, other query params kept.
 */
function realtimeEndpoint(
  realtimeUrl: string,
  modelVariable: string | undefined,
  problems: string[],
): { realtimeModel: string; openaiRealtimeUrl: string } {
  const url = new URL(realtimeUrl);
  const fromUrl = url.searchParams.get("model") || undefined;
  let realtimeModel = modelVariable ?? fromUrl ?? DEFAULT_REALTIME_MODEL;
  if (!MODEL_NAME.test(realtimeModel)) {
    const source = modelVariable !== undefined
      ? "OPENAI_REALTIME_MODEL"
      : "OPENAI_REALTIME_URL's model parameter";
    problems.push(
      `${source} must be a model name of letters, digits, ".", "-" and "_" such as ${DEFAULT_REALTIME_MODEL} (got "${realtimeModel}")`,
    );
    realtimeModel = DEFAULT_REALTIME_MODEL;
  }
  url.searchParams.set("model", realtimeModel);
  return { realtimeModel, openaiRealtimeUrl: url.href };
}

/** A comma list of tool names, trimmed, empty entries dropped. */
function toolNames(
  raw: string | undefined,
  problems: string[],
): string[] | undefined {
  if (raw === undefined) return undefined;
  const names = raw.split(",").map((name) => name.trim()).filter(Boolean);
  const bad = names.filter((name) => !TOOL_NAME.test(name));
  if (names.length === 0) {
    problems.push(
      "ZAPIER_MCP_ALLOWED_TOOLS must list at least one tool name, comma-separated",
    );
  } else if (bad.length > 0) {
    problems.push(
      `ZAPIER_MCP_ALLOWED_TOOLS must be tool names of letters, digits, "_", "-" and "." (got ${
        bad.map((name) => JSON.stringify(name)).join(", ")
      })`,
    );
  }
  return names.length === 0 || bad.length > 0 ? undefined : names;
}
