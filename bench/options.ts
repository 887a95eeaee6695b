/**
 * The benchmark's command line: every option, its default, and `--help`.
 *
 * @module
 */

export type Engine = "realtime" | "live";

export interface Options {
  /** The engines to load, in this order (default both). */
  engines: Engine[];
  calls: number;
  seconds: number;
  stepSeconds: number;
  warmupSeconds: number;
  warmCalls: number;
  ramp: number[];
  /** Concurrent calls for the GPT-Live engine. */
  liveCalls: number;
  /** Ramp steps for the GPT-Live engine (default none: its headline N only). */
  liveRamp: number[];
  /** Length of the scripted call priced on each engine (0: no cost comparison). */
  costSeconds: number;
  out: string;
  server: string;
  bargeEvery: number;
  answerEverySeconds: number;
  connectRate: number;
  answerGapMs: number;
  pin: boolean;
  cpuProf: string | undefined;
  nodelayShim: boolean;
  retries: number;
  serverFlags: string[];
  serverLog: string | undefined;
  readme: boolean;
}

export const HELP = `deno run -A bench/bench.ts [options]

  --engines a,b        engines to load, in order (default realtime,live)
  --calls N            headline number of concurrent calls (default 100)
  --seconds S          measured window at the headline N (default 20)
  --step-seconds S     measured window at the other ramp steps (default 8)
  --warmup S           settling time before each window (default 3)
  --warm-calls N       calls placed, answered and hung up before the idle
                       memory is read, so the baseline is a server that has
                       already served calls (default 10; 0: a cold baseline)
  --ramp a,b,c         call counts to climb through on the Realtime engine
                       (default 25,50,100,200,400; "none": the headline N only)
  --live-calls N       concurrent calls on the GPT-Live engine (default: --calls)
  --live-ramp a,b,c    call counts to climb through on GPT-Live (default none)
  --cost-seconds S     length of the scripted call priced on both engines
                       (default 60; 0: no cost comparison)
  --out FILE           JSON results (default bench/results/latest.json)
  --server FILE        server entry point, relative to the repo (default main.ts)
  --barge-every K      interrupt one Realtime answer in K (default 8; 0: never)
  --answer-every S     seconds between a call's assistant answers (default 4)
  --connect-rate R     new calls per second while ramping (default 100)
  --answer-gap MS      pause between the TwiML and the stream connect (default 0)
  --retries K          measure a step again, up to K times, when other
                       processes loaded the measured cores (default 1)
  --no-readme          do not put the results into bench/README.md (a run
                       of main.ts without diagnostic flags does by default)
  --no-pin             do not pin the server and the generator with taskset
  --cpu-prof DIR       run the server with --cpu-prof, profiles written to DIR
  --server-flags "F"   extra deno flags for the server, e.g.
                       "--v8-flags=--trace-gc"
  --server-log FILE    copy every line the server prints to FILE.<engine>
  --nodelay-shim       diagnostic: run the server with bench/nodelay_shim.c
                       preloaded (needs cc), so its upstream WebSocket gets
                       TCP_NODELAY like every other socket of the run
`;

import { nonNegative, readFlags } from "../peers/command_line.ts";

/** The options, or "help" when asked for it; throws on a bad option. */
export function parseOptions(args: string[]): Options | "help" {
  const options: Options = {
    engines: ["realtime", "live"],
    calls: 100,
    seconds: 20,
    stepSeconds: 8,
    warmupSeconds: 3,
    warmCalls: 10,
    ramp: [25, 50, 100, 200, 400],
    liveCalls: 0,
    liveRamp: [],
    costSeconds: 60,
    out: "bench/results/latest.json",
    server: "main.ts",
    bargeEvery: 8,
    answerEverySeconds: 4,
    connectRate: 100,
    answerGapMs: 0,
    pin: true,
    cpuProf: undefined,
    nodelayShim: false,
    retries: 1,
    serverFlags: [],
    serverLog: undefined,
    readme: true,
  };
  const counts = (flag: string, raw: string | undefined): number[] =>
    raw === "none" || raw === "" || raw === undefined
      ? []
      : raw.split(",").map((n) => Math.round(nonNegative(flag, n)));
  const given = readFlags(args, {
    "--engines": (value) => {
      const engines = (value() ?? "").split(",").filter(Boolean);
      if (
        engines.length === 0 ||
        engines.some((e) => e !== "realtime" && e !== "live")
      ) {
        throw new Error("--engines takes realtime, live or both");
      }
      options.engines = engines as Engine[];
    },
    "--calls": (value, flag) =>
      options.calls = Math.max(1, Math.round(nonNegative(flag, value()))),
    "--seconds": (value, flag) => options.seconds = nonNegative(flag, value()),
    "--step-seconds": (value, flag) =>
      options.stepSeconds = nonNegative(flag, value()),
    "--warmup": (value, flag) =>
      options.warmupSeconds = nonNegative(flag, value()),
    "--warm-calls": (value, flag) =>
      options.warmCalls = Math.round(nonNegative(flag, value())),
    "--ramp": (value, flag) => options.ramp = counts(flag, value()),
    "--live-calls": (value, flag) =>
      options.liveCalls = Math.max(1, Math.round(nonNegative(flag, value()))),
    "--live-ramp": (value, flag) => options.liveRamp = counts(flag, value()),
    "--cost-seconds": (value, flag) =>
      options.costSeconds = nonNegative(flag, value()),
    "--out": (value) => options.out = value() ?? options.out,
    "--server": (value) => options.server = value() ?? options.server,
    "--barge-every": (value, flag) =>
      options.bargeEvery = Math.round(nonNegative(flag, value())),
    "--answer-every": (value, flag) =>
      options.answerEverySeconds = nonNegative(flag, value()),
    "--connect-rate": (value, flag) =>
      options.connectRate = Math.max(1, nonNegative(flag, value())),
    "--answer-gap": (value, flag) =>
      options.answerGapMs = nonNegative(flag, value()),
    "--no-pin": () => options.pin = false,
    "--cpu-prof": (value) => options.cpuProf = value(),
    "--server-flags": (value) =>
      options.serverFlags = (value() ?? "").split(/\s+/).filter(Boolean),
    "--no-readme": () => options.readme = false,
    "--server-log": (value) => options.serverLog = value(),
    "--retries": (value, flag) =>
      options.retries = Math.round(nonNegative(flag, value())),
    "--nodelay-shim": () => options.nodelayShim = true,
  }, HELP);
  if (given === "help") return "help";
  if (options.liveCalls === 0) options.liveCalls = options.calls;
  // Another server (bench/minimal_bridge.ts) is a bare Realtime bridge.
  if (options.server !== "main.ts") {
    if (!given.has("--engines")) options.engines = ["realtime"];
    if (!given.has("--cost-seconds")) options.costSeconds = 0;
  }
  if (Math.max(options.calls, options.liveCalls) > 65535) {
    throw new Error("--calls and --live-calls are at most 65535");
  }
  return options;
}

/** A run whose figures may go into bench/README.md: main.ts, no diagnostic flag. */
export function isStandardRun(options: Options): boolean {
  return options.server === "main.ts" && !options.nodelayShim &&
    !options.cpuProf && options.serverFlags.length === 0;
}
