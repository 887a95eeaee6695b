/**
 * The route table: every URL this server answers, at a glance. Handlers
 * live in their modules; each takes the services it needs.
 */

import { memoryHandlers } from "./admin/memory_routes.ts";
import { ownerGuard, ownerHandlers } from "./admin/routes.ts";
import { scheduledCallHandlers } from "./admin/scheduled_calls_routes.ts";
import { mediaStreamHandler } from "./call/stream_route.ts";
import { healthHandler } from "./health.ts";
import { type Route, route } from "./http/router.ts";
import { outboundWebhookHandlers } from "./outbound/webhooks.ts";
import { webhookHandlers } from "./call/webhooks.ts";
import type { Services } from "./services.ts";

export function routeTable(parts: Services): Route[] {
  const { config, admin, outbound } = parts;
  const twilio = webhookHandlers(parts);
  const owner = ownerGuard(admin, config.server.publicUrl);
  const pages = ownerHandlers(parts);
  const memoryPages = memoryHandlers(parts);
  const scheduled = scheduledCallHandlers(outbound);
  const placed = outbound &&
    outboundWebhookHandlers({
      ...parts,
      publicUrl: config.server.publicUrl,
      streamTokenTtlSeconds: config.calls.streamTokenTtlSeconds,
      dialler: outbound.dialler,
    });

  return [
    route("GET", "/healthz", healthHandler(parts)),
    route("POST", "/incoming-call", twilio.incomingCall),
    route("POST", "/incoming-call/pin", twilio.pinEntered),
    route("POST", "/call-ended", twilio.callEnded),
    route(
      "GET",
      "/media-stream/:token{/}?",
      mediaStreamHandler({
        ...parts,
        openingFor: outbound && ((callSid) => outbound.openingFor(callSid)),
      }),
    ),
    // Calls this server places: their TwiML and status callbacks (signed).
    ...(placed
      ? [
        route("POST", "/outbound-call/:id", placed.twiml),
        route("POST", "/outbound-status/:id", placed.status),
        route("POST", "/outbound-amd/:id", placed.amd),
      ]
      : []),
    route("POST", "/login", pages.login),
    route("POST", "/logout", pages.logout),
    route("GET", "/calls", owner.html(pages.listCalls)),
    route("GET", "/calls/:callSid", owner.html(pages.showCall)),
    route("GET", "/api/calls", owner.json(pages.listCallsJson)),
    // Before /api/calls/:callSid, which would take "scheduled" for a sid.
    route("GET", "/api/calls/scheduled", owner.json(scheduled.listJson)),
    route("POST", "/api/calls/scheduled", owner.json(scheduled.createJson)),
    route(
      "DELETE",
      "/api/calls/scheduled/:id",
      owner.json(scheduled.cancelJson),
    ),
    route("GET", "/api/calls/:callSid", owner.json(pages.showCallJson)),
    route("GET", "/memory", owner.html(memoryPages.memoryPage)),
    route("POST", "/memory/notes", owner.html(memoryPages.addNoteForm)),
    route(
      "POST",
      "/memory/notes/:id/delete",
      owner.html(memoryPages.deleteNoteForm),
    ),
    route(
      "POST",
      "/memory/summaries/:id/delete",
      owner.html(memoryPages.deleteSummaryForm),
    ),
    route("GET", "/api/memory", owner.json(memoryPages.memoryJson)),
    route("POST", "/api/memory/notes", owner.json(memoryPages.addNoteJson)),
    route(
      "DELETE",
      "/api/memory/notes/:id",
      owner.json(memoryPages.deleteNoteJson),
    ),
    route(
      "DELETE",
      "/api/memory/summaries/:id",
      owner.json(memoryPages.deleteSummaryJson),
    ),
    route("GET", "/phone", owner.html(scheduled.phone)),
    route("POST", "/phone/calls", owner.html(scheduled.scheduleForm)),
    route("POST", "/phone/calls/:id/cancel", owner.html(scheduled.cancelForm)),
    route("GET", "/phone/worklet.js", pages.worklet),
    route("POST", "/phone/token", owner.json(pages.phoneToken)),
  ];
}
