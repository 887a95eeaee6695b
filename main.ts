/**
 * Entry point: reads the configuration once, opens the token store, serves,
 * and shuts down cleanly on SIGINT/SIGTERM.
 */

import { ConfigError, envReader, loadConfig } from "./src/config.ts";
import { consoleSink, createLogger } from "./src/log.ts";
import { createApp } from "./src/server.ts";
import { KvUsedTokenStore } from "./src/stream_token.ts";

let config;
try {
  config = loadConfig(envReader(Deno.env));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`${error.message}\nSee .env.example for every variable.`);
  Deno.exit(1);
}

const logger = createLogger(consoleSink, [
  config.openaiApiKey,
  config.twilioAuthToken,
  config.zapierMcpPassword,
]);
const kv = await Deno.openKv();
const app = await createApp({
  config,
  logger,
  usedTokens: new KvUsedTokenStore(kv),
});

const server = Deno.serve({
  port: config.port,
  onListen: ({ hostname, port }) =>
    logger.log("info", "server.listening", { hostname, port }),
}, app.handler);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.log("info", "server.stopping", { signal, calls: app.calls.size });
  for (const call of app.calls) call.end("server shutting down");
  await server.shutdown();
  kv.close();
  Deno.exit(0);
}

Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
