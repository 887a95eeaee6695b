/**
 * The GA `session.update` schema, as strict as the API: every key the
 * official openai types know is accepted, anything else is
 * `unknown_parameter` (which is how beta leftovers like `modalities` or
 * `input_audio_format` fail). The key lists below are checked against the
 * openai package's types in tests/test_peers_test.ts, so a new field in
 * the types fails `deno check` until it is listed here.
 *
 * @module
 */
import type {
  AudioTranscription,
  RealtimeAudioConfig,
  RealtimeAudioConfigInput,
  RealtimeAudioConfigOutput,
  RealtimeAudioInputTurnDetection,
  RealtimeClientEvent,
  RealtimeFunctionTool,
  RealtimeReasoning,
  RealtimeReasoningEffort,
  RealtimeSessionCreateRequest,
  RealtimeToolsConfigUnion,
} from "openai/resources/realtime/realtime";
import type { RealtimeSessionCreateResponse } from "openai/resources/realtime/client-secrets";
import {
  asObject,
  invalidType,
  invalidValue,
  isObject,
  type JsonObject,
  missingParameter,
  newId,
  type Problem,
  unknownParameter,
} from "./common.ts";

/**
 * The session object the API reports in session.created / session.updated:
 * the openai `RealtimeSessionCreateResponse` (id, object, expires_at…) plus
 * `parallel_tool_calls`, which the create request accepts and so is echoed.
 */
export type SimSession =
  & RealtimeSessionCreateResponse
  & Pick<RealtimeSessionCreateRequest, "parallel_tool_calls">;

export type McpToolConfig = RealtimeToolsConfigUnion.Mcp;

/** Every key list the validator uses, typed against the openai package. */
export const GA_KEYS = {
  session: [
    "type",
    "audio",
    "include",
    "instructions",
    "max_output_tokens",
    "model",
    "output_modalities",
    "parallel_tool_calls",
    "prompt",
    "reasoning",
    "tool_choice",
    "tools",
    "tracing",
    "truncation",
  ],
  audio: ["input", "output"],
  audioInput: ["format", "noise_reduction", "transcription", "turn_detection"],
  audioOutput: ["format", "speed", "voice"],
  noiseReduction: ["strength", "type"],
  transcription: [
    "delay",
    "keywords",
    "language",
    "languages",
    "model",
    "prompt",
  ],
  serverVad: [
    "type",
    "create_response",
    "idle_timeout_ms",
    "interrupt_response",
    "prefix_padding_ms",
    "silence_duration_ms",
    "threshold",
  ],
  semanticVad: ["type", "create_response", "eagerness", "interrupt_response"],
  reasoning: ["effort"],
  functionTool: ["type", "name", "description", "parameters"],
  mcpTool: [
    "type",
    "server_label",
    "allowed_callers",
    "allowed_tools",
    "authorization",
    "connector_id",
    "defer_loading",
    "headers",
    "require_approval",
    "server_description",
    "server_url",
    "tunnel_id",
  ],
  clientEvents: [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
  ],
  reasoningEfforts: ["minimal", "low", "medium", "high", "xhigh"],
  transcriptionModels: [
    "whisper-1",
    "gpt-transcribe",
    "gpt-live-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-4o-transcribe",
    "gpt-4o-transcribe-diarize",
    "gpt-realtime-whisper",
  ],
} as const satisfies {
  session: readonly (keyof RealtimeSessionCreateRequest)[];
  audio: readonly (keyof RealtimeAudioConfig)[];
  audioInput: readonly (keyof RealtimeAudioConfigInput)[];
  audioOutput: readonly (keyof RealtimeAudioConfigOutput)[];
  noiseReduction: readonly (keyof RealtimeAudioConfigInput.NoiseReduction)[];
  transcription: readonly (keyof AudioTranscription)[];
  serverVad: readonly (keyof RealtimeAudioInputTurnDetection.ServerVad)[];
  semanticVad: readonly (keyof RealtimeAudioInputTurnDetection.SemanticVad)[];
  reasoning: readonly (keyof RealtimeReasoning)[];
  functionTool: readonly (keyof RealtimeFunctionTool)[];
  mcpTool: readonly (keyof McpToolConfig)[];
  clientEvents: readonly RealtimeClientEvent["type"][];
  reasoningEfforts: readonly RealtimeReasoningEffort[];
  transcriptionModels: readonly NonNullable<AudioTranscription["model"]>[];
};

