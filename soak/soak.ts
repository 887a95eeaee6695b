/**
 * `deno task soak`: a fault and soak run against the real server, run as its
 * own process. Places calls the way Twilio does, injects faults on both
 * sides, floods it with bad requests, and reports what it survived:
 *
 *   deno run -A soak/soak.ts [--calls 1000] [--flood 1000]
 *                            [--out soak/results/latest.json] [--no-time-limit]
 *
 * Exit code 1 when any requirement fails. See soak/README.md.
 *
 * @module
 */

import {
  busyFigures,
  KINDS,
  normalCall,
  notReadingFigures,
  openSessions,
  SILENCE_BOUND_MS,
  startTimeLimitCall,
} from "./calls.ts";
import { type FloodReport, runFloods } from "./floods.ts";
import {
  type CallResult,
  type CallRun,
  Harness,
  type ServerSettings,
  sleep,
  until,
  UPSTREAM_CONNECT_TIMEOUT_MS,
  within,
} from "./harness.ts";
import type { PendingTimer } from "./inspector.ts";
import {
  type Figure,
  figuresTable,
  type KindRow,
  kindsTable,
  mib,
  table,
} from "./report.ts";

interface Options {
  calls: number;
  warmup: number;
  flood: number;
  out: string;
  timeLimit: boolean;
  inspect: boolean;
  /** Where main.ts is: this checkout unless --server-root names another. */
  serverRoot: string;
}

function parseOptions(args: string[]): Options {
  const options: Options = {
    calls: 1000,
    warmup: 100,
    flood: 1000,
    out: "soak/results/latest.json",
    timeLimit: true,
    inspect: true,
    serverRoot: new URL("..", import.meta.url).pathname,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [name, inline] = arg.split("=", 2);
    const value = () => inline ?? args[++i];
    const count = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) {
        throw new Error(`${name} needs a whole number`);
      }
      return n;
    };
    switch (name) {
      case "--calls":
        options.calls = count();
        break;
      case "--warmup":
        options.warmup = count();
        break;
      case "--flood":
        options.flood = count();
        break;
      case "--out":
        options.out = value();
        break;
      case "--no-time-limit":
        options.timeLimit = false;
        break;
      case "--no-inspect":
        options.inspect = false;
        break;
      case "--server-root":
        options.serverRoot = value();
        break;
      case "--help":
      case "-h":
        console.log(
          "deno run -A soak/soak.ts [--calls N] [--warmup N] [--flood N] [--out FILE] [--no-time-limit] [--no-inspect] [--server-root DIR]",
        );
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  return options;
}

/** JS heap growth allowed over the sequential calls, after a full GC. */
const HEAP_BOUND_KIB = 2048;

const options = parseOptions(Deno.args);
const settings: ServerSettings = {
  maxConcurrentCalls: 5,
  maxCallMinutes: options.timeLimit ? 1 : undefined,
  streamStartTimeoutSeconds: 2,
  streamTokenTtlSeconds: 5,
  drainSeconds: 1,
  inspect: options.inspect,
};

const runStarted = performance.now();
let phase = "start";
const progress = (message: string) => {
  phase = message;
  console.error(
    `[soak ${
      ((performance.now() - runStarted) / 1000).toFixed(1)
    }s] ${message}`,
  );
};

const h = await Harness.start(options.serverRoot, settings);
progress(
  `server pid ${h.server.pid} listening on ${h.server.port}${
    h.server.inspector ? " (inspector attached)" : ""
  }`,
);
await sleep(500);
const atStart = await memory();
const idleInside = await inside();
// A stuck run must fail, not hang CI: a watchdog on its own thread.
const watchdog = new Worker(
  new URL("./watchdog_worker.ts", import.meta.url),
  { type: "module" },
);
watchdog.postMessage({
  kind: "setup",
  serverPid: h.server.pid,
  silentMs: 120_000,
  phaseMs: 300_000,
});
const heartbeat = setInterval(
  () => watchdog.postMessage({ kind: "beat", phase }),
  1000,
);
let exitCode = 1;

