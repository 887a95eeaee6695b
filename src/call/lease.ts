/**
 * One stream per call, across instances: a per-CallSid lease in Deno KV.
 *
 * The first signed webhook of a call claims it with an insert-if-absent, so
 * a repeated or replayed webhook mints nothing and opens no upstream
 * session. The instance whose stream carries the call holds the lease while
 * its heartbeat (src/instances.ts) is fresh; when the stream ends it records
 * how. Twilio's `<Connect action>` then reads the lease: an end on purpose
 * hangs up; any other end (a crash, a handover, a lost upstream) resumes the
 * call on whichever instance got the request, at most MAX_RESUMES times,
 * and never while another instance still holds a live stream for it.
 */

import type { Instances } from "../instances.ts";
import {
  endedOnPurpose,
  type EndReason,
  OUTCOMES,
  type ResumeCause,
} from "../call_vocabulary.ts";

export type LeaseState =
  /** A stream token is minted; the stream has not started. */
  | "pending"
  /** A stream carries the call on `instance`. */
  | "live"
  /** The stream ended on purpose: the call is over. */
  | "ended"
  /** The stream ended without the call ending: Twilio's continuation resumes it. */
  | "dropped"
  | "handover"
  /** The voice API refused the session (a bad key, an unknown model): a resume would be refused too. */
  | "refused"
  /** Nobody continued the call before the lease ran out. */
  | "interrupted";

export interface CallLease {
  callSid: string;
  state: LeaseState;
  /** The instance that minted the token or carries the stream. */
  instance: string;
  /** 0 for the call's first stream, then one more per resume. */
  segment: number;
  /** Why this segment exists (resumed segments only). */
  cause?: ResumeCause;
  /** Epoch ms of the last change. */
  changedAt: number;
}

/** Resumes per call; after that the caller hears the apology. */
export const MAX_RESUMES = 3;
const DAY_MS = 24 * 3_600_000;

/**
 * How long a call's lease is kept once written: replays of its webhooks
 * stay refused as long as the journal keeps the call (JOURNAL_RETENTION_DAYS),
 * and a day at least.
 */
export function finishedLeaseMs(retentionDays: number): number {
  return Math.max(1, retentionDays) * DAY_MS;
}
/**
 * A stream that ended without the call ending is resumed by Twilio's
 * continuation within seconds; past this with no resume it is interrupted.
 */
export const LEASE_GRACE_MS = 15_000;
/** How often a waiting continuation reads the lease again. */
const POLL_MS = 50;

const leaseKey = (callSid: string) => ["call_lease", callSid];
/** Leases not yet finished, for the sweep. */
const openKey = (callSid: string) => ["call_lease_open", callSid];

export type ContinueDecision =
  /** The call ended on purpose: hang up. */
  | { kind: "hang_up" }
  /** Resume it: this instance now holds segment `segment`. */
  | { kind: "resume"; cause: ResumeCause; segment: number }
  /** MAX_RESUMES reached, a refused session, or nothing known of the call: the apology. */
  | { kind: "give_up"; why: "limit" | "unknown" | "interrupted" | "refused" }
  /** Another live instance holds a stream for it (a replay): nothing is minted. */
  | { kind: "held" }
  /** Resumable, but this instance is stopping: another one should take it. */
  | { kind: "elsewhere" };

export class CallLeases {
  readonly #kv: Deno.Kv;
  readonly #instances: Instances;
  readonly #now: () => number;
  /** A pending stream older than this never connected (the stream token's TTL). */
  readonly #pendingMs: number;
  /** How long a lease is kept (finishedLeaseMs). */
  readonly #keepMs: number;

  constructor(
    kv: Deno.Kv,
    instances: Instances,
    pendingMs: number,
    options: { now?: () => number; retentionDays?: number } = {},
  ) {
    this.#kv = kv;
    this.#instances = instances;
    this.#pendingMs = pendingMs;
    this.#now = options.now ?? Date.now;
    this.#keepMs = finishedLeaseMs(options.retentionDays ?? 1);
  }

