import twilio from "twilio";
import { TEST_AUTH_TOKEN } from "./config.ts";

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

/** The stream URL inside a <Stream url="…"> of a TwiML answer. */
export function streamUrlOf(twiml: string): string {
  const match = /<Stream url="([^"]+)"/.exec(twiml);
  if (!match) throw new Error(`no <Stream url> in ${twiml}`);
  return match[1].replace(/&(amp|lt|gt|quot|apos);/g, (e) => XML_TEXT[e]);
}

const XML_TEXT: Record<string, string> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&apos;": "'",
};

/** The <Parameter name value> pairs inside <Stream>, as Twilio passes them on. */
export function streamParametersOf(twiml: string): Record<string, string> {
  const unescape = (text: string) =>
    text.replace(/&(amp|lt|gt|quot|apos);/g, (entity) => XML_TEXT[entity]);
  const parameters: Record<string, string> = {};
  for (
    const [, name, value] of twiml.matchAll(
      /<Parameter name="([^"]*)" value="([^"]*)"\/>/g,
    )
  ) {
    parameters[unescape(name)] = unescape(value);
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
