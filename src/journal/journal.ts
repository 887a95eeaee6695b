/**
 * The call journal in Deno KV: one record per call, plus its lines
 * (transcript and tool calls) under their own keys, since a KV value is
 * limited to 64 KiB and a long call's transcript is not.
 */

import {
  type CallObserver,
  type CallOutcome,
  type CallSummary,
  endedOnPurpose,
  type ResumeCause,
  type SegmentInfo,
} from "../call_vocabulary.ts";
import type { PriceTable } from "../cost/prices.ts";
import { priceUsage } from "../cost/pricing.ts";
import type { SpendLedger } from "../cost/spend.ts";
import {
  addUsage,
  mergeUsage,
  type UsageReport,
  type UsageTotals,
} from "../cost/usage.ts";
import type { Logger } from "../log.ts";
import { type OutboundCall, outboundCallKey } from "./outbound_calls.ts";

export interface CallRecord {
  callSid: string;
  caller: string;
  /**
   * A call this server placed: who asked, the topic, the answering-machine
   * result, the retries. Read from its own key (./outbound_calls.ts), never
   * stored in the record; such a call reads with `source` "outbound".
   */
  outbound?: OutboundCall;
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
  /** Tokens and seconds by model: the voice session's, then the summary's. */
  usage?: UsageTotals;
  /** What `usage` cost, in micro-dollars (integer; see src/cost/pricing.ts). */
  costMicroUsd?: number;
  /** Models used that have no price: their share is missing from the cost. */
  unpricedModels?: string[];
  /** The summary made after the call (MEMORY on). */
  summary?: SummaryState;
  /** A call resumed on a new stream: each stream, with its cause and usage. */
  segments?: SegmentRecord[];
  /** The real end was reached (the summary job was started once). */
  finished?: boolean;
}

/** One stream of a call that was resumed. */
export interface SegmentRecord {
  startedAt: number;
  /** Why this stream exists: absent for the first. */
  cause?: ResumeCause;
  outcome: CallOutcome | null;
  usage?: UsageTotals;
}

/** The stream of a call an observer records: its number and why it exists. */

/** Where a call's summary stands, and the summary once made. */
export interface SummaryState {
  status: "pending" | "retrying" | "done" | "failed" | "skipped";
  /** Requests to the summary model so far. */
  attempts: number;
  text?: string;
  openLoops?: string[];
  todos?: string[];
  /** Why the last attempt failed, or why there is none (safe to show). */
  error?: string;
  /** When it was made or given up on. */
  at?: number;
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
  /** Prices the usage into each call's cost; without it no cost is kept. */
  prices?: PriceTable;
  /** The day ledger each call's cost is written to, with its record. */
  spend?: SpendLedger;
  /** Runs after a call's final record has landed (in its write queue): the summary job starts here. */
  afterEnd?: (record: CallRecord) => Promise<void>;
}

