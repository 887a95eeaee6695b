/**
 * The GA `session.update` schema, as strict as the API, in the simulators'
 * one validation style (../schema.ts): every object is built with `obj<T>()`
 * from the openai package's realtime types, so a key added to or removed
 * from them fails `deno check` here until the simulator follows, and any
 * other key is `unknown_parameter` (which is how beta leftovers like
 * `modalities` or `input_audio_format` fail). What the schema cannot say
 * (the session's model, retired models, a voice fixed by audio already
 * sent) is checked after it, in `checkSessionPatch`.
 *
 * @module
 */
import type {
  AudioTranscription,
  NoiseReductionType,
  RealtimeAudioConfig,
  RealtimeAudioConfigInput,
  RealtimeAudioConfigOutput,
  RealtimeAudioFormats,
  RealtimeAudioInputTurnDetection,
  RealtimeClientEvent,
  RealtimeFunctionTool,
  RealtimeReasoning,
  RealtimeReasoningEffort,
  RealtimeSessionCreateRequest,
  RealtimeToolsConfigUnion,
  RealtimeTracingConfig,
} from "openai/resources/realtime/realtime";
import type { RealtimeSessionCreateResponse } from "openai/resources/realtime/client-secrets";
import type {
  ToolChoiceFunction,
  ToolChoiceMcp,
  ToolChoiceOptions,
} from "openai/resources/responses/responses";
import {
  anyOf,
  arr,
  type Assert,
  bool,
  type Equals,
  int,
  jsonObject,
  lit,
  literals,
  nullable,
  num,
  obj,
  opt,
  req,
  type Schema,
  str,
  tagged,
  validate,
} from "../schema.ts";
import {
  asObject,
  invalidValue,
  isObject,
  type JsonObject,
  missingParameter,
  newId,
  type Problem,
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

/** The client event types, in the openai union's order (checked in tests/test_peers_test.ts). */
export const CLIENT_EVENTS = [
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
] as const satisfies readonly RealtimeClientEvent["type"][];

/**
 * The transcription models the API knows: the types' literals (checked in
 * tests/test_peers_test.ts); the types also allow any string, the API not.
 */
export const TRANSCRIPTION_MODELS = [
  "whisper-1",
  "gpt-transcribe",
  "gpt-live-transcribe",
  "gpt-4o-mini-transcribe",
  "gpt-4o-mini-transcribe-2025-12-15",
  "gpt-4o-transcribe",
  "gpt-4o-transcribe-diarize",
  "gpt-realtime-whisper",
] as const satisfies readonly NonNullable<AudioTranscription["model"]>[];

// --- the schema ----------------------------------------------------------------

type FormatType = NonNullable<RealtimeAudioFormats["type"]>;
const format = tagged(
  "type",
  {
    "audio/pcm": obj<RealtimeAudioFormats.AudioPCM>({
      rate: opt(literals<24000>()(24000)),
      type: opt(lit("audio/pcm")),
    }),
    "audio/pcmu": obj<RealtimeAudioFormats.AudioPCMU>({
      type: opt(lit("audio/pcmu")),
    }),
    "audio/pcma": obj<RealtimeAudioFormats.AudioPCMA>({
      type: opt(lit("audio/pcma")),
    }),
  } satisfies Record<FormatType, Schema>,
);

const turnDetection = tagged(
  "type",
  {
    server_vad: obj<RealtimeAudioInputTurnDetection.ServerVad>({
      type: req(lit("server_vad")),
      create_response: opt(bool),
      idle_timeout_ms: opt(nullable(int(0))),
      interrupt_response: opt(bool),
      prefix_padding_ms: opt(int(0)),
      silence_duration_ms: opt(int(0)),
      threshold: opt(num),
    }),
    semantic_vad: obj<RealtimeAudioInputTurnDetection.SemanticVad>({
      type: req(lit("semantic_vad")),
      create_response: opt(bool),
      eagerness: opt(
        literals<
          NonNullable<RealtimeAudioInputTurnDetection.SemanticVad["eagerness"]>
        >()(
          "low",
          "medium",
          "high",
          "auto",
        ),
      ),
      interrupt_response: opt(bool),
    }),
  } satisfies Record<RealtimeAudioInputTurnDetection["type"], Schema>,
);

const effort = literals<RealtimeReasoningEffort>()(
  "minimal",
  "low",
  "medium",
  "high",
  "xhigh",
);
// A transcription's delay takes the same levels: this fails to compile if
// the two ever differ in the official types.
export type _DelayIsEffort = Assert<
  Equals<NonNullable<AudioTranscription["delay"]>, RealtimeReasoningEffort>
>;

const transcription = obj<AudioTranscription>({
  delay: opt(effort),
  keywords: opt(arr(str)),
  language: opt(str),
  languages: opt(arr(str)),
  // Any string by the types; known and retired models: checkSessionPatch.
  model: opt(str),
  prompt: opt(str),
});

// `null` turns transcription and noise reduction off (mergeSession).
const audioInput = obj<RealtimeAudioConfigInput>({
  format: opt(format),
  noise_reduction: opt(nullable(obj<RealtimeAudioConfigInput.NoiseReduction>({
    strength: opt(num),
    type: opt(literals<NoiseReductionType>()("near_field", "far_field")),
  }))),
  transcription: opt(nullable(transcription)),
  turn_detection: opt(nullable(turnDetection)),
});

const audioOutput = obj<RealtimeAudioConfigOutput>({
  format: opt(format),
  speed: opt(num),
  voice: opt(anyOf(str, obj<RealtimeAudioConfigOutput.ID>({ id: req(str) }))),
});

const mcpToolFilter = obj<RealtimeToolsConfigUnion.Mcp.McpToolFilter>({
  read_only: opt(bool),
  tool_names: opt(arr(str)),
});

const tool = tagged(
  "type",
  {
    function: obj<RealtimeFunctionTool>({
      description: opt(str),
      name: opt(str),
      parameters: opt(jsonObject),
      type: opt(lit("function")),
    }),
    mcp: obj<McpToolConfig>({
      server_label: req(str),
      type: req(lit("mcp")),
      allowed_callers: opt(nullable(arr(
        literals<NonNullable<McpToolConfig["allowed_callers"]>[number]>()(
          "direct",
          "programmatic",
        ),
      ))),
      allowed_tools: opt(nullable(anyOf(arr(str), mcpToolFilter))),
      authorization: opt(str),
      connector_id: opt(
        literals<NonNullable<McpToolConfig["connector_id"]>>()(
          "connector_dropbox",
          "connector_gmail",
          "connector_googlecalendar",
          "connector_googledrive",
          "connector_microsoftteams",
          "connector_outlookcalendar",
          "connector_outlookemail",
          "connector_sharepoint",
        ),
      ),
      defer_loading: opt(bool),
      // Not used by this project: checked as an object, not key by key.
      headers: opt(nullable(jsonObject)),
      require_approval: opt(nullable(anyOf(
        literals<"always" | "never">()("always", "never"),
        obj<RealtimeToolsConfigUnion.Mcp.McpToolApprovalFilter>({
          always: opt(mcpToolFilter),
          never: opt(mcpToolFilter),
        }),
      ))),
      server_description: opt(str),
      server_url: opt(str),
      tunnel_id: opt(str),
    }),
  } satisfies Record<NonNullable<RealtimeToolsConfigUnion["type"]>, Schema>,
  "function",
);

const toolChoice = anyOf(
  literals<ToolChoiceOptions>()("none", "auto", "required"),
  tagged("type", {
    function: obj<ToolChoiceFunction>({
      name: req(str),
      type: req(lit("function")),
    }),
    mcp: obj<ToolChoiceMcp>({
      server_label: req(str),
      type: req(lit("mcp")),
      name: opt(nullable(str)),
    }),
  }),
);

/** `session.update`'s `session`: its `type` first, then every other key. */
const sessionSchema = tagged("type", {
  realtime: obj<RealtimeSessionCreateRequest>({
    type: req(lit("realtime")),
    audio: opt(obj<RealtimeAudioConfig>({
      input: opt(audioInput),
      output: opt(audioOutput),
    })),
    include: opt(arr(
      literals<NonNullable<RealtimeSessionCreateRequest["include"]>[number]>()(
        "item.input_audio_transcription.logprobs",
      ),
    )),
    instructions: opt(str),
    max_output_tokens: opt(anyOf(int(1, 4096), lit("inf"))),
    model: opt(str),
    output_modalities: opt(arr(literals<"text" | "audio">()("text", "audio"))),
    parallel_tool_calls: opt(bool),
    // Not used by this project: checked as objects, not key by key.
    prompt: opt(nullable(jsonObject)),
    reasoning: opt(obj<RealtimeReasoning>({
      effort: opt(effort),
    })),
    tool_choice: opt(toolChoice),
    tools: opt(arr(tool)),
    tracing: opt(nullable(anyOf(
      lit("auto"),
      obj<RealtimeTracingConfig.TracingConfiguration>({
        group_id: opt(str),
        metadata: opt(jsonObject),
        workflow_name: opt(str),
      }),
    ))),
    truncation: opt(anyOf(
      literals<"auto" | "disabled">()("auto", "disabled"),
      jsonObject,
    )),
  }),
});

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

function checkTranscriptionModel(
  model: string | undefined,
  ctx: SchemaContext,
): Problem | null {
  const param = "session.audio.input.transcription.model";
  if (model === undefined) return null;
  if (ctx.retiredModels.includes(model)) {
    return {
      code: "model_not_found",
      message:
        `The model \`${model}\` does not exist or you do not have access to it.`,
      param,
    };
  }
  if (!(TRANSCRIPTION_MODELS as readonly string[]).includes(model)) {
    return invalidValue(param, model, TRANSCRIPTION_MODELS);
  }
  return null;
}

/** "One of server_url, connector_id or tunnel_id" for every MCP tool. */
function checkMcpServers(
  tools: RealtimeSessionCreateRequest["tools"],
): Problem | null {
  for (const [i, tool] of (tools ?? []).entries()) {
    if (
      tool.type === "mcp" && tool.server_url === undefined &&
      tool.connector_id === undefined && tool.tunnel_id === undefined
    ) {
      return {
        code: "missing_required_parameter",
        message:
          `One of 'server_url', 'connector_id' or 'tunnel_id' must be provided for 'session.tools[${i}]'.`,
        param: `session.tools[${i}].server_url`,
      };
    }
  }
  return null;
}

/** What the schema cannot say: the model, the modalities, the voice. */
function checkInContext(
  patch: RealtimeSessionCreateRequest,
  ctx: SchemaContext,
): Problem | null {
  const modalities = patch.output_modalities;
  if (modalities !== undefined && modalities.length !== 1) {
    // GA answers with either audio (plus transcript) or text, never both.
    return {
      code: "invalid_value",
      message:
        "Invalid value for 'session.output_modalities': use ['audio'] or ['text'].",
      param: "session.output_modalities",
    };
  }
  // "Only supported by reasoning Realtime models such as gpt-realtime-2."
  const model = patch.model ?? String(ctx.current.model);
  for (const key of ["reasoning", "parallel_tool_calls"] as const) {
    if (patch[key] !== undefined && !ctx.reasoningModel) {
      return {
        code: "unsupported_parameter",
        message:
          `Unsupported parameter: '${key}' is not supported with this model (${model}).`,
        param: `session.${key}`,
      };
    }
  }
  const problem = checkMcpServers(patch.tools) ??
    checkTranscriptionModel(
      patch.audio?.input?.transcription?.model,
      ctx,
    );
  if (problem) return problem;
  const voice = patch.audio?.output?.voice;
  const currentVoice = ctx.current.audio?.output?.voice;
  if (voice !== undefined && voice !== currentVoice && ctx.voiceLocked) {
    return {
      code: "cannot_update_voice",
      message:
        "Cannot update a conversation's voice if assistant audio is present.",
      param: "session.audio.output.voice",
    };
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
  return validate(sessionSchema, patch, "session") ??
    (isCheckedPatch(patch) ? checkInContext(patch, ctx) : null);
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
