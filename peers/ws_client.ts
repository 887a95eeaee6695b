/**
 * The simulated Twilio edges' WebSocket: the server's own client
 * (`src/realtime/websocket_client.ts`), which keeps TCP_NODELAY.
 *
 * Deno's `new WebSocket()` clears TCP_NODELAY on its socket (strace on Deno
 * 2.9.6: `setsockopt(fd, SOL_TCP, TCP_NODELAY, [0])`), so a 20 ms frame could
 * wait for the delayed ACK of the previous one: tens of milliseconds that would
 * be charged to the server. Real Twilio edges do not behave like that.
 *
 * @module
 */

import { WebSocketClient } from "../src/realtime/websocket_client.ts";

export interface CloseInfo {
  code: number;
  reason: string;
}

export class RawWebSocket {
  onmessage: (data: string) => void = () => {};
  readonly closed: Promise<CloseInfo>;
  readonly #client: WebSocketClient;

  private constructor(
    url: string,
    headers: Record<string, string>,
    opened: (socket: RawWebSocket) => void,
    refused: (error: Error) => void,
  ) {
    const closed = Promise.withResolvers<CloseInfo>();
    this.closed = closed.promise;
    let open = false;
    this.#client = new WebSocketClient(url, {
      open: () => {
        open = true;
        opened(this);
      },
      message: (text) => this.onmessage(text),
      close: (code, reason, detail) => {
        if (!open) refused(new Error(`stream handshake refused: ${detail}`));
        closed.resolve({ code, reason });
      },
    }, { headers });
  }

  /** Connects and completes the opening handshake; rejects on any answer but 101. */
  static connect(
    url: string,
    headers: Record<string, string> = {},
  ): Promise<RawWebSocket> {
    return new Promise((resolve, reject) =>
      new RawWebSocket(url, headers, resolve, reject)
    );
  }

  get isOpen(): boolean {
    return this.#client.isOpen;
  }

  sendText(text: string): void {
    this.#client.send(text);
  }

  close(code = 1000, reason = ""): void {
    this.#client.close(code, reason);
  }
}
