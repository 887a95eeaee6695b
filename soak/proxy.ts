/**
 * The upstream the server under test dials (its OPENAI_REALTIME_URL): a TCP
 * front that routes each new connection by the current mode to one of several
 * fake Realtime backends (normal, refusing 401/429/500, slow to upgrade), or
 * holds it without answering (handshake timeout). Every connection is
 * recorded with the label of the call being placed, so the soak can tell
 * which upstream sockets a call opened, when they closed, and which are still
 * open at the end (leaked). `drop()` cuts a connection at the TCP level, with
 * no WebSocket close frame: an upstream socket dropped mid-call.
 *
 * @module
 */

export type UpstreamMode =
  | "normal"
  | "refuse401"
  | "refuse429"
  | "refuse500"
  | "slow"
  | "hang";

export interface UpstreamConnection {
  id: number;
  label: string;
  mode: UpstreamMode;
  /** performance.now() when the server's TCP connection arrived. */
  openedAt: number;
  /** performance.now() when both directions were closed. */
  closedAt: number | undefined;
  /** Which side ended it first. */
  closedBy: "server" | "backend" | "soak" | undefined;
  /** Set when the soak cut it on purpose. */
  dropped: boolean;
}

interface Live {
  record: UpstreamConnection;
  conns: Deno.Conn[];
  done: Promise<void>;
}

export class UpstreamFront {
  readonly connections: UpstreamConnection[] = [];
  /** Mode for connections that arrive from now on. */
  mode: UpstreamMode = "normal";
  /** Label for connections that arrive from now on (the call being placed). */
  label = "idle";

  readonly #listener: Deno.TcpListener;
  readonly #backends: Map<UpstreamMode, number>;
  readonly #live = new Map<number, Live>();
  readonly #accepting: Promise<void>;
  #closing = false;

  constructor(backends: Map<UpstreamMode, number>) {
    this.#backends = backends;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  /** Connections with this label (or all) that are still open. */
  open(label?: string): UpstreamConnection[] {
    return [...this.#live.values()].map((l) => l.record).filter((r) =>
      label === undefined || r.label === label
    );
  }

  /** Every connection ever made with this label. */
  withLabel(label: string): UpstreamConnection[] {
    return this.connections.filter((c) => c.label === label);
  }

  /** Connections whose label starts with `prefix`. */
  withPrefix(prefix: string): UpstreamConnection[] {
    return this.connections.filter((c) => c.label.startsWith(prefix));
  }

  /** Cuts every open connection with this label (TCP close, no close frame). */
  drop(label: string): number {
    let dropped = 0;
    for (const live of this.#live.values()) {
      if (live.record.label !== label) continue;
      live.record.dropped = true;
      live.record.closedBy ??= "soak";
      for (const conn of live.conns) safeClose(conn);
      dropped++;
    }
    return dropped;
  }

  /** Resolves when every connection with this label is closed, or after `timeoutMs`; true if all closed. */
  async waitClosed(label: string, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.open(label).length > 0) {
      if (performance.now() >= deadline) return false;
      await sleep(2);
    }
    return true;
  }

  /** Stops listening and cuts whatever is still open. */
  async close(): Promise<void> {
    this.#closing = true;
    safeClose(this.#listener);
    for (const live of this.#live.values()) {
      for (const conn of live.conns) safeClose(conn);
    }
    await Promise.all([...this.#live.values()].map((l) => l.done));
    await this.#accepting.catch(() => {});
  }

  async #accept(): Promise<void> {
    let id = 0;
    while (!this.#closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      conn.setNoDelay(true);
      const record: UpstreamConnection = {
        id: ++id,
        label: this.label,
        mode: this.mode,
        openedAt: performance.now(),
        closedAt: undefined,
        closedBy: undefined,
        dropped: false,
      };
      this.connections.push(record);
      const live: Live = { record, conns: [conn], done: Promise.resolve() };
      this.#live.set(record.id, live);
      live.done = this.#serve(live, conn).finally(() => {
        record.closedAt = performance.now();
        this.#live.delete(record.id);
      });
    }
  }

  async #serve(live: Live, client: Deno.Conn): Promise<void> {
    const port = this.#backends.get(live.record.mode);
    if (port === undefined) {
      // "hang": accept TCP, read the upgrade request, never answer it.
      await drain(client);
      live.record.closedBy ??= "server";
      safeClose(client);
      return;
    }
    let backend: Deno.TcpConn;
    try {
      backend = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      live.record.closedBy ??= "backend";
      safeClose(client);
      return;
    }
    backend.setNoDelay(true);
    live.conns.push(backend);
    if (live.record.dropped) {
      safeClose(backend);
      return;
    }
    const up = pump(client, backend).then(() => {
      live.record.closedBy ??= "server";
    });
    const down = pump(backend, client).then(() => {
      live.record.closedBy ??= "backend";
    });
    // Either direction ending ends the connection: close both sides.
    await Promise.race([up, down]);
    safeClose(client);
    safeClose(backend);
    await Promise.all([up, down]);
  }
}

async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    let n: number | null;
    try {
      n = await from.read(buffer);
    } catch {
      return;
    }
    if (n === null) return;
    let offset = 0;
    while (offset < n) {
      try {
        offset += await to.write(buffer.subarray(offset, n));
      } catch {
        return;
      }
    }
  }
}

async function drain(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  while (true) {
    try {
      if (await conn.read(buffer) === null) return;
    } catch {
      return;
    }
  }
}

function safeClose(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // already closed
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
