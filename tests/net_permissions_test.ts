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
    // MEMORY is on: summaries go to the Responses API on the Realtime host.
    ["127.0.0.1:9000", "mcp.example.net:8443", "api.openai.com:443"],
  );
});

Deno.test("dialledHosts() adds the Realtime endpoint's host for call summaries unless MEMORY=false", () => {
  const live = {
    VOICE_ENGINE: "live",
    OPENAI_LIVE_URL: "wss://live.example.net/v1/live/sessions",
    OPENAI_REALTIME_URL: "wss://realtime.example.net:8443/v1/realtime",
  };
  assert.deepEqual(dialledHosts(testConfig(live)), [
    "live.example.net:443",
    "realtime.example.net:8443",
  ]);
  assert.deepEqual(dialledHosts(testConfig({ ...live, MEMORY: "false" })), [
    "live.example.net:443",
  ]);
});

Deno.test("dialledHosts() leaves Zapier out on GPT-Live without a Zapier key", () => {
  assert.deepEqual(dialledHosts(testConfig({ VOICE_ENGINE: "live" })), [
    "api.openai.com:443",
  ]);
});

Deno.test("dialledHosts() adds Twilio's REST API host when outbound calls are on", () => {
  assert.deepEqual(
    dialledHosts(testConfig({
      OWNER_NUMBERS: "+14155550123",
      TWILIO_ACCOUNT_SID: "AC0123456789abcdef0123456789abcdef",
      TWILIO_FROM_NUMBER: "+18005550199",
    })),
    ["api.openai.com:443", "api.twilio.com:443"],
  );
});
