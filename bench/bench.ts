/**
 * Load benchmark of the call bridge (issue 5). Not a test.
 *
 * Starts the server (main.ts) as its own process pinned to core 0 and a
 * lean local OpenAI Realtime peer plus N simulated Twilio media streams in
 * this process (pinned to core 1), places the calls through the signed
 * webhook and the signed stream handshake, runs them at real-time pace
 * (20 ms caller frames, assistant answers every few seconds, marks echoed by
 * a playback clock, barge-ins), and measures, for each step of a ramp:
 * added latency per direction, server CPU and resident memory per call,
 * frames lost, time to the first caller frame upstream, barge-in reaction.
 *
 *   deno run -A bench/bench.ts [--calls 100] [--seconds 20]
 *     [--ramp 25,50,100,200,400] [--out bench/results/latest.json]
 *
 * `--help` lists every option. See bench/README.md for the method.
 *
 * @module
 */

import {
  CALL_PARAMS,
  signedWebhook,
  streamSignature,
  streamUrlOf,
} from "../tests/helpers/twilio_requests.ts";
import { TEST_API_KEY, TEST_AUTH_TOKEN } from "../tests/helpers/config.ts";
import { CONFIG_VARIABLES } from "../src/config.ts";
import { CallRecord, Probe } from "./probe.ts";
import { RealtimePeer } from "./realtime_peer.ts";
import {
  coreTicks,
  cpuTicks,
  cpuTicksSplit,
  type Histogram,
  median,
  round1,
  round3,
  rssKiB,
  type Summary,
} from "./stats.ts";
import { TwilioPeer } from "./twilio_peer.ts";
import { RawWebSocket } from "./ws_client.ts";

const PUBLIC_ORIGIN = "https://assistant.example.com";
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const SERVER_CORE = 0;
const GENERATOR_CORE = 1;
/** The capacity criterion: p99 added latency under this, both directions. */
const CAPACITY_P99_MS = 5;

// --- options ----------------------------------------------------------------

