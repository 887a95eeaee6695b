/**
 * Measuring one step of the load: counters over a window, the server's CPU
 * and memory from /proc, the generator's own health, the load other
 * processes put on the two cores, and the no-server floor under the latency
 * figures.
 *
 * @module
 */

import { coreTicks, cpuTicks, cpuTicksSplit, rssKiB } from "../peers/proc.ts";
import { RawWebSocket } from "../peers/ws_client.ts";
import type { ServerProcess } from "../peers/server_process.ts";
import type { Load } from "./load.ts";
import { GENERATOR_CORE, SERVER_CORE } from "./machine.ts";
import type { Probe } from "./probe.ts";
import { delay } from "./server.ts";
import { median, round1, round3, type Summary } from "./stats.ts";

/** The capacity criterion: p99 added latency under this, both directions. */
export const CAPACITY_P99_MS = 5;

export interface Counters {
  framesSent: number;
  framesReceived: number;
  framesGap: number;
  framesOutOfOrder: number;
  deltasSent: number;
  deltasReceived: number;
  deltasGap: number;
  deltasOutOfOrder: number;
  bargeIns: number;
  bargeInsMissed: number;
  bargesNotPlaying: number;
}

export function counters(probe: Probe): Counters {
  const sum: Counters = {
    framesSent: 0,
    framesReceived: 0,
    framesGap: 0,
    framesOutOfOrder: 0,
    deltasSent: 0,
    deltasReceived: 0,
    deltasGap: 0,
    deltasOutOfOrder: 0,
    bargeIns: 0,
    bargeInsMissed: 0,
    bargesNotPlaying: 0,
  };
  const keys = Object.keys(sum) as (keyof Counters)[];
  for (const call of probe.calls) {
    for (const key of keys) sum[key] += call[key];
  }
  return sum;
}

function diff(a: Counters, b: Counters): Counters {
  const out = { ...b };
  for (const key of Object.keys(out) as (keyof Counters)[]) {
    out[key] = b[key] - a[key];
  }
  return out;
}

export interface Step {
  calls: number;
  liveCalls: number;
  windowSeconds: number;
  inbound: Summary;
  outbound: Summary;
  /** Loopback + generator with no server between (see Floor). */
  floor: { inbound: Summary; outbound: Summary };
  bargeIn: Summary;
  /** Assistant audio queued at the edges as each delta arrived, in ms. */
  playbackQueue: Summary;
  serverCpuPercent: number;
  /** User time (JavaScript, V8, the runtime). */
  serverUserPercent: number;
  /** Kernel time (mostly loopback TCP, charged to the sender). */
  serverSystemPercent: number;
  cpuPerCallPercent: number;
  serverRssKiB: number;
  /** VmRSS once a second through the window. */
  rssSamplesKiB: number[];
  rssPerCallKiB: number;
  window: Counters;
  framesLost: { inbound: number; outbound: number };
  generator: {
    cpuPercent: number;
    tickLateP99Ms: number;
    tickLateMaxMs: number;
    tickLateOver5msShare: number;
    saturated: boolean;
  };
  /** CPU used on the measured cores by processes other than the server and the generator. */
  otherLoad: {
    serverCorePercent: number;
    generatorCorePercent: number;
    /** Over 10 % on either core: the figures of this step are suspect. */
    noisy: boolean;
  };
  droppedCalls: number;
  holds: boolean;
  /** Windows measured for this step (more than one when others loaded the machine). */
  attempts: number;
}

/** How the machine is split: CPU ticks per second, and whether the two cores are pinned. */
export interface Cores {
  ticksPerSecond: number;
  pinned: boolean;
}

