/**
 * The benchmark's report: each engine's figures against their targets, the
 * ramp, the cost comparison, as tables for the terminal and the README and
 * as the JSON results file.
 *
 * @module
 */

import { formatUsd } from "../src/cost/pricing.ts";
import { LIVE_PLAYBACK_WINDOW_MS } from "../src/live/engine.ts";
import type { UsageTotals } from "../src/cost/usage.ts";
import type { CostComparison, EngineCost } from "./cost.ts";
import { BUCKETS, FRAME_MS } from "./load.ts";
import type { Machine } from "./machine.ts";
import { CAPACITY_P99_MS, marginalRss, type Step } from "./measurement.ts";
import type { Options } from "./options.ts";
import { fmtMs, type PhaseResult } from "./phase.ts";
import { round1 } from "./stats.ts";

/** The simulators' assistant deltas: 100 ms. */
const DELTA_MS = 100;
/**
 * What the edge may hold on the GPT-Live engine: the window, the delta that
 * crosses it, and one more, because the bridge's ledger counts the chunk
 * playing as played before its mark comes back (src/call/playback_ledger.ts).
 */
const LIVE_QUEUE_BOUND_MS = LIVE_PLAYBACK_WINDOW_MS + 2 * DELTA_MS;

export interface BenchRun {
  options: Options;
  machine: Machine;
  phases: PhaseResult[];
  cost: CostComparison | undefined;
}

interface Target {
  figure: string;
  value: string;
  target: string;
  pass: boolean | null;
}

interface Capacity {
  calls: number;
  criterion: string;
  limitedBy: string;
  atLeast: boolean;
  /** Calls one core could carry on CPU alone: 100 % / CPU per call. */
  cpuBoundEstimate: number | null;
}

const ENGINE_NAMES = { realtime: "Realtime", live: "GPT-Live" } as const;

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, col) =>
    Math.max(...rows.map((row) => row[col].length))
  );
  const line = (row: string[]) =>
    "| " + row.map((cell, col) => cell.padEnd(widths[col])).join(" | ") + " |";
  return [
    line(rows[0]),
    "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |",
    ...rows.slice(1).map(line),
  ].join("\n");
}

function verdict(pass: boolean | null): string {
  return pass === null ? "info" : pass ? "PASS" : "FAIL";
}

function headlineOf(phase: PhaseResult): Step | undefined {
  return phase.steps.find((s) => s.calls === phase.calls);
}

function capacityOf(phase: PhaseResult): Capacity {
  const steps = phase.steps;
  const held = steps.filter((s) => s.holds);
  const largest = held.length > 0 ? held[held.length - 1].calls : 0;
  const last = steps[steps.length - 1];
  const firstFailing = steps.find((s) => !s.holds);
  const failure = (s: Step): string =>
    s.inbound.p99 >= CAPACITY_P99_MS || s.outbound.p99 >= CAPACITY_P99_MS
      ? `p99 ${s.inbound.p99.toFixed(1)} ms in / ${
        s.outbound.p99.toFixed(1)
      } ms out at ${s.calls} calls`
      : `frames lost or calls dropped at ${s.calls} calls`;
  const cpuBasis = headlineOf(phase) ?? last;
  return {
    calls: largest,
    criterion:
      `p99 added latency < ${CAPACITY_P99_MS} ms both directions, no frame lost, no call dropped`,
    limitedBy: last === undefined
      ? "not measured"
      : largest === 0
      ? `no step meets it (${failure(firstFailing!)})`
      : largest === last.calls
      ? last.generator.saturated
        ? "the load generator's core saturated: the server may hold more"
        : "end of the ramp: the server may hold more"
      : `server (${
        failure(steps.find((s) => s.calls > largest && !s.holds)!)
      })`,
    atLeast: largest > 0 && last !== undefined && largest === last.calls,
    cpuBoundEstimate: cpuBasis && cpuBasis.cpuPerCallPercent > 0
      ? Math.floor(100 / cpuBasis.cpuPerCallPercent)
      : null,
  };
}

