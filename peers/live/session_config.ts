/**
 * What a valid session configuration becomes: the checks the schema cannot
 * express (known model, G.711 at 8 kHz, token limits), the resolved
 * `SessionResource` with server defaults, and how `session.update` merges
 * into it (only delegation settings change; the delegation type cannot).
 *
 * @module
 */
import type {
  SessionConfig,
  SessionResource,
  SessionUpdateConfig,
} from "openai/resources/live/live";
import { DEFAULT_FORMAT } from "./audio.ts";
import {
  approxTokens,
  INSTRUCTIONS_TOKEN_LIMIT,
  newId,
  type Problem,
} from "./common.ts";
import { invalidValue } from "../schema.ts";

/** GPT-Live's documented default voice. */
export const DEFAULT_VOICE = "marin";
/** The documented limit of the startup history, in rendered tokens. */
const INPUT_TOKEN_LIMIT = 8_192;

export type Delegation = SessionResource["delegation"];

/** Semantic checks of a schema-valid session.start `session`. */
export function checkStart(
  config: SessionConfig,
  models: readonly string[],
): Problem | null {
  if (!models.includes(config.model)) {
    return {
      code: "model_not_found",
      message:
        `The model '${config.model}' does not exist or you do not have access to it.`,
      param: "session.model",
    };
  }
  const format = config.audio?.format;
  if (
    format && (format.type === "audio/pcmu" || format.type === "audio/pcma") &&
    format.rate !== 8000
  ) {
    // The types allow any number; the docs say G.711 audio uses 8000 Hz.
    return invalidValue("session.audio.format.rate", format.rate, [8000]);
  }
  if (approxTokens(config.instructions ?? "") > INSTRUCTIONS_TOKEN_LIMIT) {
    // Message as measured against the real API.
    return {
      code: "invalid_value",
      message:
        `Instructions must not exceed ${INSTRUCTIONS_TOKEN_LIMIT} tokens.`,
      param: "session.instructions",
    };
  }
  const history = (config.input ?? []).flatMap((item) =>
    item.content.map((part) => part.text)
  ).join("");
  if (approxTokens(history) > INPUT_TOKEN_LIMIT) {
    return {
      code: "invalid_value",
      message: `Input history must not exceed ${INPUT_TOKEN_LIMIT} tokens.`,
      param: "session.input",
    };
  }
  return null;
}

/** The resolved session reported in session.started, with server defaults. */
export function resolveSession(
  config: SessionConfig,
  sessionSeconds: number,
): SessionResource {
  return {
    id: newId("live"),
    expires_at: Math.floor(Date.now() / 1000) + sessionSeconds,
    model: config.model,
    status: "active",
    audio: {
      format: config.audio?.format ?? DEFAULT_FORMAT,
      output: { voice: config.audio?.output?.voice ?? DEFAULT_VOICE },
    },
    delegation: config.delegation ?? null,
    ...(config.input ? { input: config.input } : {}),
    instructions: config.instructions ?? null,
    safety_identifier: config.safety_identifier ?? null,
    store: config.store ?? false,
  };
}

/** Drops undefined keys, so a sparse update keeps what it omits. */
function defined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(patch).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

function mergeDelegation(
  current: Delegation,
  patch: NonNullable<SessionUpdateConfig["delegation"]>,
): Delegation {
  const ack = patch.acknowledgement_delay_ms ??
    current?.acknowledgement_delay_ms;
  const withAck = ack === undefined ? {} : { acknowledgement_delay_ms: ack };
  if (patch.type === "responses" && current?.type === "responses") {
    // Measured: fields inside `responses` merge one by one, and `tools`
    // is replaced as a whole.
    return {
      type: "responses",
      ...withAck,
      responses: { ...current.responses, ...defined(patch.responses ?? {}) },
    };
  }
  return { type: "client", ...withAck };
}

/** Applies a schema-valid session.update, or explains why it cannot. */
export function applyUpdate(
  current: SessionResource,
  patch: SessionUpdateConfig,
): SessionResource | Problem {
  let delegation = current.delegation;
  if (patch.delegation !== undefined) {
    const from = current.delegation?.type ?? "client";
    const to = patch.delegation?.type ?? "client";
    if (from !== to) {
      return {
        code: "invalid_value",
        message:
          `The delegation type cannot change during a session (it is '${from}').`,
        param: "session.delegation.type",
      };
    }
    if (patch.delegation) {
      delegation = mergeDelegation(current.delegation, patch.delegation);
    }
  }
  return { ...current, delegation };
}

export function isProblem(value: SessionResource | Problem): value is Problem {
  return "code" in value && "message" in value;
}
