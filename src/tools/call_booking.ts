/**
 * What `schedule_call` and `cancel_call` need of the owner's call scheduler
 * (`CallScheduler` in src/outbound/), given to them when they are built, so
 * tools/ does not reach into outbound/.
 */

/** A call booked to the owner, as the tools tell the assistant about it. */
export interface BookedCall {
  id: string;
  topic: string;
  /** The time asked for (epoch ms). */
  at: number;
  /** When the pending attempt is due: `at`, or the retry's time. */
  dueAt: number;
}

export type Booking =
  | { ok: true; call: BookedCall; when: string }
  | { ok: false; error: string };

export interface CallBooking {
  /** The owner's IANA time zone, in which their words are read. */
  readonly timeZone: string;
  /** The words for an instant, as the assistant should repeat them. */
  describe(at: number): string;
  /** The owner's words ("8pm", "tomorrow 7:30") as an instant after `now`. */
  instant(
    words: string,
    now: number,
  ): { ok: true; at: number } | { ok: false; error: string };
  schedule(request: {
    when: string;
    topic: string;
    to?: string;
    requestedBy: { by: "model"; callSid: string };
  }): Promise<Booking>;
  cancel(id: string): Promise<Booking>;
  /** The calls still to come. */
  upcoming(): Promise<BookedCall[]>;
}
