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
  const number = (name: string, raw: string | undefined): number => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) {
      throw new Error(`${name} needs a non-negative number (got ${raw})`);
    }
    return value;
  };
  const counts = (name: string, raw: string | undefined): number[] =>
    raw === "none" || raw === "" || raw === undefined
      ? []
      : raw.split(",").map((n) => Math.round(number(name, n)));
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2) as [string, string?];
    given.add(flag);
    const value = () => inline ?? args[++i];
    switch (flag) {
      case "--engines": {
        const engines = (value() ?? "").split(",").filter(Boolean);
        if (
          engines.length === 0 ||
          engines.some((e) => e !== "realtime" && e !== "live")
        ) {
          throw new Error("--engines takes realtime, live or both");
        }
        options.engines = engines as Engine[];
        break;
      }
      case "--calls":
        options.calls = Math.max(1, Math.round(number(flag, value())));
        break;
      case "--seconds":
        options.seconds = number(flag, value());
        break;
      case "--step-seconds":
        options.stepSeconds = number(flag, value());
        break;
      case "--warmup":
        options.warmupSeconds = number(flag, value());
        break;
      case "--warm-calls":
        options.warmCalls = Math.round(number(flag, value()));
        break;
      case "--ramp":
        options.ramp = counts(flag, value());
        break;
      case "--live-calls":
        options.liveCalls = Math.max(1, Math.round(number(flag, value())));
        break;
      case "--live-ramp":
        options.liveRamp = counts(flag, value());
        break;
      case "--cost-seconds":
        options.costSeconds = number(flag, value());
        break;
      case "--out":
        options.out = value() ?? options.out;
        break;
      case "--server":
        options.server = value() ?? options.server;
        break;
      case "--barge-every":
        options.bargeEvery = Math.round(number(flag, value()));
        break;
      case "--answer-every":
        options.answerEverySeconds = number(flag, value());
        break;
      case "--connect-rate":
        options.connectRate = Math.max(1, number(flag, value()));
        break;
      case "--answer-gap":
        options.answerGapMs = number(flag, value());
        break;
      case "--no-pin":
        options.pin = false;
        break;
      case "--cpu-prof":
        options.cpuProf = value();
        break;
      case "--server-flags":
        options.serverFlags = (value() ?? "").split(/\s+/).filter(Boolean);
        break;
      case "--no-readme":
        options.readme = false;
        break;
      case "--server-log":
        options.serverLog = value();
        break;
      case "--retries":
        options.retries = Math.round(number(flag, value()));
        break;
      case "--nodelay-shim":
        options.nodelayShim = true;
        break;
      case "--help":
      case "-h":
        return "help";
      default:
        throw new Error(`unknown option ${args[i]}\n\n${HELP}`);
    }
  }
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
