import assert from "node:assert/strict";
import { ToolListError, type ToolSource } from "../src/mcp/tool_source.ts";
import { zapierToolSource } from "../src/mcp/zapier_client.ts";
import {
  HUGE_EMAIL_CHARS,
  MCP_TOKEN,
  type McpTestServer,
  type McpTestServerOptions,
  startMcpServer,
} from "../peers/mcp_server.ts";
import { memoryLogger } from "./helpers/logs.ts";

type Options = Partial<Parameters<typeof zapierToolSource>[0]>;

/** A server and a source on it, both closed after `body`, whatever happens. */
async function withSource(
  body: (
    source: ToolSource,
    server: McpTestServer,
    logs: ReturnType<typeof memoryLogger>,
  ) => Promise<void>,
  options: Options = {},
  serverOptions: McpTestServerOptions = {},
): Promise<void> {
  const server = startMcpServer(serverOptions);
  // No secrets handed to the logger: a leak must show, not be scrubbed.
  const logs = memoryLogger();
  const source = zapierToolSource({
    url: server.url,
    password: MCP_TOKEN,
    logger: logs,
    ...options,
  });
  try {
    await body(source, server, logs);
  } finally {
    await source.close();
    await server.close();
  }
}

function count(methods: readonly string[], method: string): number {
  return methods.filter((m) => m === method).length;
}

Deno.test("list offers every server tool as a function tool and reuses the listing within cacheMs", async () => {
  await withSource(async (source, server, logs) => {
    const tools = await source.list();
    assert.deepEqual(tools.map((t) => t.name), [
      "todoist_find_tasks",
      "gmail_send_email",
      "gmail_find_email",
      "zapier_failing_action",
      "slow_action",
    ]);
    assert.deepEqual(tools[0], {
      type: "function",
      name: "todoist_find_tasks",
      description: "Finds open tasks in Todoist.",
      parameters: {
        type: "object",
        properties: {
          query: { type: "string", description: "Words the task contains" },
        },
      },
      strict: false,
    });
    // `$schema` is dropped; a schema without properties gets empty ones.
    assert.equal("$schema" in tools[1].parameters, false);
    assert.deepEqual(tools[3].parameters, { type: "object", properties: {} });

    const requests = server.httpRequests;
    assert.deepEqual(
      (await source.list()).map((t) => t.name),
      tools.map((t) => t.name),
    );
    assert.equal(server.httpRequests, requests, "cached: no request");
    assert.equal(count(server.methods, "tools/list"), 1);
    assert.equal(count(server.methods, "initialize"), 1);
    // The standalone GET stream is not opened (answered 405 locally).
    assert.equal(server.httpMethods.includes("GET"), false);
    const listed = logs.events().find((e) => e.event === "mcp.tools_listed");
    assert.equal(listed?.tools, 5);
    assert.equal(listed?.offered, 5);
  });
});

Deno.test("list asks again once cacheMs has passed, on the same session", async () => {
  await withSource(async (source, server) => {
    await source.list();
    await source.list();
    assert.equal(count(server.methods, "tools/list"), 2);
    assert.equal(count(server.methods, "initialize"), 1);
  }, { cacheMs: 0 });
});

Deno.test("concurrent lists share one request", async () => {
  await withSource(async (source, server) => {
    const [a, b] = await Promise.all([source.list(), source.list()]);
    assert.deepEqual(a, b);
    assert.equal(count(server.methods, "tools/list"), 1);
  });
});

Deno.test("allowedTools filters the listing", async () => {
  await withSource(async (source) => {
    const tools = await source.list();
    assert.deepEqual(tools.map((t) => t.name), [
      "todoist_find_tasks",
      "gmail_send_email",
    ]);
  }, {
    allowedTools: ["gmail_send_email", "todoist_find_tasks", "not_on_server"],
  });
});

