/**
 * What OpenAI charges per model, as integers: micro-dollars (USD × 10⁶) per
 * million tokens, or per minute. Built in for the models this server uses,
 * each entry replaceable through PRICES_JSON (validated at start-up with
 * the rest of the configuration).
 */

import { isRecord } from "../json.ts";

/** µ$ per 1M tokens: the figure OpenAI's pricing page gives in dollars, × 10⁶. */
export interface TokenPrice {
  input: number;
  cachedInput: number;
  output: number;
}

export interface ModelPrice {
  text?: TokenPrice;
  audio?: TokenPrice;
  /** µ$ per minute, billed per second (GPT-Live). */
  perMinute?: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

const usd = (dollars: number) => Math.round(dollars * 1_000_000);
const tokens = (input: number, cachedInput: number, output: number) => ({
  input: usd(input),
  cachedInput: usd(cachedInput),
  output: usd(output),
});

/**
 * Standard-tier prices, USD per 1M tokens. gpt-realtime-2.1, -2.1-mini and
 * gpt-live-1: OpenAI's model pages as recorded in
 * /work/shared/notes/protocols.md. gpt-realtime and gpt-realtime-mini (shut
 * down 2027-01-20): their launch prices on OpenAI's pricing page.
 * gpt-5.4-mini (SUMMARY_MODEL and LIVE_BACKEND_MODEL by default): OpenAI's
 * pricing page since its launch in March 2026, $0.75 in, $0.075 cached,
 * $4.50 out (short-context rate; a summary is far below 272K tokens).
 * gpt-live-transcribe: its model page, $0.017 per minute of audio.
 */
export const DEFAULT_PRICES: PriceTable = {
  "gpt-realtime-2.1": {
    audio: tokens(32, 0.4, 64),
    text: tokens(4, 0.4, 24),
  },
  "gpt-realtime-2.1-mini": {
    audio: tokens(10, 0.3, 20),
    text: tokens(0.6, 0.06, 2.4),
  },
  "gpt-realtime": {
    audio: tokens(32, 0.4, 64),
    text: tokens(4, 0.4, 16),
  },
  "gpt-realtime-mini": {
    audio: tokens(10, 0.3, 20),
    text: tokens(0.6, 0.06, 2.4),
  },
  "gpt-live-1": { perMinute: usd(0.05) },
  // Realtime input transcription (TRANSCRIPTION_MODEL), billed by audio duration.
  "gpt-live-transcribe": { perMinute: usd(0.017) },
  "gpt-5.4-mini": { text: tokens(0.75, 0.075, 4.5) },
};

/**
 * A model's price: its own entry, else that of the alias a dated snapshot
 * belongs to ("gpt-realtime-2.1-2026-09-01" → "gpt-realtime-2.1").
 */
export function priceOf(
  table: PriceTable,
  model: string,
): ModelPrice | undefined {
  return table[model] ??
    table[model.replace(/-\d{4}-\d{2}-\d{2}$/, "")];
}

const MODEL_NAME = /^[A-Za-z0-9._-]{1,100}$/;
/** Far above any price OpenAI lists: a typo, not a price. */
const MAX_DOLLARS = 10_000;

/**
 * PRICES_JSON: `{"<model>": {"text"|"audio": {"input", "cached_input",
 * "output"}, "per_minute"}}` in dollars, as OpenAI's pricing page writes
 * them (per 1M tokens; per minute for GPT-Live). Each model given replaces
 * its built-in entry whole; the others keep theirs. Problems are returned,
 * all at once, in the configuration's words.
 */
export function parsePrices(
  raw: string | undefined,
): { table: PriceTable; problems: string[] } {
  if (raw === undefined) return { table: DEFAULT_PRICES, problems: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { table: DEFAULT_PRICES, problems: ["PRICES_JSON is not JSON"] };
  }
  if (!isRecord(parsed)) {
    return {
      table: DEFAULT_PRICES,
      problems: [
        'PRICES_JSON must be an object of model names, e.g. {"gpt-realtime-2.1":{"audio":{"input":32,"cached_input":0.4,"output":64}}}',
      ],
    };
  }
  const problems: string[] = [];
  const table: Record<string, ModelPrice> = { ...DEFAULT_PRICES };
  for (const [model, entry] of Object.entries(parsed)) {
    const where = `PRICES_JSON["${model}"]`;
    if (!MODEL_NAME.test(model)) {
      problems.push(`${where}: not a model name`);
      continue;
    }
    const price = modelPrice(entry, where, problems);
    if (price) table[model] = price;
  }
  return { table, problems };
}

function modelPrice(
  entry: unknown,
  where: string,
  problems: string[],
): ModelPrice | undefined {
  if (!isRecord(entry)) {
    problems.push(`${where} must be an object with text, audio or per_minute`);
    return undefined;
  }
  const price: ModelPrice = {};
  for (const [key, value] of Object.entries(entry)) {
    if (key === "text" || key === "audio") {
      const tokenPrice = tokenPriceOf(value, `${where}.${key}`, problems);
      if (tokenPrice) price[key] = tokenPrice;
    } else if (key === "per_minute") {
      const micros = microDollars(value, `${where}.per_minute`, problems);
      if (micros !== undefined) price.perMinute = micros;
    } else {
      problems.push(
        `${where}: unknown key "${key}" (text, audio or per_minute)`,
      );
    }
  }
  if (Object.keys(price).length === 0 && Object.keys(entry).length === 0) {
    problems.push(`${where} gives no price`);
  }
  return price;
}

function tokenPriceOf(
  value: unknown,
  where: string,
  problems: string[],
): TokenPrice | undefined {
  if (!isRecord(value)) {
    problems.push(`${where} must be {"input", "cached_input", "output"}`);
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (!["input", "cached_input", "output"].includes(key)) {
      problems.push(
        `${where}: unknown key "${key}" (input, cached_input, output)`,
      );
    }
  }
  const input = microDollars(value.input, `${where}.input`, problems);
  const output = microDollars(value.output, `${where}.output`, problems);
  // Without a cached rate, cached tokens cost what other input costs.
  const cachedInput = value.cached_input === undefined
    ? input
    : microDollars(value.cached_input, `${where}.cached_input`, problems);
  if (
    input === undefined || output === undefined || cachedInput === undefined
  ) {
    return undefined;
  }
  return { input, cachedInput, output };
}

/** Dollars as integer micro-dollars; finer than a micro-dollar is refused, not rounded. */
function microDollars(
  value: unknown,
  where: string,
  problems: string[],
): number | undefined {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < 0 ||
    value > MAX_DOLLARS
  ) {
    problems.push(
      `${where} must be a number of dollars from 0 to ${MAX_DOLLARS}`,
    );
    return undefined;
  }
  const micros = Math.round(value * 1_000_000);
  if (Math.abs(value * 1_000_000 - micros) > 1e-6) {
    problems.push(`${where} has more than 6 decimals`);
    return undefined;
  }
  return micros;
}
