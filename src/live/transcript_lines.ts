/**
 * GPT-Live's transcript deltas, grouped into journal lines: a line ends when
 * the other speaker speaks, after TRANSCRIPT_GAP_MS without a delta, or when
 * the session ends. Pure: the engine hands it each delta with the time, wakes
 * it at `wakeAt` (its one timer), and writes the lines it returns.
 */

/** Transcript deltas this far apart start a new journal line. */
export const TRANSCRIPT_GAP_MS = 1_500;

export type Speaker = "caller" | "assistant";

export interface TranscriptLine {
  role: Speaker;
  text: string;
}

export class TranscriptLines {
  /** The line being spoken, and when its last delta came. */
  #open: { role: Speaker; text: string; lastAt: number } | undefined;

  /** When the engine must call `due()` next; undefined: no timer. */
  get wakeAt(): number | undefined {
    return this.#open && this.#open.lastAt + TRANSCRIPT_GAP_MS;
  }

  /** `role` said `text` at `now`: the lines complete now (the other speaker's). */
  delta(role: Speaker, text: string, now: number): TranscriptLine[] {
    if (!text) return [];
    const done = this.#open?.role === role ? [] : this.flush();
    this.#open ??= { role, text: "", lastAt: now };
    this.#open.text += text;
    this.#open.lastAt = now;
    return done;
  }

  /** The lines complete at `now`: the open one once its pause is long enough. */
  due(now: number): TranscriptLine[] {
    const at = this.wakeAt;
    return at !== undefined && now >= at ? this.flush() : [];
  }

  /** Ends the open line: it is returned unless it holds only whitespace. */
  flush(): TranscriptLine[] {
    const line = this.#open;
    this.#open = undefined;
    const text = line?.text.trim();
    return line && text ? [{ role: line.role, text }] : [];
  }
}
