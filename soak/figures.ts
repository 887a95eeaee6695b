/**
 * What the soak's measurements mean: each figure held to its requirement,
 * and each fault kind to its defined outcome.
 *
 * @module
 */

import type { KindFigures } from "./calls.ts";
import { SILENCE_BOUND_MS } from "./calls.ts";
import type { DrainFigures } from "./drain.ts";
import type { FloodReport } from "./floods.ts";
import type { PinGuessFigures } from "./pin_guesses.ts";
import {
  type CallResult,
  type Harness,
  UPSTREAM_CONNECT_TIMEOUT_MS,
} from "./harness.ts";
import type { PendingTimer } from "./inspector.ts";
import {
  describeTimer,
  type Inside,
  type MemorySample,
  timerDifference,
} from "./inside.ts";
import type { BusyFigures } from "./limits.ts";
import type { NotReadingFigures } from "./caller_not_reading.ts";
import { KINDS } from "./kinds.ts";
import type { Options } from "./options.ts";
import { type Figure, type KindRow, mib } from "./report.ts";
import type { SecretFigures } from "./secrets.ts";

/** JS heap growth allowed over the sequential calls, after a full GC. */
const HEAP_BOUND_KIB = 2048;

export interface Measured {
  warm: Omit<MemorySample, "calls">;
  afterCalls: Omit<MemorySample, "calls">;
  memorySamples: MemorySample[];
  memoryMs: number;
  atEnd: Omit<MemorySample, "calls">;
  endInside: Inside;
  fdsBaseline: number;
  fdsEnd: number;
  socketsBaseline: number;
  socketsEnd: number;
  leakedSockets: number;
  leakedSocketLabels: string[];
  leakedSessions: number;
  liveCallsAtEnd: number | undefined;
  idleTicks: number;
  crashedBeforeEnd: boolean;
  floods: FloodReport;
  pins: PinGuessFigures;
  drain: DrainFigures;
  secrets: SecretFigures;
}

/** A whole soak run, as measured. */
export interface SoakRun {
  h: Harness;
  options: Options;
  /** performance.now() when the run started. */
  startedAt: number;
  atStart: Omit<MemorySample, "calls">;
  idleInside: Inside;
  /** What the fault kinds measured beyond their calls' checks. */
  kindFigures: KindFigures;
  measured: Measured;
}

export interface Assessment {
  figures: Figure[];
  rows: KindRow[];
  /** Requirements failed, figures and fault kinds together. */
  failed: number;
  extraTimers: PendingTimer[];
  busy: BusyFigures | undefined;
  notReading: NotReadingFigures | undefined;
}

