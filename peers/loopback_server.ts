/**
 * A simulator's HTTP server on a random loopback port, optionally behind a
 * TCP relay (./tcp_proxy.ts) that adds handshake latency and can cut
 * connections, as a network does. Clients dial `port`: the relay's when
 * there is one.
 *
 * @module
 */
import { TcpProxy, type TcpProxyOptions } from "./tcp_proxy.ts";

export class LoopbackServer {
  /** The port clients dial. */
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** The relay in front of the server, if one was asked for. */
  readonly relay: TcpProxy | undefined;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(
    handler: Deno.ServeHandler<Deno.NetAddr>,
    relay?: Omit<TcpProxyOptions, "target">,
  ) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      handler,
    );
    this.relay = relay &&
      new TcpProxy({ ...relay, target: this.#server.addr.port });
    this.port = this.relay?.port ?? this.#server.addr.port;
    this.origin = `http://127.0.0.1:${this.port}`;
  }

  /** Closes the relay, then the server. */
  async close(): Promise<void> {
    await this.relay?.close();
    await this.#server.shutdown();
  }
}
