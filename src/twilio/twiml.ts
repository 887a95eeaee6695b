/** The few TwiML documents this server answers with. */

const XML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c]);
}

const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';

/**
 * `<Connect action><Stream>`: the call's audio goes to `streamUrl` (wss://,
 * no query string). However the stream's socket closes (the server closed
 * it, or the server died), Twilio requests `continueUrl` (a fresh signed
 * POST), which hangs up, resumes the call or apologises.
 */
export function connectStreamTwiml(
  streamUrl: string,
  parameters: Record<string, string> = {},
  continueUrl?: string,
): string {
  const params = Object.entries(parameters)
    .map(([name, value]) =>
      `<Parameter name="${escapeXml(name)}" value="${escapeXml(value)}"/>`
    )
    .join("");
  const action = continueUrl === undefined
    ? ""
    : ` action="${escapeXml(continueUrl)}" method="POST"`;
  return `${PROLOG}<Response><Connect${action}><Stream url="${
    escapeXml(streamUrl)
  }">${params}</Stream></Connect></Response>`;
}

/**
 * `<Gather input="dtmf">`: asks for `numDigits` key presses, which Twilio
 * POSTs (signed) as `Digits` to `actionUrl`. With no key pressed in time
 * Twilio goes on past `</Gather>`: a goodbye and a hang-up.
 */
export function gatherDigitsTwiml(options: {
  numDigits: number;
  actionUrl: string;
  prompt: string;
  noInput: string;
  timeoutSeconds?: number;
}): string {
  return `${PROLOG}<Response><Gather input="dtmf" numDigits="${options.numDigits}" timeout="${
    options.timeoutSeconds ?? 10
  }" action="${escapeXml(options.actionUrl)}" method="POST"><Say>${
    escapeXml(options.prompt)
  }</Say></Gather><Say>${escapeXml(options.noInput)}</Say><Hangup/></Response>`;
}

/** `<Reject>` as the first verb: the call is never answered, so never billed. */
export function rejectTwiml(reason: "rejected" | "busy" = "rejected"): string {
  return `${PROLOG}<Response><Reject reason="${reason}"/></Response>`;
}

/** Speaks `message` (if any), then hangs up. */
export function sayAndHangUpTwiml(message?: string): string {
  const say = message === undefined ? "" : `<Say>${escapeXml(message)}</Say>`;
  return `${PROLOG}<Response>${say}<Hangup/></Response>`;
}

/** A second of silence, then Twilio requests `url` again (signed, POST). */
export function pauseAndRedirectTwiml(url: string): string {
  return `${PROLOG}<Response><Pause length="1"/><Redirect method="POST">${
    escapeXml(url)
  }</Redirect></Response>`;
}

export function twimlResponse(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/xml; charset=utf-8" },
  });
}
