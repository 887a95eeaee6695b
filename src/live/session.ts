/** The GPT-Live session this assistant runs with. */

import { assistantInstructions } from "../call/instructions.ts";
import type { Config } from "../config.ts";
import type { MemoryContext } from "../memory/memory.ts";
import type { LiveFunctionTool, LiveSessionConfig } from "./events.ts";

export type LiveSettings = {
  assistant: Pick<Config["assistant"], "voice" | "instructions" | "timeZone">;
  live: Pick<Config["live"], "model" | "backendModel">;
};

/** What the delegation backend is told: it runs the tools, GPT-Live speaks its answers. */
const BACKEND_INSTRUCTIONS =
  "You work for a voice assistant on a phone call with its owner. Use the tools to do what the owner asks " +
  "(Todoist tasks, Gmail and the rest), then answer in one or two short sentences fit to be spoken. " +
  "Confirm before sending email or deleting anything. Call end_call only when the owner is done.";

/**
 * The `session` of `session.start`: G.711 µ-law at 8 kHz, the format Twilio
 * streams, so audio passes through untouched both ways. The tools start as
 * the server's own; the Zapier tools follow in a `session.update` once
 * listed, so the handshake never waits for them.
 */
export function liveSessionConfig(
  settings: LiveSettings,
  now: Date,
  tools: readonly LiveFunctionTool[],
  memory?: MemoryContext,
): LiveSessionConfig {
  const instructions = assistantInstructions(settings, now, memory);
  return {
    model: settings.live.model,
    instructions,
    audio: {
      format: { type: "audio/pcmu", rate: 8000 },
      output: { voice: settings.assistant.voice },
    },
    delegation: {
      type: "responses",
      responses: {
        model: settings.live.backendModel,
        instructions: `${BACKEND_INSTRUCTIONS}\n\n${instructions}`,
        tools: [...tools],
        tool_choice: "auto",
        parallel_tool_calls: true,
      },
    },
  };
}
