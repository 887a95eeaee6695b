/**
 * The conversation of each call, kept in KV while the call lasts, so that a
 * resume on any instance loads it into the new session (./resume_plan.ts):
 * both sides' transcript lines, tool calls with their results, and who was
 * speaking. One bounded value per call, rewritten as the call goes (the
 * latest state wins; writes never overlap) and deleted at the real end.
 * The assistant's line in progress is kept too, marked as cut off: if the
 * stream dies before the line is whole, the new session knows what it had
 * begun to say.
 */

import type { CallContext, ContextLine } from "./resume_plan.ts";
import { withLine } from "./resume_plan.ts";
import type { CallObserver } from "../call_vocabulary.ts";

/** Longer than any call (MAX_CALL_MINUTES is at most a few hours). */
const CONTEXT_TTL_MS = 12 * 3_600_000;

const contextKey = (callSid: string) => ["call_context", callSid];

/** How the line in progress ends in the kept context: it was never finished. */
export const CUT_OFF_MARK = "… [cut off]";
/** The line in progress is written at most this often (each write is billed). */
export const PARTIAL_WRITE_MS = 500;

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
    /** The assistant's line in progress, until its whole transcript comes. */
    let partial: { itemId: string; text: string } | undefined;
    const cutOff = (text: string): ContextLine => ({
      kind: "assistant",
      text: `${text.trimEnd()}${CUT_OFF_MARK}`,
    });
    const stored = () =>
      partial?.text.trim() ? withLine(context, cutOff(partial.text)) : context;
    let writing: Promise<void> | undefined;
    let dirty = false;
    let partialTimer: ReturnType<typeof setTimeout> | undefined;
    const write = () => {
      clearTimeout(partialTimer);
      partialTimer = undefined;
      dirty = true;
      if (writing) return;
      writing = (async () => {
        while (dirty) {
          dirty = false;
          await this.#kv.set(contextKey(callSid), stored(), {
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
      transcript: (kind, text) => {
        // The whole line replaces the one in progress.
        if (kind === "assistant") partial = undefined;
        add({ kind, text });
      },
      transcriptDelta: (itemId, delta) => {
        // A line never finished (its response was cancelled) stays, cut off.
        if (partial && partial.itemId !== itemId && partial.text.trim()) {
          context = withLine(context, cutOff(partial.text));
          partial = undefined;
        }
        partial = { itemId, text: (partial?.text ?? "") + delta };
        partialTimer ??= setTimeout(write, PARTIAL_WRITE_MS);
      },
      toolCall: ({ name, server, failed, result }) =>
        add({ kind: "tool", name, server, failed, result }),
      speaking: (who) => {
        if (context.speaking === who) return;
        context = { ...context, speaking: who };
        write();
      },
      flushed: async () => {
        if (partialTimer !== undefined) write();
        while (writing) await writing;
      },
    };
  }
}
