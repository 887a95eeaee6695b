/** The tool that keeps a short fact about the owner for later calls (MEMORY). */

import type { NoteStore } from "../memory/notes.ts";
import type { FunctionTool, ServerTool } from "./toolbox.ts";

export const REMEMBER_TOOL: FunctionTool = {
  type: "function",
  name: "remember",
  description:
    "Keep a short fact about the owner for future calls, when they ask you to remember something " +
    '(e.g. "my dentist is Dr. Lee, Tuesdays"). One fact per call, in their words, under 280 characters.',
  parameters: {
    type: "object",
    properties: {
      fact: {
        type: "string",
        description: "The fact to keep, as a short sentence.",
      },
    },
    required: ["fact"],
  },
};

export function rememberTool(notes: NoteStore): ServerTool {
  return {
    definition: REMEMBER_TOOL,
    // Idempotent: the same fact twice (parallel calls, or said again) is kept once.
    async run(args, call) {
      const fact = typeof args.fact === "string" ? args.fact : "";
      const result = await notes.add(fact, {
        by: "assistant",
        callSid: call.callSid,
      });
      if (!result.ok) return { output: { ok: false, error: result.error } };
      return {
        output: {
          ok: true,
          stored: result.note.text,
          already_known: !result.added,
          ...(result.dropped.length > 0
            ? { forgot_oldest: result.dropped.map((note) => note.text) }
            : {}),
          instruction:
            "Confirm in one short sentence what you will remember; do not read back anything else.",
        },
      };
    },
  };
}
