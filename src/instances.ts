/**
 * The server processes sharing one KV store, as they know each other: each
 * announces itself with a heartbeat. A call's lease holder whose heartbeat
 * stopped has died (src/call/lease.ts), and on SIGTERM an instance hands its
 * calls over only when another live one is known.
 *
 * Each beat is a billed KV write, so the pace follows the need: fast while
 * the instance carries calls or is named on a lease (a crashed holder must
 * be noticed within a second or two), slow while idle. Every record says
 * how long its silence may last before it means death, so readers judge a
 * slow beater by its own pace.
 */

export interface InstanceRecord {
  id: string;
  /** Epoch ms of the last heartbeat. */
  beatAt: number;
  /** Stopping: it takes no new calls and resumes none. */
  draining: boolean;
  /** Silent longer than this after `beatAt`: dead (absent: the fast pace's). */
  staleMs?: number;
}

export interface BeatPace {
  /** How often the heartbeat is written. */
  beatMs: number;
  /** A heartbeat older than this is a dead instance. */
  staleMs: number;
}

/** The fast pace, and the slow one of an idle instance (none: always fast). */
export interface InstanceTimings extends BeatPace {
  idle?: BeatPace;
}

/**
 * Fast: 400 ms, dead after 1.5 s (about 216,000 writes a day while calls
 * last). Idle: 10 s, dead after 15 s (8,640 a day).
 */
export const INSTANCE_TIMINGS: InstanceTimings = {
  beatMs: 400,
  staleMs: 1500,
  idle: { beatMs: 10_000, staleMs: 15_000 },
};

/**
 * The pace of the next beat: fast while the instance carries calls or
 * pending streams (`busy`), or is named on a lease until `heldUntil`;
 * otherwise the idle pace.
 */
export function beatPace(
  timings: InstanceTimings,
  state: { busy: boolean; heldUntil: number; now: number },
): BeatPace {
  const fast = { beatMs: timings.beatMs, staleMs: timings.staleMs };
  if (!timings.idle || state.busy || state.now < state.heldUntil) return fast;
  return timings.idle;
}

const instanceKey = (id: string) => ["instances", id];

export class Instances {
  readonly id = crypto.randomUUID();
  readonly #kv: Deno.Kv;
  readonly #timings: InstanceTimings;
  readonly #now: () => number;
  #draining = false;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #beating: Promise<unknown> = Promise.resolve();
  #busy: () => boolean = () => false;
  #heldUntil = 0;
  /** The staleness the last beat announced. */
  #announced = 0;
  #tick: (() => Promise<unknown>) | undefined;

  constructor(
    kv: Deno.Kv,
    timings: InstanceTimings = INSTANCE_TIMINGS,
    now = Date.now,
  ) {
    this.#kv = kv;
    this.#timings = timings;
    this.#now = now;
  }

  /**
   * Announces this instance and keeps announcing it; `tick` runs after each
   * beat; `busy`: whether it carries calls or pending streams now.
   */
  async start(
    tick?: () => Promise<unknown>,
    busy?: () => boolean,
  ): Promise<void> {
    this.#tick = tick;
    if (busy) this.#busy = busy;
    await this.#beat();
    this.#schedule();
  }

  /**
   * This instance is about to be named on a call's lease: from now on, for
   * at least `forMs`, it beats fast. Resolves once the fast beat is written,
   * so no lease names it while its record still promises a slow pace.
   */
  async hold(forMs: number): Promise<void> {
    this.#heldUntil = Math.max(this.#heldUntil, this.#now() + forMs);
    if (this.#stopped || this.#announced <= this.#timings.staleMs) return;
    this.#beating = this.#beating.then(() => this.#beat());
    await this.#beating;
    if (this.#timer !== undefined) this.#schedule();
  }

  /** Whether instance `id` beat recently (this one: until it stops). */
  async alive(id: string): Promise<boolean> {
    if (id === this.id) return !this.#stopped;
    const record = (await this.#kv.get<InstanceRecord>(instanceKey(id))).value;
    return record !== null && this.#fresh(record);
  }

  /** Other instances alive and taking calls. */
  async others(): Promise<number> {
    let count = 0;
    for await (
      const entry of this.#kv.list<InstanceRecord>({ prefix: ["instances"] })
    ) {
      const record = entry.value;
      if (record.id !== this.id && !record.draining && this.#fresh(record)) {
        count++;
      }
    }
    return count;
  }

  /** From now on others see this instance as stopping. */
  async drain(): Promise<void> {
    this.#draining = true;
    await this.#beat();
  }

  /** Stops beating and withdraws the announcement. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#stopped = true;
    await this.#beating;
    await this.#kv.delete(instanceKey(this.id));
  }

  #fresh(record: InstanceRecord): boolean {
    const staleMs = record.staleMs ?? this.#timings.staleMs;
    return this.#now() - record.beatAt < staleMs;
  }

  #pace(): BeatPace {
    return beatPace(this.#timings, {
      busy: this.#busy(),
      heldUntil: this.#heldUntil,
      now: this.#now(),
    });
  }

  /** The next beat, at the pace of now. */
  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#beating = this.#beating
        .then(() => this.#beat())
        .then(() => this.#tick?.())
        .catch(() => {})
        .finally(() => this.#schedule());
    }, this.#pace().beatMs);
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return;
    const { staleMs } = this.#pace();
    const record: InstanceRecord = {
      id: this.id,
      beatAt: this.#now(),
      draining: this.#draining,
      staleMs,
    };
    await this.#kv.set(instanceKey(this.id), record, {
      expireIn: staleMs * 10,
    });
    this.#announced = staleMs;
  }
}
