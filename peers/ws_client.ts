/**
 * The lean Twilio edge's WebSocket: the `ws` package, not the server's own
 * client, so a bug in the server's client cannot hide on both sides.
 *
 * Why not Deno's `new WebSocket()`: it clears TCP_NODELAY on its socket
 * (strace on Deno 2.9.6: `setsockopt(fd, SOL_TCP, TCP_NODELAY, [0])`), so a
 * 20 ms frame could wait for the delayed ACK of the previous one: tens of
 * milliseconds that would be charged to the server. Real Twilio edges do not
 * behave like that; `ws` sets TCP_NODELAY on (strace: `[1]`).
 *
 * @module
 */

// @deno-types="@types/ws"
import WebSocket from "ws";

export interface CloseInfo {
  code: number;
  reason: string;
}

export class RawWebSocket {
  onmessage: (data: string) => void = () => {};
  readonly closed: Promise<CloseInfo>;
  readonly #socket: WebSocket;

  private constructor(
    url: string,
    headers: Record<string, string>,
    opened: (socket: RawWebSocket) => void,
    refused: (error: Error) => void,
  ) {
    const closed = Promise.withResolvers<CloseInfo>();
    this.closed = closed.promise;
    let open = false;
    let detail = "no handshake";
    this.#socket = new WebSocket(url, { headers, perMessageDeflate: false });
    this.#socket.on("open", () => {
      open = true;
      opened(this);
    });
    this.#socket.on("message", (data, isBinary) => {
      if (!isBinary) this.onmessage(String(data));
    });
    // A refused handshake: "Unexpected server response: 403", then close.
    this.#socket.on("error", (error) => {
      detail = error.message;
    });
    this.#socket.on("close", (code, reason) => {
      if (!open) refused(new Error(`stream handshake refused: ${detail}`));
      closed.resolve({ code, reason: String(reason) });
    });
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
    return this.#socket.readyState === WebSocket.OPEN;
  }

  sendText(text: string): void {
    this.#socket.send(text);
  }

  close(code = 1000, reason = ""): void {
    this.#socket.close(code, reason);
  }
}
