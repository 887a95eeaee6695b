/**
 * The webhooks of calls this server places: `POST /outbound-call/:id` (the
 * TwiML Twilio fetches once the call is answered, with AnsweredBy from
 * answering machine detection) and `POST /outbound-status/:id` (status
 * callbacks). Both are signed like any webhook, and both accept only a
 * CallSid this server created for that scheduled call: anything else is
 * refused before a stream token is minted or an upstream session opened.
 *
 * A person (AnsweredBy human or unknown) gets the same stream as
 * /incoming-call, pre-warmed with the call's opening so the assistant
 * speaks first. A machine gets one short <Say> after the beep and a hang-up:
 * no model needs to listen to a voicemail greeting, so no session is opened.
 */

import type { Admission } from "../admission.ts";
import type { Calls } from "../call/calls.ts";
import { BUDGET_MESSAGE } from "../cost/budget.ts";
import { text } from "../http/responses.ts";
import type { Handler } from "../http/router.ts";
import type { OutboundCall } from "../journal/outbound_calls.ts";
import type { Logger, LogLine } from "../log.ts";
import { type Dialler, isMachine } from "../outbound/dialler.ts";
import { outboundOpening, voicemailMessage } from "../outbound/opening.ts";
import { publicOrigin, websocketOrigin } from "../public_url.ts";
import { mintStreamToken } from "../stream_token.ts";
import { readSignedForm } from "./signed_form.ts";
import {
  connectStreamTwiml,
  sayAndHangUpTwiml,
  twimlResponse,
} from "./twiml.ts";

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
}

/**
 * Twilio can call back a moment before the REST answer carrying the sid has
 * been recorded: a signed request for an unknown sid waits this long.
 */
const UNKNOWN_SID_WAIT_MS = 1500;

export function outboundWebhookHandlers(options: OutboundWebhookOptions): {
  twiml: Handler;
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
    const { token, claims } = await mintStreamToken(
      options.tokenKey,
      call.callSid,
      options.streamTokenTtlSeconds,
    );
    options.calls.prewarm(
      claims,
      outboundOpening(call.topic, call.requestedBy),
    );
    logger.log("info", "outbound.answered", callLog);
    const origin = publicOrigin(request, options.publicUrl);
    return twimlResponse(
      connectStreamTwiml(
        `${websocketOrigin(origin)}/media-stream/${token}`,
        { caller: call.to },
        `${origin}/call-ended`,
      ),
    );
  };

  const status: Handler = async (request, match) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const call = await ours(params, match.pathname.groups.id ?? "");
    if (!call) return refuse("/outbound-status");
    await dialler.statusChanged(call.callSid, params.get("CallStatus") ?? "");
    return new Response(null, { status: 204 });
  };

  return { twiml, status };
}
