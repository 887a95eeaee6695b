/**
 * The voice engine's socket of one call (Realtime or GPT-Live). It sends the
 * session's first events as soon as it opens and holds incoming events until
 * the bridge attaches, so it can be opened before the call's media stream
 * exists.
 */

import type { UpstreamHandlers, UpstreamPort } from "./port.ts";
import { WebSocketClient } from "./websocket_client.ts";

/** What to do after one message that arrived while the session is being set up. */
export type SetupStep =
  | { kind: "wait" }
  | { kind: "ready" }
  | { kind: "retry"; send: string[] }
  | { kind: "failed"; reason: string };

/** Confirms the session the initial events set up, from the messages that follow. */
export interface SessionHandshake {
  onMessage(data: string): SetupStep;
}

export interface UpstreamOptions {
  url: string;
  apiKey: string;
  /**
   * Serialised client events sent as soon as the socket opens:
   * `session.update` first. A promise when they wait on a read (the
   * memory in the instructions): the handshake runs meanwhile, and the
   * socket counts as open once they are sent.
   */
  initialEvents: string[] | Promise<string[]>;
  /**
   * Without one the socket is open once the initial events are sent; with
   * one, once it confirms the session (and within `connectTimeoutMs`).
   */
  handshake?: (initial: string[]) => SessionHandshake;
  connectTimeoutMs: number;
}

export class UpstreamSocket implements UpstreamPort {
  readonly #socket: WebSocketClient;
  readonly #opened = Promise.withResolvers<number>();
  readonly #closed = Promise.withResolvers<void>();
  #handlers: UpstreamHandlers | undefined;
  #early: string[] = [];
  #closedReason: string | undefined;
  #ready = false;
  #handshake: SessionHandshake | undefined;
  readonly #makeHandshake: UpstreamOptions["handshake"];
  #readyAt: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly startedAt = performance.now();

  constructor(options: UpstreamOptions) {
    this.#makeHandshake = options.handshake;
    this.#timer = setTimeout(
      () => this.#fail(`no handshake within ${options.connectTimeoutMs} ms`),
      options.connectTimeoutMs,
    );
    // Nobody may be waiting on a refused handshake: keep it from going unhandled.
    this.#opened.promise.catch(() => {});
    // GA protocol: bearer key only, never the retired OpenAI-Beta header.
    this.#socket = new WebSocketClient(options.url, {
      open: () => {
        if (!this.#makeHandshake) clearTimeout(this.#timer);
        const events = options.initialEvents;
        if (Array.isArray(events)) {
          this.#sendInitial(events);
          return;
        }
        events.then(
          (ready) => this.#sendInitial(ready),
          (error) => this.#fail(`initial events failed: ${String(error)}`),
        );
      },
      message: (text) => {
        if (this.#handshake) this.#confirm(this.#handshake.onMessage(text));
        if (this.#handlers) this.#handlers.message(text);
        else this.#early.push(text);
      },
      close: (code, reason, detail) => {
        clearTimeout(this.#timer);
        this.#closed.resolve();
        this.#fail(
          detail
            ? `upstream ${detail}`
            : `upstream closed (${code}${reason ? ` ${reason}` : ""})`,
        );
      },
    }, { headers: { Authorization: `Bearer ${options.apiKey}` } });
  }

  #sendInitial(events: string[]): void {
    if (this.#closedReason !== undefined) return;
    for (const event of events) this.#socket.send(event);
    if (this.#makeHandshake) {
      this.#handshake = this.#makeHandshake(events);
      return;
    }
    this.#becomeReady();
  }

  #confirm(step: SetupStep): void {
    switch (step.kind) {
      case "ready":
        clearTimeout(this.#timer);
        this.#handshake = undefined;
        this.#becomeReady();
        return;
      case "retry":
        for (const event of step.send) this.#socket.send(event);
        return;
      case "failed":
        this.#handshake = undefined;
        this.#fail(step.reason);
        return;
      case "wait":
        return;
    }
  }

  #becomeReady(): void {
    this.#ready = true;
    this.#readyAt = performance.now();
    this.#opened.resolve(performance.now());
  }

  /** Open, and the initial events sent: caller audio may follow them. */
  get isOpen(): boolean {
    return this.#ready && this.#socket.isOpen;
  }

  /** Resolves with performance.now() when the socket opened; rejects if it never does. */
  get opened(): Promise<number> {
    return this.#opened.promise;
  }

  /**
   * Events that came while no call was attached: what a pre-warmed session
   * that no stream claimed received (its responses' usage).
   */
  get held(): readonly string[] {
    return this.#early;
  }

  /** Seconds since the session was set up (0 if it never was). */
  get openSeconds(): number {
    return this.#readyAt === undefined
      ? 0
      : (performance.now() - this.#readyAt) / 1000;
  }

  /** Starts delivering events (first those that arrived before). */
  attach(handlers: UpstreamHandlers): void {
    this.#handlers = handlers;
    const early = this.#early;
    this.#early = [];
    for (const data of early) handlers.message(data);
    if (this.#closedReason !== undefined) handlers.closed(this.#closedReason);
  }

  /** Sends when open (the initial events first); returns false otherwise. */
  send(data: string): boolean {
    return this.#ready && this.#socket.send(data);
  }

  /** Resolves once the socket is fully closed (or never opened). */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** True once the socket closed or failed to open. */
  get failed(): boolean {
    return this.#closedReason !== undefined;
  }

  /** Closes the socket, also while the handshake is still in flight. */
  close(): void {
    clearTimeout(this.#timer);
    this.#socket.close(1000, "call ended");
  }

  #fail(reason: string): void {
    if (this.#closedReason !== undefined) return;
    this.#closedReason = reason;
    this.#opened.reject(new Error(reason));
    this.close();
    this.#handlers?.closed(reason);
  }
}