try {
  exitCode = await soak();
} finally {
  progress("closing");
  await h.close();
  clearInterval(heartbeat);
  watchdog.terminate();
}
Deno.exit(exitCode);

async function soak(): Promise<number> {
  // 1. The call that reaches MAX_CALL_MINUTES runs in the background.
  const timeLimit = options.timeLimit ? await startTimeLimitCall(h) : undefined;
  if (timeLimit) progress("time-limit call started (ends at 1 minute)");

  // 2. The concurrency limit, while that call is live.
  const [capacity, ...faultKinds] = KINDS;
  progress("concurrency limit");
  await capacity.spec.run(h, capacity.count);

  // 3. Warm-up, then 1,000 sequential calls for the memory figure.
  progress(`warm-up: ${options.warmup} calls`);
  for (let i = 0; i < options.warmup; i++) {
    await normalCall(h, "normal_warmup", i % 10 === 5);
  }
  await sleep(1000);
  const warm = await memory();
  const fdsBaseline = h.server.openFds() ?? 0;
  const socketsBaseline = h.server.openSockets() ?? 0;
  progress(
    `baseline after warm-up: RSS ${mib(warm.rssKiB)}, heap ${
      warm.heapKiB === undefined ? "-" : mib(warm.heapKiB)
    }, ${fdsBaseline} fds`,
  );
  const memorySamples: MemorySample[] = [{ calls: 0, ...warm }];
  const memoryStarted = performance.now();
  for (let i = 0; i < options.calls; i++) {
    await normalCall(h, "normal", i % 10 === 5);
    if ((i + 1) % 100 === 0 || i + 1 === options.calls) {
      const sample = { calls: i + 1, ...await memory() };
      memorySamples.push(sample);
      progress(
        `${i + 1} calls: RSS ${mib(sample.rssKiB)}, heap ${
          sample.heapKiB === undefined ? "-" : mib(sample.heapKiB)
        }`,
      );
    }
  }
  const memoryMs = performance.now() - memoryStarted;
  await sleep(1000);
  const afterCalls = await memory();

  // 4. Faults, one kind after another.
  for (const { spec, count } of faultKinds) {
    progress(`fault: ${spec.kind} ×${count}`);
    await spec.run(h, count);
  }

  // 5. Floods.
  progress(`floods: ${options.flood} per kind`);
  const floods = await runFloods(
    h,
    options.flood,
    (harness, kind) => normalCall(harness, kind),
    memory,
  );

  // 6. The time-limit call ends by itself.
  if (timeLimit) {
    progress("waiting for the time-limit call");
    await timeLimit.done;
  }

  // 7. Nothing may be left: grace for stragglers, then count.
  progress("final checks");
  h.front.label = "idle";
  await until(() => h.front.open().length === 0, 8000);
  await sleep(500);
  const leakedSockets = h.front.open();
  let leakedSessions = 0;
  for (const fake of h.backends.values()) {
    leakedSessions += await openSessions(fake.sessions);
  }
  const health = await h.healthz();
  const atEnd = await memory();
  const endInside = await inside();
  const fdsEnd = h.server.openFds() ?? 0;
  const socketsEnd = h.server.openSockets() ?? 0;
  const ticksBefore = h.server.cpuTicks() ?? 0;
  await sleep(3000);
  const idleTicks = (h.server.cpuTicks() ?? 0) - ticksBefore;
  const crashedBeforeEnd = h.server.exitStatus !== undefined;

  // 8. Drain: SIGTERM with a live call.
  progress("drain (SIGTERM)");
  const drain = await drainPhase();

  // 9. Secrets.
  await h.server.drained();
  const secrets = scanSecrets();

  return report({
    warm,
    afterCalls,
    memorySamples,
    memoryMs,
    atEnd,
    endInside,
    fdsBaseline,
    fdsEnd,
    socketsBaseline,
    socketsEnd,
    leakedSockets: leakedSockets.length,
    leakedSocketLabels: leakedSockets.map((c) => `${c.label} (${c.mode})`),
    leakedSessions,
    liveCallsAtEnd: health?.calls,
    idleTicks,
    crashedBeforeEnd,
    floods,
    drain,
    secrets,
  });
}

