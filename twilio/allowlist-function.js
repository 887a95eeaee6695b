// Twilio Serverless Function (path /incoming-call): screens every call on
// Twilio's side, before it is answered. Listed callers are redirected to the
// server's webhook; everyone else gets <Reject>, so the call is never
// answered and never billed. Any doubt (bad config, withheld caller ID, a
// caller ID that STIR/SHAKEN says did not verify) fails closed. Uses only the runtime's global `Twilio`: no dependencies.

const E164 = /^\+[1-9]\d{6,14}$/;
// Visual separators people type into numbers (incl. Unicode dashes).
const SEPARATORS = /[\s().\/\u2010-\u2015-]/g;
// Caller-ID values carriers use for withheld numbers; +266696687 is
// "ANONYMOUS" on a keypad, and is valid E.164 so must be caught by name.
const WITHHELD = new Set([
  "",
  "anonymous",
  "restricted",
  "unknown",
  "private",
  "+266696687",
  "266696687",
]);
const REJECT_REASONS = new Set(["rejected", "busy"]);
// Twilio's StirVerstat when the caller ID's STIR/SHAKEN signature did not
// verify (TN-Validation-Failed-A|B|C): the number is likely spoofed. A passed
// verdict or none at all (common outside the US) is screened as before.
const STIR_FAILED = "TN-Validation-Failed";

// E.164 form of a typed number, or null when it is not one.
function toE164(stripped) {
  const number = stripped.startsWith("00") ? `+${stripped.slice(2)}` : stripped;
  return E164.test(number) ? number : null;
}

function strip(value) {
  return String(value ?? "").replace(SEPARATORS, "");
}

// Logs are visible to anyone with console access: show the last 4 digits only.
function mask(number) {
  return `…${number.slice(-4)}`;
}

function isHttpsUrl(value) {
  try {
    return new URL(value).protocol === "https:";
  } catch {
    return false;
  }
}

function rejectReason(context) {
  const configured = String(context.REJECT_REASON || "rejected").trim()
    .toLowerCase();
  if (REJECT_REASONS.has(configured)) return configured;
  console.error(
    'allowlist: REJECT_REASON must be "rejected" or "busy"; using "rejected"',
  );
  return "rejected";
}

// The webhook URL to redirect to, or null to reject the call.
function screen(context, event) {
  const webhookUrl = String(context.WEBHOOK_URL ?? "").trim();
  if (!isHttpsUrl(webhookUrl)) {
    console.error(
      "allowlist: WEBHOOK_URL is missing or not an https:// URL; rejecting call",
    );
    return null;
  }

  const entries = String(context.ALLOWED_NUMBERS ?? "").split(",").map(strip)
    .filter(Boolean);
  const allowed = entries.map(toE164).filter(Boolean);
  const ignored = entries.length - allowed.length;
  if (ignored > 0) {
    // A count only: the entries themselves are the owner's numbers.
    console.error(
      `allowlist: ignored ${ignored} ALLOWED_NUMBERS entries that are not E.164`,
    );
  }
  if (allowed.length === 0) {
    console.error(
      "allowlist: ALLOWED_NUMBERS has no valid E.164 number; rejecting call",
    );
    return null;
  }

  const verdict = String(event.StirVerstat ?? "").trim();
  if (verdict.startsWith(STIR_FAILED)) {
    console.error(
      `allowlist: STIR/SHAKEN says the caller ID did not verify (${
        verdict.slice(0, 32)
      }); rejecting call`,
    );
    return null;
  }

  const from = strip(event.From);
  if (WITHHELD.has(from.toLowerCase())) {
    console.error("allowlist: caller ID is withheld; rejecting call");
    return null;
  }
  const caller = toE164(from);
  if (!caller) {
    console.error(
      "allowlist: caller ID is not an E.164 number; rejecting call",
    );
    return null;
  }
  if (!allowed.includes(caller)) {
    console.log(
      `allowlist: caller ${mask(caller)} is not on the list; rejecting call`,
    );
    return null;
  }
  console.log(`allowlist: caller ${mask(caller)} is on the list; redirecting`);
  return webhookUrl;
}

exports.handler = (context, event, callback) => {
  const response = new Twilio.twiml.VoiceResponse();
  const reason = rejectReason(context);
  const webhookUrl = screen(context, event);
  if (webhookUrl) {
    // Twilio itself requests the webhook, signed afresh, so the server's
    // signature check works as if the number pointed straight at it.
    response.redirect({ method: "POST" }, webhookUrl);
  } else {
    response.reject({ reason });
  }
  callback(null, response);
};
