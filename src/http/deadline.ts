/**
 * The one deadline helper: a signal that fires after a time or when the
 * caller's own signal does (the MCP client, the model look-up, the summary
 * request), and a wait bounded by a time (the memory read of a new call,
 * the MCP session's goodbye). Plain timers, always cleared:
 * AbortSignal.timeout would outlive the work.
 */

/**
 * An AbortSignal that fires after `ms`, or when `outer` does; `clear()` must
 * run when the work is done so no timer outlives it.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #outer?: AbortSignal;
  readonly #onOuterAbort = () => this.#controller.abort(this.#outer?.reason);
  #timedOut = false;

  constructor(ms: number, outer?: AbortSignal) {
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#controller.abort(new DOMException("timed out", "TimeoutError"));
    }, ms);
    this.#outer = outer;
    if (outer?.aborted) this.#onOuterAbort();
    else outer?.addEventListener("abort", this.#onOuterAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Aborted by the caller's signal rather than by the clock. */
  get cancelled(): boolean {
    return this.#controller.signal.aborted && !this.#timedOut;
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener("abort", this.#onOuterAbort);
  }
}

/** `promise`, or the signal's reason once it aborts. */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

/** `promise`'s value, or undefined once `ms` have passed first. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  const deadline = new Deadline(ms);
  try {
    return await abortable(promise, deadline.signal);
  } catch (error) {
    if (deadline.timedOut) return undefined;
    throw error;
  } finally {
    deadline.clear();
  }
}

/** Why a request gave up, in words safe to log. */
export type RequestFailure =
  | "timeout"
  | "aborted"
  | "not_allowed"
  | "network_error";

/** An outbound request with a deadline and the caller's own abort. */
export async function withDeadline<T>(
  timeoutMs: number,
  callerSignal: AbortSignal | undefined,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; failure: RequestFailure }> {
  const deadline = new Deadline(timeoutMs, callerSignal);
  try {
    return { ok: true, value: await run(deadline.signal) };
  } catch (error) {
    if (deadline.timedOut) return { ok: false, failure: "timeout" };
    if (deadline.cancelled) return { ok: false, failure: "aborted" };
    if (error instanceof Deno.errors.NotCapable) {
      return { ok: false, failure: "not_allowed" };
    }
    return { ok: false, failure: "network_error" };
  } finally {
    deadline.clear();
  }
}