// Plain string lists, for membership checks and error messages.
export const CLIENT_EVENTS: string[] = [...GA_KEYS.clientEvents];
export const FORMAT_TYPES: string[] = ["audio/pcm", "audio/pcmu", "audio/pcma"];

const list = (keys: readonly string[]): string[] => [...keys];

function defaultServerVad(): RealtimeAudioInputTurnDetection.ServerVad {
  return {
    type: "server_vad",
    threshold: 0.5,
    prefix_padding_ms: 300,
    silence_duration_ms: 200,
    idle_timeout_ms: null,
    create_response: true,
    interrupt_response: true,
  };
}

function defaultSemanticVad(): RealtimeAudioInputTurnDetection.SemanticVad {
  return {
    type: "semantic_vad",
    eagerness: "auto",
    create_response: true,
    interrupt_response: true,
  };
}

/** Turn detection as the API reports it: the given fields over its defaults. */
export function withTurnDefaults(
  td: RealtimeAudioInputTurnDetection,
): RealtimeAudioInputTurnDetection {
  return td.type === "semantic_vad"
    ? { ...defaultSemanticVad(), ...td }
    : { ...defaultServerVad(), ...td };
}

/**
 * The session a new Realtime connection starts with, as the GA API reports
 * it. Fields the openai types make optional but not nullable (transcription,
 * noise_reduction, include) are left out rather than sent as null.
 */
export function defaultSession(
  model: string,
  id = newId("sess"),
): SimSession & JsonObject {
  return {
    type: "realtime",
    object: "realtime.session",
    id,
    model,
    output_modalities: ["audio"],
    instructions: "",
    tools: [],
    tool_choice: "auto",
    max_output_tokens: "inf",
    tracing: null,
    truncation: "auto",
    prompt: null,
    expires_at: Math.floor(Date.now() / 1000) + 3600,
    audio: {
      input: {
        format: { type: "audio/pcm", rate: 24000 },
        turn_detection: defaultServerVad(),
      },
      output: {
        format: { type: "audio/pcm", rate: 24000 },
        voice: "alloy",
        speed: 1,
      },
    },
  };
}

function firstUnknownKey(
  obj: JsonObject,
  allowed: readonly string[],
  prefix: string,
): Problem | null {
  const key = Object.keys(obj).find((k) => !allowed.includes(k));
  return key === undefined ? null : unknownParameter(`${prefix}.${key}`);
}

function checkFormat(format: unknown, param: string): Problem | null {
  if (format === undefined) return null;
  if (!isObject(format)) return invalidType(param, "an object", format);
  if (!FORMAT_TYPES.includes(String(format.type))) {
    return invalidValue(`${param}.type`, format.type, FORMAT_TYPES);
  }
  return null;
}

/** What a session.update is judged against besides its own shape. */
export interface SchemaContext {
  current: SimSession;
  /** Assistant audio has been output: the voice is fixed from then on. */
  voiceLocked: boolean;
  /** The session's model reasons (gpt-realtime-2.x): reasoning, parallel calls. */
  reasoningModel: boolean;
  /** Shut-down models (e.g. retired transcription models). */
  retiredModels: readonly string[];
}

function checkTranscription(value: unknown, ctx: SchemaContext) {
  const param = "session.audio.input.transcription";
  if (value === undefined || value === null) return null;
  if (!isObject(value)) return invalidType(param, "an object", value);
  const unknown = firstUnknownKey(value, GA_KEYS.transcription, param);
  if (unknown) return unknown;
  const model = value.model;
  if (model === undefined) return null;
  if (typeof model !== "string") {
    return invalidType(`${param}.model`, "a string", model);
  }
  if (ctx.retiredModels.includes(model)) {
    return {
      code: "model_not_found",
      message:
        `The model \`${model}\` does not exist or you do not have access to it.`,
      param: `${param}.model`,
    };
  }
  if (!list(GA_KEYS.transcriptionModels).includes(model)) {
    return invalidValue(`${param}.model`, model, GA_KEYS.transcriptionModels);
  }
  return null;
}

