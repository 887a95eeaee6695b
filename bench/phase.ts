/**
 * One engine's phase of the benchmark: the simulators and a fresh server,
 * warm-up calls, then each step of the ramp measured (again when other
 * processes loaded the cores), then every caller hangs up and the server
 * stops. Returns every figure the report needs.
 *
 * @module
 */

import type { ServerProcess } from "../peers/server_process.ts";
import { FRAME_MS, Load } from "./load.ts";
import type { Machine } from "./machine.ts";
import {
  type Counters,
  counters,
  Floor,
  measure,
  otherLoadOf,
  overloaded,
  type Step,
} from "./measurement.ts";
import type { Engine, Options } from "./options.ts";
import { Probe } from "./probe.ts";
import {
  buildShim,
  delay,
  health,
  idleRss,
  logStats,
  type ServerLogStats,
  startBenchServer,
  stopServer,
  untilNoCalls,
} from "./server.ts";
import { median, round3, type Summary } from "./stats.ts";
import { startUpstream } from "./upstream.ts";

export interface PhaseResult {
  engine: Engine;
  /** The headline N of this engine. */
  calls: number;
  steps: Step[];
  stopReason: string;
  totals: Counters;
  /** After the warm-up calls (the baseline of the per-call figure). */
  idleRssKiB: number;
  /** Before the first call. */
  coldIdleRssKiB: number;
  serverLog: ServerLogStats;
  serverExit: number;
  callsLeftAtShutdown: number;
  failedCalls: string[];
  droppedCalls: number;
  protocolErrors: Record<string, number>;
  /** Error events the simulator sent, by code. */
  apiErrors: Record<string, number>;
  handshakes: number;
  truncates: { accepted: number; refused: number };
  /** Calls placed, warm-up included. */
  callsPlaced: number;
  /** Calls whose session was ready (session.update / session.started) before their first frame was sent. */
  prewarmReady: number;
  firstFrame: Summary;
  firstFrameTransit: Summary;
  prewarmLead: {
    webhookToSessionReadyMs: number;
    webhookToStreamStartMs: number;
  };
  bargeRun: Summary;
  playbackQueueRun: Summary;
}

