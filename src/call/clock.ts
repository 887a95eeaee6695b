/**
 * Time as the bridge sees it: a reading and timers that can be cancelled.
 * Calls use the real one; tests pass a fake that they advance by hand.
 */

export type Cancel = () => void;

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs `run` once after `ms`. */
  after(ms: number, run: () => void): Cancel;
  /** Runs `run` every `ms` until cancelled. */
  every(ms: number, run: () => void): Cancel;
}

export const realClock: Clock = {
  now: () => performance.now(),
  after(ms, run) {
    const timer = setTimeout(run, ms);
    return () => clearTimeout(timer);
  },
  every(ms, run) {
    const timer = setInterval(run, ms);
    return () => clearInterval(timer);
  },
};
