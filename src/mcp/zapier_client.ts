/**
 * The server's own client for Zapier's MCP server (Streamable HTTP, bearer
 * password), for voice engines that cannot call a remote MCP server
 * themselves (GPT-Live). One MCP session per ToolSource, opened on first use,
 * shared by every call and renewed once when the server has forgotten it.
 */
// The SDK's `exports` map sends `*.js` subpaths to `*.js.d.ts` types, which do
// not exist, so Deno would type them as `any`: the extensionless specifier
// names the real declarations.
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  CallToolResultSchema,
  ErrorCode,
  McpError,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { abortable, Deadline, within } from "../http/deadline.ts";
import type { Logger } from "../log.ts";
import { requestScopedFetch } from "./request_scoped_fetch.ts";
import {
  boundOutput,
  MAX_OUTPUT_CHARS,
  toolResultText,
} from "./tool_output.ts";
import {
  type FunctionToolDefinition,
  type ListErrorType,
  type ToolCallOptions,
  type ToolErrorType,
  ToolListError,
  type ToolResult,
  type ToolSource,
} from "./tool_source.ts";

export interface ZapierToolSourceOptions {
  /** The server's Streamable HTTP endpoint (`ZAPIER_MCP_URL`). */
  url: string;
  /** Sent as `Authorization: Bearer …`; never logged. */
  password: string;
  /** Tool names the model may see and call; every tool when absent. */
  allowedTools?: readonly string[];
  /** Bound on one listing or one tool call, connecting included. */
  timeoutMs?: number;
  logger: Logger;
  /** How long a successful listing is reused. */
  cacheMs?: number;
  /** Bound on the text handed back to the model. */
  maxOutputChars?: number;
}

export const DEFAULT_TIMEOUT_MS = 20_000;
export const DEFAULT_CACHE_MS = 5 * 60_000;
/** A runaway cursor must not keep a call setup waiting. */
const MAX_LIST_PAGES = 20;
/** How long close() waits for the server to end the session. */
const CLOSE_GRACE_MS = 1_000;
/** What OpenAI accepts as a function name; other tools are not offered. */
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const CLIENT_INFO = { name: "phone-assistant", version: "1.0.0" };

export function zapierToolSource(options: ZapierToolSourceOptions): ToolSource {
  return new McpToolSource(options);
}

interface Connection {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Settles when the MCP handshake has finished or failed. */
  ready: Promise<void>;
  /**
   * Stops the handshake (close() while connecting). Only before `ready`: the
   * SDK keeps listening to this signal, and a later abort would post a
   * cancellation of the long-finished `initialize`.
   */
  opening: AbortController;
  handshaking: boolean;
}

interface Failure {
  errorType: ListErrorType;
  message: string;
  status?: number;
}

class McpToolSource implements ToolSource {
  readonly #url: URL;
  readonly #password: string;
  readonly #allowed?: ReadonlySet<string>;
  readonly #timeoutMs: number;
  readonly #cacheMs: number;
  readonly #maxOutputChars: number;
  readonly #logger: Logger;

