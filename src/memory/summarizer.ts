/**
 * The summary of each call, made after it ends: its transcript goes to a
 * small text model through the Responses API, through the one KV queue, so
 * it never delays the caller or keeps a voice session open, and survives a
 * restart. A failed or slow attempt is retried later with a growing delay;
 * after the last one the call's journal record says "failed" and the log
 * says why. Delivery is at least once: each attempt is claimed in KV, so a
 * repeated delivery does not ask the model twice.
 */

import type { UsageReport } from "../cost/usage.ts";
import type { JobQueue } from "../jobs/queue.ts";
import type {
  CallJournal,
  CallRecord,
  JournalLine,
  SummaryState,
} from "../journal/journal.ts";
import type { Logger } from "../log.ts";
import type { Memory } from "./memory.ts";
import { parseRecap, RECAP_SCHEMA } from "./recap.ts";
import {
  createResponse,
  type ResponsesRequest,
  type ResponsesResult,
} from "./responses_client.ts";

export const SUMMARY_JOB = "summary";

export interface SummarizerOptions {
  kv: Deno.Kv;
  queue: JobQueue;
  journal: CallJournal;
  memory: Memory;
  logger: Logger;
  /** The voice endpoint: its host answers the Responses API too. */
  endpoint: string;
  apiKey: string;
  /** SUMMARY_MODEL. */
  model: string;
  timeZone: string;
  /** One request's limit (default 30 s); a slower one is retried later. */
  timeoutMs?: number;
  /** The first retry's delay (default 30 s), doubling each time up to an hour. */
  retryDelayMs?: number;
  /** Requests before the summary is marked failed (default 5). */
  maxAttempts?: number;
  now?: () => number;
}

export const SUMMARY_INSTRUCTIONS =
  "You summarise a phone call between a personal voice assistant and its owner, for the assistant to " +
  "remember in its next calls. Use only what the transcript says. summary: two or three sentences, third " +
  'person ("The owner asked..."): what the owner wanted and what was done; say plainly when something ' +
  "failed or was not done. open_loops: what was left unresolved or promised for later. todos: tasks the " +
  'owner mentioned or asked for, each a short phrase, with " (done)" after those the assistant did.';

/** The transcript sent is at most this long: the end of a long call matters most. */
const MAX_TRANSCRIPT_CHARS = 40_000;
const MAX_OUTPUT_TOKENS = 2_000;
const MAX_RETRY_DELAY_MS = 3_600_000;
const DAY_MS = 86_400_000;

interface Claim {
  state: "running" | "done";
  /** A running claim older than this is an attempt that died with its process. */
  until: number;
}

export class Summarizer {
  readonly #options: SummarizerOptions;
  readonly #now: () => number;
  readonly #closing = new AbortController();
  readonly #running = new Set<Promise<void>>();

  constructor(options: SummarizerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    options.queue.on(SUMMARY_JOB, (payload) => {
      const running = this.#run(payload);
      this.#running.add(running);
      const settled = () => this.#running.delete(running);
      running.then(settled, settled);
      return running;
    });
  }

