/**
 * An outbound request with a deadline and the caller's own abort: what the
 * start-up model look-up and the summary request both need. A plain timer,
 * cleared at the end: AbortSignal.timeout would outlive the request.
 */

/** Why a request gave up, in words safe to log. */
export type RequestFailure =
  | "timeout"
  | "aborted"
  | "not_allowed"
  | "network_error";

export async function withDeadline<T>(
  timeoutMs: number,
  callerSignal: AbortSignal | undefined,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; failure: RequestFailure }> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const stop = () => controller.abort();
  callerSignal?.addEventListener("abort", stop, { once: true });
  if (callerSignal?.aborted) stop();
  try {
    return { ok: true, value: await run(controller.signal) };
  } catch (error) {
    if (timedOut) return { ok: false, failure: "timeout" };
    if (controller.signal.aborted) return { ok: false, failure: "aborted" };
    if (error instanceof Deno.errors.NotCapable) {
      return { ok: false, failure: "not_allowed" };
    }
    return { ok: false, failure: "network_error" };
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener("abort", stop);
  }
}
