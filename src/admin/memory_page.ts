/**
 * /memory: what the assistant remembers of its owner, server-rendered with
 * plain forms (add a note, delete one, forget a call's summary), readable on
 * a phone.
 */

import { escapeHtml } from "../http/html.ts";
import {
  MAX_NOTE_CHARS,
  MAX_NOTES,
  MAX_NOTES_CHARS,
  MAX_SUMMARIES,
} from "../memory/bounds.ts";
import type { Note } from "../memory/notes.ts";
import type { RememberedCall } from "../memory/summaries.ts";
import { ownerNav } from "../http/owner_nav.ts";
import { page } from "./pages.ts";

export interface MemoryView {
  /** False with MEMORY=false. */
  enabled: boolean;
  memoryDays: number;
  notes: Note[];
  calls: RememberedCall[];
  /** Why the last form was refused, shown above the form. */
  error?: string;
  timeZone: string;
}

function date(epochMs: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  }).format(epochMs);
}

function items(title: string, values: string[]): string {
  return values.length === 0
    ? ""
    : `<p class="muted">${title}</p><ul>${
      values.map((v) => `<li>${escapeHtml(v)}</li>`).join("")
    }</ul>`;
}

/** Who wrote a note, for the owner to judge it by. */
function noteSource(note: Note): string {
  const source = note.source;
  if (source?.by === "owner") return "written by you";
  if (source?.by === "assistant") {
    return `saved by the assistant during <a href="/calls/${
      encodeURIComponent(source.callSid)
    }">a call</a>`;
  }
  return "origin not recorded";
}

function noteRow(note: Note, timeZone: string): string {
  return `<li class="note"><span class="text">${
    escapeHtml(note.text)
  }</span> <span class="muted source">${noteSource(note)}, ${
    escapeHtml(date(note.createdAt, timeZone))
  }</span> <form method="post" action="/memory/notes/${
    encodeURIComponent(note.id)
  }/delete"><button type="submit" aria-label="Delete note: ${
    escapeHtml(note.text)
  }">Delete</button></form></li>`;
}

function callEntry(call: RememberedCall, timeZone: string): string {
  return `<article class="remembered"><h3><a href="/calls/${
    encodeURIComponent(call.callSid)
  }">${escapeHtml(date(call.at, timeZone))}</a></h3><p>${
    escapeHtml(call.summary)
  }</p>${items("To-dos", call.todos)}${
    items("Still open", call.openLoops)
  }<form method="post" action="/memory/summaries/${
    encodeURIComponent(call.id)
  }/delete"><button type="submit">Forget this call</button></form></article>`;
}

export function memoryPage(view: MemoryView): string {
  if (!view.enabled) {
    return page(
      "Memory",
      ownerNav("/memory") +
        `<h1>Memory</h1><p>Memory is off (<code>MEMORY=false</code>): every call starts from nothing, ` +
        `no notes are kept and no call is summarised.</p>`,
    );
  }
  const notes = view.notes.length === 0
    ? `<p class="muted">No notes yet. Say "remember that…" on a call, or add one here.</p>`
    : `<ul class="notes">${
      view.notes.map((n) => noteRow(n, view.timeZone)).join("")
    }</ul>`;
  const calls = view.calls.length === 0
    ? `<p class="muted">No summaries yet: each call is summarised a moment after it ends.</p>`
    : view.calls.map((c) => callEntry(c, view.timeZone)).join("");
  return page(
    "Memory",
    ownerNav("/memory") + `<h1>Memory</h1>` +
      `<p class="muted">What your assistant knows at the start of every call: the newest ${MAX_NOTES} notes ` +
      `(${MAX_NOTES_CHARS} characters at most, oldest dropped first) and the summaries of its last ` +
      `${MAX_SUMMARIES} calls from the past ${view.memoryDays} days.</p>` +
      `<h2>Notes</h2>` +
      (view.error
        ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>`
        : "") +
      `<form method="post" action="/memory/notes"><input name="text" maxlength="${MAX_NOTE_CHARS}" required ` +
      `aria-label="New note" placeholder="My dentist is Dr. Lee, Tuesdays"><button type="submit">Add</button></form>` +
      notes + `<h2>Recent calls</h2>` + calls,
  );
}
