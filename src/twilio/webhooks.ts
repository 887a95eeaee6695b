/**
 * Twilio's signed form webhooks: `POST /incoming-call` screens the caller
 * (STIR/SHAKEN, then CALLER_PIN through `<Gather>` and `POST
 * /incoming-call/pin`) and only then mints the stream token (security layer 3
 * starts here, and only for a signed request); `POST /call-ended` decides how
 * a call whose stream closed ends.
 */

import type { Admission } from "../admission.ts";
import { maskCaller } from "../caller_number.ts";
import type { Calls } from "../call/calls.ts";
import type { Config } from "../config.ts";
import { type Budget, BUDGET_MESSAGE } from "../cost/budget.ts";
import { text } from "../http/responses.ts";
import type { Handler } from "../http/router.ts";
import type { CallJournal } from "../journal/journal.ts";
import type { Logger, LogLine } from "../log.ts";
import { publicOrigin, websocketOrigin } from "../public_url.ts";
import { mintStreamToken } from "../stream_token.ts";
import { type CallerPin, stirFailed, stirPassedA } from "./caller_pin.ts";
import { readSignedForm } from "./signed_form.ts";
import {
  connectStreamTwiml,
  gatherDigitsTwiml,
  rejectTwiml,
  sayAndHangUpTwiml,
  twimlResponse,
} from "./twiml.ts";

export const RESTARTING_MESSAGE =
  "Sorry, your assistant is restarting right now. Please call back in a minute.";
export const BUSY_MESSAGE =
  "Sorry, your assistant is busy with other calls. Please try again in a few minutes.";
export const APOLOGY_MESSAGE =
  "Sorry, your assistant ran into a problem and has to hang up. Please call again.";
export const PIN_PROMPT = "Please enter your PIN.";
export const PIN_RETRY_PROMPT = "That PIN is not right. Please try again.";
export const PIN_WRONG_MESSAGE = "That PIN is not right. Goodbye.";
export const PIN_MISSING_MESSAGE = "No PIN was entered. Goodbye.";
export const PIN_LOCKED_MESSAGE =
  "Sorry, your assistant is not taking calls right now. Please try again later.";

export interface WebhookOptions {
  config: Config;
  logger: Logger;
  /** Rate-limited: refused requests can come in floods. */
  refusal: LogLine;
  signingKey: CryptoKey;
  tokenKey: CryptoKey;
  calls: Calls;
  journal: CallJournal;
  admission: Admission;
  /** DAILY_BUDGET_USD; undefined: no budget. */
  budget?: Budget;
  /** CALLER_PIN; undefined: no PIN asked. */
  callerPin?: CallerPin;
}

/** How long /call-ended waits for the journal to learn how the stream ended. */
const CALL_END_WAIT_MS = 2000;

