/**
 * The notes the owner asked the assistant to keep, in Deno KV. A note's key
 * is derived from its normalised text, so the same fact stored twice (two
 * parallel `remember` calls, or the owner repeating it) is one note, by an
 * atomic insert-if-absent. Notes stay until forgotten, deleted on /memory,
 * or pushed out by newer ones (see bounds.ts).
 */

import {
  MAX_NOTE_CHARS,
  MAX_NOTES,
  MAX_NOTES_CHARS,
  newestWithin,
} from "./bounds.ts";
import { describes, normalizeText } from "./matching.ts";

/**
 * Who wrote a note: the owner (/memory, the API) or the assistant during a
 * call (`remember`). Notes kept before provenance was recorded have none and
 * are treated like the assistant's: never as the owner's word.
 */
export type NoteSource =
  | { by: "owner" }
  | { by: "assistant"; callSid: string };

export interface Note {
  /** Derived from the text: stable, and the same for the same fact. */
  id: string;
  text: string;
  createdAt: number;
  source?: NoteSource;
}

/** True only for a note the owner wrote. */
export function byOwner(note: Note): boolean {
  return note.source?.by === "owner";
}

export type AddResult =
  | { ok: true; note: Note; added: boolean; dropped: Note[] }
  | { ok: false; error: string };

const PREFIX = "memory_notes";

export class NoteStore {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;

  constructor(kv: Deno.Kv, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /** Every note kept, newest first (never more than the bounds allow). */
  async list(): Promise<Note[]> {
    return withinBounds(await this.#all());
  }

  /**
   * Stores a fact unless it is kept already; the oldest notes beyond the
   * bounds are dropped and returned.
   */
  async add(rawText: string, source: NoteSource): Promise<AddResult> {
    const text = rawText.replace(/\s+/g, " ").trim();
    if (!normalizeText(text)) return { ok: false, error: "the note is empty" };
    if (text.length > MAX_NOTE_CHARS) {
      return {
        ok: false,
        error: `a note holds at most ${MAX_NOTE_CHARS} characters`,
      };
    }
    const id = await noteId(text);
    const key = [PREFIX, id];
    const note: Note = { id, text, createdAt: this.#now(), source };
    const commit = await this.#kv.atomic()
      .check({ key, versionstamp: null })
      .set(key, note)
      .commit();
    if (!commit.ok) {
      const kept = await this.#kv.get<Note>(key);
      // The owner writing down what the assistant noted makes it theirs.
      if (kept.value && source.by === "owner" && !byOwner(kept.value)) {
        const owned = { ...kept.value, source };
        await this.#kv.atomic().check(kept).set(key, owned).commit();
        return { ok: true, note: owned, added: false, dropped: [] };
      }
      return { ok: true, note: kept.value ?? note, added: false, dropped: [] };
    }
    return { ok: true, note, added: true, dropped: await this.#prune() };
  }

  /** Removes one note by id; undefined when there is none. */
  async remove(id: string): Promise<Note | undefined> {
    const key = [PREFIX, id];
    const note = (await this.#kv.get<Note>(key)).value;
    if (!note) return undefined;
    await this.#kv.delete(key);
    return note;
  }

  /** Removes every note the description names; returns them (none: empty). */
  async forget(description: string): Promise<Note[]> {
    const matches = (await this.list()).filter((note) =>
      describes(description, note.text)
    );
    await Promise.all(
      matches.map((note) => this.#kv.delete([PREFIX, note.id])),
    );
    return matches;
  }

  /** Deletes what the bounds leave out, oldest first. */
  async #prune(): Promise<Note[]> {
    const all = await this.#all();
    const kept = new Set(withinBounds(all).map((note) => note.id));
    const dropped = all.filter((note) => !kept.has(note.id));
    await Promise.all(
      dropped.map((note) => this.#kv.delete([PREFIX, note.id])),
    );
    return dropped;
  }

  /** Every stored note, newest first. */
  async #all(): Promise<Note[]> {
    const notes: Note[] = [];
    for await (const entry of this.#kv.list<Note>({ prefix: [PREFIX] })) {
      notes.push(entry.value);
    }
    return notes.sort((a, b) =>
      b.createdAt - a.createdAt || a.id.localeCompare(b.id)
    );
  }
}

function withinBounds(newestFirst: Note[]): Note[] {
  return newestWithin(
    newestFirst,
    MAX_NOTES,
    MAX_NOTES_CHARS,
    (note) => note.text.length,
  );
}

/** The first 16 hex digits of SHA-256 over the normalised text. */
async function noteId(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(normalizeText(text)),
  );
  return new Uint8Array(digest).toHex().slice(0, 16);
}
