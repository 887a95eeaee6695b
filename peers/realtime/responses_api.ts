/**
 * A stand-in for OpenAI's Responses API (`POST /v1/responses`) on the
 * simulator's host, for the call summaries: non-streaming requests checked
 * as the API checks them (bearer key, known fields only, a known model,
 * Structured Outputs schemas that are strict), answered with a `Response`
 * held to the openai package's types. A test scripts the model's text and
 * can make the endpoint fail a number of times, or answer slowly.
 *
 * @module
 */
import type {
  Response as OpenAIResponse,
  ResponseCreateParamsNonStreaming,
  ResponseUsage,
} from "openai/resources/responses/responses";
import { missingParameterResponse } from "../common.ts";
import { httpError, isObject, newId, sleep } from "./common.ts";
import { modelNotFound } from "./models.ts";

/** The wire `Response`: `output_text` is computed by the SDK, never sent. */
export type ResponseBody = Omit<OpenAIResponse, "output_text">;

export interface ResponsesApiOptions {
  /** The first N requests are answered 500 `server_error`. */
  failTimes?: number;
  /** Every request waits this long before its answer (a slow API). */
  delayMs?: number;
  /** The model's output text for a request (default: a summary naming the input). */
  reply?: (request: ResponseCreateParamsNonStreaming) => string;
  /** Models the endpoint serves (default gpt-5.4-mini, gpt-5.4, gpt-5.4-nano). */
  models?: string[];
}

/** The fields of `ResponseCreateParamsBase` (openai-node): any other is refused. */
const KNOWN_FIELDS = new Set([
  "access_programs",
  "background",
  "background_options",
  "context_management",
  "conversation",
  "image",
  "include",
  "input",
  "instructions",
  "max_output_tokens",
  "max_tool_calls",
  "metadata",
  "model",
  "moderation",
  "parallel_tool_calls",
  "previous_response_id",
  "prompt",
  "prompt_cache_key",
  "prompt_cache_options",
  "prompt_cache_retention",
  "reasoning",
  "safety_identifier",
  "service_tier",
  "store",
  "stream",
  "stream_options",
  "temperature",
  "text",
  "tool_choice",
  "tools",
  "top_logprobs",
  "top_p",
  "truncation",
  "user",
]);

const DEFAULT_MODELS = ["gpt-5.4-mini", "gpt-5.4", "gpt-5.4-nano"];
/** Snapshots the aliases resolve to, as the API reports `model`. */
const SNAPSHOT = "2026-03-17";

/** Tokens as the stand-in counts them: about 4 characters each. */
function tokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function inputText(request: ResponseCreateParamsNonStreaming): string {
  const input = request.input;
  if (typeof input === "string") return input;
  return JSON.stringify(input ?? "");
}

export class ResponsesApi {
  /** Every well-formed request, in order (failed ones too). */
  readonly requests: ResponseCreateParamsNonStreaming[] = [];
  /** Every successful answer, in order. */
  readonly responses: ResponseBody[] = [];
  /** Requests answered with an error on purpose (`failTimes`). */
  failures = 0;
  readonly #options: ResponsesApiOptions;

  constructor(options: ResponsesApiOptions = {}) {
    this.#options = options;
  }