  #connection?: Connection;
  /** The last successful listing; its names are the ones that may be called. */
  #listing?: {
    at: number;
    tools: FunctionToolDefinition[];
    names: Set<string>;
  };
  #listingInFlight?: Promise<FunctionToolDefinition[]>;
  #closed = false;

  constructor(options: ZapierToolSourceOptions) {
    this.#url = new URL(options.url);
    this.#password = options.password;
    this.#allowed = options.allowedTools
      ? new Set(options.allowedTools)
      : undefined;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#cacheMs = options.cacheMs ?? DEFAULT_CACHE_MS;
    this.#maxOutputChars = options.maxOutputChars ?? MAX_OUTPUT_CHARS;
    this.#logger = options.logger;
  }

  async list(): Promise<FunctionToolDefinition[]> {
    if (this.#closed) {
      throw new ToolListError("the tool source is closed", "protocol_error");
    }
    const listing = this.#listing;
    if (listing && Date.now() - listing.at < this.#cacheMs) {
      return [...listing.tools];
    }
    // Calls starting together share one listing.
    this.#listingInFlight ??= this.#fetchListing().finally(() => {
      this.#listingInFlight = undefined;
    });
    return [...await this.#listingInFlight];
  }

  async #fetchListing(): Promise<FunctionToolDefinition[]> {
    const started = performance.now();
    const deadline = new Deadline(this.#timeoutMs);
    try {
      const tools = await this.#withSession(
        deadline.signal,
        (client) => listAll(client, deadline.signal, this.#timeoutMs),
      );
      const offered = this.#definitions(tools);
      this.#listing = {
        at: Date.now(),
        tools: offered,
        names: new Set(offered.map((t) => t.name)),
      };
      this.#logger.log("info", "mcp.tools_listed", {
        tools: tools.length,
        offered: offered.length,
        durationMs: elapsed(started),
      });
      return offered;
    } catch (error) {
      const failure = describe(error, deadline, this.#timeoutMs);
      this.#logger.log("warn", "mcp.tools_list_failed", {
        errorType: failure.errorType,
        status: failure.status,
        durationMs: elapsed(started),
      });
      throw new ToolListError(
        `Listing Zapier's tools failed: ${failure.message}`,
        failure.errorType,
        failure.status,
      );
    } finally {
      deadline.clear();
    }
  }

  #definitions(tools: Tool[]): FunctionToolDefinition[] {
    const seen = new Set<string>();
    const definitions: FunctionToolDefinition[] = [];
    for (const tool of tools) {
      if (seen.has(tool.name)) continue;
      seen.add(tool.name);
      if (this.#allowed && !this.#allowed.has(tool.name)) continue;
      if (!FUNCTION_NAME.test(tool.name)) {
        this.#logger.log("warn", "mcp.tool_skipped", {
          tool: tool.name.slice(0, 80),
          reason: "invalid_function_name",
        });
        continue;
      }
      definitions.push({
        type: "function",
        name: tool.name,
        description: tool.description ?? tool.title ?? tool.name,
        parameters: parameters(tool.inputSchema),
        strict: false,
      });
    }
    return definitions;
  }

  async call(
    name: string,
    args: unknown,
    options: ToolCallOptions = {},
  ): Promise<ToolResult> {
    const started = performance.now();
    const tool = name.slice(0, 64);
    const finish = (result: ToolResult): ToolResult => {
      this.#logger.log(result.ok ? "info" : "warn", "mcp.tool_call", {
        tool,
        durationMs: elapsed(started),
        ok: result.ok,
        errorType: result.ok ? undefined : result.errorType,
      });
      return result;
    };
    if (this.#closed) {
      return finish(failed("protocol_error", "The tool source is closed."));
    }
    const refusal = `There is no tool named ${JSON.stringify(tool)}.`;
    // Refused before any network: the model may only use what it was offered.
    if (this.#allowed && !this.#allowed.has(name)) {
      return finish(failed("protocol_error", refusal));
    }
    const input = toArguments(args);
    if (!input) {
      return finish(
        failed("protocol_error", "The arguments must be a JSON object."),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const deadline = new Deadline(timeoutMs, options.signal);
    try {
      // Normally listed at call setup; listed here only if it never was.
      if (!this.#listing) await abortable(this.list(), deadline.signal);
      if (!this.#listing?.names.has(name)) {
        return finish(failed("protocol_error", refusal));
      }
      const result = await this.#withSession(
        deadline.signal,
        // `request` rather than `callTool`: only the text is used, so the
        // SDK's output-schema check could only fail a good answer.
        (client) =>
          client.request(
            { method: "tools/call", params: { name, arguments: input } },
            CallToolResultSchema,
            { signal: deadline.signal, timeout: timeoutMs },
          ),
      );
      const text = boundOutput(toolResultText(result), this.#maxOutputChars);
      if (result.isError) {
        return finish(
          failed("tool_error", text || "The tool failed without a message."),
        );
      }
      return finish({ ok: true, output: text });
    } catch (error) {
      if (error instanceof ToolListError) {
        return finish(failed(error.errorType, error.message));
      }
      const failure = describe(error, deadline, timeoutMs);
      return finish(failed(failure.errorType, failure.message));
    } finally {
      deadline.clear();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return;
    if (connection.handshaking) connection.opening.abort();
    try {
      await connection.ready;
    } catch {
      return; // The SDK closes a connection whose handshake failed.
    }
    // The spec asks clients to end their session (HTTP DELETE); bounded, as
    // a server that does not answer must not hold up a shutdown.
    await within(
      connection.transport.terminateSession().catch(() => {}),
      CLOSE_GRACE_MS,
    );
    await connection.client.close();
  }

  /**
   * Runs `op` on the shared session. After a transport failure the session
   * is dropped (the next use opens a new one); when the server said it no
   * longer knows the session (HTTP 404, per the spec), `op` runs once more on
   * a new one.
   */
  async #withSession<T>(
    signal: AbortSignal,
    op: (client: Client) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1;; attempt++) {
      const connection = await abortable(this.#connect(), signal);
      try {
        return await op(connection.client);
      } catch (error) {
        if (!isTransportFailure(error)) throw error;
        await this.#drop(connection);
        if (attempt > 1 || !isSessionGone(error) || signal.aborted) throw error;
        this.#logger.log("info", "mcp.session_renewed");
      }
    }
  }

  /** The shared connection, opening it if needed; rejects if the handshake fails. */
  async #connect(): Promise<Connection> {
    // An operation that was waiting when close() ran must not reopen.
    if (this.#closed) {
      throw new McpError(ErrorCode.ConnectionClosed, "tool source closed");
    }
    let connection = this.#connection;
    if (!connection) {
      connection = this.#open();
      this.#connection = connection;
    }
    await connection.ready;
    return connection;
  }

  #open(): Connection {
    const transport = new StreamableHTTPClientTransport(this.#url, {
      requestInit: { headers: { Authorization: `Bearer ${this.#password}` } },
      fetch: requestScopedFetch(),
    });
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    const opening = new AbortController();
    const connection: Connection = {
      client,
      transport,
      opening,
      handshaking: true,
      // Not bound to one caller's deadline: later callers may still use it.
      ready: client.connect(transport, {
        timeout: this.#timeoutMs,
        signal: opening.signal,
      }),
    };
    connection.ready.then(() => {
      connection.handshaking = false;
    }, () => {
      connection.handshaking = false;
      if (this.#connection === connection) this.#connection = undefined;
    });
    return connection;
  }

  async #drop(connection: Connection): Promise<void> {
    if (this.#connection === connection) this.#connection = undefined;
    await connection.client.close();
  }
}

