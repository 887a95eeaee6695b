import {
  type Config,
  type ConfigVariable,
  loadConfig,
} from "../../src/config.ts";

import type { SessionSettings } from "../../src/realtime/session.ts";
import { TEST_API_KEY, TEST_AUTH_TOKEN } from "../../peers/keys.ts";

export { TEST_API_KEY, TEST_AUTH_TOKEN };

/** A valid configuration, as main.ts would read it from these variables. */
export function testConfig(
  variables: Partial<Record<ConfigVariable, string>> = {},
): Config {
  const env: Partial<Record<ConfigVariable, string>> = {
    OPENAI_API_KEY: TEST_API_KEY,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    PUBLIC_URL: "https://assistant.example.com",
    ...variables,
  };
  return loadConfig((name) => env[name] || undefined);
}

/** The settings a Realtime session is built from, without Zapier. */
export const SESSION_SETTINGS: SessionSettings = {
  assistant: {
    voice: "marin",
    instructions: "You are Ada, a terse assistant.",
    timeZone: "UTC",
    greeting: undefined,
  },
  realtime: { model: "gpt-realtime-2.1", reasoningEffort: "low" },
  zapier: {
    url: "https://mcp.zapier.com/api/mcp/mcp",
    password: undefined,
    allowedTools: undefined,
  },
};