export async function runPhase(
  engine: Engine,
  options: Options,
  machine: Machine,
): Promise<PhaseResult> {
  const pinned = machine.serverCore !== null;
  const headline = engine === "live" ? options.liveCalls : options.calls;
  const ramp = engine === "live" ? options.liveRamp : options.ramp;
  const steps = [...new Set([...ramp, headline])]
    .filter((n) => n > 0)
    .sort((a, b) => a - b);
  console.log(
    `bench: ${engine}: steps ${
      steps.join(", ")
    } calls; windows ${options.stepSeconds} s (${options.seconds} s at ${headline}); warm-up ${options.warmupSeconds} s`,
  );
  const probe = new Probe();
  const upstream = await startUpstream(engine, probe, {
    everyTicks: Math.max(
      1,
      Math.round(options.answerEverySeconds * 1000 / FRAME_MS),
    ),
    bargeEvery: options.bargeEvery,
  });
  const kvDir = await Deno.makeTempDir({ prefix: "bench-kv-" });
  let server: ServerProcess | undefined;
  try {
    server = await startBenchServer(options, {
      engine,
      // A bare bridge dials the URL as given: it must name the model.
      realtimeUrl: options.server === "main.ts"
        ? upstream.realtime.url
        : upstream.realtime.urlWithModel(),
      liveUrl: upstream.live?.url,
      kvDir,
      pinned,
      maxCalls: Math.min(10_000, Math.max(...steps) + 10),
      preload: options.nodelayShim ? await buildShim(kvDir) : undefined,
    });
    await health(server.port);
    await delay(1000);
    const coldIdleRssKiB = await idleRss(server.pid);

    const load = new Load(server.port, options, probe);
    const floor = await Floor.start(probe);
    load.metronome.calibrate = () => floor.ping();
    load.metronome.start();

    // Code paged in and state set up by the first calls is not a per-call
    // cost: the baseline is read after a few calls have come and gone.
    let idleRssKiB = coldIdleRssKiB;
    if (options.warmCalls > 0) {
      await load.grow(options.warmCalls);
      await delay((options.answerEverySeconds + 2) * 1000);
      await load.retire();
      await untilNoCalls(server.port, 5000);
      await delay(2000);
      idleRssKiB = await idleRss(server.pid);
    }
    console.log(
      `bench: ${engine}: server pid ${server.pid} on port ${server.port}, idle RSS ${
        (coldIdleRssKiB / 1024).toFixed(1)
      } MiB, after ${options.warmCalls} warm-up calls ${
        (idleRssKiB / 1024).toFixed(1)
      } MiB`,
    );

    const results: Step[] = [];
    let stopReason = "ramp finished";
    const cores = { ticksPerSecond: machine.clockTicksPerSecond, pinned };
    for (const n of steps) {
      const t = performance.now();
      await load.grow(n);
      const seconds = n === headline ? options.seconds : options.stepSeconds;
      console.log(
        `bench: ${engine}: ${n} calls live (${
          ((performance.now() - t) / 1000).toFixed(1)
        } s to place), measuring ${seconds} s…`,
      );
      let step: Step | undefined;
      for (let attempt = 0; attempt <= options.retries; attempt++) {
        const tried = await measure(
          load,
          server,
          n,
          seconds,
          attempt === 0 ? options.warmupSeconds : 1,
          idleRssKiB,
          cores,
        );
        console.log(`bench:   ${stepLine(tried)}`);
        tried.attempts = attempt + 1;
        if (step === undefined || otherLoadOf(tried) < otherLoadOf(step)) {
          step = tried;
        }
        if (!tried.otherLoad.noisy) break;
        if (attempt < options.retries) {
          console.log(
            "bench:   other processes were busy on the measured cores: measuring again",
          );
        }
      }
      results.push(step!);
      if (load.failedCalls.length > 0) {
        stopReason = `calls failed to connect at ${n}`;
        break;
      }
      // Every step up to the headline N is measured. Beyond it the ramp
      // goes on while neither side is overloaded: a step that misses the
      // latency criterion still gives CPU and memory figures.
      if (n < headline) continue;
      const overload = overloaded(step!);
      if (overload) {
        stopReason = `${overload} at ${n} calls`;
        break;
      }
    }

    await load.quiesce();
    load.metronome.calibrate = undefined;
    await floor.close();
    const totals = counters(probe);
    await load.hangUp();
    const remaining = await untilNoCalls(server.port, 5000);
    const serverExit = await stopServer(server);
    const records = probe.calls;
    const leads = records
      .filter((c) => c.sessionReadyAt >= 0 && c.startSentAt >= 0)
      .map((c) => ({
        ready: c.sessionReadyAt - c.webhookAt,
        start: c.startSentAt - c.webhookAt,
      }));
    const truncates = upstream.realtime.tally;
    return {
      engine,
      calls: headline,
      steps: results,
      stopReason,
      totals,
      idleRssKiB,
      coldIdleRssKiB,
      serverLog: logStats(server),
      serverExit,
      callsLeftAtShutdown: remaining,
      failedCalls: load.failedCalls,
      droppedCalls: load.droppedCalls,
      protocolErrors: Object.fromEntries(probe.protocolErrors),
      apiErrors: Object.fromEntries(upstream.errors()),
      handshakes: upstream.handshakes(),
      truncates: {
        accepted: truncates.truncatesAccepted,
        refused: truncates.truncatesRefused,
      },
      callsPlaced: records.length,
      prewarmReady: records.filter((c) =>
        c.sessionReadyAt >= 0 && c.firstFrameSentAt >= 0 &&
        c.sessionReadyAt <= c.firstFrameSentAt
      ).length,
      firstFrame: probe.firstFrame.summary(),
      firstFrameTransit: probe.firstFrameTransit.summary(),
      prewarmLead: {
        webhookToSessionReadyMs: round3(median(leads.map((l) =>
          l.ready
        ))),
        webhookToStreamStartMs: round3(median(leads.map((l) => l.start))),
      },
      bargeRun: probe.bargeInRun.summary(),
      playbackQueueRun: probe.playbackQueueRun.summary(),
    };
  } catch (error) {
    if (server) {
      console.error(
        [...server.lines, ...server.errorLines].slice(-40).join("\n"),
      );
      server.kill("SIGKILL");
    }
    throw error;
  } finally {
    await upstream.close();
    await Deno.remove(kvDir, { recursive: true }).catch(() => {});
  }
}

export function fmtMs(s: Summary): string {
  return s.count === 0
    ? "no samples"
    : `${s.p50.toFixed(2)} / ${s.p99.toFixed(2)} / ${s.max.toFixed(2)} ms`;
}

function stepLine(step: Step): string {
  return `in ${fmtMs(step.inbound)}, out ${fmtMs(step.outbound)} (floor p99 ${
    step.floor.inbound.p99.toFixed(2)
  }/${step.floor.outbound.p99.toFixed(2)}), server ${
    step.serverCpuPercent.toFixed(1)
  } % of a core (${
    step.cpuPerCallPercent.toFixed(3)
  } %/call), RSS ${step.rssPerCallKiB} KiB/call, queued ≤ ${
    step.playbackQueue.max.toFixed(0)
  } ms, generator ${step.generator.cpuPercent} %${
    step.generator.saturated ? " SATURATED" : ""
  }, other processes ${step.otherLoad.serverCorePercent} % / ${step.otherLoad.generatorCorePercent} %${
    step.otherLoad.noisy ? " (NOISY)" : ""
  }`;
}