  get instanceId(): string {
    return this.#instances.id;
  }

  /** Claims a new call's first stream; false when the CallSid already has a lease. */
  async claim(callSid: string): Promise<boolean> {
    await this.#instances.hold(this.#pendingMs);
    const lease: CallLease = {
      callSid,
      state: "pending",
      instance: this.#instances.id,
      segment: 0,
      changedAt: this.#now(),
    };
    const result = await commit(() =>
      this.#write(
        this.#kv.atomic().check({ key: leaseKey(callSid), versionstamp: null }),
        lease,
      )
    );
    return result.ok;
  }

  async get(callSid: string): Promise<CallLease | undefined> {
    return (await this.#kv.get<CallLease>(leaseKey(callSid))).value ??
      undefined;
  }

  /**
   * Twilio's continuation: how the call goes on. Waits up to `waitMs` for a
   * holder that is still alive to record how its stream ended; a holder
   * whose heartbeat stopped has crashed, and its call is taken over.
   */
  async continueCall(
    callSid: string,
    waitMs: number,
    mayResume = true,
  ): Promise<ContinueDecision> {
    // Waiting is real time; lease times come from the clock.
    const deadline = performance.now() + waitMs;
    for (;;) {
      const entry = await this.#kv.get<CallLease>(leaseKey(callSid));
      const lease = entry.value;
      if (!lease) return { kind: "give_up", why: "unknown" };
      if (lease.state === "ended") return { kind: "hang_up" };
      if (lease.state === "interrupted") {
        return { kind: "give_up", why: "interrupted" };
      }
      if (lease.state === "refused") {
        await this.finish(callSid, "ended", entry);
        return { kind: "give_up", why: "refused" };
      }
      const waited = performance.now() >= deadline;
      let cause: ResumeCause | undefined;
      if (lease.state === "dropped" || lease.state === "handover") {
        cause = lease.state;
      } else if (
        this.#neverConnected(lease) ||
        (lease.state === "pending" && waited &&
          this.#now() - lease.changedAt >= waitMs)
      ) {
        // Twilio continues only once its stream is over: a stream pending
        // all the while never started (its handshake was refused).
        cause = "dropped";
      } else if (!await this.#instances.alive(lease.instance)) {
        cause = "crash";
      } else if (waited) {
        // A live instance still holds the stream: a replay, or a holder slow
        // to record its end.
        return { kind: "held" };
      }
      if (!cause) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
      if (lease.segment >= MAX_RESUMES) {
        await this.finish(callSid, "ended", entry);
        return { kind: "give_up", why: "limit" };
      }
      if (!mayResume) return { kind: "elsewhere" };
      await this.#instances.hold(this.#pendingMs);
      const next: CallLease = {
        callSid,
        state: "pending",
        instance: this.#instances.id,
        segment: lease.segment + 1,
        cause,
        changedAt: this.#now(),
      };
      const claimed = await commit(() =>
        this.#write(this.#kv.atomic().check(entry), next)
      );
      // Another instance took the same continuation first.
      if (!claimed.ok) return { kind: "held" };
      return { kind: "resume", cause, segment: next.segment };
    }
  }

  /**
   * The stream of this call started here: this instance holds it now. The
   * lease as it was (segment and cause), or undefined if the call has none
   * (a softphone stream).
   */
  async goLive(callSid: string): Promise<CallLease | undefined> {
    await this.#instances.hold(this.#pendingMs);
    for (;;) {
      const entry = await this.#kv.get<CallLease>(leaseKey(callSid));
      if (!entry.value) return undefined;
      const lease: CallLease = {
        ...entry.value,
        state: "live",
        instance: this.#instances.id,
        changedAt: this.#now(),
      };
      if (
        (await commit(() => this.#write(this.#kv.atomic().check(entry), lease)))
          .ok
      ) {
        return lease;
      }
    }
  }

  /**
   * This instance's stream of `segment` ended: on purpose (the call is
   * over), a handover, a refused session, or dropped. Ignored when the
   * lease has moved on.
   */
  async streamEnded(
    callSid: string,
    segment: number,
    reason: EndReason,
  ): Promise<void> {
    const outcome = OUTCOMES[reason];
    const state: LeaseState = endedOnPurpose(outcome)
      ? "ended"
      : reason === "upstream refused"
      ? "refused"
      : outcome === "handover"
      ? "handover"
      : "dropped";
    for (;;) {
      const entry = await this.#kv.get<CallLease>(leaseKey(callSid));
      const lease = entry.value;
      if (
        !lease || lease.segment !== segment ||
        lease.instance !== this.#instances.id || lease.state !== "live"
      ) return;
      const next = { ...lease, state, changedAt: this.#now() };
      if (
        (await commit(() => this.#write(this.#kv.atomic().check(entry), next)))
          .ok
      ) {
        return;
      }
    }
  }

  /** Marks the call finished (its apology was given, or it was interrupted). */
  async finish(
    callSid: string,
    state: "ended" | "interrupted",
    entry?: Deno.KvEntryMaybe<CallLease>,
  ): Promise<void> {
    const current = entry ?? await this.#kv.get<CallLease>(leaseKey(callSid));
    if (!current.value) return;
    await commit(() =>
      this.#write(this.#kv.atomic().check(current), {
        ...current.value!,
        state,
        changedAt: this.#now(),
      })
    );
  }

  /**
   * Leases nobody will continue: a holder that died, or a dropped or handed
   * over stream that no continuation resumed, past LEASE_GRACE_MS. Each is
   * marked interrupted (once, atomically) and passed to `closed`.
   */
  async sweep(closed: (lease: CallLease) => Promise<void>): Promise<number> {
    let count = 0;
    const now = this.#now();
    for await (const open of this.#kv.list({ prefix: ["call_lease_open"] })) {
      const callSid = open.key[1] as string;
      const entry = await this.#kv.get<CallLease>(leaseKey(callSid));
      const lease = entry.value;
      if (!lease) {
        await this.#kv.delete(open.key);
        continue;
      }
      if (now - lease.changedAt < LEASE_GRACE_MS) continue;
      const holderGone = lease.state === "dropped" ||
        lease.state === "handover" || lease.state === "refused" ||
        this.#neverConnected(lease) ||
        !await this.#instances.alive(lease.instance);
      if (!holderGone) continue;
      const interrupted: CallLease = {
        ...lease,
        state: "interrupted",
        changedAt: now,
      };
      const result = await commit(() =>
        this.#write(this.#kv.atomic().check(entry), interrupted)
      );
      if (!result.ok) continue;
      count++;
      await closed(interrupted);
    }
    return count;
  }

  #neverConnected(lease: CallLease): boolean {
    return lease.state === "pending" &&
      this.#now() - lease.changedAt > this.#pendingMs;
  }

  /** The lease, and its entry in the open index while it is not finished. */
  #write(atomic: Deno.AtomicOperation, lease: CallLease): Deno.AtomicOperation {
    atomic.set(leaseKey(lease.callSid), lease, { expireIn: this.#keepMs });
    return lease.state === "ended" || lease.state === "interrupted"
      ? atomic.delete(openKey(lease.callSid))
      : atomic.set(openKey(lease.callSid), lease.changedAt, {
        expireIn: this.#keepMs,
      });
  }
}

/** Attempts at a commit the KV file refuses because another process holds its lock. */
const LOCKED_ATTEMPTS = 20;

/**
 * Commits the operation `build` makes. Several processes sharing one KV
 * file (SQLite) can find it locked for a moment: that commit is tried
 * again, as a new operation; any other failure is thrown.
 */
async function commit(
  build: () => Deno.AtomicOperation,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  for (let attempt = 1;; attempt++) {
    try {
      return await build().commit();
    } catch (error) {
      const locked = error instanceof Error && /locked/i.test(error.message);
      if (!locked || attempt >= LOCKED_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
    }
  }
}
