/**
 * Entry point: reads the configuration once, opens the token store, serves,
 * and shuts down cleanly on SIGINT/SIGTERM.
 */

import {
  type Config,
  ConfigError,
  envReader,
  loadConfig,
} from "./src/config.ts";
import { consoleSink, createLogger } from "./src/log.ts";
import {
  dropListenGrant,
  missingNetPermissions,
} from "./src/net_permissions.ts";
import { createApp } from "./src/server.ts";

function readConfig(): Config {
  try {
    return loadConfig(envReader(Deno.env));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${error.message}\nSee .env.example for every variable.`);
    Deno.exit(1);
  }
}

const config = readConfig();

const missingHosts = missingNetPermissions(config);
if (missingHosts.length > 0) {
  console.error(
    `This configuration dials ${
      missingHosts.join(", ")
    }, which --allow-net does not grant. ` +
      "Add it to the --allow-net of the start command (see docs/configuration.md, Permissions).",
  );
  Deno.exit(1);
}

/** The start task grants files in ./data only: say which flags another KV file needs. */
async function openKv(path: string | undefined): Promise<Deno.Kv> {
  try {
    return await Deno.openKv(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable) || !path) throw error;
    const dir = path.includes("/")
      ? path.slice(0, path.lastIndexOf("/")) || "/"
      : ".";
    console.error(
      `KV_PATH=${path} needs file access: run with --allow-read=${dir} --allow-write=${dir}, or keep the store in ./data (deno task start and dev grant it; the Docker image grants /data), or leave KV_PATH unset for Deno's default store.`,
    );
    Deno.exit(1);
  }
}

const logger = createLogger(consoleSink, [
  config.openai.apiKey,
  config.twilio.authToken,
  config.zapier.password,
]);
const kv = await openKv(config.server.kvPath);
const app = await createApp({
  config,
  logger,
  kv,
});
// The one KV queue listener (summaries, scheduled calls, digest texts); it
// ends when KV closes.
const jobsListening = app.jobs.listen();

const server = Deno.serve({
  port: config.server.port,
  onListen() {},
}, app.handler);
// Listening needed 0.0.0.0; from here on the process only dials its hosts.
const localPortsReachable = await dropListenGrant(server.addr.hostname);
logger.log("info", "server.listening", {
  hostname: server.addr.hostname,
  port: server.addr.port,
  localPorts: localPortsReachable ? "reachable" : "refused",
});
if (localPortsReachable) {
  logger.log("warn", "net.local_ports_reachable", {
    advice:
      "--allow-net grants a loopback address: the process could connect to local services",
  });
}

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) {
    // A second signal: no more waiting for live calls.
    logger.log("info", "server.closing_calls", { signal });
    await app.close();
    return;
  }
  stopping = true;
  logger.log("info", "server.draining", {
    signal,
    calls: app.calls.live.size,
    drainSeconds: config.server.drainSeconds,
  });
  await app.drain(config.server.drainSeconds);
  await server.shutdown();
  await app.journal.flushed();
  kv.close();
  await jobsListening;
  logger.log("info", "server.stopped");
  Deno.exit(0);
}

// Docker sends SIGTERM; Fly.io and Deno Deploy send SIGINT.
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
