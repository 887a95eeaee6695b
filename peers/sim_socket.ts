/**
 * The server side of one simulated OpenAI session's WebSocket, as both
 * simulators keep it: text out while the socket is open, each message in
 * handed to the session, a bug in the simulator (or a throwing test hook)
 * reported to the client as a `server_error` rather than killing the
 * server, and who closed the socket first.
 *
 * @module
 */

export interface CloseInfo {
  code: number;
  reason: string;
  byClient: boolean;
}

export interface SimSocketHandlers {
  message(data: unknown): void;
  /** The session's handling threw: tell the client, as the API would. */
  failed(error: string): void;
  /** The socket closed (either side): stop timers, fail waits. */
  closed(): void;
}

export class SimSocket {
  readonly closed: Promise<CloseInfo>;
  readonly #socket: WebSocket;
  #closedByServer = false;
  #isClosed = false;

  constructor(socket: WebSocket, handlers: SimSocketHandlers) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (ev) => {
        this.#isClosed = true;
        handlers.closed();
        resolve({
          code: ev.code,
          reason: ev.reason,
          byClient: !this.#closedByServer,
        });
      });
    });
    socket.addEventListener("message", (ev) => {
      try {
        handlers.message(ev.data);
      } catch (err) {
        handlers.failed(String(err));
      }
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  send(text: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(text);
  }

  /**
   * The server ends the session: `end` closes it its own way (default: a
   * close frame with `code` and `reason`). False when it was already closed.
   */
  serverCloses(
    end: () => void = () => this.#close(1000, ""),
  ): boolean {
    if (this.#isClosed) return false;
    this.#closedByServer = true;
    end();
    return true;
  }

  /** Closes from the server side with a close frame. */
  close(code: number, reason: string): boolean {
    return this.serverCloses(() => this.#close(code, reason));
  }

  #close(code: number, reason: string): void {
    // Deno drops a close() made before the upgrade completes (the socket
    // then opens and stays open): close once it is open.
    if (this.#socket.readyState === WebSocket.CONNECTING) {
      this.#socket.addEventListener(
        "open",
        () => this.#close(code, reason),
        { once: true },
      );
      return;
    }
    try {
      this.#socket.close(code, reason);
    } catch {
      // An invalid code or reason: close plainly.
      this.#socket.close();
    }
  }
}
