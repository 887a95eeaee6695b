/**
 * What a simulated session received: its client events, and waiting for
 * them (a cursor per type makes consecutive `waitFor` calls return
 * successive events), and the caller's audio. Both OpenAI simulators keep
 * their sessions' here; a lean log (load runs) keeps none, so hundreds of
 * calls cost no memory.
 *
 * @module
 */
import { joinBytes, type JsonObject } from "./common.ts";
import { Waiters } from "./waiters.ts";

interface Wanted {
  type: string;
  matches: (e: JsonObject) => boolean;
}

export class EventLog {
  /** Every client event, parsed, in order (refused ones included). */
  readonly received: JsonObject[] = [];
  #cursors = new Map<string, number>();
  #waiters = new Waiters<Wanted, JsonObject>();
  #closed = false;
  #audio: Uint8Array[] = [];
  readonly #keep: boolean;

  /** `keep` false: nothing is kept and `waitFor` is refused (a lean session). */
  constructor(keep = true) {
    this.#keep = keep;
  }

  push(event: JsonObject): void {
    if (this.#keep) this.received.push(event);
  }

  pushAudio(bytes: Uint8Array): void {
    if (this.#keep) this.#audio.push(bytes);
  }

  /** All the audio the client appended, decoded, in order. */
  audio(): Uint8Array {
    if (!this.#keep) throw new Error("a lean session keeps no input audio");
    return joinBytes(this.#audio);
  }

  /** Wakes waiters (after the event was handled, so they see its effect). */
  notify(): void {
    if (this.#waiters.size === 0) return;
    this.#waiters.wake((w) => this.#take(w.type, w.matches));
  }

  waitFor(
    type: string,
    predicate: (e: JsonObject) => boolean,
    timeoutMs: number,
  ): Promise<JsonObject> {
    if (!this.#keep) {
      return Promise.reject(new Error("a lean session keeps no client events"));
    }
    const found = this.#take(type, predicate);
    if (found) return Promise.resolve(found);
    if (this.#closed) return Promise.reject(closedBefore(type));
    return this.#waiters.add(
      { type, matches: predicate },
      timeoutMs,
      () =>
        new Error(
          `no '${type}' client event within ${timeoutMs} ms (received: ${
            this.received.map((e) => e.type).join(", ")
          })`,
        ),
    );
  }

  /** The socket closed: pending waits fail now rather than time out. */
  close(): void {
    this.#closed = true;
    this.#waiters.failAll((w) => closedBefore(w.type));
  }

  #take(
    type: string,
    predicate: (e: JsonObject) => boolean,
  ): JsonObject | undefined {
    const start = this.#cursors.get(type) ?? 0;
    for (let i = start; i < this.received.length; i++) {
      const event = this.received[i];
      if (event.type === type && predicate(event)) {
        this.#cursors.set(type, i + 1);
        return event;
      }
    }
    return undefined;
  }
}

function closedBefore(type: string): Error {
  return new Error(`session closed before a '${type}' event`);
}