/** The errors an API answer may carry without the server being wrong. */
function unexpectedApiErrors(phase: PhaseResult): number {
  return Object.entries(phase.apiErrors)
    // After a barge-in the API has cancelled the response itself.
    .filter(([code]) => code !== "response_cancel_not_active")
    .reduce((n, [, count]) => n + count, 0);
}

function targetsOf(phase: PhaseResult, options: Options): Target[] {
  const headline = headlineOf(phase);
  const realtime = phase.engine === "realtime";
  const totals = phase.totals;
  const targets: Target[] = [];
  if (headline) {
    targets.push(
      {
        figure:
          `added latency caller→OpenAI p50/p99/max (${headline.calls} calls)`,
        value: `${fmtMs(headline.inbound)} (no-server floor p99 ${
          headline.floor.inbound.p99.toFixed(2)
        } ms)`,
        target: "p99 ≤ 2 ms",
        pass: headline.inbound.count > 0 && headline.inbound.p99 <= 2,
      },
      {
        figure:
          `added latency OpenAI→caller p50/p99/max (${headline.calls} calls)`,
        value: `${fmtMs(headline.outbound)} (no-server floor p99 ${
          headline.floor.outbound.p99.toFixed(2)
        } ms)`,
        target: realtime ? "p99 ≤ 2 ms" : "info (paced to the window)",
        pass: realtime
          ? headline.outbound.count > 0 && headline.outbound.p99 <= 2
          : null,
      },
      {
        figure: "server CPU per live call",
        value: `${headline.cpuPerCallPercent.toFixed(3)} % of a core (${
          headline.serverCpuPercent.toFixed(1)
        } % for ${headline.calls})`,
        target: "≤ 0.15 %",
        pass: headline.cpuPerCallPercent <= 0.15,
      },
      {
        figure: "server resident memory per call",
        value: `${headline.rssPerCallKiB.toFixed(1)} KiB (RSS ${
          (headline.serverRssKiB / 1024).toFixed(1)
        } MiB, idle ${
          (phase.idleRssKiB / 1024).toFixed(1)
        } MiB after ${options.warmCalls} warm-up calls, ${
          (phase.coldIdleRssKiB / 1024).toFixed(1)
        } MiB before any)`,
        target: "≤ 150 KiB",
        pass: headline.rssPerCallKiB <= 150,
      },
      realtime
        ? {
          figure: "barge-in reaction (speech_started → clear) p50/p99/max",
          value: `${fmtMs(headline.bargeIn)}, n=${headline.bargeIn.count}`,
          target: "p99 ≤ 5 ms",
          pass: headline.bargeIn.count > 0 && headline.bargeIn.p99 <= 5,
        }
        : {
          figure:
            "playback window reached (assistant audio queued at the edge) p50/p99/max",
          value: `${fmtMs(phase.playbackQueueRun)} (whole run)`,
          target:
            `≤ ${LIVE_QUEUE_BOUND_MS} ms (the ${LIVE_PLAYBACK_WINDOW_MS} ms window + two deltas)`,
          pass: phase.playbackQueueRun.count > 0 &&
            phase.playbackQueueRun.max <= LIVE_QUEUE_BOUND_MS,
        },
    );
  }
  const lostIn = totals.framesSent - totals.framesReceived;
  const lostOut = totals.deltasSent - totals.deltasReceived;
  const log = phase.serverLog;
  const capacity = capacityOf(phase);
  targets.push(
    {
      figure: "caller frames lost (whole run)",
      value:
        `${lostIn} of ${totals.framesSent} (gaps ${totals.framesGap}, reordered ${totals.framesOutOfOrder})`,
      target: "0",
      pass: lostIn === 0 && totals.framesGap === 0 &&
        totals.framesOutOfOrder === 0,
    },
    {
      figure: "assistant chunks lost (whole run)",
      value:
        `${lostOut} of ${totals.deltasSent} (gaps ${totals.deltasGap}, reordered ${totals.deltasOutOfOrder})`,
      target: "0",
      pass: lostOut === 0 && totals.deltasGap === 0 &&
        totals.deltasOutOfOrder === 0,
    },
    {
      figure: "upstream ready before the first caller frame (pre-warm)",
      value:
        `${log.callStartedUpstreamReady} of ${phase.callsPlaced} calls, ${log.earlyFramesHeld} frames held (simulator's session ready before frame 1 was sent: ${phase.prewarmReady})`,
      // GPT-Live takes its time to start a session (the simulator 100 ms,
      // the real API 0.5–1.2 s), and the bench's streams open a few ms
      // after the webhook where Twilio's take about a second.
      target: realtime ? "all, 0 held" : "info (session.started is slow)",
      pass: realtime
        ? phase.callsPlaced > 0 &&
          log.callStartedUpstreamReady === phase.callsPlaced &&
          log.earlyFramesHeld === 0
        : null,
    },
    {
      figure: "stream start → first caller frame upstream p50/p99/max",
      value: fmtMs(phase.firstFrame),
      target: "info",
      pass: null,
    },
  );
  if (realtime) {
    targets.push(
      {
        figure: "barge-ins answered / missed (whole run)",
        value: `${totals.bargeIns} / ${totals.bargeInsMissed} (p99 ${
          phase.bargeRun.p99.toFixed(2)
        } ms, max ${phase.bargeRun.max.toFixed(2)} ms)`,
        target: "0 missed",
        pass: totals.bargeInsMissed === 0 &&
          (totals.bargeIns > 0 || options.bargeEvery === 0),
      },
      {
        figure: "truncates accepted / refused by the Realtime simulator",
        value: `${phase.truncates.accepted} / ${phase.truncates.refused}`,
        target: "0 refused",
        pass: phase.truncates.refused === 0,
      },
    );
  }
  targets.push(
    {
      figure: "protocol errors (either peer) / unexpected API errors",
      value: `${
        Object.values(phase.protocolErrors).reduce((a, b) => a + b, 0)
      } / ${unexpectedApiErrors(phase)}`,
      target: "0 / 0",
      pass: Object.keys(phase.protocolErrors).length === 0 &&
        unexpectedApiErrors(phase) === 0,
    },
    {
      figure: "largest N one core holds (p99 < 5 ms both ways)",
      value: `${
        capacity.atLeast ? "≥ " : ""
      }${capacity.calls} calls (${capacity.limitedBy})`,
      target: "info",
      pass: null,
    },
    {
      figure: "calls one core carries on CPU alone (100 % / CPU per call)",
      value: capacity.cpuBoundEstimate === null
        ? "not measured"
        : `≈ ${capacity.cpuBoundEstimate} calls`,
      target: "info",
      pass: null,
    },
  );
  return targets;
}

