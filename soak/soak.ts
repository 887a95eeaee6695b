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

import { type KindFigures, normalCall, openSessions } from "./calls.ts";
import { drainPhase } from "./drain.ts";
import { assess, type Measured } from "./figures.ts";
import { runFloods } from "./floods.ts";
import { Harness, type ServerSettings, sleep, until } from "./harness.ts";
import { inside, memory as serverMemory, type MemorySample } from "./inside.ts";
import { KINDS } from "./kinds.ts";
import { startTimeLimitCall } from "./limits.ts";
import { HELP, type Options, parseOptions } from "./options.ts";
import { pinGuesses } from "./pin_guesses.ts";
import { mib, printAndWrite } from "./report.ts";
import { scanSecrets } from "./secrets.ts";

async function main(): Promise<number> {
  const options = parseOptions(Deno.args);
  if (options === "help") {
    console.log(HELP);
    return 0;
  }
  const settings: ServerSettings = {
    maxConcurrentCalls: 5,
    maxCallMinutes: options.timeLimit ? 1 : undefined,
    streamStartTimeoutSeconds: 2,
    streamTokenTtlSeconds: 5,
    drainSeconds: 1,
    inspect: options.inspect,
  };
  const startedAt = performance.now();
  let phase = "start";
  const progress = (message: string) => {
    phase = message;
    console.error(
      `[soak ${
        ((performance.now() - startedAt) / 1000).toFixed(1)
      }s] ${message}`,
    );
  };

  const h = await Harness.start(options.serverRoot, settings);
  progress(
    `server pid ${h.server.pid} listening on ${h.server.port}${
      h.inspector ? " (inspector attached)" : ""
    }`,
  );
  await sleep(500);
  const atStart = await serverMemory(h);
  const idleInside = await inside(h);
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
  try {
    const { kindFigures, measured } = await soak(h, options, progress);
    const run = {
      h,
      options,
      startedAt,
      atStart,
      idleInside,
      kindFigures,
      measured,
    };
    const assessment = assess(run);
    await printAndWrite(run, assessment);
    return assessment.failed === 0 ? 0 : 1;
  } finally {
    progress("closing");
    await h.close();
    clearInterval(heartbeat);
    watchdog.terminate();
  }
}

/** The phases, in order; what they measured. */
async function soak(
  h: Harness,
  options: Options,
  progress: (message: string) => void,
): Promise<{ kindFigures: KindFigures; measured: Measured }> {
  const kindFigures: KindFigures = {};
  const memory = () => serverMemory(h);
  // 1. The call that reaches MAX_CALL_MINUTES runs in the background.
  const timeLimit = options.timeLimit ? await startTimeLimitCall(h) : undefined;
  if (timeLimit) progress("time-limit call started (ends at 1 minute)");

  // 2. The concurrency limit, while that call is live.
  const [capacity, ...faultKinds] = KINDS;
  progress("concurrency limit");
  Object.assign(kindFigures, await capacity.spec.run(h, capacity.count));

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
    Object.assign(kindFigures, await spec.run(h, count));
  }

  // 5. Floods.
  progress(`floods: ${options.flood} per kind`);
  const floods = await runFloods(
    h,
    options.flood,
    (harness, kind) => normalCall(harness, kind),
    memory,
  );

  // 5b. PIN guessing, against a server with CALLER_PIN (its own process).
  progress(`PIN guessing: ${options.flood} wrong PINs`);
  const pins = await pinGuesses(options.serverRoot, options.flood);

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
  const endInside = await inside(h);
  const fdsEnd = h.server.openFds() ?? 0;
  const socketsEnd = h.server.openSockets() ?? 0;
  const ticksBefore = h.server.cpuTicks() ?? 0;
  await sleep(3000);
  const idleTicks = (h.server.cpuTicks() ?? 0) - ticksBefore;
  const crashedBeforeEnd = h.server.exitCode !== undefined;

  // 8. Drain: SIGTERM with a live call.
  progress("drain (SIGTERM)");
  const drain = await drainPhase(h);

  // 9. Secrets.
  await h.server.drained();
  const secrets = scanSecrets(h);

  const measured: Measured = {
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
    leakedSocketLabels: leakedSockets.map((c) =>
      `${c.label} (${h.front.modeOf(c)})`
    ),
    leakedSessions,
    liveCallsAtEnd: health?.calls,
    idleTicks,
    crashedBeforeEnd,
    floods,
    pins,
    drain,
    secrets,
  };
  return { kindFigures, measured };
}

if (import.meta.main) Deno.exit(await main());
