/**
 * Background work that must survive restarts (a call summary to retry, a
 * call to place later) goes through Deno KV's queue. A KV handle takes one
 * queue listener, so every kind of job shares this one, and each kind
 * registers its handler. Delivery is at least once: handlers must be
 * idempotent; one that throws is retried by KV.
 */

import { isRecord } from "../json.ts";
import type { Logger } from "../log.ts";

/** What travels through the queue: a kind and its own payload (structured-cloneable). */
export interface Job {
  kind: string;
  payload: Record<string, unknown>;
}

export type JobHandler = (payload: Record<string, unknown>) => Promise<void>;

export class JobQueue {
  readonly #kv: Deno.Kv;
  readonly #logger: Logger;
  readonly #handlers = new Map<string, JobHandler>();
  #listening: Promise<void> | undefined;

  constructor(kv: Deno.Kv, logger: Logger) {
    this.#kv = kv;
    this.#logger = logger;
  }

  /** Registers the handler for one kind of job (before `listen`). */
  on(kind: string, handler: JobHandler): void {
    if (this.#handlers.has(kind)) {
      throw new Error(`a handler for ${kind} jobs is already registered`);
    }
    this.#handlers.set(kind, handler);
  }

  /** Queues a job, to run after `delayMs` (KV allows up to 30 days). */
  async enqueue(
    kind: string,
    payload: Record<string, unknown>,
    delayMs = 0,
  ): Promise<void> {
    const job: Job = { kind, payload };
    await this.#kv.enqueue(job, { delay: Math.max(0, Math.round(delayMs)) });
  }

  /**
   * Adds the job to an atomic operation: it is queued only if the rest of
   * that commit lands (a record and the job that acts on it, together).
   */
  enqueueWith(
    atomic: Deno.AtomicOperation,
    kind: string,
    payload: Record<string, unknown>,
    delayMs = 0,
  ): Deno.AtomicOperation {
    const job: Job = { kind, payload };
    return atomic.enqueue(job, { delay: Math.max(0, Math.round(delayMs)) });
  }

  /** Starts delivering jobs to their handlers; resolves when KV closes. */
  listen(): Promise<void> {
    this.#listening ??= this.#kv.listenQueue((message: unknown) =>
      this.#deliver(message)
    );
    return this.#listening;
  }

  async #deliver(message: unknown): Promise<void> {
    if (
      !isRecord(message) || typeof message.kind !== "string" ||
      !isRecord(message.payload)
    ) {
      // Retrying a message nobody can read would only repeat the failure.
      this.#logger.log("warn", "job.unreadable");
      return;
    }
    const handler = this.#handlers.get(message.kind);
    if (!handler) {
      this.#logger.log("warn", "job.unknown_kind", { kind: message.kind });
      return;
    }
    try {
      await handler(message.payload);
    } catch (error) {
      this.#logger.log("warn", "job.failed", {
        kind: message.kind,
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
  }
}