const DAY_MS = 86_400_000;
/** Turn latencies kept per call: enough for statistics, bounded in size. */
const MAX_TURN_LATENCIES = 500;
/** Line numbers of each stream of a call start this far apart. */
const LINES_PER_SEGMENT = 100_000;

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

  /**
   * An observer that records one call; writes are queued in order and never
   * block the call. `segment`: a call Twilio may continue (it has a lease):
   * a stream after the first adds to the call's one record, and the summary
   * waits for the real end (an end on purpose, or `finish`).
   */
  observe(
    callSid: string,
    source: string,
    segment?: SegmentInfo,
  ): CallObserver & { flushed(): Promise<void> } {
    // A resumed call's record as its earlier streams left it.
    const prior: Promise<CallRecord | undefined> = segment && segment.number > 0
      ? this.#kv.get<CallRecord>(["calls", callSid]).then((e) =>
        e.value ?? undefined
      )
      : Promise.resolve(undefined);
    const segmentStartedAt = this.#now();
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
    let lineNumber = (segment?.number ?? 0) * LINES_PER_SEGMENT;
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
      write(async () =>
        this.#saveRecord(
          segment
            ? this.#withSegment(
              await prior,
              snapshot,
              segment,
              segmentStartedAt,
            )
            : snapshot,
        )
      );
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
      usage: (report) => {
        // Once ended the record belongs to the summary job: no late write may overwrite it.
        if (record.endedAt !== null) return;
        record = this.#withUsage(record, report);
        saveRecord();
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
        // A stream that ended without the call ending may be resumed: the
        // summary waits for the real end.
        if (!segment || endedOnPurpose(summary.outcome)) {
          write(() => this.finish(callSid));
        }
      },
      flushed: () => queue,
    };
  }

  /**
   * The call's real end: runs `afterEnd` (the summary job) once. With
   * `interrupted`, a call whose stream nobody continued is closed as such.
   */
  async finish(callSid: string, interrupted = false): Promise<void> {
    for (;;) {
      const current = await this.#kv.get<CallRecord>(["calls", callSid]);
      if (!current.value || current.value.finished) return;
      const now = this.#now();
      const record: CallRecord = { ...current.value, finished: true };
      if (interrupted) {
        record.outcome = "interrupted";
        record.endReason = "server lost";
        record.endedAt ??= now;
        record.durationMs = record.endedAt - record.startedAt;
      }
      const committed = await this.#recordWrite(
        this.#kv.atomic().check(current),
        record,
      ).commit();
      if (!committed.ok) continue;
      await this.#options.afterEnd?.(record);
      return;
    }
  }

  /**
   * One stream's record folded into the call's (`prior`: as its earlier
   * streams left it): one record, each stream's usage kept apart and added.
   */
  #withSegment(
    prior: CallRecord | undefined,
    current: CallRecord,
    segment: SegmentInfo,
    startedAt: number,
  ): CallRecord {
    const earlier = (prior?.segments ?? [{
      startedAt: prior?.startedAt ?? current.startedAt,
      outcome: prior?.outcome ?? null,
      usage: prior?.usage,
    }]).slice(0, segment.number);
    const segments: SegmentRecord[] = [...earlier, {
      startedAt,
      ...(segment.cause ? { cause: segment.cause } : {}),
      outcome: current.outcome,
      usage: current.usage,
    }];
    if (!prior) return { ...current, segments };
    const usage = segments.reduce<UsageTotals>(
      (sum, s) => mergeUsage(sum, s.usage ?? {}),
      {},
    );
    const merged: CallRecord = {
      ...current,
      caller: prior.caller || current.caller,
      startedAt: prior.startedAt,
      durationMs: current.endedAt === null
        ? null
        : current.endedAt - prior.startedAt,
      turnLatenciesMs: [...prior.turnLatenciesMs, ...current.turnLatenciesMs]
        .slice(0, MAX_TURN_LATENCIES),
      toolCalls: prior.toolCalls + current.toolCalls,
      segments,
      usage,
    };
    const toolsUnavailable = [
      ...new Set([
        ...prior.toolsUnavailable ?? [],
        ...current.toolsUnavailable ?? [],
      ]),
    ];
    if (toolsUnavailable.length > 0) merged.toolsUnavailable = toolsUnavailable;
    return this.#priced(merged);
  }

  /** Resolves once every queued write has landed (before closing KV). */
  async flushed(): Promise<void> {
    while (this.#queues.size > 0) await Promise.all([...this.#queues]);
  }

  async #saveRecord(record: CallRecord): Promise<void> {
    await this.#recordWrite(this.#kv.atomic(), record).commit();
  }

  /** The record, its time index and its cost in the day ledger, in one commit. */
  #recordWrite(
    atomic: Deno.AtomicOperation,
    record: CallRecord,
  ): Deno.AtomicOperation {
    const expireIn = this.#retentionMs;
    atomic
      .set(["calls", record.callSid], record, { expireIn })
      .set(
        ["calls_by_time", record.startedAt, record.callSid],
        record.callSid,
        {
          expireIn,
        },
      );
    const spend = this.#options.spend;
    if (spend && record.costMicroUsd !== undefined) {
      spend.write(
        atomic,
        record.callSid,
        record.startedAt,
        record.costMicroUsd,
      );
    }
    return atomic;
  }

  /** The record with `report` added to its usage and its cost priced again. */
  #withUsage(record: CallRecord, report: UsageReport): CallRecord {
    return this.#priced({
      ...record,
      usage: addUsage(record.usage ?? {}, report),
    });
  }

  /** The record with its cost priced from its usage. */
  #priced(record: CallRecord): CallRecord {
    const usage = record.usage ?? {};
    const prices = this.#options.prices;
    if (!prices) return record;
    const cost = priceUsage(usage, prices);
    for (const model of cost.unpriced) {
      if (!record.unpricedModels?.includes(model)) {
        this.#options.logger.log("warn", "cost.unpriced_model", {
          callSid: record.callSid,
          model,
        });
      }
    }
    return {
      ...record,
      usage,
      costMicroUsd: cost.microUsd,
      ...(cost.unpriced.length > 0 ? { unpricedModels: cost.unpriced } : {}),
    };
  }

  /**
   * Records a finished call's summary state, with the summary's own usage
   * added to the call's, in one atomic read-modify-write (retried if the
   * record changed meanwhile); `also` adds to the same commit (the job that
   * comes next). Undefined when the call is not in the journal.
   */
  async recordSummary(
    callSid: string,
    summary: SummaryState,
    usage?: UsageReport,
    also?: (atomic: Deno.AtomicOperation) => Deno.AtomicOperation,
  ): Promise<CallRecord | undefined> {
    for (;;) {
      const current = await this.#kv.get<CallRecord>(["calls", callSid]);
      if (!current.value) return undefined;
      let record: CallRecord = { ...current.value, summary };
      if (usage) record = this.#withUsage(record, usage);
      let atomic = this.#recordWrite(this.#kv.atomic().check(current), record);
      if (also) atomic = also(atomic);
      if ((await atomic.commit()).ok) return record;
    }
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
      if (record.value) records.push(await this.#withOutbound(record.value));
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
    return { record: await this.#withOutbound(record), lines };
  }

  /** The record with the story of the call this server placed, if it placed it. */
  async #withOutbound(record: CallRecord): Promise<CallRecord> {
    const outbound = await this.#kv.get<OutboundCall>(
      outboundCallKey(record.callSid),
    );
    return outbound.value
      ? { ...record, source: "outbound", outbound: outbound.value }
      : record;
  }

  /**
   * Records a call this server placed that never reached the assistant (a
   * voicemail, no answer, busy), so /calls shows it; a call that did is
   * already recorded by its stream and is left alone.
   */
  async recordUnconnected(
    call: { callSid: string; to: string; startedAt: number; reason: string },
  ): Promise<void> {
    const record: CallRecord = {
      callSid: call.callSid,
      caller: call.to,
      source: "outbound",
      startedAt: call.startedAt,
      endedAt: this.#now(),
      durationMs: 0,
      outcome: null,
      endReason: call.reason,
      turnLatenciesMs: [],
      toolCalls: 0,
    };
    const expireIn = this.#retentionMs;
    await this.#kv.atomic()
      .check({ key: ["calls", call.callSid], versionstamp: null })
      .set(["calls", call.callSid], record, { expireIn })
      .set(["calls_by_time", call.startedAt, call.callSid], call.callSid, {
        expireIn,
      })
      .commit();
  }
}
