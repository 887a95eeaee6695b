/**
 * The one step that spends, shared by every webhook that connects a call
 * (`/incoming-call`, its PIN, a resume on `/call-ended`, a placed call's
 * TwiML): mint the single-use stream token, open (pre-warm) the upstream
 * session, answer the TwiML that connects the stream with `/call-ended` as
 * its `<Connect action>`. Only a call that passed every check gets here.
 */

import { publicOrigin, websocketOrigin } from "../public_url.ts";
import { mintStreamToken } from "../stream_token.ts";
import { connectStreamTwiml, twimlResponse } from "../twilio/twiml.ts";
import type { Calls } from "./calls.ts";
import type { ResumePlan } from "./resume_plan.ts";

export interface StreamStart {
  tokenKey: CryptoKey;
  streamTokenTtlSeconds: number;
  publicUrl: string | undefined;
  calls: Pick<Calls, "prewarm">;
}

export async function connectCallTwiml(
  start: StreamStart,
  request: Request,
  call: {
    callSid: string;
    caller: string;
    opening?: string;
    resume?: ResumePlan;
  },
): Promise<Response> {
  const { token, claims } = await mintStreamToken(
    start.tokenKey,
    call.callSid,
    start.streamTokenTtlSeconds,
  );
  // Open the session now, while Twilio fetches the TwiML and connects the
  // stream, so the caller's first words do not wait for it.
  start.calls.prewarm(claims, call.opening, call.resume);
  const origin = publicOrigin(request, start.publicUrl);
  return twimlResponse(
    connectStreamTwiml(
      `${websocketOrigin(origin)}/media-stream/${token}`,
      { caller: call.caller },
      `${origin}/call-ended`,
    ),
  );
}