function checkTurnDetection(value: unknown): Problem | null {
  const param = "session.audio.input.turn_detection";
  if (value === undefined || value === null) return null;
  if (!isObject(value)) return invalidType(param, "an object", value);
  if (value.type === "server_vad") {
    return firstUnknownKey(value, GA_KEYS.serverVad, param);
  }
  if (value.type === "semantic_vad") {
    return firstUnknownKey(value, GA_KEYS.semanticVad, param);
  }
  return value.type === undefined
    ? missingParameter(`${param}.type`)
    : invalidValue(`${param}.type`, value.type, ["server_vad", "semantic_vad"]);
}

function checkTool(tool: unknown, index: number): Problem | null {
  const param = `session.tools[${index}]`;
  if (!isObject(tool)) return invalidType(param, "an object", tool);
  if (tool.type === "function" || tool.type === undefined) {
    return firstUnknownKey(tool, GA_KEYS.functionTool, param);
  }
  if (tool.type !== "mcp") {
    return invalidValue(`${param}.type`, tool.type, ["function", "mcp"]);
  }
  const unknown = firstUnknownKey(tool, GA_KEYS.mcpTool, param);
  if (unknown) return unknown;
  if (typeof tool.server_label !== "string") {
    return missingParameter(`${param}.server_label`);
  }
  if (
    tool.server_url === undefined && tool.connector_id === undefined &&
    tool.tunnel_id === undefined
  ) {
    return {
      code: "missing_required_parameter",
      message:
        `One of 'server_url', 'connector_id' or 'tunnel_id' must be provided for '${param}'.`,
      param: `${param}.server_url`,
    };
  }
  const allowed = tool.allowed_tools;
  if (
    allowed !== undefined && allowed !== null && !Array.isArray(allowed) &&
    !isObject(allowed)
  ) {
    return invalidType(
      `${param}.allowed_tools`,
      "an array or an object",
      allowed,
    );
  }
  return null;
}

function checkReasoning(
  patch: JsonObject,
  ctx: SchemaContext,
): Problem | null {
  const reasoning = patch.reasoning;
  if (reasoning !== undefined) {
    if (!isObject(reasoning)) {
      return invalidType("session.reasoning", "an object", reasoning);
    }
    const unknown = firstUnknownKey(
      reasoning,
      GA_KEYS.reasoning,
      "session.reasoning",
    );
    if (unknown) return unknown;
    const effort = reasoning.effort;
    if (
      effort !== undefined &&
      !list(GA_KEYS.reasoningEfforts).includes(String(effort))
    ) {
      return invalidValue(
        "session.reasoning.effort",
        effort,
        GA_KEYS.reasoningEfforts,
      );
    }
  }
  // "Only supported by reasoning Realtime models such as gpt-realtime-2."
  const model = typeof patch.model === "string"
    ? patch.model
    : String(ctx.current.model);
  for (const key of ["reasoning", "parallel_tool_calls"]) {
    if (patch[key] !== undefined && !ctx.reasoningModel) {
      return {
        code: "unsupported_parameter",
        message:
          `Unsupported parameter: '${key}' is not supported with this model (${model}).`,
        param: `session.${key}`,
      };
    }
  }
  if (
    patch.parallel_tool_calls !== undefined &&
    typeof patch.parallel_tool_calls !== "boolean"
  ) {
    return invalidType(
      "session.parallel_tool_calls",
      "a boolean",
      patch.parallel_tool_calls,
    );
  }
  return null;
}

/**
 * Validates a session.update `session` object the way the GA API does.
 * Returns null when the patch is acceptable.
 */
