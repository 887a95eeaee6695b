/**
 * A tiny Chrome DevTools Protocol client for the server's V8 inspector
 * (`--inspect=127.0.0.1:0`): force a full garbage collection before reading
 * memory, read the JS heap, and count what is still alive after it — WebSocket
 * objects and pending timers — which is how the soak sees sockets and timers
 * left behind inside the process.
 *
 * @module
 */

interface Pending {
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface PendingTimer {
  ms: number;
  repeat: boolean;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null
    ? value as Record<string, unknown>
    : {};
}

export class Inspector {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = record(JSON.parse(String(event.data)));
      const id = Number(message.id);
      const pending = this.#pending.get(id);
      if (!pending) return;
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      if (message.error) {
        pending.reject(new Error(JSON.stringify(message.error)));
      } else {
        pending.resolve(record(message.result));
      }
    };
    socket.onclose = () => {
      for (const pending of this.#pending.values()) {
        clearTimeout(pending.timer);
        pending.reject(new Error("inspector closed"));
      }
      this.#pending.clear();
    };
  }

  static connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(new Inspector(socket));
      socket.onerror = () => reject(new Error(`cannot reach ${url}`));
    });
  }

  call(
    method: string,
    params: Record<string, unknown> = {},
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method} timed out`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** A full, compacting garbage collection. */
  async gc(): Promise<void> {
    await this.call("HeapProfiler.collectGarbage");
  }

  /** JS heap in use, in bytes (call gc() first for a stable figure). */
  async heapUsed(): Promise<number> {
    const usage = await this.call("Runtime.getHeapUsage");
    return Number(usage.usedSize);
  }

  /** Objects alive in the heap whose prototype chain includes the one `expression` yields. */
  async #query<T>(expression: string, summarise: string): Promise<T> {
    const prototype = record(
      (await this.call("Runtime.evaluate", { expression })).result,
    );
    const objects = record(
      (await this.call("Runtime.queryObjects", {
        prototypeObjectId: prototype.objectId,
      })).objects,
    );
    const summary = record(
      (await this.call("Runtime.callFunctionOn", {
        objectId: objects.objectId,
        functionDeclaration: summarise,
        returnByValue: true,
      })).result,
    );
    await this.call("Runtime.releaseObject", { objectId: objects.objectId });
    await this.call("Runtime.releaseObject", {
      objectId: prototype.objectId,
    });
    return summary.value as T;
  }

  /** WebSocket objects still reachable (client and server side). */
  liveWebSockets(): Promise<number> {
    return this.#query<number>(
      "WebSocket.prototype",
      "function () { return this.length; }",
    );
  }

  /** Timers that are scheduled and not yet fired or cleared. */
  pendingTimers(): Promise<PendingTimer[]> {
    return this.#query<PendingTimer[]>(
      "(() => { const t = setTimeout(() => {}, 0); clearTimeout(t); return Object.getPrototypeOf(t); })()",
      "function () { return this.filter((t) => !t._destroyed).map((t) => ({ ms: t._idleTimeout, repeat: t._repeat })); }",
    );
  }

  close(): void {
    this.#socket.close();
  }
}
