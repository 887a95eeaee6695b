/**
 * The machine the benchmark runs on, and the two cores it splits between
 * the server and the load generator (Linux: /proc, `taskset`).
 *
 * @module
 */

export const SERVER_CORE = 0;
export const GENERATOR_CORE = 1;

export interface Machine {
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

/** A command's trimmed stdout, or undefined when it fails or is missing. */
async function output(
  cmd: string,
  args: string[],
): Promise<string | undefined> {
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

export async function machineInfo(pin: boolean): Promise<Machine> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  // Every processor the kernel lists (navigator.hardwareConcurrency follows
  // this process's own affinity and quotas).
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length ||
    navigator.hardwareConcurrency;
  const memTotal = /^MemTotal:\s+(\d+)/m.exec(
    Deno.readTextFileSync("/proc/meminfo"),
  );
  const taskset = (await output("taskset", ["-c", "0", "true"])) !== undefined;
  const pinned = pin && taskset && cores >= 2;
  return {
    cpuModel: model.trim(),
    cores,
    memoryMiB: memTotal ? Math.round(Number(memTotal[1]) / 1024) : 0,
    kernel: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    clockTicksPerSecond: Number(await output("getconf", ["CLK_TCK"])) || 100,
    taskset,
    serverCore: pinned ? SERVER_CORE : null,
    generatorCore: pinned ? GENERATOR_CORE : null,
    date: new Date().toISOString(),
  };
}

/** True in the copy of the bench that reexecPinned started. */
export function isPinnedCopy(): boolean {
  return Deno.env.get("BENCH_PINNED") === "1";
}

/** Runs `script` again under `taskset -c 1`, so the generator keeps off the server's core; exits with its code. */
export async function reexecPinned(
  script: string,
  root: string,
): Promise<never> {
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      String(GENERATOR_CORE),
      Deno.execPath(),
      "run",
      "-A",
      `--config=${root}/deno.json`,
      script,
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
