/**
 * The client events a session received, and waiting for them: a cursor per
 * type makes consecutive `waitFor` calls return successive events.
 *
 * @module
 */
import type { JsonObject } from "./common.ts";

interface Waiter {
  type: string;
  matches: (e: JsonObject) => boolean;
  resolve: (e: JsonObject) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class EventLog {
  /** Every client event, parsed, in order (refused ones included). */
  readonly received: JsonObject[] = [];
  #cursors = new Map<string, number>();
  #waiters: Waiter[] = [];
  #closed = false;

  push(event: JsonObject): void {
    this.received.push(event);
  }

  /** Wakes waiters (after the event was handled, so they see its effect). */
  notify(): void {
    for (const waiter of [...this.#waiters]) {
      const found = this.#take(waiter.type, waiter.matches);
      if (!found) continue;
      clearTimeout(waiter.timer);
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(found);
    }
  }

  waitFor(
    type: string,
    predicate: (e: JsonObject) => boolean,
    timeoutMs: number,
  ): Promise<JsonObject> {
    const found = this.#take(type, predicate);
    if (found) return Promise.resolve(found);
    if (this.#closed) {
      return Promise.reject(
        new Error(`session closed before a '${type}' event`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        type,
        matches: predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          const seen = this.received.map((e) => e.type).join(", ");
          reject(
            new Error(
              `no '${type}' client event within ${timeoutMs} ms (received: ${seen})`,
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** The socket closed: pending waits fail now rather than time out. */
  close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`session closed before a '${w.type}' event`));
    }
  }

  #take(
    type: string,
    predicate: (e: JsonObject) => boolean,
  ): JsonObject | null {
    const start = this.#cursors.get(type) ?? 0;
    for (let i = start; i < this.received.length; i++) {
      const event = this.received[i];
      if (event.type === type && predicate(event)) {
        this.#cursors.set(type, i + 1);
        return event;
      }
    }
    return null;
  }
}