export function assess(run: SoakRun): Assessment {
  const { h, options, idleInside, kindFigures, measured: m } = run;
  const results = h.results;
  const specs = new Map(KINDS.map(({ spec }) => [spec.kind, spec]));
  const normalKinds = new Set([
    "normal",
    "normal_warmup",
    "flood_replay_source",
    "capacity_filler",
    "capacity_freed",
  ]);

  // Fault kinds, in the order they ran.
  const rows: KindRow[] = [];
  const byKind = new Map<string, CallResult[]>();
  for (const result of results) {
    const list = byKind.get(result.kind);
    if (list) list.push(result);
    else byKind.set(result.kind, [result]);
  }
  for (const [kind, list] of byKind) {
    if (normalKinds.has(kind)) continue;
    const spec = specs.get(kind);
    const silences = list.map((r) => r.silenceMs).filter((s) =>
      s !== undefined
    );
    const bounds = list.map((r) => r.silenceBoundMs).filter((s) =>
      s !== undefined
    );
    const clean = list.filter((r) => r.clean).length;
    rows.push({
      kind,
      group: spec?.group ?? "limits",
      description: spec?.description ?? kindDescription(kind),
      expected: spec?.expected ?? kindExpectation(kind),
      injected: list.length,
      clean,
      maxSilenceMs: silences.length ? Math.max(...silences) : undefined,
      silenceBoundMs: bounds.length ? Math.max(...bounds) : undefined,
      pass: clean === list.length,
      problems: [...new Set(list.flatMap((r) => r.problems))].slice(0, 5),
    });
  }

  const normal = results.filter((r) => normalKinds.has(r.kind));
  const faulted = results.filter((r) => !normalKinds.has(r.kind));
  const cleanCount = results.filter((r) => r.clean).length;
  const silenceOf = (filter: (r: CallResult) => boolean) => {
    const values = results.filter(filter).map((r) => r.silenceMs).filter((
      s,
    ) => s !== undefined);
    return values.length ? Math.max(...values) : undefined;
  };
  const faultSilence = silenceOf((r) =>
    !normalKinds.has(r.kind) && r.kind !== "upstream_handshake_timeout" &&
    r.kind !== "stream_never_connects" && r.kind !== "caller_stops_reading" &&
    r.kind !== "drain_live_call"
  );
  const timeoutSilence = silenceOf((r) =>
    r.kind === "upstream_handshake_timeout"
  );
  const growth = m.afterCalls.rssKiB - m.warm.rssKiB;
  const memoryFlat = growth < 10 * 1024 || growth < m.warm.rssKiB * 0.1;
  const heapGrowth = m.afterCalls.heapKiB !== undefined &&
      m.warm.heapKiB !== undefined
    ? m.afterCalls.heapKiB - m.warm.heapKiB
    : undefined;
  const extraTimers = timerDifference(m.endInside.timers, idleInside.timers);
  const signed = (kib: number) =>
    `${kib >= 0 ? "+" : "−"}${mib(Math.abs(kib))}`;
  const badInputs = [...h.badInputs.values()].reduce((a, b) => a + b, 0);
  const crashes = (m.crashedBeforeEnd ? 1 : 0) + h.healthzFailures;
  const floods = m.floods;
  const floodRequests = floods.kinds.reduce((s, k) => s + k.requests, 0);
  const floodUnexpected = floods.kinds.reduce((s, k) => s + k.unexpected, 0);
  const floodGrowth = floods.after.rssKiB - floods.before.rssKiB;
  const floodHeapGrowth = floods.after.heapKiB !== undefined &&
      floods.before.heapKiB !== undefined
    ? floods.after.heapKiB - floods.before.heapKiB
    : undefined;
  const busy = kindFigures.busy;
  const notReading = kindFigures.notReading;
  const timeLimit = results.find((r) => r.kind === "call_time_limit");
  // Every error the simulators raised against the server's own events,
  // over all sessions (response_cancel_not_active is expected after a
  // barge-in: the API has cancelled the response itself).
  const refusedCodes: string[] = [];
  let truncates = 0;
  let truncatesRefused = 0;
  for (const fake of h.backends.values()) {
    const tally = fake.tally;
    truncates += tally.truncatesAccepted + tally.truncatesRefused;
    truncatesRefused += tally.truncatesRefused;
    for (const [code, count] of tally.errors) {
      if (code === "response_cancel_not_active") continue;
      for (let i = 0; i < count; i++) refusedCodes.push(code);
    }
  }
  const redacted = m.secrets.redactedLines;

  const figures: Figure[] = [
    {
      name: "Calls placed",
      value:
        `${results.length} (${normal.length} normal, ${faulted.length} with a fault or limit)`,
      requirement: `≥ ${options.calls} sequential normal calls`,
      pass: normal.filter((r) => r.kind === "normal").length >= options.calls,
    },
    {
      name: "Faults injected",
      value: `${
        rows.reduce((s, r) => s + r.injected, 0)
      } in ${rows.length} kinds (table below)`,
      requirement: "every kind injected",
      pass: rows.every((r) => r.injected > 0),
    },
    {
      name: "Calls that ended as defined",
      value: `${cleanCount}/${results.length}`,
      requirement:
        "all (both sockets closed, expected reason, apology after faults)",
      pass: cleanCount === results.length,
    },
    {
      name: "Longest silence after a fault",
      value: faultSilence === undefined ? "-" : `${faultSilence} ms`,
      requirement: `≤ ${SILENCE_BOUND_MS} ms`,
      pass: faultSilence !== undefined && faultSilence <= SILENCE_BOUND_MS,
    },
    {
      name: "Longest silence, upstream handshake timeout",
      value: timeoutSilence === undefined ? "-" : `${timeoutSilence} ms`,
      requirement: `≤ ${
        UPSTREAM_CONNECT_TIMEOUT_MS + 2000
      } ms (10 s connect timeout)`,
      pass: timeoutSilence !== undefined &&
        timeoutSilence <= UPSTREAM_CONNECT_TIMEOUT_MS + 2000,
    },
    {
      name: "Upstream sessions leaked",
      value: `${m.leakedSockets} sockets, ${m.leakedSessions} sessions${
        m.leakedSocketLabels.length
          ? ` (${m.leakedSocketLabels.slice(0, 3).join(", ")})`
          : ""
      }`,
      requirement: "0",
      pass: m.leakedSockets === 0 && m.leakedSessions === 0,
    },
    {
      name: "Live calls at the end (/healthz)",
      value: String(m.liveCallsAtEnd ?? "no answer"),
      requirement: "0",
      pass: m.liveCallsAtEnd === 0,
    },
    {
      name: "Server file descriptors",
      value:
        `${m.fdsBaseline} after warm-up → ${m.fdsEnd} at the end (sockets ${m.socketsBaseline} → ${m.socketsEnd})`,
      requirement: "back to baseline (± 3)",
      pass: m.fdsEnd <= m.fdsBaseline + 3 &&
        m.socketsEnd <= m.socketsBaseline + 3,
    },
    m.endInside.timers === undefined
      ? {
        name: "Timers left running",
        value:
          `not visible without the inspector: 0 live calls & 0 upstream sockets: ${
            m.liveCallsAtEnd === 0 && m.leakedSockets === 0 ? "yes" : "no"
          }; idle CPU ${m.idleTicks} ticks in 3 s`,
        requirement: "no live call, no upstream socket, idle ≤ 10 ticks",
        pass: m.liveCallsAtEnd === 0 && m.leakedSockets === 0 &&
          m.idleTicks <= 10,
      }
      : {
        name: "Timers left running",
        value: `${extraTimers.length} more than an idle server${
          extraTimers.length
            ? ` (${extraTimers.slice(0, 5).map(describeTimer).join(", ")})`
            : ""
        } (pending: ${m.endInside.timers.length} at the end, ${
          idleInside.timers?.length ?? "-"
        } at start); idle CPU ${m.idleTicks} ticks in 3 s`,
        requirement: "0 more than at start, idle ≤ 10 ticks",
        pass: extraTimers.length === 0 && m.idleTicks <= 10,
      },
    {
      name: "WebSocket objects alive in the server",
      value: m.endInside.webSockets === undefined
        ? "not visible without the inspector"
        : `${m.endInside.webSockets} at the end (${
          idleInside.webSockets ?? "-"
        } at start), after a full GC`,
      requirement: "0",
      pass: m.endInside.webSockets === undefined
        ? undefined
        : m.endInside.webSockets === 0,
    },
    {
      name: `Memory over ${options.calls} sequential calls (RSS)`,
      value: `${mib(m.warm.rssKiB)} → ${mib(m.afterCalls.rssKiB)} (${
        signed(growth)
      }, ${(m.memoryMs / 1000).toFixed(1)} s)`,
      requirement: "growth < 10 MiB or < 10 %",
      pass: memoryFlat,
    },
    {
      name: `Memory over ${options.calls} sequential calls (JS heap)`,
      value: heapGrowth === undefined || m.warm.heapKiB === undefined ||
          m.afterCalls.heapKiB === undefined
        ? "not visible without the inspector"
        : `${mib(m.warm.heapKiB)} → ${mib(m.afterCalls.heapKiB)} (${
          signed(heapGrowth)
        }) after a full GC`,
      requirement: `growth < ${mib(HEAP_BOUND_KIB)}`,
      pass: heapGrowth === undefined ? undefined : heapGrowth < HEAP_BOUND_KIB,
    },
    {
      name: "Memory, caller not reading",
      value: notReading
        ? `${mib(notReading.rssBeforeKiB)} → peak ${
          mib(notReading.rssPeakKiB)
        } while 16 MiB was offered`
        : "-",
      requirement: "peak growth < 64 MiB (buffer cap 4 MiB)",
      pass: notReading !== undefined &&
        notReading.rssPeakKiB - notReading.rssBeforeKiB < 64 * 1024,
    },
    {
      name: "Caller not reading: call and socket",
      value: notReading
        ? `call ended ${notReading.endedAfterMs} ms into the flood of audio; server socket held until the caller's TCP closed (sockets ${notReading.socketsHeld} → ${notReading.socketsAfter})`
        : "-",
      requirement: "informational (Deno cannot abort a CLOSING WebSocket)",
      pass: undefined,
    },
    {
      name: "Floods refused",
      value: `${floodRequests - floodUnexpected}/${floodRequests} (${
        floods.kinds.map((k) =>
          `${k.kind.replace(/^(upgrade|webhook)_/, "")} ${k.requests}`
        ).join(", ")
      })`,
      requirement: "all 401/403 (404 no token, 413 oversized)",
      pass: floodUnexpected === 0,
    },
    {
      name: "Wrong PINs refused cheaply",
      value:
        `${m.pins.refused}/${m.pins.guesses} (${m.pins.lockedOut} calls locked out, p99 ${
          m.pins.p99Ms.toFixed(1)
        } ms, ${m.pins.logLines} log lines)`,
      requirement:
        "all refused, no stream; ≤ 100 log lines; the verified owner gets through after",
      pass: m.pins.refused === m.pins.guesses && m.pins.upstreamOpened === 0 &&
        m.pins.logLines <= 100 && m.pins.ownerGotThrough,
    },
    {
      name: "Upstream sessions opened by floods",
      value: String(floods.upstreamOpened),
      requirement: "0",
      pass: floods.upstreamOpened === 0,
    },
    {
      name: "Memory across floods",
      value: `RSS ${mib(floods.before.rssKiB)} → ${mib(floods.after.rssKiB)} (${
        signed(floodGrowth)
      }, peak ${mib(floods.rssPeakKiB)})${
        floodHeapGrowth === undefined || floods.before.heapKiB === undefined ||
          floods.after.heapKiB === undefined
          ? ""
          : `, JS heap ${mib(floods.before.heapKiB)} → ${
            mib(floods.after.heapKiB)
          } (${signed(floodHeapGrowth)})`
      }`,
      requirement: `RSS growth < 10 MiB, heap growth < ${mib(HEAP_BOUND_KIB)}`,
      pass: floodGrowth < 10 * 1024 &&
        (floodHeapGrowth === undefined || floodHeapGrowth < HEAP_BOUND_KIB),
    },
    {
      name: "Calls beyond MAX_CONCURRENT_CALLS",
      value: busy
        ? `${busy.busyAnswers}/${busy.overCapacityWebhooks} busy TwiML, ${busy.upstreamOpenedForBusy} upstream opened, freed slot reusable: ${
          busy.acceptedAfterRelease ? "yes" : "no"
        }`
        : "-",
      requirement: "all busy <Say>+<Hangup/>, 0 upstream",
      pass: busy !== undefined &&
        busy.busyAnswers === busy.overCapacityWebhooks &&
        busy.upstreamOpenedForBusy === 0 && busy.acceptedAfterRelease,
    },
    {
      name: "MAX_CALL_MINUTES (1 min)",
      value: options.timeLimit
        ? timeLimit
          ? `ended "${timeLimit.endReason}" after the goodbye, ${
            (timeLimit.durationMs / 1000).toFixed(1)
          } s`
          : "no result"
        : "skipped (--no-time-limit)",
      requirement: "goodbye played, stream closed at the limit",
      pass: options.timeLimit ? timeLimit?.clean === true : undefined,
    },
    {
      name: "Drain on SIGTERM (DRAIN_SECONDS=1)",
      value: `live call closed after ${
        m.drain.callClosedMs === undefined
          ? "-"
          : `${Math.round(m.drain.callClosedMs)} ms`
      }, restarting TwiML: ${m.drain.restartingTwiml ? "yes" : "no"}, exit ${
        m.drain.exitCode ?? "none"
      } after ${m.drain.exitMs ?? "-"} ms`,
      requirement: "call ended ≤ 3 s, exit 0",
      pass: m.drain.run?.clean === true && m.drain.exitCode === 0,
    },
    {
      name: "Bad inputs tried",
      value: String(badInputs),
      requirement: "-",
      pass: undefined,
    },
    {
      name: "Crashes",
      value: `${crashes} (process exits ${
        m.crashedBeforeEnd ? 1 : 0
      }, /healthz failures ${h.healthzFailures} of ${h.healthzChecks})`,
      requirement: "0",
      pass: crashes === 0,
    },
    {
      name: "Secrets in logs, responses, TwiML",
      value:
        `${m.secrets.hits.length} (scanned ${m.secrets.logLines} log lines, ${m.secrets.responses} responses/messages, for 3 secrets + ${m.secrets.tokens} stream tokens)`,
      requirement: "0",
      pass: m.secrets.hits.length === 0,
    },
    {
      name: "Secrets caught by the log scrubber",
      value: String(redacted),
      requirement: "informational ([redacted] lines)",
      pass: undefined,
    },
    {
      name: "Server events the API refused",
      value: `${refusedCodes.length}${
        refusedCodes.length ? ` (${[...new Set(refusedCodes)].join(", ")})` : ""
      }; truncates sent ${truncates}, refused ${truncatesRefused}`,
      requirement: "0 (e.g. a truncate past the audio sent)",
      pass: refusedCodes.length === 0 && truncatesRefused === 0,
    },
  ];

  const failed = figures.filter((f) => f.pass === false).length +
    rows.filter((r) => !r.pass).length;
  return { figures, rows, failed, extraTimers, busy, notReading };
}

function kindDescription(kind: string): string {
  switch (kind) {
    case "call_time_limit":
      return "a call reaches MAX_CALL_MINUTES";
    case "drain_live_call":
      return "SIGTERM while a call is live";
    case "drain_refused_webhook":
      return "a webhook while the server drains";
    default:
      return kind;
  }
}

function kindExpectation(kind: string): string {
  switch (kind) {
    case "call_time_limit":
      return "goodbye played, stream closed, plain <Hangup/> next";
    case "drain_live_call":
      return "stream closed ≤ DRAIN_SECONDS + 2 s, upstream closed";
    case "drain_refused_webhook":
      return "<Say>restarting</Say><Hangup/>, no upstream";
    default:
      return "";
  }
}
