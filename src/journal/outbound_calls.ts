/**
 * The calls this server placed, by CallSid: the proof that a CallSid at the
 * outbound webhooks is one this server created (written only once Twilio
 * answered the REST request with it), and the story the journal shows
 * beside the call (who asked, the topic, the answering-machine result, the
 * retries). Kept under its own key, so the live call's journal writes and
 * these never overwrite each other.
 */

/** Who asked for an outbound call. */
export type RequestedBy =
  | { by: "model"; callSid: string }
  | { by: "phone" }
  | { by: "api" }
  | { by: "briefing" };

export interface OutboundCall {
  callSid: string;
  /** The scheduled call (src/outbound/scheduled_calls.ts) this attempt belongs to. */
  scheduledId: string;
  to: string;
  topic: string;
  requestedBy: RequestedBy;
  /** 1, or 2 for the one retry. */
  attempt: number;
  dialledAt: number;
  /** Twilio's CallStatus, as last reported. */
  status: string;
  /** Answering machine detection, from the TwiML request: human, machine_end_beep, ... */
  answeredBy?: string;
  /** What came of it, in words ("talked", "left a voicemail", "no answer: tried again at …"). */
  result?: string;
}

export function outboundCallKey(callSid: string): Deno.KvKey {
  return ["outbound_calls", callSid];
}

/** "the assistant, during call CA…1234", "the /phone form", "a script (API)", "the daily briefing". */
export function requestedByWords(requestedBy: RequestedBy): string {
  switch (requestedBy.by) {
    case "model":
      return `the assistant, during call ${requestedBy.callSid}`;
    case "phone":
      return "the /phone form";
    case "api":
      return "a script (API)";
    case "briefing":
      return "the daily briefing";
  }
}

const DAY_MS = 86_400_000;

export class OutboundCallLog {
  readonly #kv: Deno.Kv;
  readonly #retentionMs: number;

  constructor(kv: Deno.Kv, retentionDays: number) {
    this.#kv = kv;
    this.#retentionMs = retentionDays * DAY_MS;
  }

  /** Records a call Twilio accepted (its sid from the 201). */
  async created(call: OutboundCall): Promise<void> {
    await this.#kv.set(outboundCallKey(call.callSid), call, {
      expireIn: this.#retentionMs,
    });
  }

  async get(callSid: string): Promise<OutboundCall | undefined> {
    return (await this.#kv.get<OutboundCall>(outboundCallKey(callSid))).value ??
      undefined;
  }

  /**
   * Applies `change` atomically (retried when another write came first);
   * undefined when the call is not one of ours.
   */
  async update(
    callSid: string,
    change: (call: OutboundCall) => Partial<OutboundCall>,
  ): Promise<OutboundCall | undefined> {
    const key = outboundCallKey(callSid);
    for (;;) {
      const current = await this.#kv.get<OutboundCall>(key);
      if (!current.value) return undefined;
      const next = { ...current.value, ...change(current.value) };
      const commit = await this.#kv.atomic().check(current)
        .set(key, next, { expireIn: this.#retentionMs }).commit();
      if (commit.ok) return next;
    }
  }
}
