/**
 * The HTTP app: a function from Request to Response, wired from a route
 * table. All three security layers end here: only a Twilio-signed webhook
 * mints a stream token (src/call/webhooks.ts), and only a signed upgrade
 * with an unused, unexpired token becomes a call (src/call/stream_route.ts).
 */

import type { Calls } from "./call/calls.ts";
import type { SpendLedger } from "./cost/spend.ts";
import { router } from "./http/router.ts";
import type { JobQueue } from "./jobs/queue.ts";
import type { CallJournal } from "./journal/journal.ts";
import type { Memory } from "./memory/memory.ts";
import type { Outbound } from "./outbound/outbound.ts";
import type { ModelStatus } from "./upstream/model_record.ts";
import { routeTable } from "./routes.ts";
import { type AppOptions, startServices } from "./services.ts";

// What callers hear when a call is refused or ends badly; the tests check them.
export {
  APOLOGY_MESSAGE,
  BUSY_MESSAGE,
  RESTARTING_MESSAGE,
} from "./call/webhooks.ts";
export { BUDGET_MESSAGE } from "./cost/budget.ts";

export type { AppOptions } from "./services.ts";

export interface App {
  /** `info`: Deno.serve's, for the client address (the /login throttle). */
  handler(request: Request, info?: Deno.ServeHandlerInfo): Promise<Response>;
  calls: Calls;
  journal: CallJournal;
  /**
   * Background jobs (call summaries, ...). Whoever owns the KV handle starts
   * `jobs.listen()` and, after closing KV, awaits what it returned: the
   * listener ends only with KV.
   */
  jobs: JobQueue;
  /** Notes and summaries; undefined with MEMORY=false. */
  memory: Memory | undefined;
  /** What was spent, by day (/calls, the budget). */
  spend: SpendLedger;
  /** Calls the server places (call-backs, the briefing); undefined when not configured. */
  outbound: Outbound | undefined;
  /**
   * The start-up look-up of the model's record (its shutdown date), run in
   * the background so serving never waits for it. Resolves, never rejects,
   * once /healthz and /calls show its result; a failed look-up is logged
   * once and resolves with `lookup: "failed"`.
   */
  modelCheck: Promise<ModelStatus>;
  /**
   * Announces this instance in KV with a heartbeat (the process that serves
   * calls starts it), and closes calls whose instance died as interrupted.
   */
  startHeartbeat(): Promise<void>;
  /**
   * Stops taking new calls and hands live ones over to another instance at
   * a quiet moment; with none known, lets them go on for up to `seconds`
   * and hands over what is left. Resolves when no call is left.
   */
  drain(seconds: number): Promise<void>;
  /** Ends every call and closes every upstream socket at once; resolves when they are closed. */
  close(): Promise<void>;
}

export async function createApp(options: AppOptions): Promise<App> {
  const services = await startServices(options);
  const { calls, journal, jobs, memory, spend, outbound } = services;
  return {
    handler: router(
      routeTable(services),
      options.logger,
      options.bodyDeadlineMs,
    ),
    calls,
    journal,
    jobs,
    memory,
    spend,
    outbound,
    modelCheck: services.modelCheck,
    startHeartbeat: () => services.startHeartbeat(),
    drain: (seconds) => services.drain(seconds),
    close: () => services.close(),
  };
}
