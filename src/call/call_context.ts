/**
 * The conversation of each call, kept in KV while the call lasts, so that a
 * resume on any instance loads it into the new session (./resume_plan.ts):
 * both sides' transcript lines, tool calls with their results, and who was
 * speaking. One bounded value per call, rewritten as the call goes (the
 * latest state wins; writes never overlap) and deleted at the real end.
 */

import type { CallContext, ContextLine } from "./resume_plan.ts";
import { withLine } from "./resume_plan.ts";
import type { CallObserver } from "../call_vocabulary.ts";

/** Longer than any call (MAX_CALL_MINUTES is at most a few hours). */
const CONTEXT_TTL_MS = 12 * 3_600_000;

const contextKey = (callSid: string) => ["call_context", callSid];

export class CallContexts {
  readonly #kv: Deno.Kv;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  async read(callSid: string): Promise<CallContext | undefined> {
    return (await this.#kv.get<CallContext>(contextKey(callSid))).value ??
      undefined;
  }

  async delete(callSid: string): Promise<void> {
    await this.#kv.delete(contextKey(callSid));
  }

  /**
   * Records one stream's share of the call, on top of what earlier streams
   * of the same call left (`previous`).
   */
  recorder(
    callSid: string,
    previous?: CallContext,
  ): CallObserver & { flushed(): Promise<void> } {
    let context: CallContext = previous
      ? { ...previous, speaking: "nobody" }
      : { lines: [], speaking: "nobody" };
    let writing: Promise<void> | undefined;
    let dirty = false;
    const write = () => {
      dirty = true;
      if (writing) return;
      writing = (async () => {
        while (dirty) {
          dirty = false;
          await this.#kv.set(contextKey(callSid), context, {
            expireIn: CONTEXT_TTL_MS,
          }).catch(() => {});
        }
        writing = undefined;
      })();
    };
    const add = (line: ContextLine) => {
      context = withLine(context, line);
      write();
    };
    return {
      transcript: (kind, text) => add({ kind, text }),
      toolCall: ({ name, server, failed, result }) =>
        add({ kind: "tool", name, server, failed, result }),
      speaking: (who) => {
        if (context.speaking === who) return;
        context = { ...context, speaking: who };
        write();
      },
      flushed: async () => {
        while (writing) await writing;
      },
    };
  }
}
