/**
 * Latency histograms with 1 µs buckets (constant memory whatever the sample
 * count) and small helpers for the process figures read from /proc.
 */

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Milliseconds covered by the buckets; longer samples land in the last one. */
const RANGE_MS = 200;
const BUCKETS_PER_MS = 1000;

export class Histogram {
  #counts = new Uint32Array(RANGE_MS * BUCKETS_PER_MS);
  #count = 0;
  #sum = 0;
  #max = 0;

  record(ms: number): void {
    const value = ms < 0 ? 0 : ms;
    const bucket = Math.min(
      this.#counts.length - 1,
      Math.floor(value * BUCKETS_PER_MS),
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
      if (seen >= rank) return Math.min(this.#max, (i + 1) / BUCKETS_PER_MS);
    }
    return this.#max;
  }

  /** Share of samples strictly above `ms`. */
  fractionAbove(ms: number): number {
    if (this.#count === 0) return 0;
    const from = Math.floor(ms * BUCKETS_PER_MS) + 1;
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

/** utime + stime of a whole process (every thread, live or gone), in clock ticks. */
export function cpuTicks(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
}

/** utime and stime of a whole process, in clock ticks. */
export function cpuTicksSplit(
  pid: number | "self",
): { user: number; system: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

/** Busy and total clock ticks of each CPU, from /proc/stat. */
export function coreTicks(): { busy: number; total: number }[] {
  const cores: { busy: number; total: number }[] = [];
  for (const line of Deno.readTextFileSync("/proc/stat").split("\n")) {
    const match = /^cpu(\d+)\s+(.+)$/.exec(line);
    if (!match) continue;
    const v = match[2].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest counted in user)
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    cores[Number(match[1])] = { busy: total - idle, total };
  }
  return cores;
}

/** VmRSS of a process, in KiB. */
export function rssKiB(pid: number | "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) : 0;
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
