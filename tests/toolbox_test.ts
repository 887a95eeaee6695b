import assert from "node:assert/strict";
import { endCall } from "../src/tools/end_call.ts";
import { type ServerTool, ToolBox } from "../src/tools/toolbox.ts";

const CALL = { callSid: "CA1" };

const echo: ServerTool = {
  definition: {
    type: "function",
    name: "echo",
    description: "Echo",
    parameters: {
      type: "object",
      properties: { text: { type: "string" } },
      required: ["text"],
    },
  },
  run: (args, call) => ({
    output: { ok: true, text: args.text, sid: call.callSid },
  }),
};

const slow: ServerTool = {
  definition: { ...echo.definition, name: "slow" },
  run: async () => {
    await Promise.resolve();
    throw new Error("store unavailable");
  },
};

Deno.test("ToolBox.definitions lists every tool's definition", () => {
  const box = new ToolBox([endCall, echo]);
  assert.deepEqual(box.definitions.map((d) => d.name), ["end_call", "echo"]);
  assert.ok(box.has("echo"));
  assert.ok(!box.has("remember"));
});

Deno.test("ToolBox.run() passes the parsed arguments and the call", () => {
  const box = new ToolBox([echo]);
  assert.deepEqual(box.run("echo", '{"text":"hi"}', CALL), {
    output: { ok: true, text: "hi", sid: "CA1" },
  });
});

Deno.test("ToolBox.run() answers an unknown tool, bad JSON or a non-object with an error output", () => {
  const box = new ToolBox([echo]);
  assert.deepEqual(box.run("nope", "{}", CALL), {
    output: { ok: false, error: "unknown tool nope" },
  });
  assert.deepEqual(box.run("echo", "{not json", CALL), {
    output: { ok: false, error: "arguments are not valid JSON" },
  });
  assert.deepEqual(box.run("echo", "[1]", CALL), {
    output: { ok: false, error: "arguments must be a JSON object" },
  });
});

Deno.test("ToolBox.run() turns a failing async handler into an error output", async () => {
  const box = new ToolBox([slow]);
  assert.deepEqual(await box.run("slow", "{}", CALL), {
    output: { ok: false, error: "store unavailable" },
  });
});

Deno.test("end_call hangs up, with empty arguments too", () => {
  const box = new ToolBox([endCall]);
  assert.deepEqual(box.run("end_call", "", CALL), {
    output: { ok: true },
    hangUp: true,
  });
});