export function checkSessionPatch(
  patch: unknown,
  ctx: SchemaContext,
): Problem | null {
  if (patch === undefined) return missingParameter("session");
  if (!isObject(patch)) return invalidType("session", "an object", patch);
  if (patch.type === undefined) return missingParameter("session.type");
  if (patch.type !== "realtime") {
    return invalidValue("session.type", patch.type, ["realtime"]);
  }
  const unknown = firstUnknownKey(patch, GA_KEYS.session, "session");
  if (unknown) return unknown;

  const modalities = patch.output_modalities;
  if (
    modalities !== undefined &&
    !(Array.isArray(modalities) && modalities.length === 1 &&
      (modalities[0] === "audio" || modalities[0] === "text"))
  ) {
    // GA answers with either audio (plus transcript) or text, never both.
    return {
      code: "invalid_value",
      message:
        "Invalid value for 'session.output_modalities': use ['audio'] or ['text'].",
      param: "session.output_modalities",
    };
  }
  const reasoning = checkReasoning(patch, ctx);
  if (reasoning) return reasoning;
  if (patch.tools !== undefined) {
    if (!Array.isArray(patch.tools)) {
      return invalidType("session.tools", "an array", patch.tools);
    }
    for (const [i, tool] of patch.tools.entries()) {
      const problem = checkTool(tool, i);
      if (problem) return problem;
    }
  }

  if (patch.audio === undefined) return null;
  if (!isObject(patch.audio)) {
    return invalidType("session.audio", "an object", patch.audio);
  }
  const audioProblem = firstUnknownKey(
    patch.audio,
    GA_KEYS.audio,
    "session.audio",
  );
  if (audioProblem) return audioProblem;

  const { input, output } = patch.audio;
  if (input !== undefined) {
    if (!isObject(input)) {
      return invalidType("session.audio.input", "an object", input);
    }
    const nr = input.noise_reduction;
    const problem =
      firstUnknownKey(input, GA_KEYS.audioInput, "session.audio.input") ??
        checkFormat(input.format, "session.audio.input.format") ??
        checkTranscription(input.transcription, ctx) ??
        checkTurnDetection(input.turn_detection) ??
        (isObject(nr)
          ? firstUnknownKey(
            nr,
            GA_KEYS.noiseReduction,
            "session.audio.input.noise_reduction",
          )
          : null);
    if (problem) return problem;
  }
  if (output !== undefined) {
    if (!isObject(output)) {
      return invalidType("session.audio.output", "an object", output);
    }
    const problem =
      firstUnknownKey(output, GA_KEYS.audioOutput, "session.audio.output") ??
        checkFormat(output.format, "session.audio.output.format");
    if (problem) return problem;
    const currentVoice = ctx.current.audio?.output?.voice;
    if (
      output.voice !== undefined && output.voice !== currentVoice &&
      ctx.voiceLocked
    ) {
      return {
        code: "cannot_update_voice",
        message:
          "Cannot update a conversation's voice if assistant audio is present.",
        param: "session.audio.output.voice",
      };
    }
  }
  return null;
}

/**
 * A patch that passed `checkSessionPatch`. Only the shape checks above stand
 * behind this guard; deeper value checks are the API's, not modelled.
 */
export function isCheckedPatch(
  patch: unknown,
): patch is RealtimeSessionCreateRequest {
  return isObject(patch) && patch.type === "realtime";
}

/** Fills in what the API fills in, so session.updated shows the effective config. */
function normaliseFormat<T extends { type?: string; rate?: 24000 }>(
  format: T | undefined,
): T | undefined {
  if (format?.type === "audio/pcm") return { rate: 24000, ...format };
  return format;
}

/** Drops keys whose value is null where the openai type does not allow null. */
function withoutNull<T extends object>(obj: T, keys: (keyof T)[]): T {
  const copy = { ...obj };
  for (const key of keys) {
    if (copy[key] === null) delete copy[key];
  }
  return copy;
}

/**
 * Merges a validated patch into the session. Nested `audio.input` and
 * `audio.output` are merged key by key; leaf config objects (format,
 * turn_detection…) are replaced whole, as the API does, then normalised.
 */
export function mergeSession(
  current: SimSession,
  patch: RealtimeSessionCreateRequest,
): SimSession {
  const { audio: patchAudio, ...rest } = structuredClone(patch);
  const next: SimSession = { ...current, ...rest };
  if (!patchAudio) return next;
  // Setting transcription / noise_reduction to null turns them off.
  const input = withoutNull({
    ...current.audio?.input,
    ...patchAudio.input,
  }, ["transcription", "noise_reduction"]);
  const output = { ...current.audio?.output, ...patchAudio.output };
  input.format = normaliseFormat(input.format);
  output.format = normaliseFormat(output.format);
  const td = patchAudio.input?.turn_detection;
  if (td) input.turn_detection = withTurnDefaults(td);
  // The output voice may be a custom `{id}` in requests; sessions echo it as given.
  next.audio = {
    input,
    output: {
      ...output,
      voice: typeof output.voice === "object" ? output.voice.id : output.voice,
    },
  };
  return next;
}

/** The session's MCP tools, by server label. */
export function mcpToolsOf(session: SimSession): McpToolConfig[] {
  return (session.tools ?? []).filter((t): t is McpToolConfig =>
    asObject(t).type === "mcp"
  );
}
