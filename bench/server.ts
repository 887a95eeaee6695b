/**
 * The server under test, for one phase of the benchmark: `main.ts` (or the
 * `--server` entry) started by the peers' launcher with production's flags,
 * pinned to its own core, pointed at the local simulators, and what its log
 * says about the calls it carried.
 *
 * @module
 */

import { TEST_API_KEY, TEST_AUTH_TOKEN } from "../peers/keys.ts";
import { rssKiB } from "../peers/proc.ts";
import { ServerProcess } from "../peers/server_process.ts";
import { SERVER_CORE } from "./machine.ts";
import type { Engine, Options } from "./options.ts";
import { median } from "./stats.ts";

export const PUBLIC_ORIGIN = "https://assistant.example.com";
/** Lets the bench read each call's journal (its usage and cost). */
export const ADMIN_TOKEN = "bench-admin-token-0123456789";
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export interface ServerSetup {
  engine: Engine;
  /** The Realtime simulator: the Realtime endpoint, and the host of the Responses API (summaries). */
  realtimeUrl: string;
  /** The GPT-Live simulator, for the live engine. */
  liveUrl?: string;
  kvDir: string;
  pinned: boolean;
  maxCalls: number;
  /** LD_PRELOAD for the diagnostic --nodelay-shim. */
  preload?: string;
}

export async function startBenchServer(
  options: Options,
  setup: ServerSetup,
): Promise<ServerProcess> {
  const copy = options.serverLog
    ? Deno.openSync(`${options.serverLog}.${setup.engine}`, {
      write: true,
      create: true,
      truncate: true,
    })
    : undefined;
  const encoder = new TextEncoder();
  return await ServerProcess.start({
    root: ROOT,
    entry: options.server,
    permissions: "broad",
    flags: [
      ...(options.cpuProf
        ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProf}`]
        : []),
      ...options.serverFlags,
    ],
    wrapper: setup.pinned ? ["taskset", "-c", String(SERVER_CORE)] : undefined,
    // Every other variable stays at its default.
    env: {
      MAX_CONCURRENT_CALLS: String(setup.maxCalls),
      OPENAI_API_KEY: TEST_API_KEY,
      TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
      PORT: "0",
      PUBLIC_URL: PUBLIC_ORIGIN,
      OPENAI_REALTIME_URL: setup.realtimeUrl,
      ...(setup.engine === "live" && setup.liveUrl
        ? { VOICE_ENGINE: "live", OPENAI_LIVE_URL: setup.liveUrl }
        : {}),
      KV_PATH: `${setup.kvDir}/kv.sqlite3`,
      STREAM_TOKEN_TTL_SECONDS: "60",
      DRAIN_SECONDS: "2",
      ADMIN_TOKEN,
      ...(setup.preload ? { LD_PRELOAD: setup.preload } : {}),
    },
    onLine: copy && ((line) => copy.writeSync(encoder.encode(line + "\n"))),
    startTimeoutMs: 60_000,
  });
}

/** Stops the server (SIGTERM, SIGKILL after 10 s); its exit code. */
export async function stopServer(server: ServerProcess): Promise<number> {
  server.kill("SIGTERM");
  const killTimer = setTimeout(() => server.kill("SIGKILL"), 10_000);
  const code = await server.exited;
  clearTimeout(killTimer);
  return code;
}

/** The owner's /healthz: the live-call count is behind ADMIN_TOKEN. */
export async function health(port: number): Promise<{ calls: number }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return await response.json();
}

/** Waits (up to `ms`) for the server to report no live call; returns how many are left. */
export async function untilNoCalls(port: number, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let remaining = (await health(port)).calls;
  while (remaining > 0 && performance.now() < deadline) {
    await delay(100);
    remaining = (await health(port)).calls;
  }
  return remaining;
}

/** The median of five VmRSS readings, 200 ms apart. */
export async function idleRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(rssKiB(pid));
    await delay(200);
  }
  return median(readings);
}

/** A call's journal record, as the owner's JSON API gives it. */
export async function journalRecord(
  port: number,
  callSid: string,
): Promise<Record<string, unknown> | undefined> {
  const response = await fetch(
    `http://127.0.0.1:${port}/api/calls/${callSid}`,
    {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    },
  );
  const body = await response.json();
  return response.ok ? body : undefined;
}

/** What the server's log says about the calls of a phase. */
export interface ServerLogStats {
  lines: number;
  events: Record<string, number>;
  warnings: string[];
  callStartedUpstreamReady: number;
  callStartedUpstreamNotReady: number;
  callsEnded: Record<string, number>;
  earlyFramesHeld: number;
  earlyFramesDropped: number;
}

export function logStats(server: ServerProcess): ServerLogStats {
  const stats: ServerLogStats = {
    lines: server.lines.length,
    events: {},
    warnings: [],
    callStartedUpstreamReady: 0,
    callStartedUpstreamNotReady: 0,
    callsEnded: {},
    earlyFramesHeld: 0,
    earlyFramesDropped: 0,
  };
  const add = (counts: Record<string, number>, key: string) =>
    counts[key] = (counts[key] ?? 0) + 1;
  for (const entry of server.events) {
    const event = String(entry.event);
    add(stats.events, event);
    if (
      (entry.level === "warn" || entry.level === "error") &&
      stats.warnings.length < 20
    ) {
      stats.warnings.push(JSON.stringify(entry).slice(0, 300));
    }
    if (event === "call.started") {
      if (entry.upstreamReady === true) stats.callStartedUpstreamReady++;
      else stats.callStartedUpstreamNotReady++;
    } else if (event === "upstream.ready") {
      stats.earlyFramesHeld += Number(entry.earlyFrames ?? 0);
    } else if (event === "call.ended") {
      add(stats.callsEnded, String(entry.reason));
      stats.earlyFramesDropped += Number(entry.earlyFramesDropped ?? 0);
    }
  }
  return stats;
}

/** Compiles bench/nodelay_shim.c into `dir`; returns the .so path. */
export async function buildShim(dir: string): Promise<string> {
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

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
