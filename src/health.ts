/**
 * `GET /healthz`: public, for load balancers and the Docker HEALTHCHECK.
 * Nothing in it is secret: a count, the uptime and the model's public record.
 */

import type { Admission } from "./admission.ts";
import type { Calls } from "./call/calls.ts";
import type { Handler } from "./http/router.ts";
import type { ModelStatus } from "./realtime/model_record.ts";

export function healthHandler(options: {
  admission: Admission;
  calls: Calls;
  model: () => ModelStatus;
}): Handler {
  const startedAt = Date.now();
  return () =>
    Response.json({
      status: options.admission.draining ? "draining" : "ok",
      calls: options.calls.live.size,
      uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
      model: options.model(),
    });
}
