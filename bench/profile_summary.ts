/**
 * Summarises a V8 .cpuprofile (from `bench.ts --cpu-prof DIR`): self time
 * per function and the inclusive time of the project's own functions.
 *
 *   deno run --allow-read bench/profile_summary.ts DIR/CPU.*.cpuprofile [--top 30]
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const file = frame.url.replace(/^.*\/(src|bench|tests|ext)\//, "$1/")
    .replace(/^file:\/\/\/.*\//, "");
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

function main(): void {
  const args = [...Deno.args];
  const topAt = args.indexOf("--top");
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 30;
  const file = args[0];
  if (!file) {
    console.error(
      "usage: deno run --allow-read bench/profile_summary.ts FILE.cpuprofile [--top N]",
    );
    Deno.exit(2);
  }
  const profile: CpuProfile = JSON.parse(Deno.readTextFileSync(file));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    totalUs += dt;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + us);
    // Inclusive: every distinct frame on the stack gets the sample once.
    const seen = new Set<string>();
    for (
      let at: number | undefined = id;
      at !== undefined;
      at = parent.get(at)
    ) {
      const k = label(byId.get(at)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const idle = self.get("(idle)") ?? 0;
  const busy = totalUs - idle;
  const pct = (us: number) => (us / busy * 100).toFixed(1).padStart(5);
  console.log(
    `profile: ${(totalUs / 1e6).toFixed(1)} s, busy ${
      (busy / 1e6).toFixed(2)
    } s (${(busy / totalUs * 100).toFixed(1)} % of the main thread)`,
  );
  console.log(`\nself time, % of busy:`);
  for (
    const [key, us] of [...self].filter(([k]) => k !== "(idle)")
      .sort((a, b) => b[1] - a[1]).slice(0, top)
  ) {
    console.log(`${pct(us)} %  ${key}`);
  }
  console.log(`\ninclusive time of project code (src/), % of busy:`);
  for (
    const [key, us] of [...inclusive].filter(([k]) => k.includes(" src/"))
      .sort((a, b) => b[1] - a[1]).slice(0, top)
  ) {
    console.log(`${pct(us)} %  ${key}`);
  }
}

main();