interface Options {
  calls: number;
  seconds: number;
  stepSeconds: number;
  warmupSeconds: number;
  warmCalls: number;
  ramp: number[];
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

const HELP = `deno run -A bench/bench.ts [options]

  --calls N            headline number of concurrent calls (default 100)
  --seconds S          measured window at the headline N (default 20)
  --step-seconds S     measured window at the other ramp steps (default 8)
  --warmup S           settling time before each window (default 3)
  --warm-calls N       calls placed, answered and hung up before the idle
                       memory is read, so the baseline is a server that has
                       already served calls (default 10; 0: a cold baseline)
  --ramp a,b,c         call counts to climb through (default 25,50,100,200,400;
                       "none": the headline N only)
  --out FILE           JSON results (default bench/results/latest.json)
  --server FILE        server entry point, relative to the repo (default main.ts)
  --barge-every K      interrupt one assistant answer in K (default 8; 0: never)
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
  --server-log FILE    copy every line the server prints to FILE
  --nodelay-shim       diagnostic: run the server with bench/nodelay_shim.c
                       preloaded (needs cc), so its upstream WebSocket gets
                       TCP_NODELAY like every other socket of the run
`;

function parseOptions(args: string[]): Options {
  const options: Options = {
    calls: 100,
    seconds: 20,
    stepSeconds: 8,
    warmupSeconds: 3,
    warmCalls: 10,
    ramp: [25, 50, 100, 200, 400],
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
  const positive = (name: string, raw: string | undefined): number => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) {
      throw new Error(`${name} needs a non-negative number (got ${raw})`);
    }
    return value;
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2) as [string, string?];
    const value = () => inline ?? args[++i];
    switch (flag) {
      case "--calls":
        options.calls = Math.max(1, Math.round(positive(flag, value())));
        break;
      case "--seconds":
        options.seconds = positive(flag, value());
        break;
      case "--step-seconds":
        options.stepSeconds = positive(flag, value());
        break;
      case "--warmup":
        options.warmupSeconds = positive(flag, value());
        break;
      case "--warm-calls":
        options.warmCalls = Math.round(positive(flag, value()));
        break;
      case "--ramp": {
        const raw = value() ?? "";
        options.ramp = raw === "none" || raw === ""
          ? []
          : raw.split(",").map((n) => Math.round(positive(flag, n)));
        break;
      }
      case "--out":
        options.out = value() ?? options.out;
        break;
      case "--server":
        options.server = value() ?? options.server;
        break;
      case "--barge-every":
        options.bargeEvery = Math.round(positive(flag, value()));
        break;
      case "--answer-every":
        options.answerEverySeconds = positive(flag, value());
        break;
      case "--connect-rate":
        options.connectRate = Math.max(1, positive(flag, value()));
        break;
      case "--answer-gap":
        options.answerGapMs = positive(flag, value());
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
        options.retries = Math.round(positive(flag, value()));
        break;
      case "--nodelay-shim":
        options.nodelayShim = true;
        break;
      case "--help":
      case "-h":
        console.log(HELP);
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown option ${args[i]}\n\n${HELP}`);
    }
  }
  if (options.calls > 65535) throw new Error("--calls is at most 65535");
  return options;
}

// --- machine ----------------------------------------------------------------

async function run(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success
      ? new TextDecoder().decode(out.stdout).trim()
      : undefined;
  } catch {
    return undefined;
  }
}

interface Machine {
  cpuModel: string;
  cores: number;
  memoryMiB: number;
  kernel: string;
  deno: string;
  v8: string;
  clockTicksPerSecond: number;
  taskset: boolean;
  serverCore: number | null;
  generatorCore: number | null;
  date: string;
}

async function machineInfo(pin: boolean): Promise<Machine> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  // Every processor the kernel lists (navigator.hardwareConcurrency follows
  // this process's own affinity and quotas).
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length ||
    navigator.hardwareConcurrency;
  const memTotal = /^MemTotal:\s+(\d+)/m.exec(
    Deno.readTextFileSync("/proc/meminfo"),
  );
  const taskset = (await run("taskset", ["-c", "0", "true"])) !== undefined;
  const pinned = pin && taskset && cores >= 2;
  return {
    cpuModel: model.trim(),
    cores,
    memoryMiB: memTotal ? Math.round(Number(memTotal[1]) / 1024) : 0,
    kernel: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    clockTicksPerSecond: Number(await run("getconf", ["CLK_TCK"])) || 100,
    taskset,
    serverCore: pinned ? SERVER_CORE : null,
    generatorCore: pinned ? GENERATOR_CORE : null,
    date: new Date().toISOString(),
  };
}

/** Re-runs this script under `taskset -c 1` so the generator keeps off the server's core. */
async function reexecPinned(): Promise<never> {
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      String(GENERATOR_CORE),
      Deno.execPath(),
      "run",
      "-A",
      `--config=${ROOT}/deno.json`,
      new URL(import.meta.url).pathname,
      ...Deno.args,
    ],
    env: { BENCH_PINNED: "1" },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const forward = (signal: Deno.Signal) => () => child.kill(signal);
  Deno.addSignalListener("SIGINT", forward("SIGINT"));
  Deno.addSignalListener("SIGTERM", forward("SIGTERM"));
  const status = await child.status;
  Deno.exit(status.code);
}

// --- the server process -------------------------------------------------------

interface ServerLogStats {
  lines: number;
  events: Map<string, number>;
  warnings: string[];
  callStartedUpstreamReady: number;
  callStartedUpstreamNotReady: number;
  callsEnded: Map<string, number>;
  earlyFramesHeld: number;
  earlyFramesDropped: number;
}

interface ServerProcess {
  child: Deno.ChildProcess;
  pid: number;
  port: number;
  logs: ServerLogStats;
  stderrTail: string[];
  exited: Promise<Deno.CommandStatus>;
}

async function drainLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer) onLine(buffer);
}

function onServerLog(logs: ServerLogStats, line: string): number | undefined {
  logs.lines++;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return undefined;
  }
  const event = String(entry.event);
  logs.events.set(event, (logs.events.get(event) ?? 0) + 1);
  if (
    (entry.level === "warn" || entry.level === "error") &&
    logs.warnings.length < 20
  ) {
    logs.warnings.push(line.slice(0, 300));
  }
  switch (event) {
    case "server.listening":
      return Number(entry.port);
    case "call.started":
      if (entry.upstreamReady === true) logs.callStartedUpstreamReady++;
      else logs.callStartedUpstreamNotReady++;
      break;
    case "upstream.ready":
      logs.earlyFramesHeld += Number(entry.earlyFrames ?? 0);
      break;
    case "call.ended": {
      const reason = String(entry.reason);
      logs.callsEnded.set(reason, (logs.callsEnded.get(reason) ?? 0) + 1);
      logs.earlyFramesDropped += Number(entry.earlyFramesDropped ?? 0);
      break;
    }
  }
  return undefined;
}

async function startServer(
  options: Options,
  realtimeUrl: string,
  kvPath: string,
  pinned: boolean,
  maxCalls: number,
  preload: string | undefined,
): Promise<ServerProcess> {
  const denoArgs = [
    "run",
    `--config=${ROOT}/deno.json`,
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    // The start task's runtime flags (e.g. the V8 heap settings), so the
    // server runs as it does in production.
    ...startTaskV8Flags(),
    ...(options.cpuProf
      ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProf}`]
      : []),
    ...options.serverFlags,
    options.server,
  ];
  const [cmd, args] = pinned
    ? ["taskset", ["-c", String(SERVER_CORE), Deno.execPath(), ...denoArgs]]
    : [Deno.execPath(), denoArgs];
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: {
      // Whatever the shell has, every other variable stays at its default.
      ...Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, ""])),
      MAX_CONCURRENT_CALLS: String(maxCalls),
      OPENAI_API_KEY: TEST_API_KEY,
      TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
      PORT: "0",
      PUBLIC_URL: PUBLIC_ORIGIN,
      OPENAI_REALTIME_URL: realtimeUrl,
      KV_PATH: kvPath,
      STREAM_TOKEN_TTL_SECONDS: "60",
      DRAIN_SECONDS: "2",
      ...(preload ? { LD_PRELOAD: preload } : {}),
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: ServerLogStats = {
    lines: 0,
    events: new Map(),
    warnings: [],
    callStartedUpstreamReady: 0,
    callStartedUpstreamNotReady: 0,
    callsEnded: new Map(),
    earlyFramesHeld: 0,
    earlyFramesDropped: 0,
  };
  const stderrTail: string[] = [];
  const listening = Promise.withResolvers<number>();
  const copy = options.serverLog
    ? Deno.openSync(options.serverLog, {
      write: true,
      create: true,
      truncate: true,
    })
    : undefined;
  const encoder = new TextEncoder();
  drainLines(child.stdout, (line) => {
    copy?.writeSync(encoder.encode(line + "\n"));
    const port = onServerLog(logs, line);
    if (port !== undefined) listening.resolve(port);
  });
  drainLines(child.stderr, (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 40) stderrTail.shift();
  });
  const exited = child.status;
  exited.then((status) =>
    listening.reject(
      new Error(
        `server exited (${status.code}) before listening:\n${
          stderrTail.join("\n")
        }`,
      ),
    )
  );
  const timer = setTimeout(
    () => listening.reject(new Error("server not listening within 60 s")),
    60_000,
  );
  try {
    const port = await listening.promise;
    return { child, pid: child.pid, port, logs, stderrTail, exited };
  } finally {
    clearTimeout(timer);
  }
}

