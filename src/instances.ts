/**
 * The server processes sharing one KV store, as they know each other: each
 * announces itself with a short heartbeat. A call's lease holder whose
 * heartbeat stopped has died (src/call/lease.ts), and on SIGTERM an instance
 * hands its calls over only when another live one is known.
 */

export interface InstanceRecord {
  id: string;
  /** Epoch ms of the last heartbeat. */
  beatAt: number;
  /** Stopping: it takes no new calls and resumes none. */
  draining: boolean;
}

export interface InstanceTimings {
  /** How often the heartbeat is written. */
  beatMs: number;
  /** A heartbeat older than this is a dead instance. */
  staleMs: number;
}

export const INSTANCE_TIMINGS: InstanceTimings = { beatMs: 400, staleMs: 1500 };

const instanceKey = (id: string) => ["instances", id];

export class Instances {
  readonly id = crypto.randomUUID();
  readonly #kv: Deno.Kv;
  readonly #timings: InstanceTimings;
  readonly #now: () => number;
  #draining = false;
  #stopped = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #beating: Promise<unknown> = Promise.resolve();

  constructor(
    kv: Deno.Kv,
    timings: InstanceTimings = INSTANCE_TIMINGS,
    now = Date.now,
  ) {
    this.#kv = kv;
    this.#timings = timings;
    this.#now = now;
  }

  /** Announces this instance and keeps announcing it; `tick` runs after each beat. */
  async start(tick?: () => Promise<unknown>): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(() => {
      this.#beating = this.#beating
        .then(() => this.#beat())
        .then(() => tick?.())
        .catch(() => {});
    }, this.#timings.beatMs);
  }

  /** Whether instance `id` beat recently (this one: until it stops). */
  async alive(id: string): Promise<boolean> {
    if (id === this.id) return !this.#stopped;
    const record = (await this.#kv.get<InstanceRecord>(instanceKey(id))).value;
    return record !== null &&
      this.#now() - record.beatAt < this.#timings.staleMs;
  }

  /** Other instances alive and taking calls. */
  async others(): Promise<number> {
    let count = 0;
    for await (
      const entry of this.#kv.list<InstanceRecord>({ prefix: ["instances"] })
    ) {
      const record = entry.value;
      if (
        record.id !== this.id && !record.draining &&
        this.#now() - record.beatAt < this.#timings.staleMs
      ) count++;
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
    clearInterval(this.#timer);
    await this.#beating;
    this.#stopped = true;
    await this.#kv.delete(instanceKey(this.id));
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return;
    const record: InstanceRecord = {
      id: this.id,
      beatAt: this.#now(),
      draining: this.#draining,
    };
    await this.#kv.set(instanceKey(this.id), record, {
      expireIn: this.#timings.staleMs * 10,
    });
  }
}
