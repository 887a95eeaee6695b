/**
 * What every protocol simulator shares: JSON helpers, ids, an abortable
 * sleep, and OpenAI's error shapes (the HTTP error body and the messages of
 * its `invalid_request_error` events), which the Realtime and GPT-Live
 * simulators word alike because the APIs do.
 *
 * @module
 */
export type JsonObject = Record<string, unknown>;

/** A JSON object: not null, not an array. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The bytes of `chunks`, back to back in one array. */
export function joinBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((offset, chunk) => {
    joined.set(chunk, offset);
    return offset + chunk.length;
  }, 0);
  return joined;
}

/** `Omit` applied to each member of a union (a server event minus `event_id`). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown
  ? Omit<T, K>
  : never;

/** Random per process: ids from two processes never collide. */
const RUN = crypto.getRandomValues(new Uint8Array(4)).toHex();
let counter = 0;

/**
 * `prefix_` and 20 characters, unique in this process. A counter, not a
 * random UUID per event: hundreds of simulated calls would otherwise put
 * the UUIDs' CPU into the load generator's figures.
 */
export function newId(prefix: string): string {
  return `${prefix}_${RUN}${(++counter).toString(36).padStart(12, "0")}`;
}

/** A timer-backed sleep that ends early (resolving) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** OpenAI's HTTP error body: `{error: {message, type, param, code}}`. */
export function httpError(
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
): Response {
  return Response.json({ error: { message, type, param, code } }, { status });
}

/** The 400 of a request without a parameter it needs (`model`, …). */
export function missingParameterResponse(param: string): Response {
  const { code, message } = missingParameter(param);
  return httpError(400, message, "invalid_request_error", code, param);
}

/**
 * The bearer key check of every OpenAI endpoint: null when `request` carries
 * `apiKey`, else the 401 OpenAI answers.
 */
export function authProblem(request: Request, apiKey: string): Response | null {
  const auth = request.headers.get("authorization");
  if (auth === `Bearer ${apiKey}`) return null;
  return httpError(
    401,
    auth
      ? "Incorrect API key provided."
      : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    "invalid_request_error",
    auth ? "invalid_api_key" : null,
  );
}

/** A handshake a test told the simulator to refuse (`handshakeStatus`), as OpenAI words it. */
export function refusedHandshake(status: number, simulator: string): Response {
  return httpError(
    status,
    `Refused with HTTP ${status} (${simulator} handshakeStatus).`,
    status === 429 ? "requests" : "server_error",
    status === 429 ? "rate_limit_exceeded" : null,
  );
}

/** What stops an upgrade once the request itself is right: not a WebSocket request, or the simulator closing. */
export function upgradeProblem(
  request: Request,
  closing: boolean,
): Response | null {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return httpError(
      426,
      "Expected a WebSocket upgrade.",
      "invalid_request_error",
      null,
    );
  }
  return closing
    ? httpError(503, "Shutting down.", "server_error", null)
    : null;
}

/** A client mistake as OpenAI words it (an `error` event's code, message, param). */
export interface ParamProblem {
  code: string;
  message: string;
  param: string;
}

export const unknownParameter = (param: string): ParamProblem => ({
  code: "unknown_parameter",
  message: `Unknown parameter: '${param}'.`,
  param,
});

export const missingParameter = (param: string): ParamProblem => ({
  code: "missing_required_parameter",
  message: `Missing required parameter: '${param}'.`,
  param,
});

export const invalidType = (
  param: string,
  wanted: string,
  value: unknown,
): ParamProblem => ({
  code: "invalid_type",
  message: `Invalid type for '${param}': expected ${wanted}, but got ${
    describe(value)
  } instead.`,
  param,
});

export const invalidValue = (
  param: string,
  value: unknown,
  supported?: readonly unknown[],
): ParamProblem => ({
  code: "invalid_value",
  message: `Invalid value: '${String(value)}'.${
    supported
      ? ` Supported values are: ${
        supported.map((v) => `'${String(v)}'`).join(", ")
      }.`
      : ""
  }`,
  param,
});

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}
