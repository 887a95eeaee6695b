/**
 * A TCP relay in front of the fake server. It gives two things a WebSocket
 * server cannot: network latency before a handshake (a client that gives up
 * meanwhile really goes away), and an abrupt connection loss (no close
 * frame), which is how a dropped or aborted GPT-Live session looks.
 *
 * @module
 */
import { sleep } from "./common.ts";

interface Pair {
  client: Deno.Conn;
  target: Deno.Conn;
}

export class TcpProxy {
  readonly port: number;
  readonly #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  /** The target-side local port (what the server sees) → the relayed pair. */
  readonly #pairs = new Map<number, Pair>();
  readonly #accepting: Promise<void>;

  constructor(
    targetPort: number,
    delayMs: number,
    onAbandoned: () => void,
  ) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#accepting = (async () => {
      try {
        for await (const client of listener) {
          const task = this.#relay(client, targetPort, delayMs, onAbandoned);
          this.#tasks.add(task);
          task.finally(() => this.#tasks.delete(task));
        }
      } catch {
        // The listener was closed.
      }
    })();
  }

  /** Cuts the relayed connection the server sees from `remotePort`. */
  drop(remotePort: number): boolean {
    const pair = this.#pairs.get(remotePort);
    if (!pair) return false;
    this.#pairs.delete(remotePort);
    this.#close(pair.client);
    this.#close(pair.target);
    return true;
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of [...this.#conns]) this.#close(conn);
    await this.#accepting;
    await Promise.all(this.#tasks);
  }

  async #relay(
    client: Deno.TcpConn,
    targetPort: number,
    delayMs: number,
    onAbandoned: () => void,
  ): Promise<void> {
    this.#conns.add(client);
    const held: Uint8Array[] = [];
    const reader = client.readable.getReader();
    const read = () =>
      reader.read().catch(() => ({ done: true as const, value: undefined }));
    // One read stays pending across the wait, so no byte is lost.
    let pending = read();
    let clientClosed = false;
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
        clientClosed = true;
        break;
      }
      held.push(result.value);
      pending = read();
    }
    if (clientClosed) {
      onAbandoned();
      this.#close(client);
      reader.releaseLock();
      return;
    }
    let target: Deno.TcpConn;
    try {
      target = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      this.#close(client);
      return;
    }
    this.#conns.add(target);
    // Paced deltas must not wait for Nagle's algorithm on the relay.
    client.setNoDelay(true);
    target.setNoDelay(true);
    const key = target.localAddr.port;
    this.#pairs.set(key, { client, target });
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
      this.#close(target);
    })();
    const down = target.readable.pipeTo(client.writable).catch(() => {});
    await Promise.all([up, down]);
    this.#pairs.delete(key);
    this.#close(client);
  }

  #close(conn: Deno.Conn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}
