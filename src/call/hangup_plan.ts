/**
 * How a call ends after a goodbye, as a small state machine with no I/O.
 * The goodbye is either said in a response already under way (the model
 * called `end_call` after saying it) or asked for; the call ends once that
 * goodbye's audio has played at the caller. Phases: waiting for the
 * goodbye's response ("awaiting-goodbye"), `responseId` is saying it
 * ("in-goodbye"), it is done and plays out ("playing").
 */

import type { EndReason } from "./vocabulary.ts";

/** What the bridge must do next. */
export type HangupStep =
  | { kind: "request_goodbye"; goodbye: string }
  | { kind: "end"; reason: EndReason };

interface Hangup {
  reason: EndReason;
  goodbye: string;
  phase: "awaiting-goodbye" | "in-goodbye" | "playing";
  responseId?: string;
  /** A goodbye was asked for once already: never ask twice. */
  requested: boolean;
}

export class HangupPlan {
  #hangup: Hangup | undefined;

  /** A hang-up has begun (it cannot be taken back). */
  get started(): boolean {
    return this.#hangup !== undefined;
  }

  /** The goodbye is said: the model is asked for nothing more. */
  get saidGoodbye(): boolean {
    return this.#hangup?.phase === "playing";
  }

  get reason(): EndReason | undefined {
    return this.#hangup?.reason;
  }

  /**
   * Starts a hang-up. With `goodbyeInResponse`, that response is saying the
   * goodbye; otherwise one is asked for. A second call changes nothing.
   */
  begin(
    reason: EndReason,
    goodbye: string,
    goodbyeInResponse?: string,
  ): HangupStep | undefined {
    if (this.#hangup) return undefined;
    this.#hangup = {
      reason,
      goodbye,
      phase: "in-goodbye",
      responseId: goodbyeInResponse,
      requested: false,
    };
    return goodbyeInResponse === undefined ? this.#askForGoodbye() : undefined;
  }

  /** A response started; `forGoodbye` when it was requested for the goodbye. */
  responseCreated(responseId: string, forGoodbye: boolean): void {
    const hangup = this.#hangup;
    if (hangup?.phase === "awaiting-goodbye" && forGoodbye) {
      hangup.phase = "in-goodbye";
      hangup.responseId = responseId;
    }
  }

  /**
   * A response is done; `spoke` when it sent audio. The goodbye's response
   * done with audio (or after we asked for it) plays out; one done without a
   * word means the model hung up silently, so a goodbye is asked for.
   */
  responseDone(
    responseId: string,
    spoke: boolean,
    stillPlaying: boolean,
  ): HangupStep | undefined {
    const hangup = this.#hangup;
    if (hangup?.phase !== "in-goodbye" || hangup.responseId !== responseId) {
      return undefined;
    }
    if (!spoke && !hangup.requested) return this.#askForGoodbye();
    hangup.phase = "playing";
    return this.playback(stillPlaying);
  }

  /** Playback moved (a mark came back, a clear, the stream started). */
  playback(stillPlaying: boolean): HangupStep | undefined {
    const hangup = this.#hangup;
    if (hangup?.phase !== "playing" || stillPlaying) return undefined;
    return { kind: "end", reason: hangup.reason };
  }

  #askForGoodbye(): HangupStep {
    const hangup = this.#hangup!;
    hangup.phase = "awaiting-goodbye";
    hangup.responseId = undefined;
    hangup.requested = true;
    return { kind: "request_goodbye", goodbye: hangup.goodbye };
  }
}
