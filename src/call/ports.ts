/**
 * The Twilio side a call bridge talks to, as a small interface (the engine
 * side is `VoiceEngine`, src/call/engine.ts; its socket is an `UpstreamPort`,
 * src/upstream/port.ts). The real one wraps a socket; tests drive the bridge
 * with plain objects.
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
