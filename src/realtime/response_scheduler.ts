/**
 * Decides when the bridge may send `response.create`. The Realtime API runs
 * one response per conversation and refuses a create while one is active
 * (`conversation_already_has_active_response`), and server VAD creates a
 * response by itself after each caller turn. So every request goes through
 * here: it waits while a response is active, in flight or the caller is
 * speaking, merges with what is already waiting, and is put back in the
 * queue when the API refuses it. Pure: no I/O, no clock.
 */

/** Why the bridge wants the model to speak. */
export type ResponseReason =
  | "greeting"
  /** An MCP call ended its response; the API does not answer by itself. */
  | "mcp_follow_up"
  /** A function call's output is in; the model answers with it. */
  | "function_output"
  | "dtmf"
  | "goodbye";

/**
 * A caller's turn makes server VAD create the next response, which answers
 * these as well; a goodbye and a greeting must still be said.
 */
const SUPERSEDED_BY_CALLER_TURN: ReadonlySet<ResponseReason> = new Set([
  "mcp_follow_up",
  "function_output",
  "dtmf",
]);

/** A `response.create` to send now: tag it with `eventId` (and metadata) so a refusal or its response can be matched. */
export interface ResponseRequest {
  eventId: string;
  reasons: ResponseReason[];
}

interface Sent extends ResponseRequest {
  /** The response it produced, once `response.created` names it. */
  responseId?: string;
}

export class ResponseScheduler {
  #pending = new Set<ResponseReason>();
  /** Sent, waiting for its `response.created`. */
  #inFlight: Sent | undefined;
  /** The response in progress, ours or server VAD's. */
  #active: { responseId: string; request?: Sent } | undefined;
  #callerSpeaking = false;
  #counter = 0;

  /**
   * `initial`: a `response.create` already sent before the bridge existed
   * (the greeting, sent with the pre-warmed session).
   */
  constructor(initial?: ResponseRequest) {
    if (initial) this.#inFlight = { ...initial, reasons: [...initial.reasons] };
  }

  /** Asks for a response; returns the create to send now, if any. */
  request(reason: ResponseReason): ResponseRequest | undefined {
    this.#pending.add(reason);
    return this.#flush();
  }

  /** True while a response is active or requested: nothing new may start. */
  get busy(): boolean {
    return this.#active !== undefined || this.#inFlight !== undefined;
  }

  /** The response in progress, if any. */
  get activeResponseId(): string | undefined {
    return this.#active?.responseId;
  }

  /** What the active response was requested for (empty for server VAD's). */
  reasonsOf(responseId: string): ResponseReason[] {
    return this.#active?.responseId === responseId
      ? [...(this.#active.request?.reasons ?? [])]
      : [];
  }

  /** `response.created`; `eventId` is the tag from its metadata, when present. */
  created(responseId: string, eventId?: string): void {
    let request: Sent | undefined;
    if (
      this.#inFlight &&
      (eventId === undefined || eventId === this.#inFlight.eventId)
    ) {
      request = this.#inFlight;
      request.responseId = responseId;
      this.#inFlight = undefined;
    }
    this.#active = { responseId, request };
  }

  /** `response.done`: the next waiting request may go. */
  done(responseId: string): ResponseRequest | undefined {
    if (this.#active?.responseId === responseId) this.#active = undefined;
    return this.#flush();
  }

  /**
   * The API refused our create (`conversation_already_has_active_response`):
   * its reasons wait again for the response that won. A `response.created`
   * seen meanwhile was not ours.
   */
  refused(eventId: string): ResponseRequest | undefined {
    let request: Sent | undefined;
    if (this.#inFlight?.eventId === eventId) {
      request = this.#inFlight;
      this.#inFlight = undefined;
    } else if (this.#active?.request?.eventId === eventId) {
      request = this.#active.request;
      this.#active.request = undefined;
    }
    if (!request) return undefined;
    for (const reason of request.reasons) this.#pending.add(reason);
    return this.#flush();
  }

  /** The API refused our create for another reason: it is dropped, so nothing waits on it forever. */
  failed(eventId: string): ResponseRequest | undefined {
    if (this.#inFlight?.eventId === eventId) this.#inFlight = undefined;
    else if (this.#active?.request?.eventId === eventId) {
      this.#active.request = undefined;
    }
    return this.#flush();
  }

  /** Server VAD heard the caller start: their turn will make the next response. */
  speechStarted(): void {
    this.#callerSpeaking = true;
  }

  /** The caller's turn is over; what it supersedes is dropped, the rest may go. */
  speechStopped(): ResponseRequest | undefined {
    this.#callerSpeaking = false;
    for (const reason of SUPERSEDED_BY_CALLER_TURN) {
      this.#pending.delete(reason);
    }
    return this.#flush();
  }

  /** The active response was cancelled by us (barge-in): it is over for scheduling. */
  cancelled(): void {
    this.#active = undefined;
  }

  #flush(): ResponseRequest | undefined {
    if (this.#pending.size === 0 || this.busy || this.#callerSpeaking) {
      return undefined;
    }
    const request: Sent = {
      eventId: `create_${++this.#counter}`,
      reasons: [...this.#pending],
    };
    this.#pending.clear();
    this.#inFlight = request;
    return { eventId: request.eventId, reasons: [...request.reasons] };
  }
}
