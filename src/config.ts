/**
 * The one configuration object: read from the environment once at start-up,
 * validated as a whole, then passed down. Every variable is an entry of the
 * table in src/config/table.ts; the section readers here apply the few rules
 * that join two variables.
 */

import { MODEL_NAME, modelNameProblem } from "./config/fields.ts";
import { priceOf } from "./cost/prices.ts";
import {
  CONFIG_TABLE,
  type ConfigVariable,
  DEFAULT_REALTIME_MODEL,
  type TableValues,
  tableVariables,
  type Variable,
} from "./config/table.ts";
import { type OutboundSettings, outboundSettings } from "./config/outbound.ts";

export {
  type ConfigVariable,
  DEFAULT_INSTRUCTIONS,
  DEFAULT_LIVE_BACKEND_MODEL,
  DEFAULT_LIVE_MODEL,
  DEFAULT_LIVE_URL,
  DEFAULT_REALTIME_MODEL,
  DEFAULT_REALTIME_URL,
  DEFAULT_SUMMARY_MODEL,
  REASONING_EFFORTS,
  type ReasoningEffort,
  VOICE_ENGINES,
  type VoiceEngineName,
  VOICES,
} from "./config/table.ts";

/**
 * The configuration, by area (`config.calls.maxMinutes`), each area the
 * table's entries, except:
 * - `realtime.url` always carries `?model=` and `realtime.model` is resolved;
 * - `outbound` is undefined when outbound is off;
 * - `callers.allowedNumbers` is ALLOWED_NUMBERS, else OWNER_NUMBERS.
 */
export type Config =
  & Omit<TableValues, "realtime" | "outbound">
  & {
    realtime: Omit<TableValues["realtime"], "model"> & { model: string };
    outbound: OutboundSettings | undefined;
  };

/**
 * Every variable the server reads. `deno task start` grants `--allow-env` for
 * exactly these and DENO_VARIABLES (`deno task config:docs` writes the flags,
 * a test keeps them in step), because reading any other variable throws
 * under that flag.
 */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = tableVariables()
  .map((variable) => variable.name);

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
  const set = new Set<string>();
  const value = (variable: Variable<ConfigVariable>): unknown => {
    const raw = read(variable.name);
    if (raw === undefined) {
      if (variable.required) problems.push(`${variable.name} is required`);
      return variable.fallback;
    }
    set.add(variable.name);
    const parsed = variable.field(raw, variable.name);
    if ("value" in parsed) return parsed.value;
    problems.push(...parsed.problems);
    return variable.fallback;
  };
  // Each area's object has exactly its table entries' keys and parsed types.
  const values = Object.fromEntries(
    Object.entries(CONFIG_TABLE).map(([area, { variables }]) => [
      area,
      Object.fromEntries(
        Object.entries(variables).map((
          [key, variable],
        ) => [key, value(variable as Variable<ConfigVariable>)]),
      ),
    ]),
  ) as TableValues;

  const config: Config = {
    ...values,
    callers: {
      ...values.callers,
      allowedNumbers: values.callers.allowedNumbers ??
        values.outbound.ownerNumbers,
    },
    realtime: realtimeSection(values.realtime, set, problems),
    outbound: outboundSettings(
      values.outbound,
      (name) => set.has(name),
      values.server.publicUrl,
      problems,
    ),
  };
  if (config.callers.pinSkipVerified && config.callers.pin === undefined) {
    problems.push("CALLER_PIN_SKIP_VERIFIED needs CALLER_PIN");
  }
  if (config.cost.dailyBudgetMicroUsd !== undefined) {
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
  const billed: [string, string][] = config.assistant.engine === "live"
    ? [
      ["LIVE_MODEL", config.live.model],
      ["LIVE_BACKEND_MODEL", config.live.backendModel],
    ]
    : [["OPENAI_REALTIME_MODEL", config.realtime.model]];
  if (config.memory.enabled && config.journal.transcripts) {
    billed.push(["SUMMARY_MODEL", config.memory.summaryModel]);
  }
  return billed
    .filter(([, model]) => priceOf(config.cost.prices, model) === undefined)
    .map(([variable, model]) =>
      `DAILY_BUDGET_USD is set, but the model "${model}" (${variable}) has no known price, so its calls would count as $0: add its price to PRICES_JSON (see .env.example) or use a model with a built-in price`
    );
}

/**
 * The model and the URL dialled. OPENAI_REALTIME_MODEL wins; an old .env that
 * names the model only in OPENAI_REALTIME_URL's query keeps it; otherwise the
 * default. The URL always carries the resolved model, other query params kept.
 */
function realtimeSection(
  values: TableValues["realtime"],
  set: ReadonlySet<string>,
  problems: string[],
): Config["realtime"] {
  const url = new URL(values.url);
  const fromUrl = url.searchParams.get("model") || undefined;
  let model = values.model ?? DEFAULT_REALTIME_MODEL;
  if (!set.has("OPENAI_REALTIME_MODEL") && fromUrl !== undefined) {
    if (MODEL_NAME.test(fromUrl)) {
      model = fromUrl;
    } else {
      problems.push(
        `OPENAI_REALTIME_URL's model parameter must ${
          modelNameProblem(DEFAULT_REALTIME_MODEL, fromUrl)
        }`,
      );
    }
  }
  url.searchParams.set("model", model);
  return { ...values, url: url.href, model };
}
