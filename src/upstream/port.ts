/**
 * The voice engine's socket of one call, as a small interface: the engines
 * speak through it, the real one is `UpstreamSocket`, tests use plain objects.
 */

/** What an engine hears from its socket. */
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
