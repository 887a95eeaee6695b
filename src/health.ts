/**
 * `GET /healthz`: public, for load balancers and the Docker HEALTHCHECK. It
 * says only ok (200) or not (503 while draining) and the model's public
 * record. How many calls are live tells anyone when the owner is on the
 * phone: that, and the uptime, only with the owner's token or session.
 */

import type { AdminAuth } from "./admin/auth.ts";
import type { Admission } from "./admission.ts";
import type { Calls } from "./call/calls.ts";
import type { Handler } from "./http/router.ts";
import type {
  ConfiguredModelStatus,
  ModelStatus,
} from "./upstream/model_record.ts";

export function healthHandler(options: {
  admission: Admission;
  calls: Calls;
  model: () => ModelStatus;
  models: () => readonly ConfiguredModelStatus[];
  admin: AdminAuth | undefined;
}): Handler {
  const startedAt = Date.now();
  return async (request) => {
    const ok = !options.admission.draining;
    const owner = await options.admin?.allows(request) ?? false;
    return Response.json({
      status: ok ? "ok" : "draining",
      model: options.model(),
      // Every model in use (voice, transcription or backend, summaries).
      models: options.models(),
      ...(owner
        ? {
          calls: options.calls.live.size,
          uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
        }
        : {}),
    }, {
      status: ok ? 200 : 503,
      headers: { "cache-control": "no-store" },
    });
  };
}
