/**
 * The strict schemas of GPT-Live's session configuration: `session.start`
 * (`SessionConfig`) and `session.update` (`SessionUpdateConfig`). The
 * documentation calls the configuration "a strict configuration object that
 * rejects unknown fields"; every object here is built with `obj<T>()` from
 * the official openai live types, so the key sets cannot drift from them.
 * What the server never sends (Decisions, the WebRTC data channel, custom
 * voices) is not modelled: the simulator refuses it (`unmodelled`).
 *
 * @module
 */
import type {
  AudioFormat,
  BuiltInVoice,
  ClientDelegation,
  FunctionTool,
  InitialItem,
  ResponsesDelegationConfig,
  ResponsesDelegationUpdateConfig,
  SessionConfig,
  SessionUpdateConfig,
} from "openai/resources/live/live";
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
  type MutuallyAssignable,
  nullable,
  obj,
  opt,
  req,
  type Schema,
  str,
  tagged,
  unmodelled,
} from "../schema.ts";

// --- type-level guards -------------------------------------------------------

type AllTrue<T extends boolean[]> = T extends true[] ? true : false;

type ConfigTool = NonNullable<ResponsesDelegationConfig["tools"]>[number];
type ConfigToolChoice = NonNullable<ResponsesDelegationConfig["tool_choice"]>;

// The update schema reuses the start schema's tools and tool choices: this
// fails to compile if the two ever differ in the official types.
export type _UpdateToolsMatch = Assert<
  MutuallyAssignable<
    ResponsesDelegationUpdateConfig["tools"],
    ResponsesDelegationConfig["tools"]
  >
>;
export type _UpdateToolChoiceMatch = Assert<
  MutuallyAssignable<
    ResponsesDelegationUpdateConfig["tool_choice"],
    ResponsesDelegationConfig["tool_choice"]
  >
>;
// Every built-in voice is a string, so a plain string check covers them.
export type _VoicesAreStrings = Assert<
  Equals<BuiltInVoice extends string ? true : false, true>
>;

// --- audio -------------------------------------------------------------------

const audioFormat = tagged(
  "type",
  {
    "audio/pcm": obj<AudioFormat.AudioPCM>({
      rate: req(literals<AudioFormat.AudioPCM["rate"]>()(16000, 24000)),
      type: req(lit("audio/pcm")),
    }),
    // The types allow any number; the API documents 8000 Hz for G.711, which
    // semantic checks in session.ts enforce.
    "audio/pcmu": obj<AudioFormat.AudioPCMU>({
      rate: req(int()),
      type: req(lit("audio/pcmu")),
    }),
    "audio/pcma": obj<AudioFormat.AudioPCMA>({
      rate: req(int()),
      type: req(lit("audio/pcma")),
    }),
  } satisfies Record<AudioFormat["type"], Schema>,
);

const voice = anyOf(str, unmodelled("custom voices"));

const audio = obj<SessionConfig.Audio>({
  format: opt(audioFormat),
  output: opt(obj<SessionConfig.Audio.Output>({ voice: opt(voice) })),
});

// --- Responses delegation ----------------------------------------------------

const functionTool = obj<FunctionTool>({
  name: req(str),
  type: req(lit("function")),
  description: opt(nullable(str)),
  parameters: opt(nullable(jsonObject)),
  strict: opt(nullable(bool)),
});

/** `{type}`-only objects, each checked against its own official interface. */
const only = <T extends { type: string }>(type: T["type"]) =>
  obj<{ type: T["type"] }>({ type: req(lit(type)) });