/** Compiles bench/nodelay_shim.c into `dir`; returns the .so path. */
async function buildShim(dir: string): Promise<string> {
  const out = `${dir}/nodelay_shim.so`;
  const result = await new Deno.Command("cc", {
    args: [
      "-shared",
      "-fPIC",
      "-O2",
      "-o",
      out,
      `${ROOT}/bench/nodelay_shim.c`,
      "-ldl",
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output().catch(() => undefined);
  if (!result?.success) {
    throw new Error("--nodelay-shim needs a C compiler (cc)");
  }
  return out;
}

async function health(port: number): Promise<{ calls: number }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return await response.json();
}

// --- the load -------------------------------------------------------------------

/** 20 ms of every call, spread over `BUCKETS` phases so frames are not all in step. */
const FRAME_MS = 20;
const BUCKETS = 20;
const SLOT_MS = FRAME_MS / BUCKETS;

/** One shared timer for every call: each slot steps the calls of one phase. */
class Metronome {
  readonly #buckets: TwilioPeer[][] = Array.from({ length: BUCKETS }, () => []);
  readonly #probe: Probe;
  /** Run every 5 slots (5 ms): the calibration messages. */
  calibrate: (() => void) | undefined;
  #origin = 0;
  #slot = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(probe: Probe) {
    this.#probe = probe;
  }

  add(peer: TwilioPeer): void {
    this.#buckets[peer.record.index % BUCKETS].push(peer);
  }

  remove(peer: TwilioPeer): void {
    const bucket = this.#buckets[peer.record.index % BUCKETS];
    const at = bucket.indexOf(peer);
    if (at >= 0) bucket.splice(at, 1);
  }

  start(): void {
    this.#origin = performance.now();
    this.#slot = 0;
    this.#loop();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #loop = (): void => {
    let now = performance.now();
    // Catch up slot by slot if late, so every call keeps 50 frames a second.
    while (this.#origin + this.#slot * SLOT_MS <= now) {
      this.#probe.tickLate.record(now - (this.#origin + this.#slot * SLOT_MS));
      const bucket = this.#buckets[this.#slot % BUCKETS];
      for (let i = 0; i < bucket.length; i++) {
        const peer = bucket[i];
        peer.tick(now);
        peer.record.upstreamTick?.();
      }
      if (this.#slot % 5 === 0) this.calibrate?.();
      this.#slot++;
      now = performance.now();
    }
    this.#timer = setTimeout(
      this.#loop,
      Math.max(0, this.#origin + this.#slot * SLOT_MS - now),
    );
  };
}

/** The median of five VmRSS readings, 200 ms apart. */
async function idleRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(rssKiB(pid));
    await delay(200);
  }
  return median(readings);
}

