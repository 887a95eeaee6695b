/**
 * What a call's instructions may carry of the assistant's memory. Every
 * remembered thing costs tokens on every response of every call, so both
 * kinds are bounded by count and by characters, the oldest dropped first.
 */

/** Notes kept: the newest 50 ... */
export const MAX_NOTES = 50;
/** ... and no more than this many characters of them in all. */
export const MAX_NOTES_CHARS = 2_000;
/** One note: a short fact, not a document. */
export const MAX_NOTE_CHARS = 280;

/** Summaries of past calls in a call's instructions: the newest few ... */
export const MAX_SUMMARIES = 5;
/** ... within this many characters, as they are written into the instructions. */
export const MAX_SUMMARIES_CHARS = 2_000;

/**
 * The newest items that fit: at most `maxItems` of them, at most `maxChars`
 * of `size` in all. `newestFirst` is in that order, and so is the result; the
 * first item that does not fit ends it, so nothing older slips in after it.
 */
export function newestWithin<T>(
  newestFirst: readonly T[],
  maxItems: number,
  maxChars: number,
  size: (item: T) => number,
): T[] {
  const kept: T[] = [];
  let chars = 0;
  for (const item of newestFirst) {
    if (kept.length >= maxItems || chars + size(item) > maxChars) break;
    kept.push(item);
    chars += size(item);
  }
  return kept;
}