function targetRows(targets: Target[]): string[][] {
  return [
    ["figure", "value", "target", "result"],
    ...targets.map((t) => [t.figure, t.value, t.target, verdict(t.pass)]),
  ];
}

function rampRows(phase: PhaseResult): string[][] {
  const rows = [[
    "calls",
    "in p50/p99/max ms",
    "out p50/p99/max ms",
    "floor p99 in/out",
    "server CPU (user+sys)",
    "CPU/call",
    "RSS MiB",
    "RSS/call",
    "marginal",
    "lost in/out",
    phase.engine === "realtime" ? "barge p99 (n)" : "queued max ms",
    "generator",
    "others",
    "holds",
  ]];
  phase.steps.forEach((s, i) => {
    const previous = phase.steps[i - 1];
    rows.push([
      String(s.calls),
      `${s.inbound.p50.toFixed(2)}/${s.inbound.p99.toFixed(2)}/${
        s.inbound.max.toFixed(1)
      }`,
      `${s.outbound.p50.toFixed(2)}/${s.outbound.p99.toFixed(2)}/${
        s.outbound.max.toFixed(1)
      }`,
      `${s.floor.inbound.p99.toFixed(2)}/${s.floor.outbound.p99.toFixed(2)}`,
      `${s.serverCpuPercent.toFixed(1)} % (${s.serverUserPercent.toFixed(0)}+${
        s.serverSystemPercent.toFixed(0)
      })`,
      `${s.cpuPerCallPercent.toFixed(3)} %`,
      (s.serverRssKiB / 1024).toFixed(1),
      `${s.rssPerCallKiB.toFixed(0)} KiB`,
      previous ? `${marginalRss(previous, s).toFixed(0)} KiB` : "",
      `${s.framesLost.inbound}/${s.framesLost.outbound}`,
      phase.engine === "realtime"
        ? `${s.bargeIn.p99.toFixed(2)} (${s.bargeIn.count})`
        : s.playbackQueue.max.toFixed(0),
      `${s.generator.cpuPercent.toFixed(0)} %, late p99 ${
        s.generator.tickLateP99Ms.toFixed(1)
      } ms${s.generator.saturated ? " SAT" : ""}`,
      `${s.otherLoad.serverCorePercent.toFixed(0)}/${
        s.otherLoad.generatorCorePercent.toFixed(0)
      } %${s.otherLoad.noisy ? " NOISY" : ""}`,
      s.holds ? "yes" : "no",
    ]);
  });
  return rows;
}

