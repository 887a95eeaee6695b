/**
 * What a voice engine needs from a set of remote tools: their definitions, to
 * offer to the model, and a way to run one. GPT-Live cannot reach a remote MCP
 * server itself, so the server does it (see zapier_client.ts).
 */

/**
 * A function tool offered to a model, in the Responses API / GPT-Live
 * `delegation.responses.tools` shape.
 */
export interface FunctionToolDefinition {
  type: "function";
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
  /**
   * Strict mode requires every property to be required and
   * `additionalProperties: false`; Zapier's schemas have optional fields, so
   * the sources here send `false` (the Responses API's default is `true`).
   */
  strict?: boolean;
}

export type ToolErrorType =
  | "timeout"
  | "tool_error"
  | "protocol_error"
  | "http_error";

export type ToolResult =
  | { ok: true; output: string }
  | { ok: false; error: string; errorType: ToolErrorType };

/** Why listing failed; `tool_error` cannot happen while listing. */
export type ListErrorType = Exclude<ToolErrorType, "tool_error">;

/**
 * `ToolSource.list()` rejects with this, so a caller can tell "the server has
 * no tools for us" (an empty array) from "we could not ask". The message is
 * safe to log and show: it never holds the password or the server's body.
 */
export class ToolListError extends Error {
  override readonly name = "ToolListError";
  constructor(
    message: string,
    readonly errorType: ListErrorType,
    /** The HTTP status, when the server answered one (401 = wrong password). */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ToolCallOptions {
  /** Overrides the source's default timeout for this call. */
  timeoutMs?: number;
  /** Cancels the call (e.g. the phone call ended); the result is then a `timeout`. */
  signal?: AbortSignal;
}

export interface ToolSource {
  /**
   * The server's tools as function tools, filtered by the allowed list. A
   * successful listing is reused for `cacheMs` so a call setup rarely waits.
   * Rejects with a `ToolListError` when listing fails (failures are not cached).
   */
  list(): Promise<FunctionToolDefinition[]>;
  /**
   * Runs one tool with a timeout. Never throws: the result or the error is
   * what the model gets as the function output. A name outside the allowed
   * list (or the last listing) is refused without contacting the server.
   * `args` is the arguments object, or the model's JSON string of it.
   */
  call(
    name: string,
    args: unknown,
    options?: ToolCallOptions,
  ): Promise<ToolResult>;
  /** Ends the session with the server; later calls fail without network. */
  close(): Promise<void>;
}
