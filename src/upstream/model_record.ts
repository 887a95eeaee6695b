/**
 * The start-up look-up of a configured model's record. OpenAI retires models
 * on announced dates (gpt-realtime on 2027-01-20), after which every call
 * fails at the handshake; the record's `shutdown_date` lets the owner hear of
 * it weeks before, in the log, /healthz and the /calls page.
 */

import { withDeadline } from "../http/deadline.ts";
import { readLimitedText } from "../http/responses.ts";
import type { Logger } from "../log.ts";

/** `GET /v1/models/{id}` on the wire; only `id` and `shutdown_date` are used. */
export interface ModelRecordWire {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  /** "YYYY-MM-DD" once a shutdown is announced; absent or null otherwise. */
  shutdown_date?: string | null;
}

export interface ModelRecord {
  id: string;
  /** "YYYY-MM-DD", or null when no shutdown is announced. */
  shutdownDate: string | null;
}

/** What the app knows about its model: /healthz and /calls show it. */
export interface ModelStatus {
  /** The configured model (the one in every session.update). */
  id: string;
  /** "pending" until the look-up ends; "failed" when it could not be read. */
  lookup: "pending" | "done" | "failed";
  /** "YYYY-MM-DD", or null when none is announced or the look-up failed. */
  shutdownDate: string | null;
}

/** One model the configuration uses, and the variable that names it. */
export interface ConfiguredModelStatus extends ModelStatus {
  /** OPENAI_REALTIME_MODEL, LIVE_BACKEND_MODEL, ...; absent for a built-in one (input transcription). */
  variable?: string;
  /** What it does: "voice", "input transcription", "delegation backend", "summaries". */
  role: string;
}

/** Why a look-up failed: the HTTP status, or what went wrong before one. */
export type LookupFailure =
  | number
  | "timeout"
  | "network_error"
  /** --allow-net lacks the endpoint's host (a custom OPENAI_REALTIME_URL). */
  | "not_allowed"
  | "invalid_record"
  | "aborted";

export type ModelLookup =
  | { ok: true; record: ModelRecord }
  | { ok: false; status: LookupFailure };

/** Models with an announced shutdown, from OpenAI's deprecations page. */
export const RETIRING_MODELS: readonly {
  id: string;
  shutdownDate: string;
  replacement: string;
}[] = [
  {
    id: "gpt-realtime",
    shutdownDate: "2027-01-20",
    replacement: "gpt-realtime-2.1",
  },
  {
    id: "gpt-realtime-2025-08-28",
    shutdownDate: "2027-01-20",
    replacement: "gpt-realtime-2.1",
  },
  {
    id: "gpt-realtime-mini",
    shutdownDate: "2027-01-20",
    replacement: "gpt-realtime-2.1-mini",
  },
  {
    id: "gpt-realtime-mini-2025-12-15",
    shutdownDate: "2027-01-20",
    replacement: "gpt-realtime-2.1-mini",
  },
];

/** The model to move to, when OpenAI has named one. */
export function replacementFor(model: string): string | undefined {
  return RETIRING_MODELS.find((retiring) => retiring.id === model)
    ?.replacement;
}

/** A real calendar date written YYYY-MM-DD ("2027-02-30" is not). */
function isIsoDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) &&
    date.toISOString().slice(0, 10) === value;
}

/**
 * The record from a parsed response body; undefined when it is not one
 * (no string `id`, or a `shutdown_date` that is neither null nor a date).
 */
export function parseModelRecord(body: unknown): ModelRecord | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return undefined;
  }
  const { id, shutdown_date: shutdownDate } = body as Partial<
    Record<keyof ModelRecordWire, unknown>
  >;
  if (typeof id !== "string" || id === "") return undefined;
  if (shutdownDate === undefined || shutdownDate === null) {
    return { id, shutdownDate: null };
  }
  if (typeof shutdownDate !== "string" || !isIsoDate(shutdownDate)) {
    return undefined;
  }
  return { id, shutdownDate };
}

/**
 * The model record's URL on the voice engine's endpoint's own host and port
 * (wss → https, ws → http), so no other host needs --allow-net.
 */
export function modelRecordUrl(endpoint: string, model: string): string {
  const url = new URL(endpoint);
  const scheme = url.protocol === "ws:" ? "http:" : "https:";
  return `${scheme}//${url.host}/v1/models/${encodeURIComponent(model)}`;
}

/** A model record is a few hundred bytes; a larger body is not one. */
const MAX_RECORD_BYTES = 64 * 1024;

export interface LookupOptions {
  /** The voice engine's WebSocket URL: the record is asked of its host. */
  endpoint: string;
  model: string;
  apiKey: string;
  timeoutMs: number;
  /** Aborting gives up at once (the app is closing). */
  signal?: AbortSignal;
}

/** Asks OpenAI for the model's record. Never throws. */
export async function lookUpModel(
  options: LookupOptions,
): Promise<ModelLookup> {
  // A look-up at start-up: no idle keep-alive connection is left behind.
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const result = await withDeadline(
    options.timeoutMs,
    options.signal,
    async (signal): Promise<ModelLookup> => {
      const response = await fetch(
        modelRecordUrl(options.endpoint, options.model),
        {
          client,
          headers: { authorization: `Bearer ${options.apiKey}` },
          signal,
        },
      );
      if (!response.ok) {
        await response.body?.cancel();
        return { ok: false, status: response.status };
      }
      const text = await readLimitedText(response, MAX_RECORD_BYTES);
      let body: unknown;
      try {
        body = text === undefined ? undefined : JSON.parse(text);
      } catch {
        body = undefined;
      }
      const record = parseModelRecord(body);
      return record
        ? { ok: true, record }
        : { ok: false, status: "invalid_record" };
    },
  ).finally(() => client.close());
  return result.ok ? result.value : { ok: false, status: result.failure };
}

/**
 * Looks the model up and logs what the owner must know: `model.retiring`
 * (model and date) or one `model.lookup_failed` (status only: error bodies
 * may echo part of the key). Never throws; a failure never stops the server.
 */
export async function checkModel(
  options: LookupOptions & { logger: Logger; variable?: string },
): Promise<ModelStatus> {
  const result = await lookUpModel(options);
  if (!result.ok) {
    if (result.status !== "aborted") {
      options.logger.log("warn", "model.lookup_failed", {
        model: options.model,
        variable: options.variable,
        status: result.status,
      });
    }
    return { id: options.model, lookup: "failed", shutdownDate: null };
  }
  const { shutdownDate } = result.record;
  if (shutdownDate !== null) {
    options.logger.log("warn", "model.retiring", {
      model: options.model,
      variable: options.variable,
      shutdownDate,
      replacement: replacementFor(options.model),
    });
  }
  return { id: options.model, lookup: "done", shutdownDate };
}
