/**
 * Model records for the simulator: which Realtime models exist, which were
 * shut down, and `GET /v1/models/{id}` as OpenAI serves it.
 *
 * @module
 */
import type { Model } from "openai/resources/models";
import { httpError } from "./common.ts";

export interface ModelRecordOptions {
  /** `YYYY-MM-DD` once OpenAI has announced a shutdown, else null. */
  shutdown_date?: string | null;
  /** Whether the model accepts `reasoning` / `parallel_tool_calls`. */
  reasoning?: boolean;
  /** False for a model with a record but no Realtime sessions (transcription, Responses). */
  session?: boolean;
}

/** The Realtime models OpenAI lists today (dates from the deprecations page). */
export const DEFAULT_MODEL_RECORDS: Record<string, ModelRecordOptions> = {
  "gpt-realtime": { shutdown_date: "2027-01-20", reasoning: false },
  "gpt-realtime-mini": { shutdown_date: "2027-01-20", reasoning: false },
  "gpt-realtime-2.1": { shutdown_date: null, reasoning: true },
  "gpt-realtime-2.1-mini": { shutdown_date: null, reasoning: true },
  // Records only: the input transcription and the summary's Responses model.
  "gpt-live-transcribe": { shutdown_date: null, session: false },
  "gpt-5.4-mini": { shutdown_date: null, session: false },
};

/** The model a client gets from `FakeRealtime.urlWithModel()` by default. */
export const DEFAULT_MODEL = "gpt-realtime-2.1";

// Fixed creation times, so records are stable across runs.
const CREATED: Record<string, number> = {
  "gpt-realtime": 1756339200, // 2025-08-28
  "gpt-realtime-mini": 1759708800, // 2025-10-06
};
const CREATED_LATER = 1790000000;

export class ModelCatalog {
  readonly #records: Record<string, ModelRecordOptions>;
  readonly #retired: Set<string>;

  constructor(
    records: Record<string, ModelRecordOptions> = {},
    retired: readonly string[] = [],
  ) {
    this.#records = { ...DEFAULT_MODEL_RECORDS, ...records };
    this.#retired = new Set(retired);
  }

  get retired(): string[] {
    return [...this.#retired];
  }

  /** A model a request may name: known and not shut down. */
  available(id: string): boolean {
    return id in this.#records && !this.#retired.has(id);
  }

  /** A model a Realtime session may name: available, and a session model. */
  acceptsSession(id: string): boolean {
    return this.available(id) && this.#records[id]?.session !== false;
  }

  /** gpt-realtime-2.x reason; older models refuse reasoning settings. */
  reasons(id: string): boolean {
    return this.#records[id]?.reasoning ?? id.startsWith("gpt-realtime-2");
  }

  record(id: string): Model | undefined {
    if (!this.available(id)) return undefined;
    const options = this.#records[id];
    return {
      id,
      object: "model",
      created: CREATED[id] ?? CREATED_LATER,
      owned_by: "system",
      shutdown_date: options.shutdown_date ?? null,
    };
  }

  list(): Model[] {
    return Object.keys(this.#records).flatMap((id) => this.record(id) ?? []);
  }
}

/** OpenAI's answer when a request names a model that does not exist (any more). */
export function modelNotFound(model: string, param: string | null): Response {
  return httpError(
    404,
    `The model \`${model}\` does not exist or you do not have access to it.`,
    "invalid_request_error",
    "model_not_found",
    param,
  );
}

/** `GET /v1/models` and `GET /v1/models/{id}`; the caller has checked the key. */
export function serveModels(catalog: ModelCatalog, path: string): Response {
  if (path === "/v1/models") {
    return Response.json({ object: "list", data: catalog.list() });
  }
  const id = decodeURIComponent(path.slice("/v1/models/".length));
  const record = catalog.record(id);
  return record ? Response.json(record) : modelNotFound(id, "model");
}
