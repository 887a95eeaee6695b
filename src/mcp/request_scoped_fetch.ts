/**
 * The `fetch` given to the SDK's Streamable HTTP client transport, for one
 * connection.
 *
 * The transport sends every POST with one connection-wide abort signal, and a
 * server sends nothing more for a request it was told was cancelled (our
 * timeout), so that request's SSE response would stay open on both ends until
 * the whole connection closes. Here each POST that carries requests gets its
 * own abort, pulled when the SDK posts `notifications/cancelled` for one of
 * them.
 */
// @ts-types="@modelcontextprotocol/sdk/shared/transport"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";

type RequestId = string | number;

/** Statuses whose Response must not have a body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function requestScopedFetch(base: FetchLike = fetch): FetchLike {
  const inflight = new Map<RequestId, AbortController>();
  return async (url, init) => {
    const method = (init?.method ?? "GET").toUpperCase();
    // The standalone GET stream only carries server-initiated messages, which
    // a tool caller does not use; a 405 is the spec's "no such stream", so the
    // SDK opens none instead of holding an idle stream per connection that
    // proxies drop and the SDK then retries. GETs resuming a broken POST
    // stream (Last-Event-ID) still go out.
    if (method === "GET" && !new Headers(init?.headers).has("last-event-id")) {
      return new Response(null, { status: 405 });
    }
    if (method !== "POST" || typeof init?.body !== "string") {
      return await base(url, init);
    }
    const { requests, cancelled } = scan(init.body);
    for (const id of cancelled) {
      inflight.get(id)?.abort();
      inflight.delete(id);
    }
    if (requests.length === 0) return await base(url, init);

    const own = new AbortController();
    for (const id of requests) inflight.set(id, own);
    const release = () => {
      for (const id of requests) {
        if (inflight.get(id) === own) inflight.delete(id);
      }
    };
    const signal = init.signal
      ? AbortSignal.any([init.signal, own.signal])
      : own.signal;
    let response: Response;
    try {
      response = await base(url, { ...init, signal });
    } catch (error) {
      release();
      throw error;
    }
    if (!response.body || NULL_BODY_STATUSES.has(response.status)) {
      release();
      return response;
    }
    // Forget the requests once their answer has been read or dropped.
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        flush: release,
        cancel: release,
      }),
    );
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/** The ids of the requests in a JSON-RPC POST body, and of those it cancels. */
function scan(body: string): { requests: RequestId[]; cancelled: RequestId[] } {
  const requests: RequestId[] = [];
  const cancelled: RequestId[] = [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { requests, cancelled };
  }
  for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
    if (!isRecord(message) || typeof message.method !== "string") continue;
    if (isRequestId(message.id)) requests.push(message.id);
    if (
      message.method === "notifications/cancelled" &&
      isRecord(message.params) && isRequestId(message.params.requestId)
    ) {
      cancelled.push(message.params.requestId);
    }
  }
  return { requests, cancelled };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || typeof value === "number";
}
