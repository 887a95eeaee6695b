/**
 * Promises waiting for something a peer has not seen yet (a client event, a
 * message, bytes played, a session), each with its own deadline: woken when
 * what they wait for may have come, failed together when it no longer can.
 *
 * @module
 */

interface Waiter<K, T> {
  key: K;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Waiters<K, T> {
  #waiting: Waiter<K, T>[] = [];

  get size(): number {
    return this.#waiting.length;
  }

  /** Waits for what `key` describes; rejects with `timedOut()` after `timeoutMs`. */
  add(key: K, timeoutMs: number, timedOut: () => Error): Promise<T> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter<K, T> = {
        key,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
          reject(timedOut());
        }, timeoutMs),
      };
      this.#waiting.push(waiter);
    });
  }

  /** Resolves, in order, each waiter for whose key `find` gives a value. */
  wake(find: (key: K) => T | undefined): void {
    for (const waiter of [...this.#waiting]) {
      const value = find(waiter.key);
      if (value === undefined) continue;
      clearTimeout(waiter.timer);
      this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
      waiter.resolve(value);
    }
  }

  /** Rejects every waiter now (what they wait for can no longer come). */
  failAll(error: (key: K) => Error): void {
    for (const waiter of this.#waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error(waiter.key));
    }
  }
}
