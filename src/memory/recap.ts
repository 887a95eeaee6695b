/**
 * A call's summary as the summary model writes it: a short summary, the
 * loops left open and the to-dos mentioned. Parsed once, here, from the
 * model's JSON text, and bounded, since it goes into later calls'
 * instructions.
 */

import { isRecord } from "../json.ts";

export interface Recap {
  summary: string;
  openLoops: string[];
  todos: string[];
}

const MAX_SUMMARY_CHARS = 600;
const MAX_ITEM_CHARS = 200;
const MAX_ITEMS = 8;

/**
 * The JSON schema the model must answer with (Structured Outputs: strict,
 * every property required, no others).
 */
export const RECAP_SCHEMA = {
  type: "object",
  properties: {
    summary: {
      type: "string",
      description:
        "Two or three sentences: what the call was about and what was done.",
    },
    open_loops: {
      type: "array",
      items: { type: "string" },
      description:
        "Questions or requests left unresolved at the end of the call.",
    },
    todos: {
      type: "array",
      items: { type: "string" },
      description:
        "Tasks the owner mentioned or asked for, done or not, each a short phrase.",
    },
  },
  required: ["summary", "open_loops", "todos"],
  additionalProperties: false,
} as const;

/** The model's JSON text as a Recap; undefined when it is not one. */
export function parseRecap(text: string): Recap | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || typeof raw.summary !== "string") return undefined;
  const summary = clip(raw.summary, MAX_SUMMARY_CHARS);
  if (!summary) return undefined;
  return {
    summary,
    openLoops: items(raw.open_loops),
    todos: items(raw.todos),
  };
}

function items(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((item): item is string => typeof item === "string")
    .map((item) => clip(item, MAX_ITEM_CHARS))
    .filter(Boolean)
    .slice(0, MAX_ITEMS);
}

function clip(text: string, max: number): string {
  const clean = text.replace(/\s+/g, " ").trim();
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}
