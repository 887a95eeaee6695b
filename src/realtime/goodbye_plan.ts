/**
 * Which response says the goodbye, as a small state machine with no I/O.
 * The goodbye is either said in a response already under way (the model
 * called `end_call` after saying it) or asked for. A goodbye response done
 * without a word (the model hung up silently) is asked for once more.
 * Phases: waiting for the goodbye's response ("awaiting"), `responseId` is
 * saying it ("speaking"), it has been said in full ("said").
 */

/** What the engine must do next. */
export type GoodbyeStep =
  | { kind: "request"; instruction: string }
  | { kind: "said" };

interface Goodbye {
  instruction: string;
  phase: "awaiting" | "speaking" | "said";
  responseId?: string;
  /** A goodbye was asked for once already: never ask twice. */
  requested: boolean;
}

export class GoodbyePlan {
  #goodbye: Goodbye | undefined;

  /** A goodbye has begun (it cannot be taken back). */
  get started(): boolean {
    return this.#goodbye !== undefined;
  }

  /** The goodbye is said: the model is asked for nothing more. */
  get said(): boolean {
    return this.#goodbye?.phase === "said";
  }

  /**
   * With `inResponse`, that response is saying the goodbye; otherwise one is
   * asked for. A second call changes nothing.
   */
  begin(instruction: string, inResponse?: string): GoodbyeStep | undefined {
    if (this.#goodbye) return undefined;
    this.#goodbye = {
      instruction,
      phase: "speaking",
      responseId: inResponse,
      requested: false,
    };
    return inResponse === undefined ? this.#ask() : undefined;
  }

  /** A response started; `forGoodbye` when it was requested for the goodbye. */
  responseCreated(responseId: string, forGoodbye: boolean): void {
    const goodbye = this.#goodbye;
    if (goodbye?.phase === "awaiting" && forGoodbye) {
      goodbye.phase = "speaking";
      goodbye.responseId = responseId;
    }
  }

  /** A response is done; `spoke` when it sent audio. */
  responseDone(responseId: string, spoke: boolean): GoodbyeStep | undefined {
    const goodbye = this.#goodbye;
    if (goodbye?.phase !== "speaking" || goodbye.responseId !== responseId) {
      return undefined;
    }
    if (!spoke && !goodbye.requested) return this.#ask();
    goodbye.phase = "said";
    return { kind: "said" };
  }

  #ask(): GoodbyeStep {
    const goodbye = this.#goodbye!;
    goodbye.phase = "awaiting";
    goodbye.responseId = undefined;
    goodbye.requested = true;
    return { kind: "request", instruction: goodbye.instruction };
  }
}
