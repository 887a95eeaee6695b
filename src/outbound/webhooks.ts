/**
 * The webhooks of calls this server places: `POST /outbound-call/:id` (the
 * TwiML Twilio fetches once the call is answered, with AnsweredBy from
 * answering machine detection) and `POST /outbound-status/:id` (status
 * callbacks). Both are signed like any webhook, and both accept only a
 * CallSid this server created for that scheduled call: anything else is
 * refused before a stream token is minted or an upstream session opened.
 *
 * Answering machine detection runs asynchronously (AsyncAmd): the TwiML
 * request carries no verdict, so the callee gets the same stream as
 * /incoming-call at once, pre-warmed with the call's opening so the
 * assistant speaks first, with no silence while detection runs. The verdict
 * comes to `POST /outbound-amd/:id` (signed, CallSid-bound like the rest),
 * on any instance: it is kept in KV (src/call/verdicts.ts) and the instance
 * carrying the stream acts on it. On a machine the stream ends once the
 * opening has played, and /call-ended has Twilio read the voicemail message
 * (<Say>) and hang up. A TwiML request
 * that does carry AnsweredBy (synchronous AMD) is still honoured.
 */

import type { Admission } from "../admission.ts";
import type { Calls } from "../call/calls.ts";
import type { CallLeases } from "../call/lease.ts";
import { BUDGET_MESSAGE } from "../cost/budget.ts";
import { text } from "../http/responses.ts";
import type { Handler } from "../http/router.ts";
import type { OutboundCall } from "../journal/outbound_calls.ts";
import type { Logger, LogLine } from "../log.ts";
import { type Dialler, isMachine } from "./dialler.ts";
import { outboundOpening, voicemailMessage } from "./opening.ts";
import { claimOneStream } from "../call/one_stream.ts";
import { connectCallTwiml } from "../call/stream_twiml.ts";
import { readSignedForm } from "../twilio/signed_form.ts";
import { sayAndHangUpTwiml, twimlResponse } from "../twilio/twiml.ts";

export const OUTBOUND_BUSY_MESSAGE =
  "Sorry, your assistant is tied up right now. Please call it back in a few minutes.";

export interface OutboundWebhookOptions {
  publicUrl: string | undefined;
  streamTokenTtlSeconds: number;
  logger: Logger;
  /** Rate-limited: refused requests can come in floods. */
  refusal: LogLine;
  signingKey: CryptoKey;
  tokenKey: CryptoKey;
  calls: Calls;
  admission: Admission;
  dialler: Dialler;
  /** DAILY_BUDGET_USD: checked before a stream is minted. */
  budget?: { reached(): Promise<boolean> };
  /** One stream per call, and resumes. */
  leases: CallLeases;
}

/**
 * Twilio can call back a moment before the REST answer carrying the sid has
 * been recorded: a signed request for an unknown sid waits this long.
 */
const UNKNOWN_SID_WAIT_MS = 1500;

export function outboundWebhookHandlers(options: OutboundWebhookOptions): {
  twiml: Handler;
  amd: Handler;
  status: Handler;
} {
  const { logger, dialler } = options;
  const signedForm = (request: Request) =>
    readSignedForm(request, {
      publicUrl: options.publicUrl,
      signingKey: options.signingKey,
      refusal: options.refusal,
    });

  /** The outbound call behind a signed request, if this server placed it for `id`. */
  const ours = async (
    params: URLSearchParams,
    id: string,
  ): Promise<OutboundCall | undefined> => {
    const callSid = params.get("CallSid") ?? "";
    if (!/^CA[0-9a-f]{32}$/.test(callSid)) return undefined;
    const deadline = Date.now() + UNKNOWN_SID_WAIT_MS;
    let call = await dialler.find(callSid);
    while (!call && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      call = await dialler.find(callSid);
    }
    return call?.scheduledId === id ? call : undefined;
  };

  const refuse = (path: string) => {
    options.refusal("warn", "outbound.unknown_call", { path });
    return text(403, "unknown call");
  };

  const twiml: Handler = async (request, match) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const call = await ours(params, match.pathname.groups.id ?? "");
    if (!call) return refuse("/outbound-call");
    const answeredBy = params.get("AnsweredBy") || "unknown";
    const callLog = { callSid: call.callSid, answeredBy };
    const refused = !isMachine(answeredBy) &&
      (options.admission.refusal() ||
        (await options.budget?.reached() ? "over budget" : false));
    await dialler.answered(
      call.callSid,
      answeredBy,
      refused ? `answered, but the server was ${refused}` : undefined,
    );
    if (isMachine(answeredBy)) {
      logger.log("info", "outbound.machine", callLog);
      return twimlResponse(
        answeredBy === "fax"
          ? sayAndHangUpTwiml()
          : sayAndHangUpTwiml(voicemailMessage(call.topic, call.requestedBy)),
      );
    }
    if (refused) {
      logger.log("warn", "outbound.refused", { ...callLog, reason: refused });
      return twimlResponse(
        sayAndHangUpTwiml(
          refused === "over budget" ? BUDGET_MESSAGE : OUTBOUND_BUSY_MESSAGE,
        ),
      );
    }
    const duplicate = await claimOneStream(
      options.leases,
      call.callSid,
      options.refusal,
    );
    if (duplicate) return duplicate;
    logger.log("info", "outbound.answered", callLog);
    return connectCallTwiml(options, request, {
      callSid: call.callSid,
      caller: call.to,
      opening: outboundOpening(call.topic, call.requestedBy),
    });
  };

  /**
   * Asynchronous AMD's verdict (AsyncAmdStatusCallback: CallSid, AnsweredBy,
   * MachineDetectionDuration), seconds after the assistant started. A
   * machine: the call ends once what the assistant said has played, and
   * /call-ended has Twilio leave the voicemail message.
   */
  const amd: Handler = async (request, match) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const call = await ours(params, match.pathname.groups.id ?? "");
    if (!call) return refuse("/outbound-amd");
    const answeredBy = params.get("AnsweredBy") || "unknown";
    await dialler.answered(call.callSid, answeredBy);
    logger.log("info", "outbound.amd", {
      callSid: call.callSid,
      answeredBy,
      detectionMs: Number(params.get("MachineDetectionDuration")) || undefined,
    });
    // The stream may be carried by another instance: it reads the verdict.
    await options.calls.verdict(call.callSid, {
      end: isMachine(answeredBy) ? "answering machine" : null,
    });
    return new Response(null, { status: 204 });
  };

  const status: Handler = async (request, match) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const call = await ours(params, match.pathname.groups.id ?? "");
    if (!call) return refuse("/outbound-status");
    await dialler.statusChanged(call.callSid, params.get("CallStatus") ?? "");
    return new Response(null, { status: 204 });
  };

  return { twiml, amd, status };
}
