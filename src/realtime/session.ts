/** The GA Realtime session this assistant runs with. */

import type { Config, ReasoningEffort } from "../config.ts";
import {
  assistantInstructions,
  greetingInstruction,
} from "../call/instructions.ts";
import type { ResumePlan } from "../call/resume_plan.ts";
import type { MemoryContext } from "../memory/memory.ts";
import { endCall } from "../tools/end_call.ts";
import type { FunctionTool } from "../tools/toolbox.ts";
import { TRANSCRIPTION_MODEL } from "./configured_models.ts";
import { clientEvents } from "./events.ts";
import { SESSION_SETUP_EVENT } from "./session_setup.ts";

/** The part of the configuration that shapes the session. */
export type SessionSettings = {
  assistant: Pick<
    Config["assistant"],
    "voice" | "instructions" | "timeZone" | "greeting"
  >;
  realtime: Pick<Config["realtime"], "model" | "reasoningEffort">;
  zapier: Pick<Config["zapier"], "url" | "password" | "allowedTools">;
};

/** The function tool that lets the assistant hang up after saying goodbye. */
export const END_CALL_TOOL = endCall.definition;

/** The Zapier remote MCP server; OpenAI calls it, never this server. */
export type McpTool = {
  type: "mcp";
  server_label: string;
  server_url: string;
  headers: { Authorization: string };
  require_approval: "never";
  /** Only these of the server's tools are listed to the model. */
  allowed_tools?: string[];
};

/**
 * The GA `session` of a `session.update`, exactly as sent. A type alias, not
 * an interface, so it stays assignable to the JSON record `sessionUpdate`
 * takes; tests/session_types_test.ts holds it to openai-node's
 * `RealtimeSessionCreateRequest`, with no key that type does not know.
 */
export type SessionConfig = {
  type: "realtime";
  model: string;
  output_modalities: ["audio"];
  instructions: string;
  /** Only for models that reason; older ones refuse the field. */
  reasoning?: { effort: ReasoningEffort };
  audio: {
    input: {
      format: { type: "audio/pcmu" };
      turn_detection: { type: "server_vad" };
      transcription: { model: typeof TRANSCRIPTION_MODEL };
    };
    output: {
      format: { type: "audio/pcmu" };
      voice: string;
    };
  };
  tools: (FunctionTool | McpTool)[];
  tool_choice: "auto";
};

/**
 * Whether a model takes `reasoning`: the gpt-realtime-2 family
 * (gpt-realtime-2, gpt-realtime-2.1, gpt-realtime-2.1-mini and their dated
 * snapshots), not gpt-realtime, gpt-realtime-mini or gpt-realtime-1.5.
 */
export function supportsReasoning(model: string): boolean {
  return /^gpt-realtime-2(?:\.\d+)?(?:-mini)?(?:-\d{4}-\d{2}-\d{2})?$/.test(
    model,
  );
}

/** The tag of the greeting's `response.create`, sent before the bridge exists. */
export const GREETING_REQUEST = "greeting";

/**
 * The `session` of a `session.update`. G.711 µ-law both ways, so Twilio's
 * audio passes through with no transcoding. Never carries fields the GA API
 * refuses (`temperature`, `modalities`, `input_audio_format`, ...).
 */
export function sessionConfig(
  settings: SessionSettings,
  now: Date,
  functionTools: readonly FunctionTool[] = [END_CALL_TOOL],
  memory?: MemoryContext,
): SessionConfig {
  const tools: SessionConfig["tools"] = functionTools.map((tool) => ({
    ...tool,
  }));
  if (settings.zapier.password !== undefined) {
    tools.push({
      type: "mcp",
      server_label: "zapier",
      server_url: settings.zapier.url,
      headers: { Authorization: `Bearer ${settings.zapier.password}` },
      require_approval: "never",
      ...(settings.zapier.allowedTools === undefined
        ? {}
        : { allowed_tools: [...settings.zapier.allowedTools] }),
    });
  }
  return {
    type: "realtime",
    model: settings.realtime.model,
    output_modalities: ["audio"],
    instructions: assistantInstructions(settings, now, memory),
    ...(supportsReasoning(settings.realtime.model)
      ? { reasoning: { effort: settings.realtime.reasoningEffort } }
      : {}),
    audio: {
      input: {
        format: { type: "audio/pcmu" },
        turn_detection: { type: "server_vad" },
        transcription: { model: TRANSCRIPTION_MODEL },
      },
      output: {
        format: { type: "audio/pcmu" },
        voice: settings.assistant.voice,
      },
    },
    tools,
    tool_choice: "auto",
  };
}

/**
 * What a new upstream socket sends on open: the session, then the opening's
 * response (the call's `opening` instruction, else GREETING's), so the first
 * words are being generated before the stream even starts. A resumed call
 * (`resume`) gets its conversation so far as items before any response, and
 * no greeting: it speaks first only when the plan says so.
 */
export function initialEvents(
  settings: SessionSettings,
  now: Date,
  functionTools?: readonly FunctionTool[],
  memory?: MemoryContext,
  opening?: string,
  resume?: ResumePlan,
): string[] {
  const events = [
    clientEvents.sessionUpdate(
      sessionConfig(settings, now, functionTools, memory),
      SESSION_SETUP_EVENT,
    ),
  ];
  for (const { role, text } of resume?.history ?? []) {
    events.push(
      role === "user"
        ? clientEvents.userMessage(text)
        : role === "assistant"
        ? clientEvents.assistantMessage(text)
        : clientEvents.systemMessage(text),
    );
  }
  // A resume's own first words, else this call's opening (a call the
  // server placed), else GREETING.
  const first = resume ? resume.speakFirst : opening ??
    (settings.assistant.greeting === undefined
      ? undefined
      : greetingInstruction(settings.assistant.greeting));
  if (first !== undefined) {
    // A system item, not response.instructions: those would replace the
    // session's instructions (persona, date, time zone) for the greeting.
    events.push(
      clientEvents.systemMessage(first),
      clientEvents.createResponse(GREETING_REQUEST),
    );
  }
  return events;
}
