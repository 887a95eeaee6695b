import twilio from "twilio";
import { TEST_AUTH_TOKEN } from "./keys.ts";

/** A webhook POST as Twilio sends it, signed by npm:twilio (an independent oracle). */
export function signedWebhook(
  url: string,
  params: Record<string, string>,
  options: {
    authToken?: string;
    signature?: string | null;
    headers?: HeadersInit;
  } = {},
): Request {
  const signature = options.signature === undefined
    ? twilio.getExpectedTwilioSignature(
      options.authToken ?? TEST_AUTH_TOKEN,
      url,
      params,
    )
    : options.signature;
  const headers = new Headers(options.headers);
  headers.set("content-type", "application/x-www-form-urlencoded");
  if (signature !== null) headers.set("x-twilio-signature", signature);
  return new Request(url, {
    method: "POST",
    headers,
    body: new URLSearchParams(params).toString(),
  });
}

/**
 * Twilio's webhook to `publicUrl`, signed, sent to the server where it
 * really listens (`origin`); the TwiML it answered, or an error when the
 * answer is not a 200.
 */
export async function webhookTwiml(
  origin: string,
  publicUrl: string,
  params: Record<string, string>,
): Promise<string> {
  const signed = signedWebhook(publicUrl, params);
  const response = await fetch(`${origin}${new URL(publicUrl).pathname}`, {
    method: "POST",
    headers: signed.headers,
    body: await signed.text(),
  });
  const twiml = await response.text();
  if (response.status !== 200) {
    throw new Error(`webhook answered ${response.status}: ${twiml}`);
  }
  return twiml;
}

/** The stream URL inside a <Stream url="…"> of a TwiML answer. */
export function streamUrlOf(twiml: string): string {
  const match = /<Stream url="([^"]+)"/.exec(twiml);
  if (!match) throw new Error(`no <Stream url> in ${twiml}`);
  return unescapeXml(match[1]);
}

const XML_TEXT: Record<string, string> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&apos;": "'",
};

/** Text or an attribute value of TwiML, its XML entities read back. */
export function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (entity) => XML_TEXT[entity]);
}

/** The <Parameter name value> pairs inside <Stream>, as Twilio passes them on. */
export function streamParametersOf(twiml: string): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (
    const [, name, value] of twiml.matchAll(
      /<Parameter name="([^"]*)" value="([^"]*)"\/>/g,
    )
  ) {
    parameters[unescapeXml(name)] = unescapeXml(value);
  }
  return parameters;
}

/** Twilio's signature of a media-stream handshake: the wss URL, no params. */
export function streamSignature(
  streamUrl: string,
  authToken = TEST_AUTH_TOKEN,
): string {
  return twilio.getExpectedTwilioSignature(authToken, streamUrl, {});
}

export const CALL_PARAMS = {
  AccountSid: "AC0123456789abcdef0123456789abcdef",
  CallSid: "CA0123456789abcdef0123456789abcdef",
  From: "+14155550123",
  To: "+18005550199",
  CallStatus: "ringing",
  Direction: "inbound",
};