async function listAll(
  client: Client,
  signal: AbortSignal,
  timeout: number,
): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const result = await client.listTools(cursor ? { cursor } : undefined, {
      signal,
      timeout,
    });
    tools.push(...result.tools);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return tools;
}

/** A tool's input schema as function parameters. */
function parameters(schema: Tool["inputSchema"]): Record<string, unknown> {
  // `$schema` is not a parameter keyword and some validators refuse it; an
  // object schema without `properties` is refused by some OpenAI endpoints.
  const { $schema: _dialect, ...rest } = schema;
  return { ...rest, properties: rest.properties ?? {} };
}

/** The arguments object, from an object or the model's JSON text. */
function toArguments(args: unknown): Record<string, unknown> | undefined {
  let value = args;
  if (typeof value === "string") {
    if (value.trim() === "") return {};
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

function failed(errorType: ToolErrorType, error: string): ToolResult {
  return { ok: false, errorType, error };
}

/** Errors that say the connection, not the request, is broken. */
function isTransportFailure(error: unknown): boolean {
  return error instanceof StreamableHTTPError ||
    error instanceof TypeError || // fetch: refused, reset, DNS
    (error instanceof McpError && error.code === ErrorCode.ConnectionClosed);
}

function isSessionGone(error: unknown): boolean {
  return error instanceof StreamableHTTPError && error.code === 404;
}

/**
 * A safe, short description of a failure: our own words and the HTTP status,
 * never the server's body (it could echo a header) or the password.
 */
function describe(
  error: unknown,
  deadline: Deadline,
  timeoutMs: number,
): Failure {
  if (deadline.timedOut) {
    return {
      errorType: "timeout",
      message: `Zapier did not answer within ${timeoutMs} ms.`,
    };
  }
  if (deadline.cancelled) {
    return { errorType: "timeout", message: "The request was cancelled." };
  }
  if (error instanceof McpError) {
    if (error.code === ErrorCode.RequestTimeout) {
      return {
        errorType: "timeout",
        message: `Zapier did not answer within ${timeoutMs} ms.`,
      };
    }
    if (error.code === ErrorCode.ConnectionClosed) {
      return {
        errorType: "http_error",
        message: "The connection to Zapier closed.",
      };
    }
    return {
      errorType: "protocol_error",
      message: `Zapier refused the request: ${error.message.slice(0, 300)}`,
    };
  }
  if (error instanceof StreamableHTTPError) {
    const status = error.code;
    if (status === 401 || status === 403) {
      return {
        errorType: "http_error",
        status,
        message:
          `Zapier refused the password (HTTP ${status}); check ZAPIER_MCP_PASSWORD.`,
      };
    }
    if (status !== undefined && status > 0) {
      return {
        errorType: "http_error",
        status,
        message: `Zapier answered HTTP ${status}.`,
      };
    }
    return {
      errorType: "protocol_error",
      message: "Zapier sent an answer that is not MCP.",
    };
  }
  if (error instanceof TypeError) {
    return { errorType: "http_error", message: "Zapier could not be reached." };
  }
  return {
    errorType: "protocol_error",
    message: "Zapier sent an answer that is not MCP.",
  };
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
