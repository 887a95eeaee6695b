/**
 * The upstream the server under test dials (its OPENAI_REALTIME_URL): the
 * one TCP proxy of the peers (peers/tcp_proxy.ts), routing each new
 * connection by the soak's current mode to one of the Realtime simulators
 * (normal, refusing 401/429/500, slow to upgrade), or holding it without an
 * answer (handshake timeout). Each connection carries the label of the call
 * being placed, so the soak knows which upstream sockets a call opened, when
 * they closed, and which are left open at the end; `drop` cuts a call's at
 * the TCP level (no close frame).
 *
 * @module
 */
import { type ProxyConnection, TcpProxy } from "../peers/tcp_proxy.ts";

export type UpstreamMode =
  | "normal"
  | "refuse401"
  | "refuse429"
  | "refuse500"
  | "slow"
  | "hang";

export class UpstreamFront {
  /** Mode for connections that arrive from now on. */
  mode: UpstreamMode = "normal";
  readonly #proxy: TcpProxy;
  readonly #ports: Map<UpstreamMode, number>;

  /** `ports`: the simulator behind each mode; a mode with none ("hang") is held. */
  constructor(ports: Map<UpstreamMode, number>) {
    this.#ports = ports;
    this.#proxy = new TcpProxy({ target: () => this.#ports.get(this.mode) });
    this.#proxy.label = "idle";
  }

  get port(): number {
    return this.#proxy.port;
  }

  /** Label for connections that arrive from now on (the call being placed). */
  get label(): string {
    return this.#proxy.label;
  }

  set label(label: string) {
    this.#proxy.label = label;
  }

  /** Connections with this label (or all) that are still open. */
  open(label?: string): ProxyConnection[] {
    return this.#proxy.open().filter((c) =>
      label === undefined || c.label === label
    );
  }

  /** Every connection ever made with this label. */
  withLabel(label: string): ProxyConnection[] {
    return this.#proxy.connections.filter((c) => c.label === label);
  }

  /** Cuts every open connection with this label (TCP close, no close frame). */
  drop(label: string): number {
    return this.#proxy.drop((c) => c.label === label);
  }

  /** True once every connection with this label is closed; false after `timeoutMs`. */
  waitClosed(label: string, timeoutMs: number): Promise<boolean> {
    return this.#proxy.waitClosed((c) => c.label === label, timeoutMs);
  }

  /** The mode a connection was routed by. */
  modeOf(connection: ProxyConnection): UpstreamMode {
    for (const [mode, port] of this.#ports) {
      if (port === connection.target) return mode;
    }
    return "hang";
  }

  close(): Promise<void> {
    return this.#proxy.close();
  }
}
