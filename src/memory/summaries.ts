/**
 * The summaries the assistant remembers, in Deno KV, newest first by the
 * call's start. Each expires after MEMORY_DAYS (its call's journal record
 * keeps it until JOURNAL_RETENTION_DAYS); the owner can delete one on
 * /memory.
 */

import type { Recap } from "./recap.ts";

export interface RememberedCall extends Recap {
  /** `<startedAt>-<callSid>`: the key, as pages and the API name it. */
  id: string;
  callSid: string;
  /** When the call started (epoch ms). */
  at: number;
}

const PREFIX = "memory_summaries";
const DAY_MS = 86_400_000;
/** What /memory lists at most. */
const PAGE_LIMIT = 100;

export class SummaryMemory {
  readonly #kv: Deno.Kv;
  readonly #days: number;
  readonly #now: () => number;

  constructor(kv: Deno.Kv, days: number, now: () => number = Date.now) {
    this.#kv = kv;
    this.#days = days;
    this.#now = now;
  }

  /** Remembers a call's summary (idempotent: the same call twice is one entry). */
  async save(callSid: string, at: number, recap: Recap): Promise<void> {
    const entry: RememberedCall = {
      id: `${at}-${callSid}`,
      callSid,
      at,
      summary: recap.summary,
      openLoops: recap.openLoops,
      todos: recap.todos,
    };
    const expireIn = Math.max(1, at + this.#days * DAY_MS - this.#now());
    await this.#kv.set([PREFIX, at, callSid], entry, { expireIn });
  }

  /**
   * The newest summaries within MEMORY_DAYS, newest first; `limit` at most.
   * KV deletes expired entries only eventually, so the age is checked here.
   */
  async recent(limit = PAGE_LIMIT): Promise<RememberedCall[]> {
    const oldest = this.#now() - this.#days * DAY_MS;
    const found: RememberedCall[] = [];
    const entries = this.#kv.list<RememberedCall>({ prefix: [PREFIX] }, {
      reverse: true,
      limit,
    });
    for await (const entry of entries) {
      if (entry.value.at < oldest) break;
      found.push(entry.value);
    }
    return found;
  }

  /** Forgets one summary by its id; false when there is none. */
  async remove(id: string): Promise<boolean> {
    const match = /^(\d{1,16})-([A-Za-z0-9]{1,64})$/.exec(id);
    if (!match) return false;
    const key = [PREFIX, Number(match[1]), match[2]];
    if (!(await this.#kv.get(key)).versionstamp) return false;
    await this.#kv.delete(key);
    return true;
  }
}
