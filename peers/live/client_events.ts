/**
 * Every GPT-Live client event the simulator accepts, with its strict schema.
 * The list is checked at compile time against the official openai live
 * `ClientEvent` union (both ways), and each schema is built from that event's
 * own interface, so a new, renamed or reshaped client event fails
 * `deno check` until the simulator models it. Decisions are not modelled
 * (the server never configures them): their events get the API's answer to
 * a session without Decisions (`DECISION_EVENT_TYPES`).
 *
 * @module
 */
import type {
  ClientEvent,
  CommentaryAppendEvent,
  InputAudioAppendEvent,
  InputAudioMuteEvent,
  InputAudioUnmuteEvent,
  InstructionsAppendEvent,
  OutputAudioFixturePlayEvent,
  ResponseCreateEvent,
  ResponseItemCreateEvent,
  SessionCloseEvent,
  SessionStartEvent,
  SessionUpdateEvent,
  ThinkingAppendEvent,
} from "openai/resources/live/live";
import type {
  EasyInputMessage,
  ImageDetail,
  ResponseInputFile,
  ResponseInputFileContent,
  ResponseInputImageContent,
  ResponseInputItem,
  ResponseInputText,
  ResponseInputTextContent,
  ResponseOutputMessage,
  ResponseOutputRefusal,
  ResponseOutputText,
} from "openai/resources/responses/responses";
import {
  anyOf,
  arr,
  type Assert,
  type Equals,
  jsonObject,
  lit,
  literals,
  nullable,
  obj,
  opt,
  req,
  type Schema,
  str,
  tagged,
} from "../schema.ts";
import { sessionConfigSchema, sessionUpdateSchema } from "./session_schema.ts";

export type ClientEventType = ClientEvent["type"];

/** The client event types the simulator models, in the union's order. */
export const CLIENT_EVENT_TYPES = [
  "session.start",
  "session.update",
  "session.input_audio.append",
  "session.input_audio.mute",
  "session.input_audio.unmute",
  "session.output_audio.fixture.play",
  "session.instructions.append",
  "session.thinking.append",
  "session.commentary.append",
  "decision.create",
  "decision.item.create",
  "decision.item.delete",
  "response.item.create",
  "response.create",
  "session.close",
] as const;

// Fails to compile if the list and the official union ever differ.
export type _ClientEventListMatchesUnion = Assert<
  Equals<(typeof CLIENT_EVENT_TYPES)[number], ClientEventType>
>;

/** Narrows a parsed event whose schema passed to its official type. */
export type ClientEventOf<K extends ClientEventType> = Extract<
  ClientEvent,
  { type: K }
>;

/** The Decisions events: refused, since no session here has Decisions. */
export const DECISION_EVENT_TYPES = [
  "decision.create",
  "decision.item.create",
  "decision.item.delete",
] as const satisfies readonly ClientEventType[];

export type DecisionEventType = (typeof DECISION_EVENT_TYPES)[number];
/** The client events the simulator models. */
export type ModelledEventType = Exclude<ClientEventType, DecisionEventType>;

export function isDecisionEvent(type: string): type is DecisionEventType {
  return (DECISION_EVENT_TYPES as readonly string[]).includes(type);
}

const eventId = opt(nullable(str));
const append = <T extends { type: string }>(type: T["type"]) =>
  obj<InstructionsAppendEvent>({
    content: req(str),
    // "Required, nullable": absent is an error, null is general context.
    delegation_id: req(nullable(str)),
    type: req(lit(type)),
    event_id: eventId,
  });

// The three appends share one shape.
export type _AppendsShareShape = Assert<
  Equals<
    Omit<InstructionsAppendEvent, "type">,
    Omit<ThinkingAppendEvent, "type">
  >
>;
export type _AppendsShareShape2 = Assert<
  Equals<
    Omit<InstructionsAppendEvent, "type">,
    Omit<CommentaryAppendEvent, "type">
  >
>;

// --- Responses input items (response.item.create) ---------------------------

