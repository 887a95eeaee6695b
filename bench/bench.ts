/**
 * Load benchmark of the call bridge, on both voice engines (issues 5, 14).
 * Not a test.
 *
 * For each engine it starts the server (main.ts) as its own process pinned
 * to core 0, and in this process (pinned to core 1) the peers' simulators
 * in their lean mode plus N simulated Twilio media streams; places the
 * calls through the signed webhook and the signed stream handshake, runs
 * them at real-time pace, and measures each step of a ramp: added latency
 * per direction, server CPU and memory per call, frames lost, time to the
 * first caller frame upstream, barge-in reaction (Realtime), the playback
 * window reached (GPT-Live). Then the same scripted call on each engine
 * is priced per minute.
 *
 *   deno run -A bench/bench.ts [--calls 100] [--seconds 20]
 *     [--ramp 25,50,100,200,400] [--out bench/results/latest.json]
 *
 * `--help` lists every option. See bench/README.md for the method.
 *
 * @module
 */

import { type CostComparison, costComparison } from "./cost.ts";
import {
  GENERATOR_CORE,
  isPinnedCopy,
  machineInfo,
  reexecPinned,
  SERVER_CORE,
} from "./machine.ts";
import { HELP, isStandardRun, parseOptions } from "./options.ts";
import { type PhaseResult, runPhase } from "./phase.ts";
import { updateReadme } from "./readme.ts";
import {
  type BenchRun,
  problemsText,
  reportText,
  resultsJson,
} from "./report.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  if (options === "help") {
    console.log(HELP);
    return;
  }
  const machine = await machineInfo(options.pin);
  const pinned = machine.serverCore !== null;
  if (pinned && !isPinnedCopy()) {
    await reexecPinned(new URL(import.meta.url).pathname, ROOT);
  }
  console.log(
    `bench: server ${options.server} on ${
      pinned ? `core ${SERVER_CORE}` : "any core"
    }, generator on ${
      pinned ? `core ${GENERATOR_CORE}` : "any core"
    } (${machine.cpuModel}, ${machine.cores} cores, Deno ${machine.deno}); engines ${
      options.engines.join(", ")
    }`,
  );

  // The two scripted calls first, side by side: one minute for both.
  let cost: CostComparison | undefined;
  if (options.costSeconds > 0) {
    console.log(
      `bench: the same scripted call on ${
        options.engines.join(" and ")
      } (${options.costSeconds} s), for its cost…`,
    );
    cost = await costComparison(options, pinned);
  }
  const phases: PhaseResult[] = [];
  for (const engine of options.engines) {
    phases.push(await runPhase(engine, options, machine));
  }
  const run: BenchRun = { options, machine, phases, cost };

  const command = `deno run -A bench/bench.ts${
    Deno.args.length ? " " + Deno.args.join(" ") : ""
  }`;
  const text = reportText(run, command);
  console.log(`\n${text}\n`);
  const problems = problemsText(run);
  if (problems) console.log(`${problems}\n`);
  if (options.readme && isStandardRun(options)) {
    if (updateReadme(`${ROOT}/bench/README.md`, text)) {
      console.log("Results block of bench/README.md updated.");
    }
  }
  const out = options.out.startsWith("/")
    ? options.out
    : `${ROOT}/${options.out}`;
  Deno.mkdirSync(out.slice(0, out.lastIndexOf("/")), { recursive: true });
  Deno.writeTextFileSync(out, JSON.stringify(resultsJson(run), null, 2) + "\n");
  console.log(`Results written to ${options.out}`);
}

if (import.meta.main) {
  await main();
  // Timers of closed sockets must not keep a finished run alive.
  Deno.exit(0);
}
