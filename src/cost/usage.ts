/**
 * What a call consumed, in the units OpenAI bills: tokens by kind for the
 * token-priced models (Realtime, the Responses models behind GPT-Live and
 * the summary), seconds for the per-second ones (GPT-Live). Engines report
 * it as it comes; the journal and the budget add it up.
 */

/**
 * Tokens as the APIs count them: `input*` include their cached part
 * (`cached*` is a subset), as in Realtime's `usage.input_token_details`
 * and Responses' `usage.input_tokens_details.cached_tokens`.
 */
export interface TokenCounts {
  inputText: number;
  inputAudio: number;
  cachedText: number;
  cachedAudio: number;
  outputText: number;
  outputAudio: number;
}

/** One usage report from an engine or a background job. */
export type UsageReport =
  /** The tokens of one response: they add to what came before. */
  | { kind: "tokens"; model: string; tokens: TokenCounts }
  /**
   * A session's billed seconds so far: GPT-Live reports a cumulative total
   * ("do not sum this value across usage events"), so it replaces the last.
   */
  | { kind: "seconds"; model: string; seconds: number }
  /**
   * Audio billed by duration, one piece at a time (a Realtime input
   * transcription's `usage: {type: "duration"}`): it adds to what came before.
   */
  | { kind: "duration"; model: string; seconds: number };

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
