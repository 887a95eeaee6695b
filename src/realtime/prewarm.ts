/**
 * Realtime sessions opened while Twilio is still fetching the TwiML, keyed by
 * the stream token's nonce, so the session is ready when the media stream
 * starts. One that no stream claims is closed when its token expires.
 */

import type { RealtimeUpstream } from "./upstream.ts";

export class PrewarmedSessions {
  readonly #sessions = new Map<
    string,
    { upstream: RealtimeUpstream; timer: ReturnType<typeof setTimeout> }
  >();

  /** Opens `upstream` for the token with this nonce, until `expiresAt` (epoch ms). */
  add(nonce: string, upstream: RealtimeUpstream, expiresAt: number): void {
    const timer = setTimeout(() => {
      this.#sessions.delete(nonce);
      upstream.close();
    }, Math.max(0, expiresAt - Date.now()));
    this.#sessions.set(nonce, { upstream, timer });
  }

  /** Hands over the session for this nonce, unless it has none or it already failed. */
  take(nonce: string): RealtimeUpstream | undefined {
    const entry = this.#sessions.get(nonce);
    if (!entry) return undefined;
    this.#sessions.delete(nonce);
    clearTimeout(entry.timer);
    if (entry.upstream.failed) return undefined;
    return entry.upstream;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Closes every session no stream claimed; resolves once their sockets are closed. */
  async closeAll(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const { upstream, timer } of sessions) {
      clearTimeout(timer);
      upstream.close();
    }
    await Promise.all(sessions.map(({ upstream }) => upstream.closed));
  }
}
