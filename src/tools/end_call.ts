/** The tool that lets the assistant hang up after saying goodbye. */

import type { ServerTool } from "./toolbox.ts";

export const endCall: ServerTool = {
  definition: {
    type: "function",
    name: "end_call",
    description:
      "Hang up the phone call. Use it when the caller is done or asks to hang up, " +
      "right after you have said a short goodbye.",
    parameters: { type: "object", properties: {}, required: [] },
  },
  // Idempotent: a second end_call (parallel tool calls) hangs up no harder.
  run: () => ({ output: { ok: true }, hangUp: true }),
};
