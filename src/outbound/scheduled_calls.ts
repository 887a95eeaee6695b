/**
 * Scheduled calls in Deno KV: one record per requested call, moved from
 * state to state only by an atomic check of the record's versionstamp, so
 * on a shared KV one instance wins each step (the claim before dialling
 * above all), whatever the queue delivers twice.
 */

import type { RequestedBy } from "../journal/outbound_calls.ts";

/**
 * scheduled → dialling (claimed) → calling (Twilio took it) → done, or back
 * to scheduled for the one retry; cancelled only from scheduled; failed
 * when Twilio refused it; skipped when the day's budget was spent.
 */
export type ScheduledState =
  | "scheduled"
  | "dialling"
  | "calling"
  | "done"
  | "cancelled"
  | "failed"
  | "skipped";

export interface ScheduledCall {
  /** Short, so the assistant can say it and the owner type it. */
  id: string;
  to: string;
  topic: string;
  requestedBy: RequestedBy;
  createdAt: number;
  /** The time asked for. */
  at: number;
  /** When the pending attempt is due: `at`, or the retry's time. */
  dueAt: number;
  /** 1, then 2 for the one retry. */
  attempt: number;
  state: ScheduledState;
  /** Every CallSid Twilio gave for it, oldest first. */
  callSids: string[];
  /** What came of it, in words, once it is over (or why it failed). */
  result?: string;
}

/** The first try and one retry. */
export const MAX_ATTEMPTS = 2;

/** Kept this long after it was due, for the list and the API. */
const KEEP_AFTER_MS = 7 * 86_400_000;

function key(id: string): Deno.KvKey {
  return ["scheduled_calls", id];
}

/**
 * Bumped by every new call: a create commits only if no other create came
 * between its look at the stored calls and its commit, so caps on them hold
 * across instances.
 */
const LIST_VERSION: Deno.KvKey = ["scheduled_calls_version"];

/** What a create may be refused for, from the calls stored: the reason, or undefined. */
export type Admit = (stored: ScheduledCall[]) => string | undefined;

export type CreateResult =
  | { ok: true; call: ScheduledCall }
  | { ok: false; error: "once" | string };

/** More to commit with a write (a queued job): all of it lands or none. */
export type Also = (atomic: Deno.AtomicOperation, call: ScheduledCall) => void;

export type Transition =
  | { ok: true; call: ScheduledCall }
  | { ok: false; call: ScheduledCall | undefined };

export class ScheduledCalls {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;

  constructor(kv: Deno.Kv, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /**
   * Stores a new call under a fresh id (insert-if-absent), with `also`
   * (its job) in the same commit; returns it with its id. With `once`, only
   * if that key is absent, which the same commit then sets (the briefing's
   * one call a day): error "once" when it was already there. `admit` sees
   * the stored calls and may refuse; no other create lands in between.
   */
  async create(
    call: Omit<ScheduledCall, "id">,
    also: Also,
    once?: Deno.KvKey,
    admit?: Admit,
  ): Promise<CreateResult> {
    for (;;) {
      const version = await this.#kv.get(LIST_VERSION);
      const refusal = admit?.(await this.list());
      if (refusal !== undefined) return { ok: false, error: refusal };
      const id = crypto.getRandomValues(new Uint8Array(4)).toHex();
      const stored = { id, ...call };
      const atomic = this.#kv.atomic()
        .check(version)
        .set(LIST_VERSION, id)
        .check({ key: key(id), versionstamp: null })
        .set(key(id), stored, { expireIn: this.#keepFor(stored) });
      if (once) {
        atomic.check({ key: once, versionstamp: null })
          .set(once, id, { expireIn: this.#keepFor(stored) });
      }
      also(atomic, stored);
      const commit = await atomic.commit();
      if (commit.ok) return { ok: true, call: stored };
      // A check failed: the once-key, another create, or (rarely) the random id.
      if (once && (await this.#kv.get(once)).versionstamp !== null) {
        return { ok: false, error: "once" };
      }
    }
  }

  async get(id: string): Promise<ScheduledCall | undefined> {
    return (await this.#kv.get<ScheduledCall>(key(id))).value ?? undefined;
  }

  /** Every call still kept, the next due first. */
  async list(): Promise<ScheduledCall[]> {
    const calls: ScheduledCall[] = [];
    for await (
      const entry of this.#kv.list<ScheduledCall>({
        prefix: ["scheduled_calls"],
      })
    ) {
      calls.push(entry.value);
    }
    return calls.sort((a, b) => a.dueAt - b.dueAt);
  }

  /**
   * Applies `change` if `allowed` holds for the stored record, atomically:
   * when another instance moved it first, the check fails, the record is
   * read again and `allowed` asked again. `also` joins the same commit.
   */
  async transition(
    id: string,
    allowed: (call: ScheduledCall) => boolean,
    change: (call: ScheduledCall) => Partial<ScheduledCall>,
    also?: Also,
  ): Promise<Transition> {
    for (;;) {
      const current = await this.#kv.get<ScheduledCall>(key(id));
      if (!current.value || !allowed(current.value)) {
        return { ok: false, call: current.value ?? undefined };
      }
      const next = { ...current.value, ...change(current.value) };
      const atomic = this.#kv.atomic().check(current)
        .set(key(id), next, { expireIn: this.#keepFor(next) });
      also?.(atomic, next);
      const commit = await atomic.commit();
      if (commit.ok) return { ok: true, call: next };
    }
  }

  #keepFor(call: ScheduledCall): number {
    return Math.max(0, call.dueAt - this.#now()) + KEEP_AFTER_MS;
  }
}
