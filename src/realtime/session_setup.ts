/**
 * Confirming a Realtime session's setup. The API refuses a `session.update`
 * as a whole when one field is refused (e.g. `reasoning` on a model without
 * it), and the session then keeps its defaults: PCM16 at 24 kHz, which a
 * phone plays as noise. So the session counts as ready only once
 * `session.updated` shows G.711 µ-law both ways. A refused first update is
 * sent once more without the optional fields (`reasoning`, transcription);
 * the greeting asked for with it ran on the defaults, so it is cancelled and
 * asked for again. A second refusal fails the session. Pure: the upstream
 * feeds it the messages that arrive before the session is ready.
 */

import type { SetupStep } from "../upstream/upstream_socket.ts";
import { clientEvents, parseServerEvent } from "./events.ts";
import type { SessionConfig } from "./session.ts";

/** The `event_id` of the first `session.update`, named in a refusal. */
export const SESSION_SETUP_EVENT = "session_setup";
/** The `event_id` of the retry without the optional fields. */
export const SESSION_RETRY_EVENT = "session_setup_retry";

const PCMU = "audio/pcmu";

export class RealtimeSetup {
  readonly #session: SessionConfig;
  readonly #greeting: string | undefined;
  #attempt: string = SESSION_SETUP_EVENT;

  /** `initial`: the events sent on open, the `session.update` first. */
  constructor(initial: readonly string[]) {
    const first = JSON.parse(initial[0]) as { session: SessionConfig };
    this.#session = first.session;
    this.#greeting = initial.find((event) =>
      (JSON.parse(event) as { type: string }).type === "response.create"
    );
  }

  onMessage(data: unknown): SetupStep {
    const parsed = parseServerEvent(data);
    if (!parsed.ok) return { kind: "wait" };
    const event = parsed.event;
    if (event.type === "session.updated") {
      const { input, output } = event.formats;
      return input === PCMU && output === PCMU ? { kind: "ready" } : {
        kind: "failed",
        reason: `session audio is ${input || "?"} in, ${
          output || "?"
        } out, not ${PCMU}`,
      };
    }
    if (event.type !== "error" || event.error.eventId !== this.#attempt) {
      return { kind: "wait" };
    }
    const refused = event.error.param || event.error.code;
    if (this.#attempt === SESSION_RETRY_EVENT) {
      return {
        kind: "failed",
        reason: `session.update refused twice (${refused})`,
      };
    }
    this.#attempt = SESSION_RETRY_EVENT;
    const { reasoning: _reasoning, ...session } = this.#session;
    const { transcription: _transcription, ...input } = session.audio.input;
    const retry = clientEvents.sessionUpdate(
      { ...session, audio: { ...session.audio, input } },
      SESSION_RETRY_EVENT,
    );
    // The greeting's response ran on the refused session's defaults.
    return {
      kind: "retry",
      send: this.#greeting
        ? [clientEvents.cancelResponse(), retry, this.#greeting]
        : [retry],
    };
  }
}
