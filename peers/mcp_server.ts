/**
 * A real MCP server for tests, standing in for Zapier's: the official SDK's
 * `Server` behind its web-standard Streamable HTTP transport, served by
 * `Deno.serve` on 127.0.0.1. It requires `Authorization: Bearer <token>`
 * (401 otherwise), keeps one MCP session per `initialize`, answers 404 for a
 * session it does not know, and offers Zapier-like tools:
 *
 * - `todoist_find_tasks {query?}`: a short task list
 * - `gmail_send_email {to, subject, body}`: "sent"
 * - `gmail_find_email {query?}`: a 50,000-character answer
 * - `zapier_failing_action {}`: an `isError` result
 * - `slow_action {}`: answers after `slowMs`, unless cancelled
 *
 * The low-level `Server` rather than `McpServer`: McpServer takes zod schemas
 * (zod is not in the import map), while Zapier serves plain JSON Schema, as
 * this does.
 */
// The SDK's `exports` map gives `*.js` subpaths non-existent `*.js.d.ts`
// types: the extensionless specifiers name the real declarations.
// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";

export const MCP_TOKEN = "zapier-test-key-7f3a9c";
export const HUGE_EMAIL_CHARS = 50_000;

export interface McpTestServerOptions {
  token?: string;
  /** Answer requests with one JSON body instead of an SSE stream. */
  jsonResponse?: boolean;
  slowMs?: number;
}

export interface McpTestServer {
  url: string;
  /** Every HTTP request that arrived, authorised or not. */
  readonly httpRequests: number;
  /** JSON-RPC methods of the authorised POSTs, in order. */
  readonly methods: readonly string[];
  /** HTTP methods of the authorised requests, in order. */
  readonly httpMethods: readonly string[];
  /** Sessions the server still knows. */
  readonly sessions: number;
  /** `slow_action` runs that ended because the client cancelled them. */
  readonly slowCancelled: number;
  /** Response bodies not yet finished or cancelled. */
  readonly openResponses: number;
  /** Resolves once `predicate` holds (polled), or rejects after `ms`. */
  until(predicate: () => boolean, ms?: number): Promise<void>;
  /** Forgets every session, as a restarted server would. */
  forgetSessions(): Promise<void>;
  close(): Promise<void>;
}

const TOOLS: Tool[] = [
  {
    name: "todoist_find_tasks",
    description: "Finds open tasks in Todoist.",
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "Words the task contains" },
      },
    },
  },
  {
    name: "gmail_send_email",
    description: "Sends an email from Gmail.",
    inputSchema: {
      $schema: "http://json-schema.org/draft-07/schema#",
      type: "object",
      properties: {
        to: { type: "string" },
        subject: { type: "string" },
        body: { type: "string" },
      },
      required: ["to", "subject", "body"],
    },
  },
  {
    name: "gmail_find_email",
    description: "Finds emails in Gmail.",
    inputSchema: { type: "object", properties: { query: { type: "string" } } },
  },
  {
    name: "zapier_failing_action",
    description: "An action whose Zapier connection is broken.",
    inputSchema: { type: "object" },
  },
  {
    name: "slow_action",
    description: "An action that takes a long time.",
    inputSchema: { type: "object", properties: {} },
  },
];

