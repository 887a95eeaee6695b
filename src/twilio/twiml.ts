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

/** `<Connect><Stream>`: the call's audio goes to `streamUrl` (wss://, no query string). */
export function connectStreamTwiml(
  streamUrl: string,
  parameters: Record<string, string> = {},
): string {
  const params = Object.entries(parameters)
    .map(([name, value]) =>
      `<Parameter name="${escapeXml(name)}" value="${escapeXml(value)}"/>`
    )
    .join("");
  return `${PROLOG}<Response><Connect><Stream url="${
    escapeXml(streamUrl)
  }">${params}</Stream></Connect></Response>`;
}

/** Speaks `message`, then hangs up. */
export function sayAndHangUpTwiml(message: string): string {
  return `${PROLOG}<Response><Say>${
    escapeXml(message)
  }</Say><Hangup/></Response>`;
}

export function twimlResponse(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/xml; charset=utf-8" },
  });
}
