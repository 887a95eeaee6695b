/**
 * Which notes a spoken description names ("forget the dentist thing"): the
 * words the owner said, not the exact wording the note was stored with.
 */

/** Words that say nothing about which note is meant. */
const FILLER_WORDS = new Set([
  "a",
  "about",
  "all",
  "an",
  "and",
  "any",
  "at",
  "bit",
  "bits",
  "detail",
  "details",
  "everything",
  "fact",
  "for",
  "forget",
  "from",
  "i",
  "in",
  "info",
  "is",
  "it",
  "its",
  "me",
  "my",
  "note",
  "notes",
  "of",
  "on",
  "one",
  "please",
  "remember",
  "reminder",
  "something",
  "stuff",
  "that",
  "the",
  "thing",
  "things",
  "this",
  "those",
  "to",
  "what",
  "with",
  "you",
  "your",
]);

/** Lower case, punctuation as spaces, single spaces: "Dr. Lee's" → "dr lee s". */
export function normalizeText(text: string): string {
  return text.toLowerCase().normalize("NFKC")
    .replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

/**
 * True when the note is the one described: the description is part of it
 * (case and punctuation aside), or every meaningful word of the description
 * begins a word of the note ("dentist" finds "dentists" and "Dentist's").
 * A description of filler words only matches nothing.
 */
export function describes(description: string, note: string): boolean {
  const wanted = normalizeText(description);
  const text = normalizeText(note);
  if (!wanted) return false;
  if (` ${text} `.includes(` ${wanted} `)) return true;
  const words = wanted.split(" ").filter((word) => !FILLER_WORDS.has(word));
  if (words.length === 0) return false;
  const noteWords = text.split(" ");
  return words.every((word) => noteWords.some((w) => w.startsWith(word)));
}
