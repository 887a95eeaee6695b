/**
 * The server as its own process, started the way it is deployed: `deno run`
 * with the start task's flags from deno.json (its V8 heap settings, and in
 * `startTask` mode its exact permissions), a clean environment, and every
 * line it prints read at once (so the pipe never blocks it) and kept, with
 * its JSON log events by CallSid. Its memory, descriptors and CPU time are
 * read from /proc. Tests, the bench and the soak all start it here.
 *
 * @module
 */

import { cpuTicks, rssKiB } from "./proc.ts";

const THIS_CHECKOUT = new URL("..", import.meta.url).pathname.replace(
  /\/$/,
  "",
);

export type LogEvent = Record<string, unknown> & { event?: string };

export interface ServerProcessOptions {
  /** The checkout to run, holding main.ts and deno.json (default: this one). */
  root?: string;
  /** The entry point, relative to `root` (default main.ts). */
  entry?: string;
  /** The server's environment; the shell's is not passed on. */
  env: Record<string, string>;
  /**
   * `{kvDir}`: the start task's own permissions, with --allow-net widened
   * to 127.0.0.1 (the local peers) and read/write for the KV directory, as
   * docs/configuration.md describes for a custom endpoint and KV_PATH. `"broad"`:
   * --allow-net, --allow-env, --allow-read, --allow-write, for runs that
   * point the server at ports and files a narrow list cannot name ahead.
   */
  permissions: { kvDir: string } | "broad";
  /** More deno flags, e.g. `--inspect=127.0.0.1:0` or `--cpu-prof`. */
  flags?: string[];
  /** A command to run deno under, e.g. `["taskset", "-c", "0"]`. */
  wrapper?: string[];
  /** Let stderr through to this process's own (tests), rather than keeping it. */
  inheritStderr?: boolean;
  /** Called with each stdout line as it is read. */
  onLine?: (line: string) => void;
  /** How long it may take to log `server.listening` (default 30 s). */
  startTimeoutMs?: number;
}

/** What Deno needs from the shell's environment to find its cache. */
const PASSED_THROUGH = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"];

