/**
 * Shared pieces of the Realtime simulator: the typed shape of every server
 * event it emits, its error types, and what all peers share (../common.ts).
 *
 * @module
 */
import type {
  RealtimeErrorEvent,
  RealtimeServerEvent,
} from "openai/resources/realtime/realtime";
import {
  type DistributiveOmit,
  isObject,
  type JsonObject,
  newId,
} from "../common.ts";

export {
  httpError,
  invalidType,
  invalidValue,
  isObject,
  type JsonObject,
  missingParameter,
  newId,
  sleep,
  unknownParameter,
} from "../common.ts";

/**
 * A server event as the simulator writes it, before it stamps `event_id`.
 * Every literal passed to `emit` is checked against the official openai
 * package's `RealtimeServerEvent` union, so shapes cannot drift from it.
 */
export type ServerEventBody = DistributiveOmit<RealtimeServerEvent, "event_id">;

/** The two error types the Realtime API really sends. */
export type ErrorType = "invalid_request_error" | "server_error";

/** What the API says when a `server_error` is its own fault. */
export const SERVER_ERROR_MESSAGE =
  "The server had an error while processing your request. Sorry about that!";

/** An `error` event as the API sends it (`clientEventId`: the client event it is about). */
export function errorEvent(
  type: ErrorType,
  code: string | null,
  message: string,
  param: string | null = null,
  clientEventId: string | null = null,
): RealtimeErrorEvent {
  return {
    type: "error",
    event_id: newId("event"),
    error: { type, code, message, param, event_id: clientEventId },
  };
}

export function asObject(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}

/** A client mistake, answered with an `invalid_request_error` event. */
export interface Problem {
  code: string;
  message: string;
  param: string | null;
}

/** Splits a string the way the API streams it: several deltas, in order. */
export function deltasOf(text: string, size = 32): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) {
    parts.push(text.slice(i, i + size));
  }
  return parts.length ? parts : [""];
}
