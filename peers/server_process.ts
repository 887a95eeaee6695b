/**
 * The server as its own process, started the way `deno task start` starts
 * it (the task's own flags), with --allow-net widened to the local fake
 * Realtime peer and read/write for a KV directory, as the README describes
 * for a custom endpoint and KV_PATH.
 */

const root = new URL("../..", import.meta.url);

export interface ServerProcess {
  port: number;
  origin: string;
  /** Every stdout line so far (JSON log lines). */
  lines: string[];
  child: Deno.ChildProcess;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number>;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

function startTaskFlags(kvDir: string): string[] {
  const config = JSON.parse(
    Deno.readTextFileSync(new URL("deno.json", root)),
  );
  const task: string = config.tasks.start;
  return task.split(/\s+/)
    .filter((arg) => arg.startsWith("--"))
    .map((arg) => arg.startsWith("--allow-net=") ? `${arg},127.0.0.1` : arg)
    .concat([`--allow-read=${kvDir}`, `--allow-write=${kvDir}`]);
}

export async function startServerProcess(
  env: Record<string, string>,
  kvDir: string,
): Promise<ServerProcess> {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value) base[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...startTaskFlags(kvDir), "main.ts"],
    cwd: root,
    clearEnv: true,
    env: { ...base, PORT: "0", ...env },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const reading = (async () => {
    let buffer = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        for (const waiter of [...waiters]) {
          if (waiter.pattern.test(line)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    }
  })();
  const waitForLine = (pattern: RegExp, timeoutMs = 10_000) => {
    const seen = lines.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no log line matching ${pattern} in ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        pattern,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      waiters.push(waiter);
    });
  };
  const exited = Promise.all([child.status, reading]).then(([s]) => s.code);
  const listening = await waitForLine(/"event":"server.listening"/);
  const port = JSON.parse(listening).port as number;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    lines,
    child,
    exited,
    waitForLine,
  };
}
