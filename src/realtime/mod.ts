/**
 * The OpenAI Realtime engine, as `Calls` sees it (src/call/engine.ts): its
 * socket opens with the session and the greeting's request and counts as
 * open once `session.updated` confirms G.711 µ-law; the engine runs the
 * protocol; an unclaimed session is billed the tokens of its responses.
 */

import type { EngineDescriptor } from "../call/engine.ts";
import type { MemoryContext } from "../memory/memory.ts";
import type { UsageReport } from "../call_vocabulary.ts";
import { UpstreamSocket } from "../upstream/upstream_socket.ts";
import { RealtimeEngine } from "./engine.ts";
import { parseServerEvent } from "./events.ts";
import { initialEvents } from "./session.ts";
import { RealtimeSetup } from "./session_setup.ts";

export const realtimeEngine: EngineDescriptor = {
  open({ config, tools, opening, resume, memory, connectTimeoutMs }) {
    const now = new Date();
    const events = (context?: MemoryContext) =>
      initialEvents(
        config,
        now,
        tools.definitions,
        context,
        opening,
        resume,
      );
    return new UpstreamSocket({
      url: config.realtime.url,
      apiKey: config.openai.apiKey,
      initialEvents: memory ? memory.then(events) : events(),
      // Realtime counts as open once session.updated confirms G.711 µ-law.
      handshake: (initial) => new RealtimeSetup(initial),
      connectTimeoutMs,
    });
  },

  create(upstream, { config, tools, callSid, logger, opening, resume }) {
    return new RealtimeEngine(upstream, {
      logger,
      tools,
      callSid,
      greetingRequested: resume
        ? resume.speakFirst !== undefined
        : opening !== undefined || config.assistant.greeting !== undefined,
      model: config.realtime.model,
    });
  },

  /** Realtime bills tokens: the usage of each response the session ran. */
  heldUsage: (config) => (upstream) => {
    const reports: UsageReport[] = [];
    for (const text of upstream.held) {
      const parsed = parseServerEvent(text);
      if (
        parsed.ok && parsed.event.type === "response.done" &&
        parsed.event.usage
      ) {
        reports.push({
          kind: "tokens",
          model: config.realtime.model,
          tokens: parsed.event.usage,
        });
      }
    }
    return reports;
  },
};
