/**
 * Whether a new call (a Twilio webhook or a softphone token) may start: not
 * once the server is draining, and not beyond MAX_CONCURRENT_CALLS.
 */

export class Admission {
  #draining = false;

  constructor(
    /** Calls live or being set up. */
    private readonly load: () => number,
    private readonly maxConcurrentCalls: number,
  ) {}

  /** True once `drain()` was called: /healthz says so. */
  get draining(): boolean {
    return this.#draining;
  }

  /** From now on every new call is refused. */
  drain(): void {
    this.#draining = true;
  }

  /** Why a new call may not start now; undefined when it may. */
  refusal(): "draining" | "busy" | undefined {
    if (this.#draining) return "draining";
    if (this.load() >= this.maxConcurrentCalls) return "busy";
    return undefined;
  }
}
