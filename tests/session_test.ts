/**
 * The model-dependent parts of the session: which model, reasoning only for
 * the models that take it, the transcription model, the MCP tool filter.
 */
import assert from "node:assert/strict";
import {
  END_CALL_TOOL,
  sessionConfig,
  type SessionSettings,
  supportsReasoning,
} from "../src/realtime/session.ts";
import { SESSION_SETTINGS, testConfig } from "./helpers/config.ts";

const NOW = new Date("2026-11-24T09:30:00Z");

const SETTINGS = SESSION_SETTINGS;

/** The session as it goes on the wire. */
function wire(settings: SessionSettings): Record<string, unknown> {
  return JSON.parse(JSON.stringify(sessionConfig(settings, NOW)));
}

Deno.test("sessionConfig() sends the resolved model of the configuration", () => {
  const config = testConfig({
    OPENAI_REALTIME_URL: "wss://api.openai.com/v1/realtime?model=gpt-realtime",
    OPENAI_REALTIME_MODEL: "gpt-realtime-2.1-mini",
  });
  assert.equal(wire(config).model, "gpt-realtime-2.1-mini");
  assert.equal(wire(testConfig()).model, "gpt-realtime-2.1");
});

Deno.test("sessionConfig() transcribes the caller with gpt-live-transcribe", () => {
  const session = sessionConfig(SETTINGS, NOW);
  assert.deepEqual(session.audio.input.transcription, {
    model: "gpt-live-transcribe",
  });
  assert.ok(!JSON.stringify(session).includes("gpt-4o-mini-transcribe"));
});

Deno.test("sessionConfig() sends reasoning.effort to the gpt-realtime-2 family only", () => {
  for (
    const model of [
      "gpt-realtime-2",
      "gpt-realtime-2.1",
      "gpt-realtime-2.1-mini",
      "gpt-realtime-2.1-2027-01-05",
      "gpt-realtime-2.1-mini-2027-01-05",
    ]
  ) {
    const session = wire({
      ...SETTINGS,
      realtime: { model, reasoningEffort: "medium" },
    });
    assert.deepEqual(session.reasoning, { effort: "medium" }, model);
  }
  for (
    const model of [
      "gpt-realtime",
      "gpt-realtime-mini",
      "gpt-realtime-1.5",
      "gpt-realtime-2025-08-28",
      "gpt-realtime-mini-2025-12-15",
      "gpt-4o-realtime-preview",
      "gpt-realtime-20",
      "my-proxy-model",
    ]
  ) {
    const session = wire({
      ...SETTINGS,
      realtime: { ...SETTINGS.realtime, model },
    });
    assert.ok(!("reasoning" in session), model);
  }
});

Deno.test("sessionConfig() takes the effort from REASONING_EFFORT, low by default", () => {
  assert.deepEqual(wire(testConfig()).reasoning, { effort: "low" });
  assert.deepEqual(
    wire(testConfig({ REASONING_EFFORT: "xhigh" })).reasoning,
    { effort: "xhigh" },
  );
});

Deno.test("supportsReasoning() names the gpt-realtime-2 family and its snapshots", () => {
  assert.ok(supportsReasoning("gpt-realtime-2"));
  assert.ok(supportsReasoning("gpt-realtime-2.1-mini"));
  assert.ok(!supportsReasoning("gpt-realtime"));
  assert.ok(!supportsReasoning("gpt-realtime-1.5"));
  assert.ok(!supportsReasoning("gpt-realtime-2.1-mega"));
});

Deno.test("sessionConfig() limits the Zapier tools to ZAPIER_MCP_ALLOWED_TOOLS when set", () => {
  const base = {
    ...SETTINGS,
    zapier: { ...SETTINGS.zapier, password: "zap-secret-123" },
  };
  const all = wire(base);
  assert.deepEqual(all.tools, [END_CALL_TOOL, {
    type: "mcp",
    server_label: "zapier",
    server_url: "https://mcp.zapier.com/api/mcp/mcp",
    headers: { Authorization: "Bearer zap-secret-123" },
    require_approval: "never",
  }]);
  const some = wire({
    ...base,
    zapier: {
      ...base.zapier,
      allowedTools: ["gmail_send_email", "todoist_find_task"],
    },
  });
  assert.deepEqual(some.tools, [END_CALL_TOOL, {
    type: "mcp",
    server_label: "zapier",
    server_url: "https://mcp.zapier.com/api/mcp/mcp",
    headers: { Authorization: "Bearer zap-secret-123" },
    require_approval: "never",
    allowed_tools: ["gmail_send_email", "todoist_find_task"],
  }]);
});

Deno.test("sessionConfig() sends no MCP tool, and so no allowed_tools, without a Zapier password", () => {
  const session = wire({
    ...SETTINGS,
    zapier: { ...SETTINGS.zapier, allowedTools: ["gmail_send_email"] },
  });
  assert.deepEqual(session.tools, [END_CALL_TOOL]);
});