/** The deno flags of deno.json's start task, for `permissions`. */
function startTaskFlags(
  root: string,
  permissions: ServerProcessOptions["permissions"],
): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${root}/deno.json`));
  const flags = String(config.tasks.start).split(/\s+/)
    .filter((arg) => arg.startsWith("--"));
  if (permissions === "broad") {
    return [
      ...flags.filter((arg) => !arg.startsWith("--allow-")),
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
    ];
  }
  const { kvDir } = permissions;
  return flags
    .map((arg) => arg.startsWith("--allow-net=") ? `${arg},127.0.0.1` : arg)
    .concat([`--allow-read=${kvDir}`, `--allow-write=${kvDir}`]);
}

export class ServerProcess {
  readonly pid: number;
  port = 0;
  /** Every stdout line (JSON log lines), in order. */
  readonly lines: string[] = [];
  /** Every stderr line, unless it was let through. */
  readonly errorLines: string[] = [];
  /** stdout lines that parsed as JSON objects. */
  readonly events: LogEvent[] = [];
  /** The exit code, once the process has exited and its output is read. */
  readonly exited: Promise<number>;
  /** Set as soon as the process exits (a crash, for a long run). */
  exitCode: number | undefined;

  readonly #child: Deno.ChildProcess;
  readonly #onLine: ((line: string) => void) | undefined;
  readonly #byCallSid = new Map<string, LogEvent[]>();
  readonly #listeners = new Set<(line: string, event?: LogEvent) => void>();
  readonly #readers: Promise<void>[];

  private constructor(
    child: Deno.ChildProcess,
    options: ServerProcessOptions,
  ) {
    this.#child = child;
    this.pid = child.pid;
    this.#onLine = options.onLine;
    this.#readers = [this.#read(child.stdout, true)];
    if (!options.inheritStderr) {
      this.#readers.push(this.#read(child.stderr, false));
    }
    const status = child.status.then((s) => {
      this.exitCode = s.code;
      return s.code;
    });
    this.exited = Promise.all([status, ...this.#readers]).then(([code]) =>
      code
    );
  }

  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const root = options.root ?? THIS_CHECKOUT;
    const deno = [
      "run",
      `--config=${root}/deno.json`,
      ...startTaskFlags(root, options.permissions),
      ...(options.flags ?? []),
      options.entry ?? "main.ts",
    ];
    const [command, ...prefix] = options.wrapper ?? [Deno.execPath()];
    const env: Record<string, string> = {};
    for (const name of PASSED_THROUGH) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    const child = new Deno.Command(command, {
      args: options.wrapper ? [...prefix, Deno.execPath(), ...deno] : deno,
      cwd: root,
      clearEnv: true,
      env: { ...env, ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: options.inheritStderr ? "inherit" : "piped",
    }).spawn();
    const server = new ServerProcess(child, options);
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    const listening = await Promise.race([
      server.waitFor((e) => e.event === "server.listening", timeoutMs),
      server.exited.then(() => undefined),
    ]);
    if (!listening) {
      server.kill("SIGKILL");
      await server.exited;
      const tail = [...server.lines, ...server.errorLines].slice(-20);
      throw new Error(`the server did not start:\n${tail.join("\n")}`);
    }
    server.port = Number(listening.port);
    return server;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The V8 inspector's URL, when started with `--inspect`. */
  inspectorUrl(): string | undefined {
    return this.errorLines
      .map((line) => /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1])
      .find((found) => found !== undefined);
  }

  /** Log events tagged with this CallSid. */
  eventsFor(callSid: string): LogEvent[] {
    return this.#byCallSid.get(callSid) ?? [];
  }

  /** The first event (already logged or future) matching; undefined after `timeoutMs`. */
  waitFor(
    matches: (event: LogEvent) => boolean,
    timeoutMs: number,
  ): Promise<LogEvent | undefined> {
    const found = this.events.find(matches);
    return found
      ? Promise.resolve(found)
      : this.#next((_, e) => e !== undefined && matches(e), timeoutMs)
        .then((hit) => hit?.event);
  }

  /** The first stdout line (already printed or future) matching; rejects after `timeoutMs`. */
  async waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen) return seen;
    const hit = await this.#next((line) => pattern.test(line), timeoutMs);
    if (!hit) {
      throw new Error(`no log line matching ${pattern} in ${timeoutMs} ms`);
    }
    return hit.line;
  }

  /** The call's `call.ended` event, waiting up to `timeoutMs`. */
  callEnded(callSid: string, timeoutMs: number): Promise<LogEvent | undefined> {
    const logged = this.eventsFor(callSid).find((e) =>
      e.event === "call.ended"
    );
    if (logged) return Promise.resolve(logged);
    return this.waitFor(
      (e) => e.event === "call.ended" && e.callSid === callSid,
      timeoutMs,
    );
  }

  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** Resolves once every captured pipe has been read to its end. */
  async drained(): Promise<void> {
    await Promise.all(this.#readers);
  }

  /** VmRSS in KiB; undefined once the process is gone. */
  rssKiB(): number | undefined {
    return this.#whileAlive(() => rssKiB(this.pid));
  }

  /** Open file descriptors (sockets, pipes, files). */
  openFds(): number | undefined {
    return this.#fdTargets()?.length;
  }

  /** Open sockets among the descriptors. */
  openSockets(): number | undefined {
    return this.#fdTargets()?.filter((t) => t.startsWith("socket:")).length;
  }

  /** User + system CPU time so far (every thread), in clock ticks. */
  cpuTicks(): number | undefined {
    return this.#whileAlive(() => cpuTicks(this.pid));
  }

  /** A /proc figure, or undefined once the process is gone. */
  #whileAlive<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch {
      return undefined;
    }
  }

  #fdTargets(): string[] | undefined {
    const dir = `/proc/${this.pid}/fd`;
    try {
      const targets: string[] = [];
      for (const entry of Deno.readDirSync(dir)) {
        try {
          targets.push(Deno.readLinkSync(`${dir}/${entry.name}`));
        } catch {
          // Closed while listing.
        }
      }
      return targets;
    } catch {
      return undefined;
    }
  }

  #next(
    matches: (line: string, event?: LogEvent) => boolean,
    timeoutMs: number,
  ): Promise<{ line: string; event?: LogEvent } | undefined> {
    return new Promise((resolve) => {
      const listener = (line: string, event?: LogEvent) => {
        if (!matches(line, event)) return;
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve({ line, event });
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        resolve(undefined);
      }, timeoutMs);
      this.#listeners.add(listener);
    });
  }

  async #read(
    stream: ReadableStream<Uint8Array>,
    isStdout: boolean,
  ): Promise<void> {
    let pending = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        this.#line(pending.slice(0, newline), isStdout);
        pending = pending.slice(newline + 1);
      }
    }
    if (pending) this.#line(pending, isStdout);
  }

  #line(line: string, isStdout: boolean): void {
    if (!isStdout) {
      this.errorLines.push(line);
      return;
    }
    this.lines.push(line);
    this.#onLine?.(line);
    const event = parseEvent(line);
    if (event) {
      this.events.push(event);
      if (typeof event.callSid === "string") {
        const list = this.#byCallSid.get(event.callSid);
        if (list) list.push(event);
        else this.#byCallSid.set(event.callSid, [event]);
      }
    }
    for (const listener of [...this.#listeners]) listener(line, event);
  }
}

function parseEvent(line: string): LogEvent | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === "object" && parsed !== null &&
        !Array.isArray(parsed)
      ? parsed as LogEvent
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The server as `deno task start` runs it, on a random port, with the
 * local peers reachable and its KV in `kvDir`; stderr goes to the test's.
 */
export function startServerProcess(
  env: Record<string, string>,
  kvDir: string,
): Promise<ServerProcess> {
  return ServerProcess.start({
    env: { PORT: "0", ...env },
    permissions: { kvDir },
    inheritStderr: true,
  });
}