  /** Answers one request whose bearer key the server has checked. */
  async handle(request: Request, closing: AbortSignal): Promise<Response> {
    if (request.method !== "POST") {
      return httpError(
        405,
        "Method not allowed.",
        "invalid_request_error",
        null,
      );
    }
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return httpError(
        400,
        "We could not parse the JSON body of your request.",
        "invalid_request_error",
        null,
      );
    }
    if (!isObject(body)) {
      return httpError(
        400,
        "The body must be a JSON object.",
        "invalid_request_error",
        null,
      );
    }
    for (const key of Object.keys(body)) {
      if (!KNOWN_FIELDS.has(key)) {
        return httpError(
          400,
          `Unknown parameter: '${key}'.`,
          "invalid_request_error",
          "unknown_parameter",
          key,
        );
      }
    }
    if (body.stream === true) {
      return httpError(
        400,
        "The simulator answers non-streaming requests only.",
        "invalid_request_error",
        "unsupported_value",
        "stream",
      );
    }
    const model = body.model;
    if (typeof model !== "string") {
      return missingParameterResponse("model");
    }
    if (!(this.#options.models ?? DEFAULT_MODELS).includes(model)) {
      return modelNotFound(model, "model");
    }
    const schemaProblem = strictSchemaProblem(body.text);
    if (schemaProblem) {
      return httpError(
        400,
        schemaProblem,
        "invalid_request_error",
        "invalid_json_schema",
        "text.format.schema",
      );
    }
    // The checks above made it a request of this shape.
    const params = body as unknown as ResponseCreateParamsNonStreaming;
    this.requests.push(params);
    // Only the simulator closing cuts the wait short: a client that gave up
    // is simply not there for the answer, as with the real API.
    if (this.#options.delayMs) await sleep(this.#options.delayMs, closing);
    if (closing.aborted) {
      return httpError(503, "Shutting down.", "server_error", null);
    }
    if (this.failures < (this.#options.failTimes ?? 0)) {
      this.failures++;
      return httpError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        null,
      );
    }
    const answer = this.#answer(params, model);
    this.responses.push(answer);
    return Response.json(answer);
  }

  #answer(
    params: ResponseCreateParamsNonStreaming,
    model: string,
  ): ResponseBody {
    const text = (this.#options.reply ?? defaultReply)(params);
    const input = tokens(`${params.instructions ?? ""}${inputText(params)}`);
    const reasoning = 16;
    const usage: ResponseUsage = {
      input_tokens: input,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: tokens(text) + reasoning,
      output_tokens_details: { reasoning_tokens: reasoning },
      total_tokens: input + tokens(text) + reasoning,
    };
    const created = Math.floor(Date.now() / 1000);
    return {
      id: newId("resp"),
      object: "response",
      created_at: created,
      completed_at: created,
      status: "completed",
      access_programs: null,
      error: null,
      incomplete_details: null,
      instructions: params.instructions ?? null,
      metadata: params.metadata ?? {},
      model: `${model}-${SNAPSHOT}`,
      output: [
        {
          id: newId("rs"),
          type: "reasoning",
          summary: [],
        },
        {
          id: newId("msg"),
          type: "message",
          role: "assistant",
          status: "completed",
          content: [{ type: "output_text", text, annotations: [] }],
        },
      ],
      parallel_tool_calls: true,
      temperature: 1,
      tool_choice: "auto",
      tools: [],
      top_p: 1,
      max_output_tokens: params.max_output_tokens ?? null,
      text: params.text,
      usage,
    };
  }
}

/** A summary-shaped answer that names what it was given. */
function defaultReply(request: ResponseCreateParamsNonStreaming): string {
  const first =
    inputText(request).split("\n").find((line) => line.startsWith("Owner:")) ??
      "the call";
  return JSON.stringify({
    summary: `The owner called. ${first.slice(0, 120)}`,
    open_loops: [],
    todos: [],
  });
}

/**
 * Structured Outputs with `strict: true` take a subset of JSON Schema: every
 * object lists all its properties in `required` and sets
 * `additionalProperties: false`. The API refuses any other schema.
 */
function strictSchemaProblem(text: unknown): string | undefined {
  if (!isObject(text) || !isObject(text.format)) return undefined;
  const format = text.format;
  if (format.type !== "json_schema") return undefined;
  const name = typeof format.name === "string" ? format.name : "";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    return "Invalid 'text.format.name': a string of letters, digits, '_' and '-' (at most 64).";
  }
  if (!isObject(format.schema)) {
    return "Missing required parameter: 'text.format.schema'.";
  }
  if (format.strict !== true) return undefined;
  const problem = (schema: unknown, path: string): string | undefined => {
    if (!isObject(schema)) return undefined;
    if (schema.type === "object") {
      const properties = isObject(schema.properties) ? schema.properties : {};
      if (schema.additionalProperties !== false) {
        return `Invalid schema for response_format '${name}': In context=(${path}), 'additionalProperties' is required to be supplied and to be false.`;
      }
      const required = Array.isArray(schema.required) ? schema.required : [];
      const missing = Object.keys(properties).filter((key) =>
        !required.includes(key)
      );
      if (missing.length > 0) {
        return `Invalid schema for response_format '${name}': In context=(${path}), 'required' is required to be supplied and to be an array including every key in properties. Missing '${
          missing[0]
        }'.`;
      }
      for (const [key, value] of Object.entries(properties)) {
        const inner = problem(value, path ? `${path}, '${key}'` : `'${key}'`);
        if (inner) return inner;
      }
    }
    if (schema.type === "array") return problem(schema.items, `${path}, items`);
    return undefined;
  };
  return problem(format.schema, "");
}
