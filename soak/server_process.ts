/**
 * The server under test, run as its own process exactly as deployed
 * (`deno run … main.ts`), with every line it prints captured (for the secret
 * scan and the outcome counts) and drained continuously so the pipe never
 * blocks it. Its memory and file descriptors are read from /proc.
 *
 * @module
 */

import { Inspector } from "./inspector.ts";

export type LogEvent = Record<string, unknown> & { event?: string };

export interface ServerProcessOptions {
  /** Project root (where main.ts and deno.json are). */
  cwd: string;
  env: Record<string, string>;
  /** Run with the V8 inspector on a loopback port (GC and heap counts). */
  inspect: boolean;
}

export class ServerProcess {
  /** Every stdout and stderr line, in arrival order. */
  readonly lines: string[] = [];
  /** stdout lines that parsed as JSON log events. */
  readonly events: LogEvent[] = [];
  readonly exited: Promise<Deno.CommandStatus>;
  readonly pid: number;
  port = 0;
  /** Set once the process exited (for the crash count). */
  exitStatus: Deno.CommandStatus | undefined;
  /** The V8 inspector of the process, when started with `inspect`. */
  inspector: Inspector | undefined;

  readonly #child: Deno.ChildProcess;
  readonly #byCallSid = new Map<string, LogEvent[]>();
  readonly #listeners = new Set<(event: LogEvent) => void>();
  readonly #readers: Promise<void>[];

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.#readers = [
      this.#read(child.stdout, true),
      this.#read(child.stderr, false),
    ];
    this.exited = child.status.then((status) => {
      this.exitStatus = status;
      return status;
    });
  }

  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        ...(options.inspect ? ["--inspect=127.0.0.1:0"] : []),
        "main.ts",
      ],
      cwd: options.cwd,
      env: options.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const server = new ServerProcess(child);
    const listening = await server.waitFor(
      (e) => e.event === "server.listening",
      30_000,
    );
    if (!listening) {
      server.kill("SIGKILL");
      await server.exited;
      throw new Error(
        `the server did not start:\n${server.lines.slice(-20).join("\n")}`,
      );
    }
    server.port = Number(listening.port);
    if (options.inspect) {
      const url = server.lines
        .map((line) => /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1])
        .find((found) => found !== undefined);
      if (url) server.inspector = await Inspector.connect(url);
    }
    return server;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
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
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const listener = (event: LogEvent) => {
        if (!matches(event)) return;
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve(event);
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        resolve(undefined);
      }, timeoutMs);
      this.#listeners.add(listener);
    });
  }

  /** The call's `call.ended` line, waiting up to `timeoutMs`. */
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
      // already gone
    }
  }

  /** Resolves once both output pipes are fully read. */
  async drained(): Promise<void> {
    await Promise.all(this.#readers);
  }

  /** VmRSS in KiB; undefined once the process is gone. */
  rssKiB(): number | undefined {
    try {
      const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
      const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
      return match ? Number(match[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Open file descriptors (sockets, pipes, files) of the process. */
  openFds(): number | undefined {
    try {
      let count = 0;
      for (const _ of Deno.readDirSync(`/proc/${this.pid}/fd`)) count++;
      return count;
    } catch {
      return undefined;
    }
  }

  /** Open sockets among the descriptors. */
  openSockets(): number | undefined {
    try {
      let count = 0;
      for (const entry of Deno.readDirSync(`/proc/${this.pid}/fd`)) {
        try {
          const target = Deno.readLinkSync(
            `/proc/${this.pid}/fd/${entry.name}`,
          );
          if (target.startsWith("socket:")) count++;
        } catch {
          // closed while listing
        }
      }
      return count;
    } catch {
      return undefined;
    }
  }

  /** User + system CPU time so far, in clock ticks. */
  cpuTicks(): number | undefined {
    try {
      const stat = Deno.readTextFileSync(`/proc/${this.pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined;
    }
  }

  async #read(
    stream: ReadableStream<Uint8Array>,
    isStdout: boolean,
  ): Promise<void> {
    let pending = "";
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        this.#line(pending.slice(0, newline), isStdout);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
      }
    }
    if (pending) this.#line(pending, isStdout);
  }

  #line(line: string, isStdout: boolean): void {
    this.lines.push(line);
    if (!isStdout) return;
    let event: LogEvent;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== "object" || parsed === null) return;
      event = parsed as LogEvent;
    } catch {
      return;
    }
    this.events.push(event);
    if (typeof event.callSid === "string") {
      const list = this.#byCallSid.get(event.callSid);
      if (list) list.push(event);
      else this.#byCallSid.set(event.callSid, [event]);
    }
    for (const listener of [...this.#listeners]) listener(event);
  }
}
