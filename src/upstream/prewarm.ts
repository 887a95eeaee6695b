/**
 * Realtime sessions opened while Twilio is still fetching the TwiML, keyed by
 * the stream token's nonce, so the session is ready when the media stream
 * starts. One that no stream claims is closed when its token expires, and
 * what it consumed (a greeting's response, GPT-Live's seconds) is still
 * priced: `unclaimed` hears of it.
 */

import type { UsageReport } from "../cost/usage.ts";
import { parseServerEvent } from "./events.ts";
import type { RealtimeUpstream } from "./upstream.ts";

/** Which API the session speaks, and the model that prices it. */
export interface PrewarmEngine {
  kind: "realtime" | "live";
  model: string;
}

export type UnclaimedListener = (
  callSid: string,
  usage: UsageReport[],
) => void;

export class PrewarmedSessions {
  readonly #sessions = new Map<
    string,
    {
      callSid: string;
      upstream: RealtimeUpstream;
      timer: ReturnType<typeof setTimeout>;
    }
  >();
  readonly #engine: PrewarmEngine;
  readonly #unclaimed: UnclaimedListener | undefined;

  constructor(engine: PrewarmEngine, unclaimed?: UnclaimedListener) {
    this.#engine = engine;
    this.#unclaimed = unclaimed;
  }

  /** Opens `upstream` for the token with this nonce, until `expiresAt` (epoch ms). */
  add(
    nonce: string,
    callSid: string,
    upstream: RealtimeUpstream,
    expiresAt: number,
  ): void {
    const timer = setTimeout(() => {
      this.#sessions.delete(nonce);
      this.#expire(callSid, upstream);
    }, Math.max(0, expiresAt - Date.now()));
    this.#sessions.set(nonce, { callSid, upstream, timer });
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
    for (const { callSid, upstream, timer } of sessions) {
      clearTimeout(timer);
      this.#expire(callSid, upstream);
    }
    await Promise.all(sessions.map(({ upstream }) => upstream.closed));
  }

  #expire(callSid: string, upstream: RealtimeUpstream): void {
    const usage = heldUsage(this.#engine, upstream);
    upstream.close();
    if (usage.length > 0) this.#unclaimed?.(callSid, usage);
  }
}

/**
 * What an unclaimed session consumed: the usage of each response it ran
 * (Realtime bills tokens), or the seconds it was open (GPT-Live bills time).
 */
export function heldUsage(
  engine: PrewarmEngine,
  upstream: Pick<RealtimeUpstream, "held" | "openSeconds">,
): UsageReport[] {
  if (engine.kind === "live") {
    const seconds = Math.ceil(upstream.openSeconds);
    return seconds > 0
      ? [{ kind: "seconds", model: engine.model, seconds }]
      : [];
  }
  const reports: UsageReport[] = [];
  for (const text of upstream.held) {
    const parsed = parseServerEvent(text);
    if (
      parsed.ok && parsed.event.type === "response.done" && parsed.event.usage
    ) {
      reports.push({
        kind: "tokens",
        model: engine.model,
        tokens: parsed.event.usage,
      });
    }
  }
  return reports;
}
