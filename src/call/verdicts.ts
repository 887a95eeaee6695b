/**
 * Answering machine detection's verdict on a call the server placed, kept
 * in KV per CallSid. It comes as a webhook (AsyncAmdStatusCallback) that
 * may reach any instance, while another carries the stream: that one reads
 * the verdict when the stream starts and on each heartbeat until it has one.
 */

import type { EndReason } from "../call_vocabulary.ts";

export interface Verdict {
  /** How the call ends once what was said has played; null: it goes on (a person). */
  end: EndReason | null;
}

/** Longer than a placed call waits for its verdict. */
const VERDICT_TTL_MS = 3_600_000;
/** Keys one KV getMany reads at most. */
const READ_BATCH = 10;

const verdictKey = (callSid: string) => ["call_verdict", callSid];

export class Verdicts {
  readonly #kv: Deno.Kv;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  async record(callSid: string, verdict: Verdict): Promise<void> {
    await this.#kv.set(verdictKey(callSid), verdict, {
      expireIn: VERDICT_TTL_MS,
    });
  }

  /** The verdicts known for these calls. */
  async read(callSids: readonly string[]): Promise<Map<string, Verdict>> {
    const found = new Map<string, Verdict>();
    for (let i = 0; i < callSids.length; i += READ_BATCH) {
      const batch = callSids.slice(i, i + READ_BATCH);
      const entries = await this.#kv.getMany<Verdict[]>(batch.map(verdictKey));
      entries.forEach((entry, j) => {
        if (entry.value) found.set(batch[j], entry.value);
      });
    }
    return found;
  }
}
