/**
 * CALLER_PIN: caller ID can be spoofed, so a call to /incoming-call must key
 * in the owner's PIN before any stream token or upstream session exists.
 * Wrong PINs are counted in Deno KV, per call and per clock hour across
 * calls, so the counts hold across instances: the third wrong PIN in a call
 * hangs up, and more than ten in an hour refuse calls until the hour ends
 * (journaled here and shown on /calls).
 */

import { timingSafeEqual } from "../hmac.ts";

/** The third wrong PIN in one call hangs up. */
export const WRONG_PINS_PER_CALL = 3;
/** More than this many wrong PINs within a clock hour refuse calls until it ends. */
export const WRONG_PINS_PER_HOUR = 10;

const HOUR_MS = 3_600_000;
/** How long /calls can show a lockout. */
const LOCKOUT_RECORD_MS = 7 * 24 * HOUR_MS;

/** STIR/SHAKEN: the caller ID's signature did not verify (likely spoofed). */
export function stirFailed(verdict: string | null): boolean {
  return (verdict ?? "").trim().startsWith("TN-Validation-Failed");
}

/** STIR/SHAKEN "A": the originating carrier vouches for the caller's right to the number. */
export function stirPassedA(verdict: string | null): boolean {
  return (verdict ?? "").trim() === "TN-Validation-Passed-A";
}

/** A clock hour in which too many wrong PINs refused calls. */
export interface PinLockout {
  /** Start of the hour, ms since the epoch (calls are refused until it ends). */
  hourStart: number;
  /** When the wrong PIN that tipped it came. */
  lockedAt: number;
}

export type WrongPinOutcome = "ask_again" | "hang_up" | "locked_out";

export class CallerPin {
  readonly #pin: string;
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  readonly #onLockout: (lockout: PinLockout) => void;

  constructor(
    pin: string,
    kv: Deno.Kv,
    options: {
      /** Once per locked-out hour, as it starts (a log line for the owner). */
      onLockout?: (lockout: PinLockout) => void;
      now?: () => number;
    } = {},
  ) {
    this.#pin = pin;
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
    this.#onLockout = options.onLockout ?? (() => {});
  }

  get digits(): number {
    return this.#pin.length;
  }

  /** Constant-time: the time taken does not depend on how much of it was right. */
  matches(digits: string): boolean {
    return timingSafeEqual(digits, this.#pin);
  }

  /** True while this clock hour has seen more than WRONG_PINS_PER_HOUR wrong PINs. */
  async lockedOut(): Promise<boolean> {
    const hour = await this.#kv.get<number>(this.#hourKey(this.#now()));
    return (hour.value ?? 0) > WRONG_PINS_PER_HOUR;
  }

  /**
   * Counts a wrong PIN for the call and the hour; says what the caller gets.
   * Past its third, a call's wrong PINs (a replayed request) only hang up:
   * they do not count for the hour, so one captured request cannot lock
   * the owner out.
   */
  async wrong(callSid: string): Promise<WrongPinOutcome> {
    const now = this.#now();
    const inCall = await this.#increment(
      ["caller_pin", "call", callSid],
      HOUR_MS,
    );
    if (inCall > WRONG_PINS_PER_CALL) return "hang_up";
    const inHour = await this.#increment(this.#hourKey(now), 2 * HOUR_MS);
    if (inHour === WRONG_PINS_PER_HOUR + 1) {
      const hourStart = hourOf(now);
      const lockout: PinLockout = { hourStart, lockedAt: now };
      await this.#kv.set(["caller_pin", "lockout", hourStart], lockout, {
        expireIn: LOCKOUT_RECORD_MS,
      });
      this.#onLockout(lockout);
    }
    if (inHour > WRONG_PINS_PER_HOUR) return "locked_out";
    return inCall >= WRONG_PINS_PER_CALL ? "hang_up" : "ask_again";
  }

  /** Lockouts of the last week, newest first (for /calls). */
  async lockouts(): Promise<PinLockout[]> {
    const since = this.#now() - LOCKOUT_RECORD_MS;
    const found: PinLockout[] = [];
    for await (
      const entry of this.#kv.list<PinLockout>({
        prefix: ["caller_pin", "lockout"],
      }, { reverse: true, limit: 50 })
    ) {
      if (entry.value.hourStart >= since) found.push(entry.value);
    }
    return found;
  }

  #hourKey(now: number): Deno.KvKey {
    return ["caller_pin", "hour", hourOf(now)];
  }

  /** Adds one to a counter atomically (other instances count too); the new count. */
  async #increment(key: Deno.KvKey, expireIn: number): Promise<number> {
    for (;;) {
      const current = await this.#kv.get<number>(key);
      const next = (current.value ?? 0) + 1;
      const { ok } = await this.#kv.atomic().check(current).set(key, next, {
        expireIn,
      }).commit();
      if (ok) return next;
    }
  }
}

function hourOf(epochMs: number): number {
  return Math.floor(epochMs / HOUR_MS) * HOUR_MS;
}
