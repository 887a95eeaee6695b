/**
 * The secret scan: every line the server printed, every HTTP response,
 * TwiML, close reason and non-audio Twilio message the soak received,
 * searched for the OpenAI key, the auth token, the MCP password and every
 * stream token issued (whole, or its MAC).
 *
 * @module
 */

import type { Harness } from "./harness.ts";

export interface SecretFigures {
  hits: { secret: string; source: string; sample: string }[];
  logLines: number;
  responses: number;
  tokens: number;
  redactedLines: number;
}

export function scanSecrets(h: Harness): SecretFigures {
  const named: [string, string][] = [
    ["OPENAI_API_KEY", h.secrets.openaiApiKey],
    ["TWILIO_AUTH_TOKEN", h.secrets.twilioAuthToken],
    ["ZAPIER_MCP_PASSWORD", h.secrets.mcpPassword],
    ["ADMIN_TOKEN", h.secrets.adminToken],
  ];
  const tokens = new Set(h.tokens);
  const macs = new Map<string, string>();
  for (const token of tokens) {
    const mac = token.split(".")[1];
    if (mac) macs.set(mac, token);
  }
  const hits: SecretFigures["hits"] = [];
  const sample = (text: string, secret: string) => {
    const at = text.indexOf(secret);
    return text.slice(Math.max(0, at - 60), at + 20).replaceAll(
      secret,
      `<${secret.slice(0, 4)}…>`,
    );
  };
  const check = (source: string, text: string, ownToken?: string) => {
    for (const [name, secret] of named) {
      if (text.includes(secret)) {
        hits.push({ secret: name, source, sample: sample(text, secret) });
      }
    }
    // Token-shaped strings, and bare MACs, that belong to an issued token.
    for (const match of text.matchAll(/[A-Za-z0-9_-]{43,}/g)) {
      const run = match[0];
      for (let i = 0; i + 43 <= run.length; i++) {
        const token = macs.get(run.slice(i, i + 43));
        if (token !== undefined && token !== ownToken) {
          hits.push({
            secret: "stream token",
            source,
            sample: sample(text, run),
          });
          break;
        }
      }
    }
  };
  const logs = [...h.server.lines, ...h.server.errorLines];
  for (const line of logs) check("server log", line);
  for (const item of h.scan) check(item.source, item.text, item.ownToken);
  return {
    hits,
    logLines: logs.length,
    responses: h.scan.length,
    tokens: tokens.size,
    redactedLines: logs.filter((l) => l.includes("[redacted]")).length,
  };
}