/** Waits (up to `ms`) for the server to report no live call; returns how many are left. */
async function untilNoCalls(port: number, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let remaining = (await health(port)).calls;
  while (remaining > 0 && performance.now() < deadline) {
    await delay(100);
    remaining = (await health(port)).calls;
  }
  return remaining;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Load {
  readonly peers: TwilioPeer[] = [];
  readonly metronome: Metronome;
  readonly runId = crypto.getRandomValues(new Uint8Array(4)).toHex();
  failedCalls: string[] = [];
  droppedCalls = 0;
  #stopping = false;
  readonly #retired = new Set<TwilioPeer>();

  constructor(
    readonly port: number,
    readonly options: Options,
    readonly probe: Probe,
  ) {
    this.metronome = new Metronome(probe);
  }

  /** Places calls until `target` are live, at `connectRate` per second. */
  async grow(target: number): Promise<void> {
    const first = this.probe.calls.length;
    const end = first + target - this.peers.length;
    const begin = performance.now();
    const pending: Promise<void>[] = [];
    for (let index = first; index < end; index++) {
      const due = begin + ((index - first) * 1000) / this.options.connectRate;
      const wait = due - performance.now();
      if (wait > 0) await delay(wait);
      pending.push(
        this.#place(index).catch((error) => {
          this.failedCalls.push(`call ${index}: ${error.message ?? error}`);
        }),
      );
    }
    await Promise.all(pending);
    // Each call is live once its first frame reached the Realtime peer.
    const deadline = performance.now() + 10_000;
    while (
      performance.now() < deadline &&
      this.probe.calls.some((c) => c.firstFrameAcceptedAt < 0)
    ) {
      await delay(50);
    }
  }

  async #place(index: number): Promise<void> {
    const id = `${this.runId}${index.toString(16).padStart(24, "0")}`;
    const record = new CallRecord(index, `CA${id}`, `MZ${id}`);
    this.probe.calls[index] = record;
    const params = { ...CALL_PARAMS, CallSid: record.callSid };
    const webhook = signedWebhook(`${PUBLIC_ORIGIN}/incoming-call`, params);
    record.webhookAt = performance.now();
    const response = await fetch(
      `http://127.0.0.1:${this.port}/incoming-call`,
      {
        method: "POST",
        headers: webhook.headers,
        body: await webhook.text(),
      },
    );
    const twiml = await response.text();
    if (response.status !== 200) {
      throw new Error(`webhook answered ${response.status}: ${twiml}`);
    }
    const streamUrl = streamUrlOf(twiml);
    if (this.options.answerGapMs > 0) await delay(this.options.answerGapMs);
    const peer = await TwilioPeer.connect(
      `ws://127.0.0.1:${this.port}${new URL(streamUrl).pathname}`,
      streamSignature(streamUrl),
      record,
      this.probe,
      CALL_PARAMS.AccountSid,
    );
    this.peers.push(peer);
    this.metronome.add(peer);
    peer.closed.then(() => {
      this.metronome.remove(peer);
      if (!this.#stopping && !this.#retired.has(peer)) this.droppedCalls++;
    });
  }

  /**
   * The live calls stop sending, let what is in flight land, then hang up and
   * leave the load; resolves when their streams are closed.
   */
  async retire(): Promise<void> {
    const leaving = this.peers.splice(0);
    for (const peer of leaving) {
      this.#retired.add(peer);
      this.metronome.remove(peer);
    }
    await this.#settle();
    for (const peer of leaving) peer.hangUp();
    await Promise.all(leaving.map((p) => p.closed));
  }

  /** Stops sending and lets what is in flight land: a late frame is not a lost one. */
  async quiesce(): Promise<void> {
    this.metronome.stop();
    await this.#settle();
  }

  /** Waits until no frame or delta has arrived for 500 ms (at most 10 s). */
  async #settle(): Promise<void> {
    const deadline = performance.now() + 10_000;
    let arrived = -1;
    while (performance.now() < deadline) {
      const { framesReceived, deltasReceived } = counters(this.probe);
      if (framesReceived + deltasReceived === arrived) return;
      arrived = framesReceived + deltasReceived;
      await delay(500);
    }
  }

  /** Every caller hangs up (`stop`, close); resolves when every stream is closed. */
  async hangUp(): Promise<void> {
    this.#stopping = true;
    for (const peer of this.peers) peer.hangUp();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.peers.map((p) => p.closed)),
      new Promise((resolve) => timer = setTimeout(resolve, 5000)),
    ]);
    clearTimeout(timer);
  }
}

// --- measuring ------------------------------------------------------------------

