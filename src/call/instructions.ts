/**
 * What the assistant is told, whatever the voice engine: the owner's
 * instructions with today's date and time, what it remembers of its owner
 * (notes and recent calls, when MEMORY is on), and the greeting.
 */

import type { Config } from "../config.ts";
import type { MemoryContext } from "../memory/memory.ts";
import { memoryInstructions } from "../memory/prompt.ts";

export type InstructionSettings = {
  assistant: Pick<Config["assistant"], "instructions" | "timeZone">;
};

/** "Tuesday, 24 November 2026, 09:30 UTC": enough for "what's due tomorrow". */
export function describeNow(now: Date, timeZone = "UTC"): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  }).format(now);
}

/**
 * The session's instructions: the persona, then the date and time, then
 * the memory (none without `memory`, or when there is nothing in it).
 */
export function assistantInstructions(
  settings: InstructionSettings,
  now: Date,
  memory?: MemoryContext,
): string {
  const base = `${settings.assistant.instructions}\n\nIt is now ${
    describeNow(now, settings.assistant.timeZone)
  } (time zone ${settings.assistant.timeZone}).`;
  const remembered = memory
    ? memoryInstructions(memory, settings.assistant.timeZone)
    : "";
  return remembered ? `${base}\n\n${remembered}` : base;
}

/** What the assistant is asked to say first, when a greeting is configured. */
export function greetingInstruction(greeting: string): string {
  return `Greet the caller by saying exactly this, and nothing else: "${greeting}"`;
}