export function startMcpServer(
  options: McpTestServerOptions = {},
): McpTestServer {
  const token = options.token ?? MCP_TOKEN;
  const slowMs = options.slowMs ?? 30_000;
  const sessions = new Map<
    string,
    { server: Server; transport: WebStandardStreamableHTTPServerTransport }
  >();
  const state = {
    httpRequests: 0,
    methods: [] as string[],
    httpMethods: [] as string[],
    slowCancelled: 0,
    openResponses: 0,
  };

  function mcpServer(): Server {
    const server = new Server({ name: "zapier-test", version: "1.0.0" }, {
      capabilities: { tools: {} },
    });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
    server.setRequestHandler(
      CallToolRequestSchema,
      async (request, extra): Promise<CallToolResult> => {
        const args = request.params.arguments ?? {};
        switch (request.params.name) {
          case "todoist_find_tasks":
            return text(
              `Tasks matching ${JSON.stringify(args.query ?? "")}:\n` +
                "- Buy milk (due today)\n- Call the dentist",
            );
          case "gmail_send_email":
            return text(`Email sent to ${String(args.to)}.`);
          case "gmail_find_email":
            return text("x".repeat(HUGE_EMAIL_CHARS));
          case "zapier_failing_action":
            return {
              isError: true,
              content: [{
                type: "text",
                text: "Zapier: the Todoist account is disconnected.",
              }],
            };
          case "slow_action":
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, slowMs);
              extra.signal.addEventListener("abort", () => {
                clearTimeout(timer);
                state.slowCancelled++;
                resolve();
              }, { once: true });
            });
            return text("Slow action done.");
          default:
            throw new Error(`Unknown tool ${request.params.name}`);
        }
      },
    );
    return server;
  }

  async function route(req: Request): Promise<Response> {
    state.httpRequests++;
    if (req.headers.get("authorization") !== `Bearer ${token}`) {
      return Response.json({ error: "invalid api key" }, {
        status: 401,
        headers: { "www-authenticate": "Bearer" },
      });
    }
    state.httpMethods.push(req.method);
    // Read here to count methods, then handed over as already parsed.
    let parsed: { parsedBody: unknown } | undefined;
    if (req.method === "POST") {
      parsed = { parsedBody: await req.json().catch(() => null) };
      state.methods.push(...rpcMethods(parsed.parsedBody));
    }
    const sessionId = req.headers.get("mcp-session-id");
    if (sessionId) {
      const session = sessions.get(sessionId);
      if (!session) {
        return Response.json({
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        }, { status: 404 });
      }
      return await session.transport.handleRequest(req, parsed);
    }
    // No session yet: this must be an `initialize`, which opens one.
    const server = mcpServer();
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      enableJsonResponse: options.jsonResponse ?? false,
      onsessioninitialized: (id) => {
        sessions.set(id, { server, transport });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    await server.connect(transport);
    const response = await transport.handleRequest(req, parsed);
    if (transport.sessionId === undefined) await server.close();
    return response;
  }

  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => counted(await route(req)),
  );

  /** Counts a response body as open until it is finished or cancelled. */
  function counted(response: Response): Response {
    if (!response.body) return response;
    state.openResponses++;
    let open = true;
    const done = () => {
      if (open) state.openResponses--;
      open = false;
    };
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        flush: done,
        cancel: done,
      }),
    );
    return new Response(body, {
      status: response.status,
      headers: response.headers,
    });
  }

  async function closeSessions(): Promise<void> {
    const all = [...sessions.values()];
    sessions.clear();
    for (const { server } of all) await server.close();
  }

  return {
    url: `http://127.0.0.1:${http.addr.port}/mcp`,
    get httpRequests() {
      return state.httpRequests;
    },
    get methods() {
      return state.methods;
    },
    get httpMethods() {
      return state.httpMethods;
    },
    get sessions() {
      return sessions.size;
    },
    get slowCancelled() {
      return state.slowCancelled;
    },
    get openResponses() {
      return state.openResponses;
    },
    until: (predicate, ms = 2_000) => until(predicate, ms),
    forgetSessions: closeSessions,
    async close() {
      await closeSessions();
      await http.shutdown();
    },
  };
}

function text(value: string): CallToolResult {
  return { content: [{ type: "text", text: value }] };
}

function rpcMethods(body: unknown): string[] {
  return (Array.isArray(body) ? body : [body]).flatMap((message) =>
    typeof message === "object" && message !== null &&
      "method" in message && typeof message.method === "string"
      ? [message.method]
      : []
  );
}

async function until(predicate: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
