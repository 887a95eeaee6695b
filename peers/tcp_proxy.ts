/**
 * A TCP relay in front of a peer, for what a WebSocket server cannot do by
 * itself: network latency before a handshake (a client that gives up
 * meanwhile really goes away), an upstream that accepts TCP and never
 * answers, and an abrupt connection loss with no close frame (`drop`), which
 * is how a dropped OpenAI socket looks. Each connection is recorded with the
 * proxy's `label` at the time it arrived, so a caller of many connections
 * (the soak) can tell which ones a call opened, when they closed, and which
 * are still open.
 *
 * @module
 */
import { sleep } from "./common.ts";

export interface ProxyConnection {
  id: number;
  /** The proxy's `label` when the connection arrived. */
  label: string;
  /** The port it was relayed to; undefined: held, never answered. */
  target: number | undefined;
  /** performance.now() when the client's connection arrived. */
  openedAt: number;
  /** performance.now() when both sides were closed. */
  closedAt: number | undefined;
  /** The proxy's port on the target side: the peer port the target sees. */
  targetSidePort: number | undefined;
  /** Cut on purpose with drop(). */
  dropped: boolean;
}

export interface TcpProxyOptions {
  /**
   * Where each new connection goes: a port, or a function read once per
   * connection that may answer undefined to accept it and never answer
   * (a handshake that hangs).
   */
  target: number | (() => number | undefined);
  /** Held this long before it is relayed (default 0). */
  delayMs?: number;
  /** A client that went away during `delayMs`. */
  onAbandoned?: () => void;
}

interface Live {
  record: ProxyConnection;
  conns: Deno.Conn[];
}

type Read = ReadableStreamReadResult<Uint8Array>;

export class TcpProxy {
  readonly port: number;
  /** Every connection so far, in arrival order. */
  readonly connections: ProxyConnection[] = [];
  /** Recorded with the connections that arrive from now on. */
  label = "";

  readonly #options: TcpProxyOptions;
  readonly #listener: Deno.TcpListener;
  readonly #live = new Map<number, Live>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;

  constructor(options: TcpProxyOptions) {
    this.#options = options;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accepting = this.#accept();
  }

  /** The connections still open. */
  open(): ProxyConnection[] {
    return [...this.#live.values()].map((live) => live.record);
  }

  /** Cuts the matching open connections at the TCP level (no close frame). */
  drop(match: (connection: ProxyConnection) => boolean): number {
    let dropped = 0;
    for (const live of this.#live.values()) {
      if (!match(live.record)) continue;
      live.record.dropped = true;
      for (const conn of live.conns) closeQuietly(conn);
      dropped++;
    }
    return dropped;
  }

  /** True once no matching connection is open; false after `timeoutMs`. */
  async waitClosed(
    match: (connection: ProxyConnection) => boolean,
    timeoutMs: number,
  ): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    const never = new AbortController().signal;
    while (this.open().some(match)) {
      if (performance.now() >= deadline) return false;
      await sleep(2, never);
    }
    return true;
  }

  /** Stops listening and cuts whatever is still open. */
  async close(): Promise<void> {
    closeQuietly(this.#listener);
    for (const live of this.#live.values()) {
      for (const conn of live.conns) closeQuietly(conn);
    }
    await this.#accepting;
    await Promise.all(this.#tasks);
  }

  async #accept(): Promise<void> {
    let id = 0;
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      // Paced audio must not wait for Nagle's algorithm on the relay.
      client.setNoDelay(true);
      const target = this.#options.target;
      const record: ProxyConnection = {
        id: ++id,
        label: this.label,
        target: typeof target === "number" ? target : target(),
        openedAt: performance.now(),
        closedAt: undefined,
        targetSidePort: undefined,
        dropped: false,
      };
      this.connections.push(record);
      const live: Live = { record, conns: [client] };
      this.#live.set(record.id, live);
      const task = this.#relay(live, client).finally(() => {
        for (const conn of live.conns) closeQuietly(conn);
        record.closedAt = performance.now();
        this.#live.delete(record.id);
        this.#tasks.delete(task);
      });
      this.#tasks.add(task);
    }
  }

  async #relay(live: Live, client: Deno.TcpConn): Promise<void> {
    const reader = client.readable.getReader();
    const read = (): Promise<Read> =>
      reader.read().catch(() => ({ done: true, value: undefined }));
    // One read stays pending across the wait, so no byte is lost.
    let pending = read();
    const held: Uint8Array[] = [];
    const delayMs = this.#options.delayMs ?? 0;
    const deadline = Date.now() + delayMs;
    for (let left = delayMs; left > 0; left = deadline - Date.now()) {
      const timeout = new AbortController();
      const result = await Promise.race([
        pending,
        sleep(left, timeout.signal).then(() => undefined),
      ]);
      timeout.abort();
      if (result === undefined) break;
      if (result.done) {
        this.#options.onAbandoned?.();
        return;
      }
      held.push(result.value);
      pending = read();
    }
    const port = live.record.target;
    if (port === undefined) {
      // Held: read what the client sends until it goes away; answer nothing.
      for (let r = await pending; !r.done; r = await read()) { /* drain */ }
      return;
    }
    let target: Deno.TcpConn;
    try {
      target = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      return;
    }
    target.setNoDelay(true);
    live.conns.push(target);
    live.record.targetSidePort = target.localAddr.port;
    if (live.record.dropped) return;
    const up = (async () => {
      const writer = target.writable.getWriter();
      try {
        for (const chunk of held) await writer.write(chunk);
        for (let r = await pending; !r.done; r = await read()) {
          await writer.write(r.value);
        }
      } catch {
        // Either side went away.
      }
    })();
    const down = target.readable.pipeTo(client.writable).catch(() => {});
    // Either direction ending ends the connection: both sides close.
    await Promise.race([up, down]);
    closeQuietly(client);
    closeQuietly(target);
    await Promise.all([up, down]);
  }
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}