// Each `only<X>` must name an interface whose sole key is `type`: this
// fails to compile if one of them gains a field in the official types.
type OnlyType<T> = Equals<keyof T, "type">;
export type _BareTools = Assert<
  AllTrue<[
    OnlyType<ResponsesDelegationConfig.WebSearch>,
    OnlyType<ResponsesDelegationConfig.FileSearch>,
    OnlyType<ResponsesDelegationConfig.CodeInterpreter>,
    OnlyType<ResponsesDelegationConfig.ImageGeneration>,
    OnlyType<ResponsesDelegationConfig.Custom>,
    OnlyType<ResponsesDelegationConfig.Namespace>,
    OnlyType<ResponsesDelegationConfig.ToolSearch>,
    OnlyType<ResponsesDelegationConfig.ProgrammaticToolCalling>,
    OnlyType<ResponsesDelegationConfig.Computer>,
    OnlyType<ResponsesDelegationConfig.ApplyPatch>,
    OnlyType<ResponsesDelegationConfig.FileSearchToolChoice>,
    OnlyType<ResponsesDelegationConfig.WebSearchToolChoice>,
    OnlyType<ResponsesDelegationConfig.WebSearchPreview>,
    OnlyType<ResponsesDelegationConfig.ImageGenerationToolChoice>,
    OnlyType<ResponsesDelegationConfig.ComputerToolChoice>,
    OnlyType<ResponsesDelegationConfig.CodeInterpreterToolChoice>,
    OnlyType<ResponsesDelegationConfig.ProgrammaticToolCallingToolChoice>,
    OnlyType<ResponsesDelegationConfig.ShellToolChoice>,
    OnlyType<ResponsesDelegationConfig.ApplyPatchToolChoice>,
  ]>
>;

// The MCP filters (tool names, read-only) have one shape in all three places.
const mcpToolFilter = obj<ResponsesDelegationConfig.Mcp.LiveMCPToolFilterParam>(
  {
    read_only: opt(nullable(bool)),
    tool_names: opt(nullable(arr(str))),
  },
);

const tool = tagged(
  "type",
  {
    function: functionTool,
    web_search: only<ResponsesDelegationConfig.WebSearch>("web_search"),
    file_search: only<ResponsesDelegationConfig.FileSearch>("file_search"),
    code_interpreter: only<ResponsesDelegationConfig.CodeInterpreter>(
      "code_interpreter",
    ),
    shell: obj<ResponsesDelegationConfig.Shell>({
      type: req(lit("shell")),
      // Not used by this project: checked as an object, not field by field.
      environment: opt(nullable(jsonObject)),
    }),
    image_generation: only<ResponsesDelegationConfig.ImageGeneration>(
      "image_generation",
    ),
    mcp: obj<ResponsesDelegationConfig.Mcp>({
      type: req(lit("mcp")),
      allowed_callers: opt(nullable(arr(
        literals<
          NonNullable<ResponsesDelegationConfig.Mcp["allowed_callers"]>[number]
        >()("direct", "programmatic"),
      ))),
      allowed_tools: opt(nullable(anyOf(arr(str), mcpToolFilter))),
      authorization: opt(nullable(str)),
      connector_id: opt(nullable(str)),
      defer_loading: opt(nullable(bool)),
      // Not used by this project: checked as an object, not key by key.
      headers: opt(nullable(jsonObject)),
      require_approval: opt(nullable(anyOf(
        literals<"always" | "never">()("always", "never"),
        obj<ResponsesDelegationConfig.Mcp.LiveMCPRequireApprovalFilterParam>({
          always: opt(nullable(mcpToolFilter)),
          never: opt(nullable(mcpToolFilter)),
        }),
      ))),
      server_description: opt(nullable(str)),
      server_label: opt(str),
      server_url: opt(nullable(str)),
      tunnel_id: opt(nullable(str)),
    }),
    custom: only<ResponsesDelegationConfig.Custom>("custom"),
    namespace: only<ResponsesDelegationConfig.Namespace>("namespace"),
    tool_search: only<ResponsesDelegationConfig.ToolSearch>("tool_search"),
    programmatic_tool_calling: only<
      ResponsesDelegationConfig.ProgrammaticToolCalling
    >("programmatic_tool_calling"),
    computer: only<ResponsesDelegationConfig.Computer>("computer"),
    apply_patch: only<ResponsesDelegationConfig.ApplyPatch>("apply_patch"),
  } satisfies Record<ConfigTool["type"], Schema>,
);