interface MemorySample {
  calls: number;
  rssKiB: number;
  /** JS heap in use after a forced full GC (with the inspector). */
  heapKiB: number | undefined;
}

/** RSS and JS heap, after a full GC when the inspector is attached. */
async function memory(): Promise<Omit<MemorySample, "calls">> {
  const inspector = h.server.inspector;
  let heapKiB: number | undefined;
  if (inspector) {
    try {
      await inspector.gc();
      heapKiB = Math.round(await inspector.heapUsed() / 1024);
    } catch {
      heapKiB = undefined;
    }
  }
  return { rssKiB: h.server.rssKiB() ?? 0, heapKiB };
}

interface Inside {
  /** WebSocket objects alive after a full GC. */
  webSockets: number | undefined;
  /** Timers scheduled and not yet fired or cleared, by duration. */
  timers: PendingTimer[] | undefined;
}

/** What is alive inside the server process (needs the inspector). */
async function inside(): Promise<Inside> {
  const inspector = h.server.inspector;
  if (!inspector) return { webSockets: undefined, timers: undefined };
  try {
    await inspector.gc();
    return {
      webSockets: await inspector.liveWebSockets(),
      timers: await inspector.pendingTimers(),
    };
  } catch {
    return { webSockets: undefined, timers: undefined };
  }
}

interface DrainFigures {
  callClosedMs: number | undefined;
  restartingTwiml: boolean;
  upstreamOpenedDuringDrain: number;
  exitCode: number | undefined;
  exitMs: number | undefined;
  run: CallResult | undefined;
}

async function drainPhase(): Promise<DrainFigures> {
  const run: CallRun = h.begin("drain_live_call", "normal");
  let restartingTwiml = false;
  let upstreamOpened = 0;
  let callClosedMs: number | undefined;
  if (await h.answer(run)) {
    const edge = await h.connect(run);
    const session = edge ? await h.session(run) : undefined;
    if (edge && session) {
      await edge.sendAudio(new Uint8Array(800), { intervalMs: 0 });
      h.stopWatchdog();
      // Deno.exit() spins forever while an inspector session is attached
      // (observed on 2.9.6): detach before the server's own exit.
      h.server.inspector?.close();
      h.server.inspector = undefined;
      await sleep(200);
      run.fault();
      h.server.kill("SIGTERM");
      await sleep(200);
      const late = h.begin("drain_refused_webhook", "normal");
      const response = await h.post(
        "/incoming-call",
        h.webhookParams(late.callSid),
      ).catch(() => undefined);
      restartingTwiml = response !== undefined && response.status === 200 &&
        /<Say>[^<]*restarting[^<]*<\/Say><Hangup\/>/.test(response.body);
      late.check(
        restartingTwiml,
        `a webhook during the drain got ${response?.status} ${
          response?.body.slice(0, 120)
        }`,
      );
      await sleep(20);
      upstreamOpened = h.front.withLabel(late.label).length;
      late.check(upstreamOpened === 0, "an upstream was opened while draining");
      h.finish(late);
      h.front.label = run.label;
      await h.expectServerClose(run, settings.drainSeconds * 1000 + 2000);
      callClosedMs = run.silenceMs;
      await h.expectUpstreamClosed(run, 2000);
      await h.expectEnded(run, ["server shutting down"]);
    } else {
      edge?.close();
    }
  }
  const result = h.finish(run);
  const termAt = run.faultAt ?? performance.now();
  if (run.faultAt === undefined) {
    h.server.inspector?.close();
    h.server.inspector = undefined;
    await sleep(200);
    h.server.kill("SIGTERM");
  }
  const status = await within(h.server.exited, 10_000);
  return {
    callClosedMs,
    restartingTwiml,
    upstreamOpenedDuringDrain: upstreamOpened,
    exitCode: status?.code,
    exitMs: status === undefined
      ? undefined
      : Math.round(performance.now() - termAt),
    run: result,
  };
}

