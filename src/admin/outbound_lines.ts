/**
 * How a call the server placed reads on /calls and /calls/<sid>: to whom,
 * who asked for it and why, what answered (AMD), which try it was and what
 * came of it.
 */

import { maskCaller } from "../caller_number.ts";
import { escapeHtml } from "../http/html.ts";
import type { CallRecord } from "../journal/journal.ts";
import { requestedByWords } from "../journal/outbound_calls.ts";
import { MAX_ATTEMPTS } from "../outbound/scheduled_calls.ts";

const ANSWERED_BY: Record<string, string> = {
  human: "a person",
  unknown: "someone (detection unsure)",
  machine_start: "an answering machine",
  machine_end_beep: "voicemail (after the beep)",
  machine_end_silence: "voicemail (after silence)",
  machine_end_other: "voicemail",
  fax: "a fax machine",
};

/** The list's "Caller" cell: "Outbound to •••0123". */
export function outboundParty(record: CallRecord): string | undefined {
  return record.outbound && `Outbound to ${maskCaller(record.outbound.to)}`;
}

/** The call page's paragraph about the call this server placed; "" for any other call. */
export function outboundSection(record: CallRecord): string {
  const call = record.outbound;
  if (!call) return "";
  const facts = [
    `Asked for by ${escapeHtml(requestedByWords(call.requestedBy))}`,
    `topic: “${escapeHtml(call.topic)}”`,
    `try ${call.attempt} of ${MAX_ATTEMPTS}`,
    call.answeredBy
      ? `answered by ${
        escapeHtml(ANSWERED_BY[call.answeredBy] ?? call.answeredBy)
      }`
      : `Twilio status: ${escapeHtml(call.status)}`,
    ...(call.result ? [`result: ${escapeHtml(call.result)}`] : []),
  ];
  return `<p class="outbound"><b>Outbound call to ${escapeHtml(call.to)}</b>: ${
    facts.join(" · ")
  }</p>`;
}