type ObjectChoice = Exclude<ConfigToolChoice, string>;
type AllowedChoice = ResponsesDelegationConfig.LiveAllowedToolsChoiceParam;
type SingleChoice = Exclude<ObjectChoice, AllowedChoice>;

// allowed_tools lists the same single choices (its own namespace copies).
export type _AllowedChoicesMatch = Assert<
  MutuallyAssignable<AllowedChoice["tools"][number], SingleChoice>
>;

const singleChoices = {
  function: obj<ResponsesDelegationConfig.LiveFunctionToolChoiceParam>({
    name: req(str),
    type: req(lit("function")),
  }),
  mcp: obj<ResponsesDelegationConfig.LiveMCPToolChoiceParam>({
    name: req(str),
    server_label: req(str),
    type: req(lit("mcp")),
  }),
  file_search: only<ResponsesDelegationConfig.FileSearchToolChoice>(
    "file_search",
  ),
  web_search: only<ResponsesDelegationConfig.WebSearchToolChoice>(
    "web_search",
  ),
  web_search_preview: only<ResponsesDelegationConfig.WebSearchPreview>(
    "web_search_preview",
  ),
  image_generation: only<ResponsesDelegationConfig.ImageGenerationToolChoice>(
    "image_generation",
  ),
  computer: only<ResponsesDelegationConfig.ComputerToolChoice>("computer"),
  code_interpreter: only<ResponsesDelegationConfig.CodeInterpreterToolChoice>(
    "code_interpreter",
  ),
  programmatic_tool_calling: only<
    ResponsesDelegationConfig.ProgrammaticToolCallingToolChoice
  >("programmatic_tool_calling"),
  shell: only<ResponsesDelegationConfig.ShellToolChoice>("shell"),
  custom: obj<ResponsesDelegationConfig.CustomToolChoice>({
    name: req(str),
    type: req(lit("custom")),
  }),
  apply_patch: only<ResponsesDelegationConfig.ApplyPatchToolChoice>(
    "apply_patch",
  ),
} satisfies Record<SingleChoice["type"], Schema>;

const toolChoice = anyOf(
  literals<Extract<ConfigToolChoice, string>>()("auto", "none", "required"),
  tagged(
    "type",
    {
      ...singleChoices,
      allowed_tools: obj<AllowedChoice>({
        tools: req(arr(tagged("type", singleChoices))),
        type: req(lit("allowed_tools")),
        mode: opt(nullable(
          literals<NonNullable<AllowedChoice["mode"]>>()(
            "none",
            "auto",
            "required",
          ),
        )),
      }),
    } satisfies Record<ObjectChoice["type"], Schema>,
  ),
);

type Reasoning = ResponsesDelegationConfig.Reasoning;
const reasoning = obj<Reasoning>({
  effort: opt(nullable(
    literals<NonNullable<Reasoning["effort"]>>()(
      "none",
      "minimal",
      "low",
      "medium",
      "high",
      "xhigh",
    ),
  )),
  summary: opt(nullable(
    literals<NonNullable<Reasoning["summary"]>>()(
      "concise",
      "detailed",
      "auto",
    ),
  )),
});

type ServiceTier = NonNullable<ResponsesDelegationConfig["service_tier"]>;
const serviceTier = literals<ServiceTier>()(
  "auto",
  "default",
  "fast_tier_temp_pilot",
  "flex",
  "priority",
  "ultrafast",
);

type Verbosity = NonNullable<ResponsesDelegationConfig.Text["verbosity"]>;
const text = obj<ResponsesDelegationConfig.Text>({
  verbosity: opt(nullable(literals<Verbosity>()("low", "medium", "high"))),
});

const responsesConfig = obj<ResponsesDelegationConfig>({
  model: req(str),
  instructions: opt(nullable(str)),
  max_output_tokens: opt(nullable(int(1))),
  parallel_tool_calls: opt(nullable(bool)),
  reasoning: opt(nullable(reasoning)),
  service_tier: opt(nullable(serviceTier)),
  text: opt(nullable(text)),
  tool_choice: opt(toolChoice),
  tools: opt(arr(tool)),
});

