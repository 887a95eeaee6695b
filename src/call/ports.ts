/**
 * The two sides a call bridge talks to, as small interfaces: the Twilio
 * media stream and the voice engine's socket. The real ones wrap sockets;
 * tests drive the bridge with plain objects.
 */

/** What the bridge hears from the Twilio side. */
export interface TwilioHandlers {
  message(data: unknown): void;
  closed(): void;
}

/** The accepted Twilio media-stream socket. */
export interface TwilioPort {
  attach(handlers: TwilioHandlers): void;
  send(text: string): void;
  /** Bytes queued on the socket and not yet written: a caller that stops reading shows here. */
  readonly bufferedAmount: number;
  /** Closes the stream, so Twilio goes on with the TwiML after `<Connect>`. */
  close(): void;
}

/** What the bridge hears from the voice engine. */
export interface UpstreamHandlers {
  message(data: unknown): void;
  /** The socket closed or never opened; `reason` is safe to log. */
  closed(reason: string): void;
}

/** The voice engine's socket of one call (opened, maybe pre-warmed, before the bridge). */
export interface UpstreamPort {
  /** Starts delivering events, first those that arrived before. */
  attach(handlers: UpstreamHandlers): void;
  /** Sends when open; false otherwise. */
  send(data: string): boolean;
  readonly isOpen: boolean;
  /** Resolves with performance.now() when open; rejects if it never opens. */
  readonly opened: Promise<number>;
  /** Resolves once fully closed (or never opened). */
  readonly closed: Promise<void>;
  /** performance.now() when the handshake began. */
  readonly startedAt: number;
  close(): void;
}

/** A TwilioPort over the server side of an upgraded WebSocket. */
export function webSocketPort(socket: WebSocket): TwilioPort {
  return {
    attach(handlers) {
      socket.onmessage = (event) => handlers.message(event.data);
      socket.onclose = () => handlers.closed();
      socket.onerror = () => {};
    },
    send: (text) => socket.send(text),
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    close() {
      // From a fresh task: Deno 2.9 never frees a server socket closed inside
      // its own message handler while more messages are queued (the soak
      // found it; tests/socket_release_test.ts guards it).
      const closeSoon = () =>
        setTimeout(() => {
          if (socket.readyState === WebSocket.CONNECTING) {
            // Deno 2.9 drops a close() made before the upgrade completes and
            // then opens the socket: the caller would be left in silence.
            socket.addEventListener("open", closeSoon, { once: true });
          } else if (socket.readyState === WebSocket.OPEN) {
            socket.close(1000, "call ended");
          }
        }, 0);
      closeSoon();
    },
  };
}