Deno.test("call runs a tool on the one session and returns its text", async () => {
  await withSource(async (source, server, logs) => {
    await source.list();
    // The model's JSON text and an object both work as arguments.
    const found = await source.call("todoist_find_tasks", '{"query":"milk"}');
    assert.deepEqual(found, {
      ok: true,
      output:
        'Tasks matching "milk":\n- Buy milk (due today)\n- Call the dentist',
    });
    const sent = await source.call("gmail_send_email", {
      to: "me@example.com",
      subject: "Hi",
      body: "Hello",
    });
    assert.deepEqual(sent, {
      ok: true,
      output: "Email sent to me@example.com.",
    });
    assert.equal(count(server.methods, "initialize"), 1);
    assert.equal(count(server.methods, "tools/call"), 2);

    const calls = logs.events().filter((e) => e.event === "mcp.tool_call");
    assert.equal(calls.length, 2);
    assert.equal(calls[0].tool, "todoist_find_tasks");
    assert.equal(calls[0].ok, true);
    assert.equal(typeof calls[0].durationMs, "number");
    assert.equal(logs.lines.join("\n").includes(MCP_TOKEN), false);
    assert.equal(logs.lines.join("\n").includes("milk"), false, "no payloads");
  });
});

Deno.test("call lists first when nothing was listed yet", async () => {
  await withSource(async (source, server) => {
    const result = await source.call("gmail_send_email", {
      to: "a@b.c",
      subject: "s",
      body: "b",
    });
    assert.equal(result.ok, true);
    assert.deepEqual(server.methods.filter((m) => m.startsWith("tools/")), [
      "tools/list",
      "tools/call",
    ]);
  });
});

Deno.test("call works with a server that answers JSON instead of SSE", async () => {
  await withSource(
    async (source) => {
      assert.equal((await source.list()).length, 5);
      const result = await source.call("todoist_find_tasks", {});
      assert.equal(result.ok, true);
    },
    {},
    { jsonResponse: true },
  );
});

Deno.test("an isError result is a tool_error carrying the tool's text", async () => {
  await withSource(async (source, _server, logs) => {
    const result = await source.call("zapier_failing_action", {});
    assert.deepEqual(result, {
      ok: false,
      errorType: "tool_error",
      error: "Zapier: the Todoist account is disconnected.",
    });
    const logged = logs.events().find((e) => e.event === "mcp.tool_call");
    assert.equal(logged?.ok, false);
    assert.equal(logged?.errorType, "tool_error");
  });
});

Deno.test("a slow tool times out, and its request is cancelled on the server", async () => {
  await withSource(async (source, server) => {
    await source.list();
    const started = performance.now();
    const result = await source.call("slow_action", {}, { timeoutMs: 150 });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.errorType, "timeout");
    assert.ok(performance.now() - started < 1_000);
    // The server was told (its handler aborted) and the request's response
    // stream was dropped on both ends, before any close().
    await server.until(() =>
      server.slowCancelled === 1 && server.openResponses === 0
    );
    // The session is still good.
    const after = await source.call("todoist_find_tasks", {});
    assert.equal(after.ok, true);
    assert.equal(count(server.methods, "initialize"), 1);
  });
});

Deno.test("the caller's signal cancels a call", async () => {
  await withSource(async (source, server) => {
    await source.list();
    const controller = new AbortController();
    const pending = source.call("slow_action", {}, {
      signal: controller.signal,
    });
    await server.until(() => count(server.methods, "tools/call") === 1);
    controller.abort();
    const result = await pending;
    assert.deepEqual(result, {
      ok: false,
      errorType: "timeout",
      error: "The request was cancelled.",
    });
    await server.until(() =>
      server.slowCancelled === 1 && server.openResponses === 0
    );
  });
});

Deno.test("a wrong password fails the listing cleanly, without the password in logs", async () => {
  const server = startMcpServer();
  const logs = memoryLogger();
  const password = "wrong-key-5b1e88d0";
  const source = zapierToolSource({ url: server.url, password, logger: logs });
  try {
    await assert.rejects(source.list(), (error) => {
      assert.ok(error instanceof ToolListError);
      assert.equal(error.errorType, "http_error");
      assert.equal(error.status, 401);
      assert.match(error.message, /refused the password \(HTTP 401\)/);
      assert.equal(error.message.includes(password), false);
      return true;
    });
    const result = await source.call("todoist_find_tasks", {});
    assert.equal(!result.ok && result.errorType, "http_error");
    const failed = logs.events().find((e) =>
      e.event === "mcp.tools_list_failed"
    );
    assert.equal(failed?.status, 401);
    assert.equal(failed?.errorType, "http_error");
    assert.equal(logs.lines.join("\n").includes(password), false);
    assert.equal(server.methods.length, 0, "nothing got past the 401");
  } finally {
    await source.close();
    await server.close();
  }
});

