/**
 * What was spent, by day: one KV entry per call under the day it started
 * (in ASSISTANT_TIMEZONE), holding that call's cost so far. The journal
 * writes it with the call's record, in the same atomic commit, so the day's
 * total is always the sum of its calls; it outlives the journal's retention
 * so month to date stays right.
 */

/** Long enough for any month to date and a year of looking back. */
const KEEP_MS = 400 * 86_400_000;
const PREFIX = "spend";

/** "2026-11-24": the calendar day of `epochMs` in `timeZone`. */
export function localDay(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(epochMs);
  const part = (type: string) => parts.find((p) => p.type === type)?.value;
  return `${part("year")}-${part("month")}-${part("day")}`;
}

export class SpendLedger {
  readonly #kv: Deno.Kv;
  readonly #timeZone: string;

  constructor(kv: Deno.Kv, timeZone: string) {
    this.#kv = kv;
    this.#timeZone = timeZone;
  }

  /** Adds the write of a call's cost to an atomic operation (the journal's). */
  write(
    atomic: Deno.AtomicOperation,
    callSid: string,
    startedAt: number,
    microUsd: number,
  ): Deno.AtomicOperation {
    return atomic.set(
      [PREFIX, localDay(startedAt, this.#timeZone), callSid],
      microUsd,
      { expireIn: KEEP_MS },
    );
  }

  /** The day's spend at `epochMs`, in micro-dollars, leaving out one call if asked. */
  async day(epochMs: number, exceptCallSid?: string): Promise<number> {
    let total = 0;
    const day = localDay(epochMs, this.#timeZone);
    for await (
      const entry of this.#kv.list<number>({ prefix: [PREFIX, day] })
    ) {
      if (entry.key[2] !== exceptCallSid) total += entry.value;
    }
    return total;
  }

  /** From the first of `epochMs`'s month to its day, in micro-dollars. */
  async monthToDate(epochMs: number): Promise<number> {
    const day = localDay(epochMs, this.#timeZone);
    let total = 0;
    const entries = this.#kv.list<number>({
      start: [PREFIX, `${day.slice(0, 8)}01`],
      // Days compare as strings: "~" sorts after every digit.
      end: [PREFIX, `${day}~`],
    });
    for await (const entry of entries) total += entry.value;
    return total;
  }

  /** The day a call's cost counts on. */
  dayOf(startedAt: number): string {
    return localDay(startedAt, this.#timeZone);
  }
}
