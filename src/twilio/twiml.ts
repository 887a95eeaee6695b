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
 * `<Connect><Stream>`: the call's audio goes to `streamUrl` (wss://, no query
 * string). When the server closes the stream, Twilio goes on to `continueUrl`
 * (a fresh signed POST), which decides between a plain hang-up and an apology.
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
  const next = continueUrl === undefined
    ? ""
    : `<Redirect method="POST">${escapeXml(continueUrl)}</Redirect>`;
  return `${PROLOG}<Response><Connect><Stream url="${
    escapeXml(streamUrl)
  }">${params}</Stream></Connect>${next}</Response>`;
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

export function twimlResponse(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/xml; charset=utf-8" },
  });
}