interface SecretFigures {
  hits: { secret: string; source: string; sample: string }[];
  logLines: number;
  responses: number;
  tokens: number;
  redactedLines: number;
}

function scanSecrets(): SecretFigures {
  const named: [string, string][] = [
    ["OPENAI_API_KEY", h.secrets.openaiApiKey],
    ["TWILIO_AUTH_TOKEN", h.secrets.twilioAuthToken],
    ["ZAPIER_MCP_PASSWORD", h.secrets.mcpPassword],
  ];
  const tokens = new Set(h.tokens);
  const macs = new Map<string, string>();
  for (const token of tokens) {
    const mac = token.split(".")[1];
    if (mac) macs.set(mac, token);
  }
  const hits: SecretFigures["hits"] = [];
  const sample = (text: string, secret: string) => {
    const at = text.indexOf(secret);
    return text.slice(Math.max(0, at - 60), at + 20).replaceAll(
      secret,
      `<${secret.slice(0, 4)}…>`,
    );
  };
  const check = (source: string, text: string, ownToken?: string) => {
    for (const [name, secret] of named) {
      if (text.includes(secret)) {
        hits.push({ secret: name, source, sample: sample(text, secret) });
      }
    }
    // Token-shaped strings, and bare MACs, that belong to an issued token.
    for (const match of text.matchAll(/[A-Za-z0-9_-]{43,}/g)) {
      const run = match[0];
      for (let i = 0; i + 43 <= run.length; i++) {
        const token = macs.get(run.slice(i, i + 43));
        if (token !== undefined && token !== ownToken) {
          hits.push({
            secret: "stream token",
            source,
            sample: sample(text, run),
          });
          break;
        }
      }
    }
  };
  const logs = h.server.lines;
  for (const line of logs) check("server log", line);
  for (const item of h.scan) check(item.source, item.text, item.ownToken);
  return {
    hits,
    logLines: logs.length,
    responses: h.scan.length,
    tokens: tokens.size,
    redactedLines: logs.filter((l) => l.includes("[redacted]")).length,
  };
}

interface Measured {
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
  drain: DrainFigures;
  secrets: SecretFigures;
}

