/**
 * `cancel_call`: the assistant cancels a call it booked, by its id or by the
 * time it was booked for; with one call pending, that one. When it cannot
 * tell which, it answers with the list so the assistant can ask.
 */

import type { BookedCall, CallBooking } from "./call_booking.ts";
import type { ServerTool, ToolOutcome } from "./toolbox.ts";

/** A call booked for "8pm" matches 8pm to the minute. */
const SAME_TIME_MS = 60_000;

export function cancelCallTool(scheduler: CallBooking): ServerTool {
  const listed = (calls: BookedCall[]) =>
    calls.map((call) => ({
      id: call.id,
      when: scheduler.describe(call.dueAt),
      topic: call.topic,
    }));

  const cancel = async (id: string): Promise<ToolOutcome> => {
    const result = await scheduler.cancel(id);
    if (!result.ok) return { output: { ok: false, error: result.error } };
    return {
      output: {
        ok: true,
        cancelled: { id, when: result.when, topic: result.call.topic },
        say: `Tell the owner the call ${result.when} is cancelled.`,
      },
    };
  };

  return {
    definition: {
      type: "function",
      name: "cancel_call",
      description:
        "Cancel a call to the owner that was scheduled earlier. Give its id (from schedule_call) or the time it was " +
        "booked for; with only one call scheduled you may give neither. If the result lists several calls, ask which.",
      parameters: {
        type: "object",
        properties: {
          id: { type: "string", description: "The call's id, if known." },
          when: {
            type: "string",
            description:
              'The time the call was booked for, as the owner says it ("8pm", "tomorrow 7:30").',
          },
        },
        required: [],
      },
    },
    async run(args) {
      if (typeof args.id === "string" && args.id.trim()) {
        return await cancel(args.id.trim().toLowerCase());
      }
      const upcoming = await scheduler.upcoming();
      if (upcoming.length === 0) {
        return { output: { ok: false, error: "No calls are scheduled." } };
      }
      let matches = upcoming;
      if (typeof args.when === "string" && args.when.trim()) {
        const at = scheduler.instant(args.when, Date.now());
        if (!at.ok) return { output: { ok: false, error: at.error } };
        matches = upcoming.filter((call) =>
          Math.abs(call.dueAt - at.at) < SAME_TIME_MS ||
          Math.abs(call.at - at.at) < SAME_TIME_MS
        );
      }
      if (matches.length === 1) return await cancel(matches[0].id);
      return {
        output: {
          ok: false,
          error: matches.length === 0
            ? "No scheduled call matches that time."
            : "Several calls are scheduled: ask the owner which one.",
          scheduled: listed(upcoming),
        },
      };
    },
  };
}