/** "text 1,234 in (1,000 cached) / 56 out; audio …" for one model's tokens, or its seconds. */
function usageText(usage: UsageTotals): string {
  const n = (x: number) => x.toLocaleString("en");
  return Object.entries(usage).map(([model, u]) => {
    const parts: string[] = [];
    const t = u.tokens;
    if (u.seconds > 0) parts.push(`${u.seconds.toFixed(1)} s`);
    if (t.inputText + t.outputText > 0) {
      parts.push(
        `text ${n(t.inputText)} in (${n(t.cachedText)} cached) / ${
          n(t.outputText)
        } out`,
      );
    }
    if (t.inputAudio + t.outputAudio > 0) {
      parts.push(
        `audio ${n(t.inputAudio)} in (${n(t.cachedAudio)} cached) / ${
          n(t.outputAudio)
        } out`,
      );
    }
    return `${model}: ${parts.join(", ") || "nothing"}`;
  }).join("; ");
}

function costRows(cost: CostComparison): string[][] {
  const rows = [[
    "engine",
    "usage the simulator reported",
    "call",
    "cost (bench)",
    "per minute",
    "server's journal",
  ]];
  for (const e of cost.engines) {
    rows.push([
      ENGINE_NAMES[e.engine],
      usageText(e.usage),
      `${e.callSeconds.toFixed(1)} s`,
      formatUsd(e.microUsd),
      formatUsd(e.perMinuteMicroUsd),
      e.journal.microUsd === undefined
        ? "no cost journaled"
        : formatUsd(e.journal.microUsd),
    ]);
  }
  return rows;
}

/** "GPT-Live costs 0.31× Realtime per minute" when both ran. */
function costRatio(cost: CostComparison): string | undefined {
  const of = (engine: string) =>
    cost.engines.find((e: EngineCost) => e.engine === engine);
  const realtime = of("realtime");
  const live = of("live");
  if (!realtime || !live || realtime.perMinuteMicroUsd === 0) return undefined;
  return `GPT-Live costs ${
    (live.perMinuteMicroUsd / realtime.perMinuteMicroUsd).toFixed(2)
  }× what Realtime costs per minute of this call (${
    formatUsd(live.perMinuteMicroUsd)
  } against ${formatUsd(realtime.perMinuteMicroUsd)}).`;
}

function machineLine(machine: Machine): string {
  return `${machine.cpuModel}, ${machine.cores} cores, ${
    Math.round(machine.memoryMiB / 1024)
  } GiB, ${machine.kernel}, Deno ${machine.deno} (V8 ${machine.v8}); server ${
    machine.serverCore === null
      ? "unpinned"
      : `pinned to core ${machine.serverCore}`
  }, load generator ${
    machine.generatorCore === null
      ? "unpinned"
      : `pinned to core ${machine.generatorCore}`
  }`;
}

function noisySteps(phase: PhaseResult): number[] {
  return phase.steps.filter((s) => s.otherLoad.noisy).map((s) => s.calls);
}

