import assert from "node:assert/strict";
import { dialledHosts } from "../src/net_permissions.ts";
import { testConfig } from "./helpers/config.ts";

Deno.test("dialledHosts() is OpenAI's Realtime host on the Realtime engine (Zapier is called by OpenAI)", () => {
  assert.deepEqual(
    dialledHosts(testConfig({ ZAPIER_MCP_PASSWORD: "zap-key" })),
    ["api.openai.com:443"],
  );
});

Deno.test("dialledHosts() adds the Zapier MCP host, derived from ZAPIER_MCP_URL, on GPT-Live", () => {
  assert.deepEqual(
    dialledHosts(
      testConfig({ VOICE_ENGINE: "live", ZAPIER_MCP_PASSWORD: "zap-key" }),
    ),
    ["api.openai.com:443", "mcp.zapier.com:443"],
  );
  assert.deepEqual(
    dialledHosts(testConfig({
      VOICE_ENGINE: "live",
      ZAPIER_MCP_PASSWORD: "zap-key",
      ZAPIER_MCP_URL: "https://mcp.example.net:8443/api/mcp",
      OPENAI_LIVE_URL: "ws://127.0.0.1:9000/v1/live/sessions",
    })),
    ["127.0.0.1:9000", "mcp.example.net:8443"],
  );
});

Deno.test("dialledHosts() leaves Zapier out on GPT-Live without a Zapier key", () => {
  assert.deepEqual(dialledHosts(testConfig({ VOICE_ENGINE: "live" })), [
    "api.openai.com:443",
  ]);
});
