/**
 * Twilio's signed form webhooks: `POST /incoming-call` screens the caller
 * (STIR/SHAKEN, then CALLER_PIN through `<Gather>` and `POST
 * /incoming-call/pin`) and only then mints the stream token (security layer 3
 * starts here, and only for a signed request); `POST /call-ended` (the
 * `<Connect action>`) decides how a call whose stream closed goes on: hang
 * up, resume it here, or apologise.
 */

import type { Admission } from "../admission.ts";
import { maskCaller } from "../caller_number.ts";
import { normalizeE164 } from "../e164.ts";
import type { Calls } from "./calls.ts";
import type { CallLeases } from "./lease.ts";
import type { Config } from "../config.ts";
import { type Budget, BUDGET_MESSAGE } from "../cost/budget.ts";
import { text } from "../http/responses.ts";
import type { Handler } from "../http/router.ts";
import type { CallJournal } from "../journal/journal.ts";
import type { Logger, LogLine } from "../log.ts";
import { publicOrigin } from "../public_url.ts";
import {
  type CallerPin,
  stirFailed,
  stirPassedA,
} from "../twilio/caller_pin.ts";
import { claimOneStream } from "./one_stream.ts";
import { connectCallTwiml } from "./stream_twiml.ts";
import { readSignedForm } from "../twilio/signed_form.ts";
import {
  gatherDigitsTwiml,
  pauseAndRedirectTwiml,
  rejectTwiml,
  sayAndHangUpTwiml,
  twimlResponse,
} from "../twilio/twiml.ts";

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
  /** Calls the server places: their opening, and the message for a voicemail box (src/outbound/). */
  outbound?: {
    openingFor(callSid: string): Promise<string | undefined>;
    voicemailFor(callSid: string): Promise<string | undefined>;
  };
  /** CALLER_PIN; undefined: no PIN asked. */
  callerPin?: CallerPin;
  /** One stream per call, and resumes. */
  leases: CallLeases;
}

/**
 * How long /call-ended waits for a live holder to record how its stream
 * ended; a dead holder's heartbeat goes stale sooner (src/instances.ts).
 */
const CONTINUE_WAIT_MS = 2500;
/** Marks /call-ended's own redirect: a stream still held then gets the apology. */
const HELD_RETRY = "held=1";

export function webhookHandlers(options: WebhookOptions): {
  incomingCall: Handler;
  pinEntered: Handler;
  callEnded: Handler;
} {
  const { config, logger, calls, journal } = options;
  const streamStart = {
    tokenKey: options.tokenKey,
    streamTokenTtlSeconds: config.calls.streamTokenTtlSeconds,
    publicUrl: config.server.publicUrl,
    calls,
  };

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
    // One stream per call: a repeated or replayed webhook mints nothing.
    const duplicate = await claimOneStream(
      options.leases,
      callSid,
      options.refusal,
    );
    if (duplicate) return duplicate;
    logger.log("info", "webhook.accepted", {
      callSid,
      caller: maskCaller(caller),
    });
    return connectCallTwiml(streamStart, request, { callSid, caller });
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

  /**
   * ALLOWED_NUMBERS (else OWNER_NUMBERS), when set: any other caller is
   * rejected here too, because the allowlist Function may be bypassed or
   * misconfigured. Undefined when the caller may go on.
   */
  const notAllowed = (callSid: string, caller: string) => {
    const allowed = config.callers.allowedNumbers;
    if (allowed === undefined) return undefined;
    const number = normalizeE164(caller);
    if (number !== undefined && allowed.includes(number)) return undefined;
    options.refusal("warn", "webhook.refused", {
      callSid,
      reason: "caller_not_allowed",
      caller: maskCaller(caller),
    });
    return twimlResponse(rejectTwiml());
  };

  const incomingCall: Handler = async (request) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const callSid = params.get("CallSid");
    if (!callSid) return text(400, "missing CallSid");
    const rejected = notAllowed(callSid, params.get("From") ?? "");
    if (rejected) return rejected;
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
    const rejected = notAllowed(callSid, params.get("From") ?? "");
    if (rejected) return rejected;
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

  /** Twilio comes here when the stream closed (the `<Connect action>`). */
  const callEnded: Handler = async (request) => {
    const params = await signedForm(request);
    if (params instanceof Response) return params;
    const callSid = params.get("CallSid");
    if (!callSid) return text(400, "missing CallSid");
    // Only a call still up is resumed: a completed one never opens a
    // session (the lease sweep closes it if its stream dropped).
    const status = params.get("CallStatus");
    if (status !== "in-progress") {
      logger.log("info", "call.continued", {
        callSid,
        status: status ?? undefined,
        decision: "over",
      });
      return twimlResponse(sayAndHangUpTwiml());
    }
    const decision = await options.leases.continueCall(
      callSid,
      CONTINUE_WAIT_MS,
      !options.admission.draining,
    );
    logger.log("info", "call.continued", { callSid, decision: decision.kind });
    const origin = publicOrigin(request, config.server.publicUrl);
    switch (decision.kind) {
      case "hang_up": {
        // A machine answered a call the server placed, and the assistant's
        // opening has played to it: Twilio leaves the message.
        const voicemail =
          (await journal.get(callSid))?.record.outcome === "voicemail"
            ? await options.outbound?.voicemailFor(callSid)
            : undefined;
        return twimlResponse(sayAndHangUpTwiml(voicemail));
      }
      case "held":
        // A replay, or a holder slow to record its end: Twilio never gets
        // an error. Asked once more after a pause, then the apology; the
        // state is left to the holder (a replay must not end a live call).
        options.refusal("warn", "webhook.duplicate", { callSid });
        return twimlResponse(
          new URL(request.url).search === `?${HELD_RETRY}`
            ? sayAndHangUpTwiml(APOLOGY_MESSAGE)
            : pauseAndRedirectTwiml(`${origin}/call-ended?${HELD_RETRY}`),
        );
      case "elsewhere":
        // Stopping: Twilio asks again in a moment, and a live instance answers.
        return twimlResponse(pauseAndRedirectTwiml(`${origin}/call-ended`));
      case "give_up":
        // The real end: the summary is made now, once.
        await journal.finish(callSid);
        await calls.forget(callSid);
        logger.log("warn", "call.not_resumed", { callSid, why: decision.why });
        return twimlResponse(sayAndHangUpTwiml(APOLOGY_MESSAGE));
      case "resume": {
        // A spent budget opens no new session, resumed or not.
        if (await options.budget?.reached()) {
          await options.leases.finish(callSid, "ended");
          await journal.finish(callSid);
          await calls.forget(callSid);
          logger.log("warn", "call.not_resumed", { callSid, why: "budget" });
          return twimlResponse(sayAndHangUpTwiml(BUDGET_MESSAGE));
        }
        const resume = await calls.resumePlan(callSid);
        // Nothing said yet: a call the server placed starts with its opening.
        const opening = resume
          ? undefined
          : await options.outbound?.openingFor(callSid);
        logger.log("info", "call.resuming", {
          callSid,
          cause: decision.cause,
          segment: decision.segment,
        });
        return connectCallTwiml(streamStart, request, {
          callSid,
          caller: params.get("From") ?? "",
          opening,
          resume,
        });
      }
    }
  };

  return { incomingCall, pinEntered, callEnded };
}