interface Counters {
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

function counters(probe: Probe): Counters {
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
  for (const c of probe.calls) {
    sum.framesSent += c.framesSent;
    sum.framesReceived += c.framesReceived;
    sum.framesGap += c.framesGap;
    sum.framesOutOfOrder += c.framesOutOfOrder;
    sum.deltasSent += c.deltasSent;
    sum.deltasReceived += c.deltasReceived;
    sum.deltasGap += c.deltasGap;
    sum.deltasOutOfOrder += c.deltasOutOfOrder;
    sum.bargeIns += c.bargeIns;
    sum.bargeInsMissed += c.bargeInsMissed;
    sum.bargesNotPlaying += c.bargesNotPlaying;
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

interface Step {
  calls: number;
  liveCalls: number;
  windowSeconds: number;
  inbound: Summary;
  outbound: Summary;
  /** Loopback + generator with no server between (see Probe.floorInbound). */
  floor: { inbound: Summary; outbound: Summary };
  bargeIn: Summary;
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

/** Other processes' CPU on the two measured cores over `ms`, in % of a core. */
async function othersLoad(
  serverPid: number,
  ticksPerSecond: number,
  pinned: boolean,
  ms: number,
): Promise<[number, number]> {
  const c0 = coreTicks(), s0 = cpuTicks(serverPid), g0 = cpuTicks("self");
  await delay(ms);
  const c1 = coreTicks(), s1 = cpuTicks(serverPid), g1 = cpuTicks("self");
  const pct = (ticks: number) => ticks / ticksPerSecond / (ms / 1000) * 100;
  const busy = (i: number) =>
    (c1[i].busy - c0[i].busy) / Math.max(1, c1[i].total - c0[i].total) * 100;
  if (!pinned) {
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
async function waitForQuiet(
  serverPid: number,
  ticksPerSecond: number,
  pinned: boolean,
): Promise<void> {
  const deadline = performance.now() + 10_000;
  let warned = false;
  while (performance.now() < deadline) {
    const [a, b] = await othersLoad(serverPid, ticksPerSecond, pinned, 1000);
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
function overloaded(step: Step): string | undefined {
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
function marginalRss(from: Step, to: Step): number {
  return (to.serverRssKiB - from.serverRssKiB) / (to.calls - from.calls);
}

function otherLoadOf(step: Step): number {
  return step.otherLoad.serverCorePercent + step.otherLoad.generatorCorePercent;
}

function summarize(h: Histogram): Summary {
  return h.summary();
}

async function measure(
  load: Load,
  server: ServerProcess,
  calls: number,
  seconds: number,
  warmupSeconds: number,
  idleRssKiB: number,
  ticksPerSecond: number,
  machinePinned: boolean,
): Promise<Step> {
  const probe = load.probe;
  await delay(warmupSeconds * 1000);
  await waitForQuiet(server.pid, ticksPerSecond, machinePinned);
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
  const serverCpuPercent = (cpuTicks(server.pid) - serverTicks0) /
    ticksPerSecond / elapsed * 100;
  const generatorCpuPercent = (cpuTicks("self") - selfTicks0) /
    ticksPerSecond / elapsed * 100;
  const split1 = cpuTicksSplit(server.pid);
  const toPercent = (ticks: number) => ticks / ticksPerSecond / elapsed * 100;
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
  const otherLoad = machinePinned
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
  const liveCalls = load.peers.filter((p) => !p.isClosed).length;
  const serverRssKiB = median(rss);
  const inbound = summarize(probe.inbound);
  const outbound = summarize(probe.outbound);
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
      inbound: summarize(probe.floorInbound),
      outbound: summarize(probe.floorOutbound),
    },
    bargeIn: summarize(probe.bargeIn),
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

// --- reporting ------------------------------------------------------------------

interface Target {
  figure: string;
  value: string;
  target: string;
  pass: boolean | null;
}

function fmtMs(s: Summary): string {
  return s.count === 0
    ? "no samples"
    : `${s.p50.toFixed(2)} / ${s.p99.toFixed(2)} / ${s.max.toFixed(2)} ms`;
}

function table(rows: string[][]): string {
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

// --- main -----------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  const machine = await machineInfo(options.pin);
  const pinned = machine.serverCore !== null;
  if (pinned && Deno.env.get("BENCH_PINNED") !== "1") await reexecPinned();

  const answerEveryTicks = Math.max(
    1,
    Math.round(options.answerEverySeconds * 1000 / FRAME_MS),
  );
  const steps = [...new Set([...options.ramp, options.calls])]
    .filter((n) => n > 0)
    .sort((a, b) => a - b);
  console.log(
    `bench: server ${options.server} on ${
      pinned ? `core ${SERVER_CORE}` : "any core"
    }, generator on ${
      pinned ? `core ${GENERATOR_CORE}` : "any core"
    } (${machine.cpuModel}, ${machine.cores} cores, Deno ${machine.deno})`,
  );
  console.log(
    `bench: steps ${
      steps.join(", ")
    } calls; windows ${options.stepSeconds} s (${options.seconds} s at ${options.calls}); warm-up ${options.warmupSeconds} s`,
  );

  const kvDir = await Deno.makeTempDir({ prefix: "bench-kv-" });
  const probe = new Probe();
  const realtime = RealtimePeer.start({
    apiKey: TEST_API_KEY,
    probe,
    bargeEvery: options.bargeEvery,
    responseEveryTicks: answerEveryTicks,
  });
  let server: ServerProcess | undefined;
  const results: Step[] = [];
  let stopReason = "ramp finished";
  try {
    server = await startServer(
      options,
      realtime.url,
      `${kvDir}/kv.sqlite3`,
      pinned,
      Math.min(10_000, Math.max(...steps) + 10),
      options.nodelayShim ? await buildShim(kvDir) : undefined,
    );
    await health(server.port);
    await delay(1000);
    const coldIdleRssKiB = await idleRss(server.pid);

    const current = new Load(server.port, options, probe);
    // The calibration path: the same socket kinds as the measured ones, with
    // no server between them.
    const calibration = await RawWebSocket.connect(realtime.calibrationUrl);
    calibration.onmessage = (data) => {
      const now = performance.now();
      probe.floorOutbound.record(now - Number(data));
    };
    current.metronome.calibrate = () => {
      calibration.sendText(String(performance.now()));
      realtime.sendCalibration();
    };
    current.metronome.start();

    // Code paged in and state set up by the first calls is not a per-call
    // cost: the baseline is read after a few calls have come and gone.
    let idleRssKiB = coldIdleRssKiB;
    if (options.warmCalls > 0) {
      await current.grow(options.warmCalls);
      await delay((options.answerEverySeconds + 2) * 1000);
      await current.retire();
      await untilNoCalls(server.port, 5000);
      await delay(2000);
      idleRssKiB = await idleRss(server.pid);
    }
    console.log(
      `bench: server pid ${server.pid} on port ${server.port}, idle RSS ${
        (coldIdleRssKiB / 1024).toFixed(1)
      } MiB, after ${options.warmCalls} warm-up calls ${
        (idleRssKiB / 1024).toFixed(1)
      } MiB`,
    );

    for (const n of steps) {
      const t = performance.now();
      await current.grow(n);
      const seconds = n === options.calls
        ? options.seconds
        : options.stepSeconds;
      console.log(
        `bench: ${n} calls live (${
          ((performance.now() - t) / 1000).toFixed(1)
        } s to place), measuring ${seconds} s…`,
      );
      let step: Step | undefined;
      for (let attempt = 0; attempt <= options.retries; attempt++) {
        const tried = await measure(
          current,
          server,
          n,
          seconds,
          attempt === 0 ? options.warmupSeconds : 1,
          idleRssKiB,
          machine.clockTicksPerSecond,
          pinned,
        );
        console.log(
          `bench:   in ${fmtMs(tried.inbound)}, out ${
            fmtMs(tried.outbound)
          } (floor p99 ${tried.floor.inbound.p99.toFixed(2)}/${
            tried.floor.outbound.p99.toFixed(2)
          }), server ${tried.serverCpuPercent.toFixed(1)} % of a core (${
            tried.cpuPerCallPercent.toFixed(3)
          } %/call), RSS ${tried.rssPerCallKiB} KiB/call, generator ${tried.generator.cpuPercent} %${
            tried.generator.saturated ? " SATURATED" : ""
          }, other processes ${tried.otherLoad.serverCorePercent} % / ${tried.otherLoad.generatorCorePercent} %${
            tried.otherLoad.noisy ? " (NOISY)" : ""
          }`,
        );
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
      if (current.failedCalls.length > 0) {
        stopReason = `calls failed to connect at ${n}`;
        break;
      }
      // Every step up to the headline N is measured. Beyond it the ramp
      // goes on while neither side is overloaded: a step that misses the
      // latency criterion still gives CPU and memory figures.
      if (n < options.calls) continue;
      const overload = overloaded(step!);
      if (overload) {
        stopReason = `${overload} at ${n} calls`;
        break;
      }
    }

    await current.quiesce();
    calibration.close();
    const totals = counters(current.probe);
    await current.hangUp();
    const remaining = await untilNoCalls(server.port, 5000);

    server.child.kill("SIGTERM");
    const killTimer = setTimeout(() => server?.child.kill("SIGKILL"), 10_000);
    const status = await server.exited;
    clearTimeout(killTimer);
    await realtime.close();

    report({
      options,
      machine,
      steps: results,
      stopReason,
      totals,
      load: current,
      realtime,
      server,
      serverExit: status.code,
      callsLeftAtShutdown: remaining,
      idleRssKiB,
      coldIdleRssKiB,
    });
  } catch (error) {
    if (server) {
      console.error(server.stderrTail.join("\n"));
      server.child.kill("SIGKILL");
    }
    throw error;
  } finally {
    await Deno.remove(kvDir, { recursive: true }).catch(() => {});
  }
}

interface ReportInput {
  options: Options;
  machine: Machine;
  steps: Step[];
  stopReason: string;
  totals: Counters;
  load: Load;
  realtime: RealtimePeer;
  server: ServerProcess;
  serverExit: number;
  callsLeftAtShutdown: number;
  /** After the warm-up calls (the baseline of the per-call figure). */
  idleRssKiB: number;
  /** Before the first call. */
  coldIdleRssKiB: number;
}

function report(input: ReportInput): void {
  const { options, machine, steps, totals, load, realtime, server } = input;
  const probe = load.probe;
  const headline = steps.find((s) => s.calls === options.calls);
  const held = steps.filter((s) => s.holds);
  const largest = held.length > 0 ? held[held.length - 1].calls : 0;
  const lastStep = steps[steps.length - 1];
  const firstFailing = steps.find((s) => !s.holds);
  const failure = (s: Step): string =>
    s.inbound.p99 >= CAPACITY_P99_MS || s.outbound.p99 >= CAPACITY_P99_MS
      ? `p99 ${s.inbound.p99.toFixed(1)} ms in / ${
        s.outbound.p99.toFixed(1)
      } ms out at ${s.calls} calls`
      : `frames lost or calls dropped at ${s.calls} calls`;
  const cpuBasis = headline ?? lastStep;
  const capacity = {
    calls: largest,
    criterion:
      `p99 added latency < ${CAPACITY_P99_MS} ms both directions, no frame lost, no call dropped`,
    limitedBy: lastStep === undefined
      ? "not measured"
      : largest === 0
      ? `no step meets it (${failure(firstFailing!)})`
      : largest === lastStep.calls
      ? lastStep.generator.saturated
        ? "the load generator's core saturated: the server may hold more"
        : "end of the ramp: the server may hold more"
      : `server (${
        failure(steps.find((s) => s.calls > largest && !s.holds)!)
      })`,
    atLeast: largest > 0 && lastStep !== undefined &&
      largest === lastStep.calls,
    /** Calls one core could carry on CPU alone: 100 % / CPU per call. */
    cpuBoundEstimate: cpuBasis && cpuBasis.cpuPerCallPercent > 0
      ? Math.floor(100 / cpuBasis.cpuPerCallPercent)
      : null,
  };

  const records = probe.calls;
  const prewarmReady =
    records.filter((c) =>
      c.sessionReadyAt >= 0 && c.firstFrameSentAt >= 0 &&
      c.sessionReadyAt <= c.firstFrameSentAt
    ).length;
  const firstFrame = probe.firstFrame.summary();
  const leads = records
    .filter((c) => c.sessionReadyAt >= 0 && c.startSentAt >= 0)
    .map((c) => ({
      sessionReady: c.sessionReadyAt - c.webhookAt,
      streamStart: c.startSentAt - c.webhookAt,
    }));
  const prewarmLead = {
    webhookToSessionUpdateMs: round3(median(leads.map((l) => l.sessionReady))),
    webhookToStreamStartMs: round3(median(leads.map((l) => l.streamStart))),
  };
  const firstFrameTransit = probe.firstFrameTransit.summary();
  const bargeRun = probe.bargeInRun.summary();
  const lostIn = totals.framesSent - totals.framesReceived;
  const lostOut = totals.deltasSent - totals.deltasReceived;
  const protocolErrors = Object.fromEntries(probe.protocolErrors);
  const errorsSent = Object.fromEntries(realtime.errorsSent);
  const unexpectedErrors = Object.entries(errorsSent)
    .filter(([code]) => code !== "response_cancel_not_active")
    .reduce((n, [, count]) => n + count, 0);

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
        target: "p99 ≤ 2 ms",
        pass: headline.outbound.count > 0 && headline.outbound.p99 <= 2,
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
          (input.idleRssKiB / 1024).toFixed(1)
        } MiB after ${options.warmCalls} warm-up calls, ${
          (input.coldIdleRssKiB / 1024).toFixed(1)
        } MiB before any)`,
        target: "≤ 150 KiB",
        pass: headline.rssPerCallKiB <= 150,
      },
      {
        figure: "barge-in reaction (speech_started → clear) p50/p99/max",
        value: `${fmtMs(headline.bargeIn)}, n=${headline.bargeIn.count}`,
        target: "p99 ≤ 5 ms",
        pass: headline.bargeIn.count > 0 && headline.bargeIn.p99 <= 5,
      },
    );
  }
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
        `${server.logs.callStartedUpstreamReady} of ${records.length} calls, ${server.logs.earlyFramesHeld} frames held (Realtime peer had session.update before frame 1 was sent: ${prewarmReady})`,
      target: "all, 0 held",
      pass: records.length > 0 &&
        server.logs.callStartedUpstreamReady === records.length &&
        server.logs.earlyFramesHeld === 0,
    },
    {
      figure: "stream start → first caller frame upstream p50/p99/max",
      value: fmtMs(firstFrame),
      target: "info",
      pass: null,
    },
    {
      figure: "barge-ins answered / missed (whole run)",
      value: `${totals.bargeIns} / ${totals.bargeInsMissed} (p99 ${
        bargeRun.p99.toFixed(2)
      } ms, max ${bargeRun.max.toFixed(2)} ms)`,
      target: "0 missed",
      pass: totals.bargeInsMissed === 0 && totals.bargeIns > 0,
    },
    {
      figure: "truncates accepted / refused by the Realtime peer",
      value:
        `${realtime.truncationsAccepted} / ${realtime.truncationsRejected}`,
      target: "0 refused",
      pass: realtime.truncationsRejected === 0,
    },
    {
      figure: "protocol errors (either peer) / unexpected API errors",
      value: `${
        Object.values(protocolErrors).reduce((a, b) => a + b, 0)
      } / ${unexpectedErrors}`,
      target: "0 / 0",
      pass: Object.keys(protocolErrors).length === 0 && unexpectedErrors === 0,
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

  const rampRows = [[
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
    "barge p99 (n)",
    "generator",
    "others",
    "holds",
  ]];
  steps.forEach((s, i) => {
    const previous = steps[i - 1];
    rampRows.push([
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
      `${s.bargeIn.p99.toFixed(2)} (${s.bargeIn.count})`,
      `${s.generator.cpuPercent.toFixed(0)} %, late p99 ${
        s.generator.tickLateP99Ms.toFixed(1)
      } ms${s.generator.saturated ? " SAT" : ""}`,
      `${s.otherLoad.serverCorePercent.toFixed(0)}/${
        s.otherLoad.generatorCorePercent.toFixed(0)
      } %${s.otherLoad.noisy ? " NOISY" : ""}`,
      s.holds ? "yes" : "no",
    ]);
  });

  const targetRows = [["figure", "value", "target", "result"]];
  for (const t of targets) {
    targetRows.push([t.figure, t.value, t.target, verdict(t.pass)]);
  }

  console.log("");
  console.log(
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryMiB} MiB, ${machine.kernel}, Deno ${machine.deno} (V8 ${machine.v8}), ${machine.date}`,
  );
  console.log(
    `Server ${options.server} ${
      machine.serverCore === null
        ? "unpinned"
        : `pinned to core ${machine.serverCore}`
    }; load generator ${
      machine.generatorCore === null
        ? "unpinned"
        : `pinned to core ${machine.generatorCore}`
    }. Latencies include two loopback hops and the generator's own event loop.`,
  );
  console.log("");
  console.log(table(targetRows));
  console.log("");
  console.log(table(rampRows));
  console.log(`Ramp stopped: ${input.stopReason}.`);
  const noisy = steps.filter((s) => s.otherLoad.noisy).map((s) => s.calls);
  if (noisy.length > 0) {
    console.log(
      `Other processes used over 10 % of a measured core during the ${
        noisy.join(", ")
      }-call step(s): treat those figures with care.`,
    );
  }
  if (load.failedCalls.length > 0) {
    console.log(`Calls that failed to connect: ${load.failedCalls.length}`);
    for (const f of load.failedCalls.slice(0, 5)) console.log(`  ${f}`);
  }
  if (Object.keys(protocolErrors).length > 0) {
    console.log("Protocol errors:", protocolErrors);
  }
  if (server.logs.warnings.length > 0) {
    console.log("Server warnings (first few):");
    for (const w of server.logs.warnings.slice(0, 5)) console.log(`  ${w}`);
  }

  const results = {
    benchmark: "phone-assistant call bridge (issue 5)",
    machine,
    options: { ...options, steps: steps.map((s) => s.calls) },
    method: {
      frameMs: FRAME_MS,
      callerFrameBytes: 160,
      assistantDeltaBytes: 800,
      answerEverySeconds: options.answerEverySeconds,
      answerSeconds: "1.0–2.0",
      bargeEvery: options.bargeEvery,
      metronomePhases: BUCKETS,
      latency:
        "performance.now() in the generator process: frame sent by the edge → append received by the Realtime peer, delta sent by the peer → media received by the edge; includes two loopback hops and the generator's event loop",
      cpu:
        "utime+stime of the server process over the window / CLK_TCK / window / calls",
      memory:
        "median VmRSS over the window minus idle VmRSS before any call, / calls",
    },
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
      }
      : null,
    targets,
    capacity,
    firstFrame: {
      startToFirstFrameUpstreamMs: firstFrame,
      firstFrameTransitMs: firstFrameTransit,
      upstreamReadyBeforeFirstFrame: prewarmReady,
      calls: records.length,
      serverLogUpstreamReadyAtStart: server.logs.callStartedUpstreamReady,
      serverLogUpstreamNotReadyAtStart: server.logs.callStartedUpstreamNotReady,
      serverLogEarlyFramesHeld: server.logs.earlyFramesHeld,
      medians: prewarmLead,
    },
    bargeIn: {
      answered: totals.bargeIns,
      missed: totals.bargeInsMissed,
      notPlaying: totals.bargesNotPlaying,
      reactionMs: bargeRun,
      truncatesAccepted: realtime.truncationsAccepted,
      truncatesRefused: realtime.truncationsRejected,
    },
    totals: { ...totals, lostInbound: lostIn, lostOutbound: lostOut },
    ramp: steps.map((s, i) => ({
      ...s,
      rssMarginalPerCallKiB: i > 0
        ? round1(marginalRss(steps[i - 1], s))
        : null,
    })),
    stopReason: input.stopReason,
    protocolErrors,
    realtimeErrorsSent: errorsSent,
    realtimeHandshakes: realtime.handshakes,
    failedCalls: load.failedCalls,
    droppedCalls: load.droppedCalls,
    server: {
      entry: options.server,
      exitCode: input.serverExit,
      callsLeftAtShutdown: input.callsLeftAtShutdown,
      idleRssKiB: input.idleRssKiB,
      coldIdleRssKiB: input.coldIdleRssKiB,
      logLines: server.logs.lines,
      logEvents: Object.fromEntries(server.logs.events),
      callsEnded: Object.fromEntries(server.logs.callsEnded),
      warnings: server.logs.warnings,
    },
  };
  const standard = options.server === "main.ts" && !options.nodelayShim &&
    !options.cpuProf && options.serverFlags.length === 0;
  if (options.readme && standard) {
    updateReadme([
      `Taken ${
        machine.date.slice(0, 16).replace("T", " ")
      } UTC on ${machine.cpuModel}, ${machine.cores} cores, ${
        Math.round(machine.memoryMiB / 1024)
      } GiB, ${machine.kernel}, Deno ${machine.deno} (V8 ${machine.v8}); server ${
        machine.serverCore === null
          ? "unpinned"
          : `pinned to core ${machine.serverCore}`
      }, load generator ${
        machine.generatorCore === null
          ? "unpinned"
          : `pinned to core ${machine.generatorCore}`
      }. Command: \`deno run -A bench/bench.ts${
        Deno.args.length ? " " + Deno.args.join(" ") : ""
      }\`. Full figures: \`${options.out}\`.`,
      "",
      table(targetRows),
      "",
      table(rampRows),
      "",
      `Ramp stopped: ${input.stopReason}. "others": CPU that other processes used on the server's / the generator's core during the window${
        noisy.length > 0
          ? ` (over 10 % during the ${
            noisy.join(", ")
          }-call step(s): those figures are suspect)`
          : ""
      }.`,
    ].join("\n"));
  }

  const out = options.out.startsWith("/")
    ? options.out
    : `${ROOT}/${options.out}`;
  Deno.mkdirSync(out.slice(0, out.lastIndexOf("/")), { recursive: true });
  Deno.writeTextFileSync(out, JSON.stringify(results, null, 2) + "\n");
  console.log(`\nResults written to ${options.out}`);
}

const README_START = "<!-- bench:results:start -->";
const README_END = "<!-- bench:results:end -->";

/** Replaces the results block of bench/README.md (between its markers). */
function updateReadme(block: string): void {
  const path = `${ROOT}/bench/README.md`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return;
  }
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start < 0 || end < start) return;
  Deno.writeTextFileSync(
    path,
    `${text.slice(0, start + README_START.length)}\n\n${block}\n\n${
      text.slice(end)
    }`,
  );
  // Keep `deno fmt --check` clean whatever the figures look like.
  new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
  }).outputSync();
  console.log("Results block of bench/README.md updated.");
}

if (import.meta.main) {
  await main();
  Deno.exit(0);
}

function startTaskV8Flags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  return String(config.tasks.start).split(/\s+/)
    .filter((arg) => arg.startsWith("--v8-flags="));
}
