/**
 * The hosts this configuration dials, checked against `--allow-net` at
 * start-up: a missing one would otherwise surface mid-call as a refused
 * handshake or a silent tool failure.
 */

import type { Config } from "./config.ts";

/** `host:port` of every endpoint the server itself connects to. */
export function dialledHosts(config: Config): string[] {
  const endpoints = [
    config.assistant.engine === "live" ? config.live.url : config.realtime.url,
  ];
  // With GPT-Live the server is Zapier's MCP client; with Realtime, OpenAI is.
  if (
    config.assistant.engine === "live" && config.zapier.password !== undefined
  ) {
    endpoints.push(config.zapier.url);
  }
  // Call summaries: the Responses API on the Realtime endpoint's host
  // (https for wss), after each call, whichever engine carries it.
  if (config.memory.enabled && config.journal.transcripts) {
    endpoints.push(config.realtime.url);
  }
  // Outbound calls and texts: the server is Twilio's REST client.
  if (config.outbound) endpoints.push(config.outbound.apiUrl);
  return [...new Set(endpoints.map(hostAndPort))];
}

function hostAndPort(endpoint: string): string {
  const url = new URL(endpoint);
  const port = url.port ||
    (url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}

/** Loopback addresses a process could reach local services on (port 1 stands for any port). */
const LOCAL_PROBES = ["0.0.0.0:1", "127.0.0.1:1", "localhost:1", "[::1]:1"];

/**
 * Drops the grant the listener needed. `--allow-net=0.0.0.0` (any port, so
 * PORT can be set freely) would also let the process connect to 0.0.0.0:*,
 * which is every service on this machine; a socket already listening keeps
 * accepting once the grant is revoked. True when the process can still
 * connect to some local port anyway (a broader --allow-net).
 */
export async function dropListenGrant(hostname = "0.0.0.0"): Promise<boolean> {
  try {
    await Deno.permissions.revoke({ name: "net", host: hostname });
  } catch {
    // A runtime that cannot revoke (all permissions, as on Deno Deploy).
  }
  return LOCAL_PROBES.some((host) =>
    Deno.permissions.querySync({ name: "net", host }).state === "granted"
  );
}

/** The dialled hosts `--allow-net` does not grant. */
export function missingNetPermissions(config: Config): string[] {
  return dialledHosts(config).filter((host) =>
    Deno.permissions.querySync({ name: "net", host }).state !== "granted"
  );
}
