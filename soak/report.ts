/**
 * The soak's report: each figure with the requirement it is held to and a
 * verdict, the fault kinds, floods and bad inputs, printed as tables and
 * written as JSON.
 *
 * @module
 */

import type { Assessment, SoakRun } from "./figures.ts";

export interface Figure {
  name: string;
  value: string;
  requirement: string;
  /** undefined: informational only. */
  pass: boolean | undefined;
}

export interface KindRow {
  kind: string;
  group: string;
  description: string;
  expected: string;
  injected: number;
  clean: number;
  maxSilenceMs: number | undefined;
  silenceBoundMs: number | undefined;
  pass: boolean;
  problems: string[];
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

function verdict(pass: boolean | undefined): string {
  return pass === undefined ? "info" : pass ? "PASS" : "FAIL";
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))
  );
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => pad(c, widths[i])).join(" | ") + " |";
  return [
    line(headers),
    "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|",
    ...rows.map(line),
  ].join("\n");
}

export function figuresTable(figures: Figure[]): string {
  return table(
    ["Figure", "Value", "Requirement", "Result"],
    figures.map((f) => [f.name, f.value, f.requirement, verdict(f.pass)]),
  );
}

export function kindsTable(rows: KindRow[]): string {
  return table(
    ["Fault kind", "Injected", "Ended as defined", "Max silence", "Result"],
    rows.map((r) => [
      r.kind,
      String(r.injected),
      `${r.clean}/${r.injected}`,
      r.maxSilenceMs === undefined
        ? "-"
        : `${r.maxSilenceMs} ms (≤ ${r.silenceBoundMs} ms)`,
      r.pass ? "PASS" : "FAIL",
    ]),
  );
}

export function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

/** Prints the tables and writes the JSON report to `options.out`. */
export async function printAndWrite(
  run: SoakRun,
  assessment: Assessment,
): Promise<void> {
  const { h, options, atStart, idleInside, measured: m } = run;
  const { figures, rows, failed, extraTimers, busy, notReading } = assessment;
  const results = h.results;
  const floods = m.floods;
  const durationS = (performance.now() - run.startedAt) / 1000;

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
    serverSettings: h.settings,
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
}