/** Other processes' CPU on the two measured cores over `ms`, in % of a core. */
async function othersLoad(
  serverPid: number,
  cores: Cores,
  ms: number,
): Promise<[number, number]> {
  const c0 = coreTicks(), s0 = cpuTicks(serverPid), g0 = cpuTicks("self");
  await delay(ms);
  const c1 = coreTicks(), s1 = cpuTicks(serverPid), g1 = cpuTicks("self");
  const pct = (ticks: number) =>
    ticks / cores.ticksPerSecond / (ms / 1000) * 100;
  const busy = (i: number) =>
    (c1[i].busy - c0[i].busy) / Math.max(1, c1[i].total - c0[i].total) * 100;
  if (!cores.pinned) {
    const all = c1.reduce((n, _, i) => n + busy(i), 0);
    const other = Math.max(0, all - pct(s1 - s0) - pct(g1 - g0));
    return [other, other];
  }
  return [
    Math.max(0, busy(SERVER_CORE) - pct(s1 - s0)),
    Math.max(0, busy(GENERATOR_CORE) - pct(g1 - g0)),
  ];
}

/** Waits (up to 10 s) until other processes leave the measured cores alone. */
async function waitForQuiet(serverPid: number, cores: Cores): Promise<void> {
  const deadline = performance.now() + 10_000;
  let warned = false;
  while (performance.now() < deadline) {
    const [a, b] = await othersLoad(serverPid, cores, 1000);
    if (a <= 5 && b <= 5) return;
    if (!warned) {
      console.log(
        `bench:   other processes use ${a.toFixed(0)} % / ${
          b.toFixed(0)
        } % of the measured cores: waiting for a quieter moment (up to 10 s)`,
      );
      warned = true;
    }
  }
}

/** Why the ramp cannot usefully go higher after this step, if it cannot. */
export function overloaded(step: Step): string | undefined {
  if (step.generator.saturated) return "load generator saturated";
  if (step.serverCpuPercent >= 90) return "server core saturated";
  if (step.framesLost.inbound > 0 || step.framesLost.outbound > 0) {
    return "frames lost";
  }
  if (step.droppedCalls > 0 || step.liveCalls < step.calls) {
    return "calls dropped";
  }
  if (step.inbound.p99 >= 200 || step.outbound.p99 >= 200) {
    return "latency beyond 200 ms";
  }
  return undefined;
}

/** RSS added per call between two steps, in KiB. */
export function marginalRss(from: Step, to: Step): number {
  return (to.serverRssKiB - from.serverRssKiB) / (to.calls - from.calls);
}

export function otherLoadOf(step: Step): number {
  return step.otherLoad.serverCorePercent + step.otherLoad.generatorCorePercent;
}

