/**
 * One stream per call: the claim every webhook that would mint a stream
 * token makes first (/incoming-call, the outbound TwiML). A repeated or
 * replayed signed webhook for a CallSid that already has a pending or live
 * stream, on any instance, is refused here: no token, no upstream session.
 */

import type { CallLeases } from "./lease.ts";
import { text } from "../http/responses.ts";
import type { LogLine } from "../log.ts";

/** Undefined when this call may have its stream; else the refusal. */
export async function claimOneStream(
  leases: CallLeases,
  callSid: string,
  refusal: LogLine,
): Promise<Response | undefined> {
  if (await leases.claim(callSid)) return undefined;
  refusal("warn", "webhook.duplicate", { callSid });
  return alreadyStreaming();
}

export function alreadyStreaming(): Response {
  return text(409, "this call already has a stream");
}
