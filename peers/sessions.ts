/**
 * The sessions a simulated OpenAI endpoint accepted: the list a test reads,
 * `nextSession` (each call returns the next one not yet returned), and
 * closing from the server side whatever is still open. A lean endpoint
 * (load runs) lists none, so closed sessions are not kept.
 *
 * @module
 */
import { sleep } from "./common.ts";
import { Waiters } from "./waiters.ts";

const DEFAULT_WAIT_MS = 2000;

interface Session {
  readonly closed: Promise<unknown>;
  close(code: number, reason: string): void;
}

export class Sessions<S extends Session> {
  /** Every session whose socket opened, in order (none when lean). */
  readonly all: S[] = [];
  readonly #open = new Set<S>();
  readonly #keep: boolean;
  /** For the error of a wait that found nothing, e.g. "Realtime". */
  readonly #name: string;
  readonly #handshakes: () => number;
  #taken = 0;
  #waiters = new Waiters<void, S>();

  constructor(name: string, keep: boolean, handshakes: () => number) {
    this.#name = name;
    this.#keep = keep;
    this.#handshakes = handshakes;
  }

  /** A session was created: it is closed with the endpoint unless it closes first. */
  created(session: S): void {
    this.#open.add(session);
    session.closed.then(() => this.#open.delete(session));
  }

  /** Its socket opened: it is listed, and a waiting `next` gets it. */
  opened(session: S): void {
    if (!this.#keep) return;
    this.all.push(session);
    this.#waiters.wake(() => this.#untaken());
  }

  /** The next opened session not yet returned by an earlier call. */
  next(timeoutMs = DEFAULT_WAIT_MS): Promise<S> {
    const session = this.#untaken();
    if (session) return Promise.resolve(session);
    return this.#waiters.add(
      undefined,
      timeoutMs,
      () =>
        new Error(
          `no ${this.#name} session within ${timeoutMs} ms (${this.#handshakes()} handshakes)`,
        ),
    );
  }

  /** The first session no `next` has returned yet, now taken. */
  #untaken(): S | undefined {
    return this.#taken < this.all.length ? this.all[this.#taken++] : undefined;
  }

  /** Fails pending waits, then closes every open session from the server side. */
  async close(): Promise<void> {
    this.#waiters.failAll(() =>
      new Error(`the ${this.#name} simulator closed`)
    );
    const open = [...this.#open];
    for (const session of open) session.close(1001, "going away");
    // Give close handshakes a moment; the server's shutdown cuts any that hang.
    const timeout = new AbortController();
    await Promise.race([
      Promise.all(open.map((s) => s.closed)),
      sleep(1000, timeout.signal),
    ]);
    timeout.abort();
  }
}
