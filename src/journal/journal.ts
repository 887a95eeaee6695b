/**
 * The call journal in Deno KV: one record per call, plus its lines
 * (transcript and tool calls) under their own keys, since a KV value is
 * limited to 64 KiB and a long call's transcript is not.
 */

import type {
  CallObserver,
  CallOutcome,
  CallSummary,
} from "../call/vocabulary.ts";
import type { Logger } from "../log.ts";

export interface CallRecord {
  callSid: string;
  caller: string;
  /** "phone" or "browser". */
  source: string;
  startedAt: number;
  endedAt: number | null;
  durationMs: number | null;
  outcome: CallOutcome | null;
  endReason: string | null;
  turnLatenciesMs: number[];
  toolCalls: number;
  /** MCP servers whose tools could not be listed on this call. */
  toolsUnavailable?: string[];
}

export type JournalLine =
  | { at: number; kind: "caller" | "assistant"; text: string }
  | {
    at: number;
    kind: "tool";
    name: string;
    server: string;
    failed: boolean;
    /** A failed MCP call's error type (protocol_error, tool_execution_error, http_error). */
    errorType?: string;
  }
  | { at: number; kind: "notice"; text: string };

export interface JournalOptions {
  retentionDays: number;
  /** False: keep metadata only (no transcript lines). */
  transcripts: boolean;
  logger: Logger;
  now?: () => number;
}

const DAY_MS = 86_400_000;
/** Turn latencies kept per call: enough for statistics, bounded in size. */
const MAX_TURN_LATENCIES = 500;

export class CallJournal {
  readonly #kv: Deno.Kv;
  readonly #options: JournalOptions;
  readonly #now: () => number;
  /** Each call's write queue, while it has writes in flight. */
  readonly #queues = new Set<Promise<void>>();

  constructor(kv: Deno.Kv, options: JournalOptions) {
    this.#kv = kv;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get #retentionMs(): number {
    return this.#options.retentionDays * DAY_MS;
  }

  /** An observer that records one call; writes are queued in order and never block the call. */
  observe(
    callSid: string,
    source: string,
  ): CallObserver & { flushed(): Promise<void> } {
    let record: CallRecord = {
      callSid,
      caller: "",
      source,
      startedAt: this.#now(),
      endedAt: null,
      durationMs: null,
      outcome: null,
      endReason: null,
      turnLatenciesMs: [],
      toolCalls: 0,
    };
    let lineNumber = 0;
    let queue = Promise.resolve();
    const write = (task: () => Promise<unknown>) => {
      this.#queues.delete(queue);
      queue = queue.then(task).then(
        () => {},
        (error) =>
          this.#options.logger.log("error", "journal.write_failed", {
            callSid,
            error: error instanceof Error ? error.message : String(error),
          }),
      );
      const settled = queue;
      this.#queues.add(settled);
      settled.then(() => this.#queues.delete(settled));
    };
    const saveRecord = () => {
      const snapshot = structuredClone(record);
      write(() => this.#saveRecord(snapshot));
    };
    const addLine = (line: JournalLine) => {
      const key = ["call_lines", callSid, ++lineNumber];
      write(() => this.#kv.set(key, line, { expireIn: this.#retentionMs }));
    };

    saveRecord();
    return {
      started: ({ caller }) => {
        record = { ...record, caller };
        saveRecord();
      },
      transcript: (role, text) => {
        if (this.#options.transcripts) {
          addLine({ at: this.#now(), kind: role, text });
        }
      },
      toolCall: ({ name, server, failed, errorType }) => {
        record.toolCalls++;
        addLine({
          at: this.#now(),
          kind: "tool",
          name,
          server,
          failed,
          ...(errorType ? { errorType } : {}),
        });
        saveRecord();
      },
      mcpToolsUnavailable: (server) => {
        record.toolsUnavailable = [...record.toolsUnavailable ?? [], server];
        saveRecord();
        addLine({
          at: this.#now(),
          kind: "notice",
          text: `${server} tools unavailable on this call (tool list failed)`,
        });
      },
      turnLatency: (ms) => {
        if (record.turnLatenciesMs.length < MAX_TURN_LATENCIES) {
          record.turnLatenciesMs.push(ms);
        }
      },
      ended: (summary: CallSummary) => {
        record = {
          ...record,
          endedAt: this.#now(),
          durationMs: summary.durationMs,
          outcome: summary.outcome,
          endReason: summary.reason,
        };
        saveRecord();
      },
      flushed: () => queue,
    };
  }

  /** Resolves once every queued write has landed (before closing KV). */
  async flushed(): Promise<void> {
    while (this.#queues.size > 0) await Promise.all([...this.#queues]);
  }

  async #saveRecord(record: CallRecord): Promise<void> {
    const expireIn = this.#retentionMs;
    await this.#kv.atomic()
      .set(["calls", record.callSid], record, { expireIn })
      .set(
        ["calls_by_time", record.startedAt, record.callSid],
        record.callSid,
        {
          expireIn,
        },
      )
      .commit();
  }

  /** Newest first; calls older than the retention are left out even before KV deletes them. */
  async list(limit = 50): Promise<CallRecord[]> {
    const oldest = this.#now() - this.#retentionMs;
    const records: CallRecord[] = [];
    const entries = this.#kv.list<string>({ prefix: ["calls_by_time"] }, {
      reverse: true,
      limit,
    });
    for await (const entry of entries) {
      if ((entry.key[1] as number) < oldest) break;
      const record = await this.#kv.get<CallRecord>(["calls", entry.value]);
      if (record.value) records.push(record.value);
    }
    return records;
  }

  async get(
    callSid: string,
  ): Promise<{ record: CallRecord; lines: JournalLine[] } | undefined> {
    const record = (await this.#kv.get<CallRecord>(["calls", callSid])).value;
    if (!record || record.startedAt < this.#now() - this.#retentionMs) {
      return undefined;
    }
    const lines: JournalLine[] = [];
    for await (
      const entry of this.#kv.list<JournalLine>({
        prefix: ["call_lines", callSid],
      })
    ) {
      lines.push(entry.value);
    }
    return { record, lines };
  }
}
