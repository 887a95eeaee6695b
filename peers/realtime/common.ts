/**
 * Shared pieces of the Realtime simulator: JSON helpers, ids, timers, the
 * OpenAI error body, and the typed shape of every server event it emits.
 *
 * @module
 */
import type { RealtimeServerEvent } from "openai/resources/realtime/realtime";

export type JsonObject = Record<string, unknown>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K>
  : never;

/**
 * A server event as the simulator writes it, before it stamps `event_id`.
 * Every literal passed to `emit` is checked against the official openai
 * package's `RealtimeServerEvent` union, so shapes cannot drift from it.
 */
export type ServerEventBody = DistributiveOmit<RealtimeServerEvent, "event_id">;

/** The two error types the Realtime API really sends. */
export type ErrorType = "invalid_request_error" | "server_error";

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asObject(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}

export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
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

/** A client mistake, answered with an `invalid_request_error` event. */
export interface Problem {
  code: string;
  message: string;
  param: string | null;
}

export const unknownParameter = (param: string): Problem => ({
  code: "unknown_parameter",
  message: `Unknown parameter: '${param}'.`,
  param,
});

export const missingParameter = (param: string): Problem => ({
  code: "missing_required_parameter",
  message: `Missing required parameter: '${param}'.`,
  param,
});

export const invalidType = (
  param: string,
  expected: string,
  value: unknown,
): Problem => ({
  code: "invalid_type",
  message: `Invalid type for '${param}': expected ${expected}, but got ${
    Array.isArray(value)
      ? "an array"
      : value === null
      ? "null"
      : `a ${typeof value}`
  } instead.`,
  param,
});

export const invalidValue = (
  param: string,
  value: unknown,
  supported: readonly string[],
): Problem => ({
  code: "invalid_value",
  message: `Invalid value: '${String(value)}'. Supported values are: ${
    supported.map((t) => `'${t}'`).join(", ")
  }.`,
  param,
});

/** Splits a string the way the API streams it: several deltas, in order. */
export function deltasOf(text: string, size = 32): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) {
    parts.push(text.slice(i, i + size));
  }
  return parts.length ? parts : [""];
}