const responsesUpdate = obj<ResponsesDelegationUpdateConfig>({
  model: opt(str),
  instructions: opt(nullable(str)),
  max_output_tokens: opt(nullable(int(1))),
  parallel_tool_calls: opt(nullable(bool)),
  reasoning: opt(nullable(reasoning)),
  service_tier: opt(nullable(serviceTier)),
  text: opt(nullable(text)),
  tool_choice: opt(toolChoice),
  tools: opt(arr(tool)),
});

// --- delegation ----------------------------------------------------------------

const ackDelay = opt(int(0));

const clientDelegation = obj<ClientDelegation>({
  type: req(lit("client")),
  acknowledgement_delay_ms: ackDelay,
});

type DelegationType = NonNullable<SessionConfig["delegation"]>["type"];

const startDelegation = tagged(
  "type",
  {
    client: clientDelegation,
    responses: obj<SessionConfig.Responses>({
      responses: req(responsesConfig),
      type: req(lit("responses")),
      acknowledgement_delay_ms: ackDelay,
    }),
    decisions: unmodelled("Decisions delegation"),
  } satisfies Record<DelegationType, Schema>,
);

type UpdateDelegationType = NonNullable<SessionUpdateConfig["delegation"]>[
  "type"
];

const updateDelegation = tagged(
  "type",
  {
    client: clientDelegation,
    responses: obj<SessionUpdateConfig.Responses>({
      type: req(lit("responses")),
      acknowledgement_delay_ms: ackDelay,
      responses: opt(responsesUpdate),
    }),
    decisions: unmodelled("Decisions delegation"),
  } satisfies Record<UpdateDelegationType, Schema>,
);

// --- startup history -------------------------------------------------------------

type MessageStatus = NonNullable<InitialItem.User["status"]>;
const oneTextPart = { minItems: 1, maxItems: 1 };
const messageStatus = opt(nullable(
  literals<MessageStatus>()("incomplete", "completed"),
));
const inputTextPart = (type: "input_text") =>
  obj<InitialItem.User.Content>({ text: req(str), type: opt(lit(type)) });

const initialItem = tagged(
  "role",
  {
    developer: obj<InitialItem.Developer>({
      content: req(arr(inputTextPart("input_text"), oneTextPart)),
      role: req(lit("developer")),
      id: opt(nullable(str)),
      status: messageStatus,
      type: opt(lit("message")),
    }),
    user: obj<InitialItem.User>({
      content: req(arr(inputTextPart("input_text"), oneTextPart)),
      role: req(lit("user")),
      id: opt(nullable(str)),
      status: messageStatus,
      type: opt(lit("message")),
    }),
    assistant: obj<InitialItem.Assistant>({
      content: req(arr(
        tagged("type", {
          text: obj<InitialItem.Assistant.Text>({
            text: req(str),
            type: opt(lit("text")),
          }),
          output_text: obj<InitialItem.Assistant.OutputText>({
            text: req(str),
            type: req(lit("output_text")),
          }),
        }, "text"),
        oneTextPart,
      )),
      role: req(lit("assistant")),
      id: opt(nullable(str)),
      status: messageStatus,
      type: opt(lit("message")),
    }),
  } satisfies Record<InitialItem["role"], Schema>,
);

// --- the two session objects -------------------------------------------------------

/** `session.start`'s `session`. */
export const sessionConfigSchema = obj<SessionConfig>({
  model: req(str),
  audio: opt(audio),
  client: opt(unmodelled("the WebRTC data channel")),
  delegation: opt(nullable(startDelegation)),
  input: opt(arr(initialItem, { maxItems: 128 })),
  instructions: opt(nullable(str)),
  safety_identifier: opt(nullable(str)),
  store: opt(bool),
  triggers: opt(unmodelled("Decisions triggers")),
});

/** `session.update`'s `session`: delegation and triggers, nothing else. */
export const sessionUpdateSchema = obj<SessionUpdateConfig>({
  delegation: opt(nullable(updateDelegation)),
  triggers: opt(unmodelled("Decisions triggers")),
});