  get #maxAttempts(): number {
    return this.#options.maxAttempts ?? 5;
  }

  get #timeoutMs(): number {
    return this.#options.timeoutMs ?? 30_000;
  }

  /**
   * The journal's `afterEnd`: the call's record is final. "pending" and the
   * job land in one commit, so a summary is never promised and not queued.
   */
  async schedule(record: CallRecord): Promise<void> {
    const { journal, queue } = this.#options;
    await journal.recordSummary(
      record.callSid,
      { status: "pending", attempts: 0 },
      undefined,
      (atomic) =>
        queue.enqueueWith(atomic, SUMMARY_JOB, {
          callSid: record.callSid,
          attempt: 1,
        }),
    );
  }

  /**
   * Gives up on requests in flight (the app is closing; KV delivers those
   * jobs again later) and resolves once no attempt is running.
   */
  async close(): Promise<void> {
    this.#closing.abort();
    while (this.#running.size > 0) {
      await Promise.allSettled([...this.#running]);
    }
  }

  async #run(payload: Record<string, unknown>): Promise<void> {
    // Closing: leave the job to KV, which delivers it again after the restart.
    if (this.#closing.signal.aborted) throw new Error("the app is closing");
    const callSid = typeof payload.callSid === "string" ? payload.callSid : "";
    const attempt = typeof payload.attempt === "number" &&
        Number.isInteger(payload.attempt) && payload.attempt >= 1
      ? payload.attempt
      : 1;
    if (!callSid) {
      this.#options.logger.log("warn", "summary.bad_job");
      return;
    }
    const claimKey = ["summary_claims", callSid, attempt];
    if (!(await this.#claim(claimKey))) return;
    try {
      await this.#attempt(callSid, attempt);
      await this.#options.kv.set(claimKey, { state: "done", until: 0 }, {
        expireIn: DAY_MS,
      });
    } catch (error) {
      // Not done: free the claim so KV's redelivery runs this attempt again.
      await this.#options.kv.delete(claimKey).catch(() => {});
      throw error;
    }
  }

  async #claim(key: Deno.KvKey): Promise<boolean> {
    const { kv } = this.#options;
    const current = await kv.get<Claim>(key);
    const claim = current.value;
    if (claim && (claim.state === "done" || claim.until > this.#now())) {
      return false;
    }
    const lease: Claim = {
      state: "running",
      until: this.#now() + this.#timeoutMs + 60_000,
    };
    const commit = await kv.atomic().check(current)
      .set(key, lease, { expireIn: DAY_MS }).commit();
    return commit.ok;
  }

  async #attempt(callSid: string, attempt: number): Promise<void> {
    const { journal, memory, logger } = this.#options;
    const call = await journal.get(callSid);
    if (!call) {
      logger.log("warn", "summary.call_missing", { callSid });
      return;
    }
    if (call.record.summary?.status === "done") return;
    const transcript = transcriptText(call.lines);
    if (!transcript) {
      await journal.recordSummary(callSid, {
        status: "skipped",
        attempts: attempt - 1,
        error: "no transcript to summarise",
        at: this.#now(),
      });
      return;
    }
    const result = await createResponse({
      endpoint: this.#options.endpoint,
      apiKey: this.#options.apiKey,
      request: this.#request(call.record, transcript),
      timeoutMs: this.#timeoutMs,
      signal: this.#closing.signal,
    });
    if (!result.ok && result.error === "aborted") {
      throw new Error("summary request aborted: the app is closing");
    }
    const recap = result.ok ? parseRecap(result.text) : undefined;
    const usage = this.#usage(result);
    if (recap) {
      await journal.recordSummary(callSid, {
        status: "done",
        attempts: attempt,
        text: recap.summary,
        openLoops: recap.openLoops,
        todos: recap.todos,
        at: this.#now(),
      }, usage);
      await memory.summaries.save(callSid, call.record.startedAt, recap);
      logger.log("info", "summary.done", { callSid, attempts: attempt });
      return;
    }
    const error = result.ok ? "the answer is not a summary" : result.error;
    await this.#failed(callSid, attempt, error, usage);
  }

  async #failed(
    callSid: string,
    attempt: number,
    error: string,
    usage: UsageReport | undefined,
  ): Promise<void> {
    const { journal, queue, logger } = this.#options;
    if (attempt >= this.#maxAttempts) {
      const state: SummaryState = {
        status: "failed",
        attempts: attempt,
        error,
        at: this.#now(),
      };
      await journal.recordSummary(callSid, state, usage);
      logger.log("error", "summary.failed", {
        callSid,
        attempts: attempt,
        error,
      });
      return;
    }
    const delayMs = Math.min(
      (this.#options.retryDelayMs ?? 30_000) * 2 ** (attempt - 1),
      MAX_RETRY_DELAY_MS,
    );
    await journal.recordSummary(
      callSid,
      { status: "retrying", attempts: attempt, error },
      usage,
      (atomic) =>
        queue.enqueueWith(
          atomic,
          SUMMARY_JOB,
          { callSid, attempt: attempt + 1 },
          delayMs,
        ),
    );
    logger.log("warn", "summary.retry", {
      callSid,
      attempt,
      error,
      delayMs,
    });
  }

  /** A completed answer is billed whether or not it holds a summary. */
  #usage(result: ResponsesResult): UsageReport | undefined {
    if (!result.ok || !result.usage) return undefined;
    return {
      kind: "tokens",
      model: result.model || this.#options.model,
      tokens: result.usage,
    };
  }

  #request(record: CallRecord, transcript: string): ResponsesRequest {
    const when = new Intl.DateTimeFormat("en-GB", {
      timeZone: this.#options.timeZone,
      dateStyle: "full",
      timeStyle: "short",
    }).format(record.startedAt);
    return {
      model: this.#options.model,
      instructions: SUMMARY_INSTRUCTIONS,
      input: `Call on ${when} (${this.#options.timeZone}).\n\n${transcript}`,
      text: {
        format: {
          type: "json_schema",
          name: "call_summary",
          schema: RECAP_SCHEMA,
          strict: true,
        },
      },
      store: false,
      max_output_tokens: MAX_OUTPUT_TOKENS,
    };
  }
}

/** The journal's lines as plain text, one per line; empty when nobody spoke. */
export function transcriptText(lines: JournalLine[]): string {
  if (!lines.some((l) => l.kind === "caller" || l.kind === "assistant")) {
    return "";
  }
  const text = lines.map((line) => {
    switch (line.kind) {
      case "caller":
        return `Owner: ${line.text}`;
      case "assistant":
        return `Assistant: ${line.text}`;
      case "tool":
        return `[tool ${line.name}${line.server ? ` (${line.server})` : ""}: ${
          line.failed ? "failed" : "done"
        }]`;
      case "notice":
        return `[${line.text}]`;
    }
  }).join("\n");
  return text.length <= MAX_TRANSCRIPT_CHARS
    ? text
    : text.slice(text.length - MAX_TRANSCRIPT_CHARS);
}
