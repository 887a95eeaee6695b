/**
 * The owner's side of outbound calls: `GET|POST /api/calls/scheduled` and
 * `DELETE /api/calls/scheduled/:id` for scripts (JSON, behind the same
 * owner guard as /api/calls), and the /phone page with its "Schedule a
 * call" form. Without outbound configured the API answers 404 saying what
 * to set, and /phone has no form.
 */

import {
  privateHtml,
  privateJson,
  readLimitedText,
} from "../http/responses.ts";
import type { Handler } from "../http/router.ts";
import { requestedByWords } from "../journal/outbound_calls.ts";
import { isRecord } from "../json.ts";
import type { Outbound } from "../outbound/outbound.ts";
import type { ScheduledCall } from "../outbound/scheduled_calls.ts";
import { phonePage } from "../phone/page.ts";
import { scheduleSection } from "../phone/schedule_form.ts";

const OFF =
  "outbound calls are off: set OWNER_NUMBERS, TWILIO_ACCOUNT_SID, TWILIO_FROM_NUMBER and PUBLIC_URL";
const MAX_BODY_BYTES = 4096;

export function scheduledCallHandlers(outbound: Outbound | undefined) {
  const view = (call: ScheduledCall) => ({
    id: call.id,
    to: call.to,
    topic: call.topic,
    when: outbound?.scheduler.describe(call.dueAt),
    at: new Date(call.at).toISOString(),
    dueAt: new Date(call.dueAt).toISOString(),
    state: call.state,
    attempt: call.attempt,
    requestedBy: requestedByWords(call.requestedBy),
    callSids: call.callSids,
    ...(call.result ? { result: call.result } : {}),
  });

  const listJson: Handler = async () => {
    if (!outbound) return privateJson({ error: OFF }, 404);
    return privateJson({
      calls: (await outbound.scheduler.list()).map(view),
    });
  };

  const createJson: Handler = async (request) => {
    if (!outbound) return privateJson({ error: OFF }, 404);
    // JSON only: a cross-site form cannot send it without asking first.
    if (
      !/^application\/json\b/i.test(request.headers.get("content-type") ?? "")
    ) {
      return privateJson({ error: "send JSON: {when, topic, to?}" }, 415);
    }
    const body = await readLimitedText(request, MAX_BODY_BYTES);
    let input: unknown;
    try {
      input = body === undefined ? undefined : JSON.parse(body);
    } catch {
      input = undefined;
    }
    if (
      !isRecord(input) || typeof input.when !== "string" ||
      typeof input.topic !== "string" ||
      (input.to !== undefined && typeof input.to !== "string")
    ) {
      return privateJson({
        error: 'expected {"when": "8pm", "topic": "…", "to"?: "+1…"}',
      }, 400);
    }
    const result = await outbound.scheduler.schedule({
      when: input.when,
      topic: input.topic,
      to: input.to,
      requestedBy: { by: "api" },
    });
    if (!result.ok) {
      return privateJson({ error: result.error }, result.cap ? 409 : 400);
    }
    return privateJson(
      { call: view(result.call), understood: result.when },
      201,
    );
  };

  const cancelJson: Handler = async (_request, match) => {
    if (!outbound) return privateJson({ error: OFF }, 404);
    const result = await outbound.scheduler.cancel(
      match.pathname.groups.id ?? "",
    );
    if (result.ok) return privateJson({ call: view(result.call) });
    return privateJson(
      { error: result.error },
      result.status === "not_found" ? 404 : 409,
    );
  };

  /** /phone, with the schedule form when outbound is on. */
  const phone = async (
    message?: { kind: "notice" | "problem"; text: string },
    status = 200,
  ): Promise<Response> => {
    if (!outbound) return privateHtml(phonePage());
    const upcoming = (await outbound.scheduler.upcoming()).map((call) => ({
      id: call.id,
      when: outbound.scheduler.describe(call.dueAt),
      topic: call.topic,
    }));
    return privateHtml(phonePage(scheduleSection(upcoming, message)), status);
  };

  const phonePageHandler: Handler = async (request) => {
    if (!outbound) return phone();
    const query = new URL(request.url).searchParams;
    const id = query.get("scheduled") ?? query.get("cancelled");
    const named = id ? await outbound.scheduler.get(id) : undefined;
    if (!named) return phone();
    return phone({
      kind: "notice",
      text: query.has("scheduled")
        ? `Scheduled: the assistant will call you ${
          outbound.scheduler.describe(named.dueAt)
        } about "${named.topic}".`
        : `Cancelled the call about "${named.topic}".`,
    });
  };

  const scheduleForm: Handler = async (request) => {
    if (!outbound) return privateHtml(phonePage(), 404);
    const form = new URLSearchParams(
      await readLimitedText(request, MAX_BODY_BYTES) ?? "",
    );
    const result = await outbound.scheduler.schedule({
      when: form.get("when") ?? "",
      topic: form.get("topic") ?? "",
      requestedBy: { by: "phone" },
    });
    if (!result.ok) return phone({ kind: "problem", text: result.error }, 400);
    return seeOther(`/phone?scheduled=${encodeURIComponent(result.call.id)}`);
  };

  const cancelForm: Handler = async (_request, match) => {
    if (!outbound) return privateHtml(phonePage(), 404);
    const id = match.pathname.groups.id ?? "";
    const result = await outbound.scheduler.cancel(id);
    if (!result.ok) return phone({ kind: "problem", text: result.error }, 409);
    return seeOther(`/phone?cancelled=${encodeURIComponent(id)}`);
  };

  return {
    listJson,
    createJson,
    cancelJson,
    phone: phonePageHandler,
    scheduleForm,
    cancelForm,
  };
}

/** After a form POST: back to the page, so a reload does not post again. */
function seeOther(location: string): Response {
  return new Response(null, {
    status: 303,
    headers: { location, "cache-control": "no-store" },
  });
}
