/**
 * Histograms of milliseconds with fixed buckets (1 µs for latencies:
 * constant memory whatever the sample count), and rounding and medians for
 * the report. The process figures from /proc are in peers/proc.ts.
 */

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export class Histogram {
  readonly #bucketsPerMs: number;
  readonly #counts: Uint32Array;
  #count = 0;
  #sum = 0;
  #max = 0;

  /** `rangeMs`: what the buckets cover (longer samples land in the last one). */
  constructor(rangeMs = 200, bucketsPerMs = 1000) {
    this.#bucketsPerMs = bucketsPerMs;
    this.#counts = new Uint32Array(rangeMs * bucketsPerMs);
  }

  record(ms: number): void {
    const value = ms < 0 ? 0 : ms;
    const bucket = Math.min(
      this.#counts.length - 1,
      Math.floor(value * this.#bucketsPerMs),
    );
    this.#counts[bucket]++;
    this.#count++;
    this.#sum += value;
    if (value > this.#max) this.#max = value;
  }

  get count(): number {
    return this.#count;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#max = 0;
  }

  /** The upper edge of the bucket holding quantile `q`, in ms (exact max for q = 1). */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    if (q >= 1) return this.#max;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i];
      if (seen >= rank) {
        return Math.min(this.#max, (i + 1) / this.#bucketsPerMs);
      }
    }
    return this.#max;
  }

  /** Share of samples strictly above `ms`. */
  fractionAbove(ms: number): number {
    if (this.#count === 0) return 0;
    const from = Math.floor(ms * this.#bucketsPerMs) + 1;
    let above = 0;
    for (let i = from; i < this.#counts.length; i++) above += this.#counts[i];
    return above / this.#count;
  }

  summary(): Summary {
    return {
      count: this.#count,
      p50: round3(this.quantile(0.5)),
      p99: round3(this.quantile(0.99)),
      max: round3(this.#max),
      mean: round3(this.#count === 0 ? 0 : this.#sum / this.#count),
    };
  }
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
