/**
 * Voice sessions opened while Twilio is still fetching the TwiML, keyed by
 * the stream token's nonce, so the session is ready when the media stream
 * starts. One that no stream claims is closed when its token expires, and
 * what it consumed (a greeting's response, GPT-Live's seconds) is still
 * priced: `unclaimed` hears of it.
 */

import type { UsageReport } from "../cost/usage.ts";
import type { UpstreamSocket } from "./upstream_socket.ts";

/** What a session's socket kept while no call was attached, as its engine prices it. */
export type HeldUsage = (
  upstream: Pick<UpstreamSocket, "held" | "openSeconds">,
) => UsageReport[];

export type UnclaimedListener = (
  callSid: string,
  usage: UsageReport[],
) => void;

export class PrewarmedSessions {
  readonly #sessions = new Map<
    string,
    {
      callSid: string;
      upstream: UpstreamSocket;
      timer: ReturnType<typeof setTimeout>;
    }
  >();
  readonly #usage: HeldUsage;
  readonly #unclaimed: UnclaimedListener | undefined;

  constructor(usage: HeldUsage, unclaimed?: UnclaimedListener) {
    this.#usage = usage;
    this.#unclaimed = unclaimed;
  }

  /** Opens `upstream` for the token with this nonce, until `expiresAt` (epoch ms). */
  add(
    nonce: string,
    callSid: string,
    upstream: UpstreamSocket,
    expiresAt: number,
  ): void {
    const timer = setTimeout(() => {
      this.#sessions.delete(nonce);
      this.#expire(callSid, upstream);
    }, Math.max(0, expiresAt - Date.now()));
    this.#sessions.set(nonce, { callSid, upstream, timer });
  }

  /** Hands over the session for this nonce, unless it has none or it already failed. */
  take(nonce: string): UpstreamSocket | undefined {
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
    for (const { callSid, upstream, timer } of sessions) {
      clearTimeout(timer);
      this.#expire(callSid, upstream);
    }
    await Promise.all(sessions.map(({ upstream }) => upstream.closed));
  }

  #expire(callSid: string, upstream: UpstreamSocket): void {
    const usage = this.#usage(upstream);
    upstream.close();
    if (usage.length > 0) this.#unclaimed?.(callSid, usage);
  }
}
