/**
 * Shared pieces of the GPT-Live simulator: the typed shape of every server
 * event it emits, its limits, and what all peers share (../common.ts).
 *
 * @module
 */
import type { ServerEvent } from "openai/resources/live/live";
import type { DistributiveOmit } from "../common.ts";

export {
  httpError,
  isObject,
  type JsonObject,
  newId,
  sleep,
} from "../common.ts";

/**
 * A server event as the simulator writes it, before `event_id` is stamped.
 * Every literal passed to `emit` is checked against the official openai
 * package's live `ServerEvent` union, so shapes cannot drift from it.
 */
export type ServerEventBody = DistributiveOmit<ServerEvent, "event_id">;

/** Server event types whose official shape has no `event_id` at all. */
export type EventIdLessType = Exclude<
  ServerEvent,
  { event_id: string }
>["type"];

/** A client mistake, answered with an `error` event. */
export interface Problem {
  code: string;
  message: string;
  /** Omitted from the event when not applicable (the field is optional). */
  param?: string;
  /** Default `invalid_request_error`. */
  type?: string;
}

/** GPT-Live's documented limit for one context append. */
export const APPEND_TOKEN_LIMIT = 500;
/** GPT-Live's documented limit for session instructions. */
export const INSTRUCTIONS_TOKEN_LIMIT = 16_384;

/**
 * Tokens, approximated as characters / 4 (rounded up). Real tokenizers
 * differ by language; a measured Spanish append of 1,756 characters passed
 * and 1,900 failed, which this approximation brackets.
 */
export function approxTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