/** The figures as tables, for the terminal and for bench/README.md. */
export function reportText(run: BenchRun, command: string): string {
  const lines = [
    `Taken ${run.machine.date.slice(0, 16).replace("T", " ")} UTC on ${
      machineLine(run.machine)
    }. Command: \`${command}\`. Full figures: \`${run.options.out}\`.`,
  ];
  for (const phase of run.phases) {
    const noisy = noisySteps(phase);
    lines.push(
      "",
      `**${ENGINE_NAMES[phase.engine]}** (\`VOICE_ENGINE=${phase.engine}\`)`,
      "",
      table(targetRows(targetsOf(phase, run.options))),
      "",
      table(rampRows(phase)),
      "",
      `Ramp stopped: ${phase.stopReason}. "others": CPU that other processes used on the server's / the generator's core during the window${
        noisy.length > 0
          ? ` (over 10 % during the ${
            noisy.join(", ")
          }-call step(s): those figures are suspect)`
          : ""
      }.`,
    );
  }
  if (run.cost) {
    lines.push(
      "",
      `**Cost of the same scripted call** (${run.cost.script}; priced with src/cost's list prices)`,
      "",
      table(costRows(run.cost)),
    );
    const ratio = costRatio(run.cost);
    if (ratio) lines.push("", ratio);
  }
  return lines.join("\n");
}

/** What only the terminal shows: failures, warnings, protocol errors. */
export function problemsText(run: BenchRun): string {
  const lines: string[] = [];
  for (const phase of run.phases) {
    const name = ENGINE_NAMES[phase.engine];
    if (phase.failedCalls.length > 0) {
      lines.push(
        `${name}: calls that failed to connect: ${phase.failedCalls.length}`,
      );
      for (const f of phase.failedCalls.slice(0, 5)) lines.push(`  ${f}`);
    }
    if (Object.keys(phase.protocolErrors).length > 0) {
      lines.push(
        `${name}: protocol errors: ${JSON.stringify(phase.protocolErrors)}`,
      );
    }
    if (unexpectedApiErrors(phase) > 0) {
      lines.push(`${name}: API errors: ${JSON.stringify(phase.apiErrors)}`);
    }
    if (phase.serverLog.warnings.length > 0) {
      lines.push(`${name}: server warnings (first few):`);
      for (const w of phase.serverLog.warnings.slice(0, 5)) {
        lines.push(`  ${w}`);
      }
    }
  }
  return lines.join("\n");
}

/** The JSON results file. */
export function resultsJson(run: BenchRun): Record<string, unknown> {
  const { options, machine } = run;
  return {
    benchmark: "phone-assistant call bridge, both voice engines (issues 5, 14)",
    machine,
    options,
    method: {
      frameMs: FRAME_MS,
      callerFrameBytes: 160,
      assistantDeltaBytes: 800,
      answerEverySeconds: options.answerEverySeconds,
      answerSeconds: "1.0–2.0",
      bargeEvery: options.bargeEvery,
      metronomePhases: BUCKETS,
      latency:
        "performance.now() in the generator process: frame sent by the edge → append received by the simulator, delta sent by the simulator → media received by the edge; includes two loopback hops and the generator's event loop",
      cpu:
        "utime+stime of the server process over the window / CLK_TCK / window / calls",
      memory:
        "median VmRSS over the window minus idle VmRSS after the warm-up calls, / calls",
      playbackQueue:
        "assistant audio queued at the edge just after each delta arrived, in ms",
    },
    engines: Object.fromEntries(run.phases.map((phase) => {
      const headline = headlineOf(phase);
      return [phase.engine, {
        headline: headline
          ? {
            calls: headline.calls,
            addedLatencyMs: {
              inbound: headline.inbound,
              outbound: headline.outbound,
            },
            cpuPerCallPercentOfCore: headline.cpuPerCallPercent,
            serverCpuPercentOfCore: headline.serverCpuPercent,
            rssPerCallKiB: headline.rssPerCallKiB,
            bargeInMs: headline.bargeIn,
            playbackQueueMs: headline.playbackQueue,
          }
          : null,
        targets: targetsOf(phase, options),
        capacity: capacityOf(phase),
        ramp: phase.steps.map((s, i) => ({
          ...s,
          rssMarginalPerCallKiB: i > 0
            ? round1(marginalRss(phase.steps[i - 1], s))
            : null,
        })),
        ...phase,
        steps: undefined,
      }];
    })),
    cost: run.cost ?? null,
  };
}
