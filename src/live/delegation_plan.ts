/**
 * When the GPT-Live engine may ask the backend to go on (`response.create`)
 * after function calls. Pure: it is told what happened and answers whether
 * to send the request now.
 *
 * The backend's calls arrive in `response.event`s whose outer `delegation_id`
 * names their delegation; the wrapped response's terminal event
 * (`response.completed`, ...) says that delegation's response makes no more
 * calls. `response.create` continues every call still waiting, and the API
 * refuses it while any of them lacks its output
 * (`function_call_outputs_required`), so it is sent once, the moment the
 * last output is in and every delegation that made calls has ended.
 */

export class DelegationPlan {
  /** Calls waiting for their output, by call id. */
  readonly #pending = new Set<string>();
  /** Delegations that made calls, and whether their response has ended. */
  readonly #delegations = new Map<string, { ended: boolean }>();

  /** A function call the backend made in `delegationId`'s response. */
  called(delegationId: string, callId: string): void {
    this.#pending.add(callId);
    const delegation = this.#delegations.get(delegationId);
    if (delegation) delegation.ended = false;
    else this.#delegations.set(delegationId, { ended: false });
  }

  /** The output of `callId` was sent. True: send `response.create` now. */
  answered(callId: string): boolean {
    if (!this.#pending.delete(callId)) return false;
    return this.#ready();
  }

  /** `delegationId`'s backend response ended. True: send `response.create` now. */
  ended(delegationId: string): boolean {
    const delegation = this.#delegations.get(delegationId);
    if (!delegation || delegation.ended) return false;
    delegation.ended = true;
    return this.#ready();
  }

  #ready(): boolean {
    if (this.#pending.size > 0) return false;
    for (const delegation of this.#delegations.values()) {
      if (!delegation.ended) return false;
    }
    if (this.#delegations.size === 0) return false;
    this.#delegations.clear();
    return true;
  }
}
