/**
 * The OpenAI GPT-Live engine, as `Calls` sees it (src/call/engine.ts): its
 * socket opens with `session.start` and is open once that is sent; the
 * engine runs the protocol and Zapier's tools through the server's own MCP
 * client; an unclaimed session is billed the seconds it was open.
 */

import type { EngineDescriptor } from "../call/engine.ts";
import { realClock } from "../call/clock.ts";
import type { MemoryContext } from "../memory/memory.ts";
import { UpstreamSocket } from "../upstream/upstream_socket.ts";
import { LiveEngine, type RemoteTools } from "./engine.ts";
import { liveEvents } from "./events.ts";
import { liveSessionConfig } from "./session.ts";

/** The GPT-Live engine; `remoteTools`: Zapier through the server's MCP client, if configured. */
export function liveEngine(remoteTools?: RemoteTools): EngineDescriptor {
  return {
    open({ config, tools, resume, memory, connectTimeoutMs }) {
      const now = new Date();
      const events = (context?: MemoryContext) => [
        liveEvents.start(
          liveSessionConfig(
            config,
            now,
            tools.definitions,
            context,
            resume?.history,
          ),
        ),
      ];
      // List Zapier's tools now (the MCP client caches them), so the engine
      // offers them as soon as the call starts; a failure is handled there.
      remoteTools?.list().catch(() => {});
      return new UpstreamSocket({
        url: config.live.url,
        apiKey: config.openai.apiKey,
        initialEvents: memory ? memory.then(events) : events(),
        connectTimeoutMs,
      });
    },

    create(upstream, { config, tools, callSid, logger, opening, resume }) {
      return new LiveEngine(upstream, {
        logger,
        clock: realClock,
        tools,
        callSid,
        remoteTools,
        // A resume never greets again; it speaks first only if the plan says so.
        greeting: resume ? undefined : config.assistant.greeting,
        opening: resume ? resume.speakFirst : opening,
        model: config.live.model,
        backendModel: config.live.backendModel,
      });
    },

    /** GPT-Live bills time: the whole seconds the session was open. */
    heldUsage: (config) => (upstream) => {
      const seconds = Math.ceil(upstream.openSeconds);
      return seconds > 0
        ? [{ kind: "seconds", model: config.live.model, seconds }]
        : [];
    },
  };
}