/** One window of `seconds` over the calls now live, after `warmupSeconds` of settling. */
export async function measure(
  load: Load,
  server: ServerProcess,
  calls: number,
  seconds: number,
  warmupSeconds: number,
  idleRssKiB: number,
  cores: Cores,
): Promise<Step> {
  const probe = load.probe;
  await delay(warmupSeconds * 1000);
  await waitForQuiet(server.pid, cores);
  const dropped0 = load.droppedCalls;
  const before = counters(probe);
  probe.resetWindow();
  const serverTicks0 = cpuTicks(server.pid);
  const split0 = cpuTicksSplit(server.pid);
  const selfTicks0 = cpuTicks("self");
  const cores0 = coreTicks();
  const t0 = performance.now();
  const rss: number[] = [];
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    await delay(Math.min(1000, end - performance.now()));
    rss.push(rssKiB(server.pid));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const toPercent = (ticks: number) =>
    ticks / cores.ticksPerSecond / elapsed * 100;
  const serverCpuPercent = toPercent(cpuTicks(server.pid) - serverTicks0);
  const generatorCpuPercent = toPercent(cpuTicks("self") - selfTicks0);
  const split1 = cpuTicksSplit(server.pid);
  const cores1 = coreTicks();
  const coreBusy = (core: number | null): number => {
    if (core === null) {
      // Unpinned: the whole machine, in cores' worth.
      let busy = 0, total = 0;
      cores1.forEach((c, i) => {
        busy += c.busy - cores0[i].busy;
        total += c.total - cores0[i].total;
      });
      return total > 0 ? busy / total * 100 * cores1.length : 0;
    }
    const busy = cores1[core].busy - cores0[core].busy;
    const total = cores1[core].total - cores0[core].total;
    return total > 0 ? busy / total * 100 : 0;
  };
  const otherLoad = cores.pinned
    ? {
      serverCorePercent: round1(
        Math.max(0, coreBusy(SERVER_CORE) - serverCpuPercent),
      ),
      generatorCorePercent: round1(
        Math.max(0, coreBusy(GENERATOR_CORE) - generatorCpuPercent),
      ),
    }
    : (() => {
      const other = round1(
        Math.max(0, coreBusy(null) - serverCpuPercent - generatorCpuPercent),
      );
      return { serverCorePercent: other, generatorCorePercent: other };
    })();
  const window = diff(before, counters(probe));
  const liveCalls = load.liveCalls();
  const serverRssKiB = median(rss);
  const inbound = probe.inbound.summary();
  const outbound = probe.outbound.summary();
  const tickLateP99Ms = round3(probe.tickLate.quantile(0.99));
  const tickLateOver5msShare = round3(probe.tickLate.fractionAbove(5));
  const saturated = generatorCpuPercent > 90 || tickLateP99Ms > 5 ||
    tickLateOver5msShare > 0.01;
  const framesLost = {
    inbound: window.framesGap,
    outbound: window.deltasGap,
  };
  const droppedCalls = load.droppedCalls - dropped0;
  return {
    calls,
    liveCalls,
    windowSeconds: round1(elapsed),
    inbound,
    outbound,
    floor: {
      inbound: probe.floorInbound.summary(),
      outbound: probe.floorOutbound.summary(),
    },
    bargeIn: probe.bargeIn.summary(),
    playbackQueue: probe.playbackQueue.summary(),
    serverCpuPercent: round3(serverCpuPercent),
    serverUserPercent: round3(toPercent(split1.user - split0.user)),
    serverSystemPercent: round3(toPercent(split1.system - split0.system)),
    cpuPerCallPercent: round3(serverCpuPercent / calls),
    serverRssKiB,
    rssSamplesKiB: rss,
    rssPerCallKiB: round1((serverRssKiB - idleRssKiB) / calls),
    window,
    framesLost,
    generator: {
      cpuPercent: round1(generatorCpuPercent),
      tickLateP99Ms,
      tickLateMaxMs: round3(probe.tickLate.quantile(1)),
      tickLateOver5msShare,
      saturated,
    },
    otherLoad: {
      ...otherLoad,
      noisy: otherLoad.serverCorePercent > 10 ||
        otherLoad.generatorCorePercent > 10,
    },
    droppedCalls,
    holds: inbound.p99 < CAPACITY_P99_MS && outbound.p99 < CAPACITY_P99_MS &&
      framesLost.inbound === 0 && framesLost.outbound === 0 &&
      droppedCalls === 0 && liveCalls === calls && inbound.count > 0,
    attempts: 1,
  };
}

/**
 * The no-server floor: a timestamp every 5 ms through the same two kinds of
 * socket the measured paths use (a raw client like an edge's → a Deno.serve
 * listener like a simulator's, and back), with no server between. Its p99
 * is what loopback and the generator's own event loop add to both latency
 * figures.
 */
export class Floor {
  readonly #probe: Probe;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #accepted = new Set<WebSocket>();
  #client: RawWebSocket | undefined;

  private constructor(probe: Probe) {
    this.#probe = probe;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#accept(request),
    );
  }

  static async start(probe: Probe): Promise<Floor> {
    const floor = new Floor(probe);
    const client = await RawWebSocket.connect(
      `ws://127.0.0.1:${floor.#server.addr.port}/floor`,
    );
    client.onmessage = (data) =>
      probe.floorOutbound.record(performance.now() - Number(data));
    floor.#client = client;
    return floor;
  }

  /** One timestamp each way. */
  ping(): void {
    this.#client?.sendText(String(performance.now()));
    for (const socket of this.#accepted) {
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(String(performance.now()));
      }
    }
  }

  async close(): Promise<void> {
    this.#client?.close();
    await this.#client?.closed;
    for (const socket of this.#accepted) socket.close();
    await this.#server.shutdown();
  }

  #accept(request: Request): Response {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) =>
      this.#probe.floorInbound.record(performance.now() - Number(event.data));
    socket.onopen = () => this.#accepted.add(socket);
    socket.onclose = () => this.#accepted.delete(socket);
    return response;
  }
}
