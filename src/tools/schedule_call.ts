/**
 * `schedule_call`: the assistant books a call to its owner ("call me at 8
 * about the plumber"). Offered only when outbound calls are configured. The
 * answer carries the time understood, in words, for the assistant to repeat,
 * so a misheard time is caught on the call.
 */

import type { CallBooking } from "./call_booking.ts";
import type { ServerTool } from "./toolbox.ts";

export function scheduleCallTool(scheduler: CallBooking): ServerTool {
  return {
    definition: {
      type: "function",
      name: "schedule_call",
      description:
        "Schedule a phone call from you to your owner later, when they ask you to call them back " +
        "or to remind them of something by phone. You can only ever call the owner. When it succeeds, " +
        "tell the owner the exact time from the result, in those words.",
      parameters: {
        type: "object",
        properties: {
          when: {
            type: "string",
            description:
              `When to call, as the owner said it: "in 20 minutes", "20:00", "8pm", "tomorrow 7:30", ` +
              `"friday 9am", or ISO 8601. In the owner's time zone (${scheduler.timeZone}).`,
          },
          topic: {
            type: "string",
            description:
              "What the call is for, in one short sentence: you open the call with it.",
          },
          to: {
            type: "string",
            description:
              "Only if the owner names another of their own numbers (international form); leave it out to call them where they are.",
          },
        },
        required: ["when", "topic"],
      },
    },
    async run(args, call) {
      if (typeof args.when !== "string" || typeof args.topic !== "string") {
        return { output: { ok: false, error: "when and topic are required" } };
      }
      const result = await scheduler.schedule({
        when: args.when,
        topic: args.topic,
        to: typeof args.to === "string" ? args.to : undefined,
        requestedBy: { by: "model", callSid: call.callSid },
      });
      if (!result.ok) return { output: { ok: false, error: result.error } };
      return {
        output: {
          ok: true,
          id: result.call.id,
          when: result.when,
          topic: result.call.topic,
          say: `Tell the owner you will call them ${result.when}.`,
        },
      };
    },
  };
}