Deno.test("a server that is down fails listing and calls with http_error", async () => {
  const server = startMcpServer();
  await server.close();
  const logs = memoryLogger();
  const source = zapierToolSource({
    url: server.url,
    password: MCP_TOKEN,
    logger: logs,
  });
  try {
    await assert.rejects(source.list(), (error) => {
      assert.ok(error instanceof ToolListError);
      assert.equal(error.errorType, "http_error");
      assert.equal(error.status, undefined);
      assert.match(error.message, /could not be reached/);
      return true;
    });
    const result = await source.call("todoist_find_tasks", {});
    assert.deepEqual(result, {
      ok: false,
      errorType: "http_error",
      error: "Listing Zapier's tools failed: Zapier could not be reached.",
    });
  } finally {
    await source.close();
  }
});

Deno.test("a name outside the allowed list is refused without contacting the server", async () => {
  await withSource(async (source, server, logs) => {
    const result = await source.call("gmail_send_email", {});
    assert.deepEqual(result, {
      ok: false,
      errorType: "protocol_error",
      error: 'There is no tool named "gmail_send_email".',
    });
    assert.equal(server.httpRequests, 0);
    const logged = logs.events().find((e) => e.event === "mcp.tool_call");
    assert.equal(logged?.errorType, "protocol_error");
  }, { allowedTools: ["todoist_find_tasks"] });
});

Deno.test("a name the server did not list is refused without a tools/call", async () => {
  await withSource(async (source, server) => {
    await source.list();
    const result = await source.call("made_up_tool", {});
    assert.equal(!result.ok && result.errorType, "protocol_error");
    assert.equal(count(server.methods, "tools/call"), 0);
  });
});

Deno.test("arguments that are not a JSON object are refused", async () => {
  await withSource(async (source, server) => {
    await source.list();
    for (const args of ["{not json", "[1,2]", 42]) {
      const result = await source.call("todoist_find_tasks", args);
      assert.equal(!result.ok && result.errorType, "protocol_error");
    }
    assert.equal(count(server.methods, "tools/call"), 0);
  });
});

Deno.test("a session the server forgot is renewed once, transparently", async () => {
  await withSource(async (source, server, logs) => {
    await source.list();
    await server.forgetSessions();
    const result = await source.call("todoist_find_tasks", {});
    assert.equal(result.ok, true);
    assert.equal(count(server.methods, "initialize"), 2);
    assert.ok(logs.events().some((e) => e.event === "mcp.session_renewed"));
  });
});

Deno.test("a huge output is cut to maxOutputChars with a note", async () => {
  await withSource(async (source) => {
    const result = await source.call("gmail_find_email", {});
    assert.ok(result.ok);
    assert.ok(result.output.startsWith("x".repeat(8_000) + "\n[truncated:"));
    assert.match(
      result.output,
      new RegExp(`returned ${HUGE_EMAIL_CHARS} characters`),
    );
    assert.ok(result.output.length < 8_200);
  });
});

Deno.test("close ends the session on the server; later use fails without network", async () => {
  await withSource(async (source, server) => {
    await source.list();
    assert.equal(server.sessions, 1);
    await source.close();
    assert.equal(server.sessions, 0);
    assert.equal(server.httpMethods.at(-1), "DELETE");
    const requests = server.httpRequests;
    const result = await source.call("todoist_find_tasks", {});
    assert.equal(!result.ok && result.errorType, "protocol_error");
    await assert.rejects(source.list(), ToolListError);
    assert.equal(server.httpRequests, requests);
  });
});
