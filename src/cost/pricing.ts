/**
 * A call's cost in whole micro-dollars, computed exactly: every term is an
 * integer in one small unit and the total is rounded once, so a sum of
 * responses never drifts the way adding dollar floats would.
 */

import { priceOf, type PriceTable, type TokenPrice } from "./prices.ts";
import type { UsageTotals } from "./usage.ts";

export interface Cost {
  /** Rounded half up to the micro-dollar. */
  microUsd: number;
  /** Models with usage but no price: their share is not in `microUsd`. */
  unpriced: string[];
}

/**
 * The unit: 1/(3·10¹²) USD. A token priced at p µ$ per 1M costs
 * p·10⁻¹² USD = 3p units; a millisecond at p µ$ per minute costs
 * p/(6·10¹⁰) USD = 50p units. Both integers, so the sum is exact.
 */
const UNITS_PER_TOKEN_PRICE = 3n;
const UNITS_PER_MS_PRICE = 50n;
const UNITS_PER_MICRO_USD = 3_000_000n;

export function priceUsage(totals: UsageTotals, table: PriceTable): Cost {
  let units = 0n;
  const unpriced: string[] = [];
  for (const [model, usage] of Object.entries(totals)) {
    const price = priceOf(table, model);
    const { tokens, seconds } = usage;
    const textUsed = tokens.inputText + tokens.outputText > 0;
    const audioUsed = tokens.inputAudio + tokens.outputAudio > 0;
    const missing = (textUsed && !price?.text) ||
      (audioUsed && !price?.audio) ||
      (seconds > 0 && price?.perMinute === undefined);
    if (missing) unpriced.push(model);
    if (price?.text) {
      units += tokenUnits(
        tokens.inputText,
        tokens.cachedText,
        tokens.outputText,
        price.text,
      );
    }
    if (price?.audio) {
      units += tokenUnits(
        tokens.inputAudio,
        tokens.cachedAudio,
        tokens.outputAudio,
        price.audio,
      );
    }
    if (price?.perMinute !== undefined && seconds > 0) {
      units += BigInt(Math.round(seconds * 1000)) * BigInt(price.perMinute) *
        UNITS_PER_MS_PRICE;
    }
  }
  return {
    microUsd: Number((units + UNITS_PER_MICRO_USD / 2n) / UNITS_PER_MICRO_USD),
    unpriced,
  };
}

/** Cached input is part of input: the rest is billed at the full rate. */
function tokenUnits(
  input: number,
  cached: number,
  output: number,
  price: TokenPrice,
): bigint {
  const cachedPart = Math.min(cached, input);
  return (BigInt(input - cachedPart) * BigInt(price.input) +
    BigInt(cachedPart) * BigInt(price.cachedInput) +
    BigInt(output) * BigInt(price.output)) * UNITS_PER_TOKEN_PRICE;
}

/** A total: cents once it reaches a dollar, tenths of a cent below (calls cost fractions of one). */
export function formatSpend(microUsd: number): string {
  return formatUsd(microUsd, microUsd >= 1_000_000 ? 2 : 4);
}

/** "$0.0123": micro-dollars shown with `decimals` places, rounded half up, exactly. */
export function formatUsd(microUsd: number, decimals = 4): string {
  const step = 10 ** (6 - decimals);
  const rounded = Math.round(microUsd / step);
  const whole = Math.floor(rounded / 10 ** decimals);
  const fraction = String(rounded % 10 ** decimals).padStart(decimals, "0");
  return decimals > 0 ? `$${whole}.${fraction}` : `$${whole}`;
}
