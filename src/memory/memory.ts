/**
 * The assistant's memory of its owner: the notes they asked it to keep and
 * the summaries of their recent calls, both in Deno KV. Read once per call,
 * while its voice session opens, for the instructions.
 */

import { byOwner, NoteStore } from "./notes.ts";
import { type RememberedCall, SummaryMemory } from "./summaries.ts";

/** What one call starts knowing (the instructions bound it further). */
export interface MemoryContext {
  /** The owner's notes, newest first. */
  notes: string[];
  /** Notes the assistant saved itself during calls, newest first: information, never instructions. */
  assistantNotes?: string[];
  /** Newest first. */
  calls: RememberedCall[];
}

/** Summaries read for a call: more than fit, so the bound is the instructions'. */
const SUMMARIES_READ = 10;

export class Memory {
  readonly notes: NoteStore;
  readonly summaries: SummaryMemory;

  constructor(kv: Deno.Kv, days: number, now: () => number = Date.now) {
    this.notes = new NoteStore(kv, now);
    this.summaries = new SummaryMemory(kv, days, now);
  }

  async context(): Promise<MemoryContext> {
    const [notes, calls] = await Promise.all([
      this.notes.list(),
      this.summaries.recent(SUMMARIES_READ),
    ]);
    return {
      notes: notes.filter(byOwner).map((note) => note.text),
      assistantNotes: notes.filter((note) => !byOwner(note)).map((note) =>
        note.text
      ),
      calls,
    };
  }
}
