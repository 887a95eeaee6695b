/** The tool that drops notes the owner no longer wants kept (MEMORY). */

import type { NoteStore } from "../memory/notes.ts";
import type { FunctionTool, ServerTool } from "./toolbox.ts";

export const FORGET_TOOL: FunctionTool = {
  type: "function",
  name: "forget",
  description:
    "Delete kept notes about the owner that match a description, when they ask you to forget something " +
    '(e.g. "the dentist"). Every note that matches is deleted.',
  parameters: {
    type: "object",
    properties: {
      description: {
        type: "string",
        description: "A few words naming the note(s) to forget.",
      },
    },
    required: ["description"],
  },
};

export function forgetTool(notes: NoteStore): ServerTool {
  return {
    definition: FORGET_TOOL,
    // Idempotent: forgetting what is already gone finds nothing and says so.
    async run(args) {
      const description = typeof args.description === "string"
        ? args.description
        : "";
      const forgotten = await notes.forget(description);
      return {
        output: forgotten.length > 0
          ? {
            ok: true,
            forgotten: forgotten.map((note) => note.text),
            instruction: "Say in one short sentence which notes you forgot.",
          }
          : {
            ok: true,
            forgotten: [],
            instruction:
              "No kept note matches that description: say so in one short sentence.",
          },
      };
    },
  };
}
