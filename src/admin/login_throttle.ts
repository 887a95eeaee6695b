/**
 * Failed sign-ins, counted so that guessing ADMIN_TOKEN is slow: past a few
 * failures from one client address, or many from everywhere, /login answers
 * 429 for a while. In memory, per instance; bounded in size.
 */

/** Failures that count: those within this window. */
export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Failures from one address within the window before it gets 429s. */
export const LOGIN_FAILURES_PER_ADDRESS = 5;
/** Failures from all addresses within the window before everyone gets 429s. */
export const LOGIN_FAILURES_OVERALL = 20;
/** Addresses remembered at most (the oldest are forgotten first). */
const MAX_ADDRESSES = 1000;

export class LoginThrottle {
  readonly #byAddress = new Map<string, number[]>();
  #overall: number[] = [];
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** True while sign-ins from `address` must be refused unread. */
  blocked(address: string): boolean {
    const since = this.#now() - LOGIN_WINDOW_MS;
    this.#overall = this.#overall.filter((at) => at > since);
    const mine = (this.#byAddress.get(address) ?? []).filter((at) =>
      at > since
    );
    return mine.length >= LOGIN_FAILURES_PER_ADDRESS ||
      this.#overall.length >= LOGIN_FAILURES_OVERALL;
  }

  /** Seconds until `address` may try again (for Retry-After). */
  retryAfterSeconds(address: string): number {
    const oldest = Math.min(
      ...(this.#byAddress.get(address) ?? []),
      ...this.#overall,
    );
    const wait = Number.isFinite(oldest)
      ? oldest + LOGIN_WINDOW_MS - this.#now()
      : 0;
    return Math.max(1, Math.ceil(wait / 1000));
  }

  failed(address: string): void {
    const now = this.#now();
    const since = now - LOGIN_WINDOW_MS;
    const mine = (this.#byAddress.get(address) ?? []).filter((at) =>
      at > since
    );
    mine.push(now);
    this.#byAddress.delete(address);
    this.#byAddress.set(address, mine.slice(-LOGIN_FAILURES_PER_ADDRESS));
    if (this.#byAddress.size > MAX_ADDRESSES) {
      this.#byAddress.delete(this.#byAddress.keys().next().value!);
    }
    this.#overall.push(now);
    this.#overall = this.#overall.slice(-LOGIN_FAILURES_OVERALL);
  }

  succeeded(address: string): void {
    this.#byAddress.delete(address);
  }
}