export function webhookHandlers(options: WebhookOptions): {
  incomingCall: Handler;
  pinEntered: Handler;
  callEnded: Handler;
} {
  const { config, logger, calls, journal } = options;

  /** Reads a form webhook and checks Twilio's signature; a Response when it fails. */
  const signedForm = (request: Request) =>
    readSignedForm(request, {
      publicUrl: config.server.publicUrl,
      signingKey: options.signingKey,
      refusal: options.refusal,
    });

  /** The TwiML refusing a call the server cannot take now, if any. */
  const refusedNow = async (callSid: string) => {
    const refused = options.admission.refusal();
    if (refused === "draining") {
      logger.log("info", "webhook.refused", { callSid, reason: refused });
      return twimlResponse(sayAndHangUpTwiml(RESTARTING_MESSAGE));
    }
    if (refused === "busy") {
      logger.log("warn", "webhook.refused", { callSid, reason: refused });
      return twimlResponse(sayAndHangUpTwiml(BUSY_MESSAGE));
    }
    // Over budget: one sentence, and no token, so no voice session is opened.
    if (await options.budget?.reached()) {
      logger.log("warn", "webhook.refused", { callSid, reason: "budget" });
      return twimlResponse(sayAndHangUpTwiml(BUDGET_MESSAGE));
    }
    return undefined;
  };

  /**
   * The one step that spends: mints the stream token and opens (pre-warms)
   * the upstream session, then answers the TwiML that connects the stream.
   * Only a caller who passed every check gets here.
   */
  const connectStream = async (
    request: Request,
    callSid: string,
    caller: string,
  ) => {
    const { token, claims } = await mintStreamToken(
      options.tokenKey,
      callSid,
      config.calls.streamTokenTtlSeconds,
    );
    // Open the Realtime session now, while Twilio fetches the TwiML and
    // connects the stream, so the caller's first words do not wait for it.
    calls.prewarm(claims);
    logger.log("info", "webhook.accepted", {
      callSid,
      caller: maskCaller(caller),
    });
    const origin = publicOrigin(request, config.server.publicUrl);
    return twimlResponse(
      connectStreamTwiml(
        `${websocketOrigin(origin)}/media-stream/${token}`,
        { caller },
        `${origin}/call-ended`,
      ),
    );
  };

  const askForPin = (request: Request, prompt: string) =>
    twimlResponse(gatherDigitsTwiml({
      numDigits: options.callerPin!.digits,
      actionUrl: `${
        publicOrigin(request, config.server.publicUrl)
      }/incoming-call/pin`,
      prompt,
      noInput: PIN_MISSING_MESSAGE,
    }));

  const lockedOut = (callSid: string) => {
    options.refusal("warn", "webhook.refused", {
      callSid,
      reason: "pin_lockout",
    });
    return twimlResponse(sayAndHangUpTwiml(PIN_LOCKED_MESSAGE));
  };

  const incomingCall: Handler = async (request) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const callSid = params.get("CallSid");
    if (!callSid) return text(400, "missing CallSid");
    // The allowlist Function applies this rule too; it may be bypassed or
    // misconfigured, so the server does not rely on it.
    const verdict = params.get("StirVerstat");
    if (stirFailed(verdict)) {
      options.refusal("warn", "webhook.refused", {
        callSid,
        reason: "stir_shaken_failed",
      });
      return twimlResponse(rejectTwiml());
    }
    const refused = await refusedNow(callSid);
    if (refused) return refused;
    const caller = params.get("From") ?? "";
    const pin = options.callerPin;
    if (
      pin === undefined ||
      (config.callers.pinSkipVerified && stirPassedA(verdict))
    ) {
      return connectStream(request, callSid, caller);
    }
    if (await pin.lockedOut()) return lockedOut(callSid);
    return askForPin(request, PIN_PROMPT);
  };

  /** `<Gather>`'s action: the digits the caller keyed in (never logged). */
  const pinEntered: Handler = async (request) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const callSid = params.get("CallSid");
    const pin = options.callerPin;
    if (!callSid) return text(400, "missing CallSid");
    if (pin === undefined) return text(404, "no PIN is configured");
    if (await pin.lockedOut()) return lockedOut(callSid);
    if (pin.matches(params.get("Digits") ?? "")) {
      const refused = await refusedNow(callSid);
      if (refused) return refused;
      return connectStream(request, callSid, params.get("From") ?? "");
    }
    const outcome = await pin.wrong(callSid);
    options.refusal("warn", "webhook.wrong_pin", { callSid, outcome });
    if (outcome === "locked_out") return lockedOut(callSid);
    if (outcome === "hang_up") {
      return twimlResponse(sayAndHangUpTwiml(PIN_WRONG_MESSAGE));
    }
    return askForPin(request, PIN_RETRY_PROMPT);
  };

  /** Twilio comes here when the stream closed and the call is still up. */
  const callEnded: Handler = async (request) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const callSid = params.get("CallSid") ?? "";
    const deadline = Date.now() + CALL_END_WAIT_MS;
    let outcome = (await journal.get(callSid))?.record.outcome;
    while (!outcome && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      outcome = (await journal.get(callSid))?.record.outcome;
    }
    const clean = outcome === "assistant_ended" || outcome === "limit" ||
      outcome === "caller_hung_up";
    logger.log("info", "call.continued", {
      callSid,
      outcome: outcome ?? "unknown",
    });
    return twimlResponse(
      clean ? sayAndHangUpTwiml() : sayAndHangUpTwiml(APOLOGY_MESSAGE),
    );
  };

  return { incomingCall, pinEntered, callEnded };
}