type Breakpoint = ResponseInputText.PromptCacheBreakpoint;
const breakpoint = obj<Breakpoint>({
  mode: req(lit("explicit")),
  ttl: opt(literals<NonNullable<Breakpoint["ttl"]>>()("30m", "12h")),
});
const imageDetail = literals<ImageDetail>()("low", "high", "auto", "original");
const fileDetail = literals<NonNullable<ResponseInputFile["detail"]>>()(
  "auto",
  "low",
  "high",
);

/**
 * An input image part. The official type makes `detail` required, but a
 * third-party probe of the real API (2026-09-12) sent images without it and
 * the backend read them, so it is optional here.
 */
type LenientInputImage = Omit<ResponseInputImageContent, "detail"> & {
  detail?: ImageDetail | null;
};

const inputPart = tagged("type", {
  input_text: obj<ResponseInputText>({
    text: req(str),
    type: req(lit("input_text")),
    prompt_cache_breakpoint: opt(breakpoint),
  }),
  input_image: obj<LenientInputImage>({
    type: req(lit("input_image")),
    detail: opt(nullable(imageDetail)),
    file_id: opt(nullable(str)),
    image_url: opt(nullable(str)),
    prompt_cache_breakpoint: opt(nullable(breakpoint)),
  }),
  input_file: obj<ResponseInputFile>({
    type: req(lit("input_file")),
    detail: opt(fileDetail),
    file_data: opt(str),
    file_id: opt(nullable(str)),
    file_url: opt(str),
    filename: opt(str),
    prompt_cache_breakpoint: opt(breakpoint),
  }),
  // Replayed assistant history.
  output_text: obj<ResponseOutputText>({
    annotations: req(arr(jsonObject)),
    text: req(str),
    type: req(lit("output_text")),
    logprobs: opt(arr(jsonObject)),
  }),
  refusal: obj<ResponseOutputRefusal>({
    refusal: req(str),
    type: req(lit("refusal")),
  }),
});

/** The keys the three message input shapes share or add. */
interface MessageShape {
  content: unknown;
  role: unknown;
  id?: unknown;
  phase?: unknown;
  status?: unknown;
  type?: unknown;
}
export type _MessageKeys = Assert<
  Equals<
    | keyof EasyInputMessage
    | keyof ResponseInputItem.Message
    | keyof ResponseOutputMessage,
    keyof MessageShape
  >
>;

const message = obj<MessageShape>({
  content: req(anyOf(str, arr(inputPart))),
  role: req(
    literals<EasyInputMessage["role"]>()(
      "user",
      "assistant",
      "system",
      "developer",
    ),
  ),
  id: opt(str),
  phase: opt(nullable(
    literals<NonNullable<EasyInputMessage["phase"]>>()(
      "commentary",
      "final_answer",
    ),
  )),
  status: opt(
    literals<ResponseOutputMessage["status"]>()(
      "in_progress",
      "completed",
      "incomplete",
    ),
  ),
  type: opt(lit("message")),
});

type CallOutput = ResponseInputItem.FunctionCallOutput;
type ItemStatus = NonNullable<CallOutput["status"]>;
const itemStatus = opt(nullable(
  literals<ItemStatus>()("in_progress", "completed", "incomplete"),
));

const functionCallOutput = obj<CallOutput>({
  output: req(anyOf(
    str,
    arr(tagged("type", {
      input_text: obj<ResponseInputTextContent>({
        text: req(str),
        type: req(lit("input_text")),
        prompt_cache_breakpoint: opt(nullable(breakpoint)),
      }),
      input_image: obj<ResponseInputImageContent>({
        type: req(lit("input_image")),
        detail: opt(nullable(imageDetail)),
        file_id: opt(nullable(str)),
        image_url: opt(nullable(str)),
        prompt_cache_breakpoint: opt(nullable(breakpoint)),
      }),
      input_file: obj<ResponseInputFileContent>({
        type: req(lit("input_file")),
        detail: opt(fileDetail),
        file_data: opt(nullable(str)),
        file_id: opt(nullable(str)),
        file_url: opt(nullable(str)),
        filename: opt(nullable(str)),
        prompt_cache_breakpoint: opt(nullable(breakpoint)),
      }),
    })),
  )),
  type: req(lit("function_call_output")),
  id: opt(nullable(str)),
  // Optional in the types (programmatic callers); session.ts requires it,
  // since an output must answer a call the backend made.
  call_id: opt(nullable(str)),
  caller: opt(nullable(tagged("type", {
    direct: obj<ResponseInputItem.FunctionCallOutput.Direct>({
      type: req(lit("direct")),
    }),
    program: obj<ResponseInputItem.FunctionCallOutput.Program>({
      caller_id: req(str),
      type: req(lit("program")),
    }),
  }))),
  name: opt(nullable(str)),
  namespace: opt(nullable(str)),
  status: itemStatus,
});

