/**
 * What a call consumed, in the units OpenAI bills: tokens by kind for the
 * token-priced models (Realtime, the Responses models behind GPT-Live and
 * the summary), seconds for the per-second ones (GPT-Live). Engines report
 * it as it comes; the journal and the budget add it up.
 */

import type { TokenCounts, UsageReport } from "../call_vocabulary.ts";
import { isRecord } from "../json.ts";

// Defined with the call's vocabulary, where engines report them.
export type { TokenCounts, UsageReport };

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0
    ? value
    : 0;
}

/**
 * A Responses `usage` (openai-node `ResponseUsage`): text tokens, cached
 * input counted inside `input_tokens`, reasoning inside `output_tokens`.
 */
export function responsesUsage(raw: unknown): TokenCounts | undefined {
  if (!isRecord(raw)) return undefined;
  const details = isRecord(raw.input_tokens_details)
    ? raw.input_tokens_details
    : {};
  return {
    inputText: count(raw.input_tokens),
    inputAudio: 0,
    cachedText: count(details.cached_tokens),
    cachedAudio: 0,
    outputText: count(raw.output_tokens),
    outputAudio: 0,
  };
}

/** One model's share of a call. */
export interface ModelUsage {
  tokens: TokenCounts;
  seconds: number;
}

/** A call's usage by model (JSON-safe: it is stored with the call). */
export type UsageTotals = Record<string, ModelUsage>;

export function noTokens(): TokenCounts {
  return {
    inputText: 0,
    inputAudio: 0,
    cachedText: 0,
    cachedAudio: 0,
    outputText: 0,
    outputAudio: 0,
  };
}

/** `totals` with `report` added (a new object; `totals` is left as it was). */
export function addUsage(
  totals: UsageTotals,
  report: UsageReport,
): UsageTotals {
  const current = totals[report.model] ?? { tokens: noTokens(), seconds: 0 };
  const next: ModelUsage = report.kind === "tokens"
    ? {
      tokens: sumTokens(current.tokens, report.tokens),
      seconds: current.seconds,
    }
    : report.kind === "duration"
    ? {
      tokens: current.tokens,
      // Summed in whole milliseconds: float seconds would drift (2.82 + ...).
      seconds: (Math.round(current.seconds * 1000) +
        wholeMs(report.seconds)) / 1000,
    }
    // Cumulative: the larger total wins, so a late or repeated report never lowers it.
    : {
      tokens: current.tokens,
      seconds: Math.max(current.seconds, report.seconds),
    };
  return { ...totals, [report.model]: next };
}

function sumTokens(a: TokenCounts, b: TokenCounts): TokenCounts {
  return {
    inputText: a.inputText + wholeCount(b.inputText),
    inputAudio: a.inputAudio + wholeCount(b.inputAudio),
    cachedText: a.cachedText + wholeCount(b.cachedText),
    cachedAudio: a.cachedAudio + wholeCount(b.cachedAudio),
    outputText: a.outputText + wholeCount(b.outputText),
    outputAudio: a.outputAudio + wholeCount(b.outputAudio),
  };
}

/** Seconds from the wire as whole milliseconds: finite, never negative. */
function wholeMs(seconds: number): number {
  return Number.isFinite(seconds) && seconds > 0
    ? Math.round(seconds * 1000)
    : 0;
}

/** Counts from the wire: whole, finite, never negative. */
function wholeCount(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

/** Two usages added together (segments of one call: their seconds add too). */
export function mergeUsage(a: UsageTotals, b: UsageTotals): UsageTotals {
  const merged: UsageTotals = { ...a };
  for (const [model, usage] of Object.entries(b)) {
    const current = merged[model];
    merged[model] = current
      ? {
        tokens: sumTokens(current.tokens, usage.tokens),
        seconds: current.seconds + usage.seconds,
      }
      : usage;
  }
  return merged;
}