async function report(m: Measured): Promise<number> {
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
  const busy = busyFigures[0];
  const notReading = notReadingFigures[0];
  const timeLimit = results.find((r) => r.kind === "call_time_limit");
  // Every error the fake API raised against the server's own events, over
  // all sessions (response_cancel_not_active is expected after a barge-in).
  const refusedCodes: string[] = [];
  let truncates = 0;
  let truncatesRefused = 0;
  for (const fake of h.backends.values()) {
    for (const session of fake.sessions) {
      truncates += session.truncations.length;
      truncatesRefused += session.truncations.filter((t) => !t.accepted)
        .length;
      for (const event of session.errorsSent) {
        const error = event.error;
        const code = typeof error === "object" && error !== null &&
            "code" in error
          ? String(error.code)
          : "unknown";
        if (code !== "response_cancel_not_active") refusedCodes.push(code);
      }
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
  const durationS = (performance.now() - runStarted) / 1000;

  console.log(
    `\nSoak run: ${
      durationS.toFixed(0)
    } s, server pid ${h.server.pid}, RSS at start ${
      mib(atStart.rssKiB)
    }, at the end ${mib(m.atEnd.rssKiB)}\n`,
  );
  console.log(figuresTable(figures));
  console.log(
    "\nFaults by kind (each call: fault injected, then the defined outcome checked)\n",
  );
  console.log(kindsTable(rows));
  console.log("\nFloods\n");
  console.log(table(
    ["Flood", "Requests", "Statuses", "Refused", "Upstream opened", "Time"],
    floods.kinds.map((k) => [
      k.kind,
      String(k.requests),
      Object.entries(k.statuses).map(([s, n]) => `${s}×${n}`).join(" "),
      `${k.refused}/${k.requests}`,
      String(k.upstreamOpened),
      `${(k.durationMs / 1000).toFixed(1)} s`,
    ]),
  ));
  console.log("\nBad inputs by kind\n");
  console.log(table(
    ["Bad input", "Sent"],
    [...h.badInputs].map(([kind, n]) => [kind, String(n)]),
  ));
  const problems = rows.filter((r) => !r.pass);
  const otherFailures = results.filter((r) =>
    !r.clean && !rows.some((row) => row.kind === r.kind)
  );
  if (problems.length || otherFailures.length) {
    console.log("\nProblems\n");
    for (const row of problems) {
      console.log(`- ${row.kind}: ${row.problems.join(" | ")}`);
    }
    for (const r of otherFailures.slice(0, 10)) {
      console.log(
        `- ${r.kind} #${r.id} (${r.callSid}): ${r.problems.join(" | ")}`,
      );
    }
  }
  if (m.secrets.hits.length) {
    console.log("\nSecret hits\n");
    for (const hit of m.secrets.hits.slice(0, 10)) {
      console.log(`- ${hit.secret} in ${hit.source}: ${hit.sample}`);
    }
  }
  console.log(
    `\n${
      failed === 0 ? "PASS" : `FAIL (${failed} requirement(s) failed)`
    }: ${options.out}`,
  );

  const json = {
    startedAt: new Date(Date.now() - durationS * 1000).toISOString(),
    durationSeconds: Math.round(durationS),
    pass: failed === 0,
    options,
    serverSettings: settings,
    figures,
    faultKinds: rows,
    memory: {
      atStart,
      afterWarmup: m.warm,
      afterCalls: m.afterCalls,
      atEnd: m.atEnd,
      samples: m.memorySamples,
      callsPerSecond: Math.round(options.calls / (m.memoryMs / 1000)),
    },
    inside: { atStart: idleInside, atEnd: m.endInside, extraTimers },
    floods,
    busy,
    callerNotReading: notReading,
    drain: { ...m.drain, run: undefined },
    badInputs: Object.fromEntries(h.badInputs),
    crashes: {
      processExited: m.crashedBeforeEnd,
      healthzFailures: h.healthzFailures,
      healthzChecks: h.healthzChecks,
    },
    secrets: m.secrets,
    sockets: {
      fdsBaseline: m.fdsBaseline,
      fdsEnd: m.fdsEnd,
      socketsBaseline: m.socketsBaseline,
      socketsEnd: m.socketsEnd,
      leakedUpstreamSockets: m.leakedSocketLabels,
      leakedUpstreamSessions: m.leakedSessions,
      idleCpuTicks3s: m.idleTicks,
    },
    failedCalls: results.filter((r) => !r.clean).slice(0, 100),
  };
  const outPath = options.out.startsWith("/")
    ? options.out
    : `${Deno.cwd()}/${options.out}`;
  await Deno.mkdir(outPath.slice(0, outPath.lastIndexOf("/")), {
    recursive: true,
  });
  await Deno.writeTextFile(outPath, JSON.stringify(json, null, 2) + "\n");
  return failed === 0 ? 0 : 1;
}

/** Timers pending at the end that an idle server did not have. */
function timerDifference(
  end: PendingTimer[] | undefined,
  start: PendingTimer[] | undefined,
): PendingTimer[] {
  if (end === undefined) return [];
  const left = [...(start ?? [])];
  return end.filter((timer) => {
    const i = left.findIndex((t) =>
      t.ms === timer.ms && t.repeat === timer.repeat
    );
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

function describeTimer(timer: PendingTimer): string {
  return `${timer.repeat ? "interval" : "timeout"} ${timer.ms} ms`;
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