type InputItemType = NonNullable<ResponseInputItem["type"]>;

/**
 * Messages and function call outputs (what this project sends) are checked
 * field by field; the other Responses item types only as objects.
 */
const responseInputItem = tagged(
  "type",
  {
    message,
    function_call_output: functionCallOutput,
    file_search_call: jsonObject,
    computer_call: jsonObject,
    computer_call_output: jsonObject,
    web_search_call: jsonObject,
    function_call: jsonObject,
    tool_search_call: jsonObject,
    tool_search_output: jsonObject,
    additional_tools: jsonObject,
    configuration_update: jsonObject,
    reasoning: jsonObject,
    compaction: jsonObject,
    image_generation_call: jsonObject,
    code_interpreter_call: jsonObject,
    local_shell_call: jsonObject,
    local_shell_call_output: jsonObject,
    shell_call: jsonObject,
    shell_call_output: jsonObject,
    apply_patch_call: jsonObject,
    apply_patch_call_output: jsonObject,
    mcp_list_tools: jsonObject,
    mcp_approval_request: jsonObject,
    mcp_approval_response: jsonObject,
    mcp_call: jsonObject,
    custom_tool_call_output: jsonObject,
    custom_tool_call: jsonObject,
    compaction_trigger: jsonObject,
    item_reference: jsonObject,
    program: jsonObject,
    program_output: jsonObject,
  } satisfies Record<InputItemType, Schema>,
  "message",
);

// --- the events ------------------------------------------------------------------

/** One strict schema per modelled client event type, each from its own interface. */
export const CLIENT_EVENT_SCHEMAS = {
  "session.start": obj<SessionStartEvent>({
    session: req(sessionConfigSchema),
    type: req(lit("session.start")),
    event_id: eventId,
  }),
  "session.update": obj<SessionUpdateEvent>({
    session: req(sessionUpdateSchema),
    type: req(lit("session.update")),
    event_id: eventId,
  }),
  "session.input_audio.append": obj<InputAudioAppendEvent>({
    audio: req(str),
    type: req(lit("session.input_audio.append")),
    event_id: eventId,
  }),
  "session.input_audio.mute": obj<InputAudioMuteEvent>({
    type: req(lit("session.input_audio.mute")),
    event_id: eventId,
  }),
  "session.input_audio.unmute": obj<InputAudioUnmuteEvent>({
    type: req(lit("session.input_audio.unmute")),
    event_id: eventId,
  }),
  "session.output_audio.fixture.play": obj<OutputAudioFixturePlayEvent>({
    audio: req(str),
    type: req(lit("session.output_audio.fixture.play")),
    event_id: eventId,
  }),
  "session.instructions.append": append<InstructionsAppendEvent>(
    "session.instructions.append",
  ),
  "session.thinking.append": append<ThinkingAppendEvent>(
    "session.thinking.append",
  ),
  "session.commentary.append": append<CommentaryAppendEvent>(
    "session.commentary.append",
  ),
  "response.item.create": obj<ResponseItemCreateEvent>({
    item: req(responseInputItem),
    type: req(lit("response.item.create")),
    event_id: eventId,
  }),
  "response.create": obj<ResponseCreateEvent>({
    type: req(lit("response.create")),
    event_id: eventId,
  }),
  "session.close": obj<SessionCloseEvent>({
    type: req(lit("session.close")),
    event_id: eventId,
  }),
} satisfies Record<ModelledEventType, Schema>;

export function isClientEventType(type: string): type is ClientEventType {
  return (CLIENT_EVENT_TYPES as readonly string[]).includes(type);
}
