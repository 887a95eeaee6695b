/** Small response helpers shared by the handlers. */

export function text(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** Private pages and data: never cached, never framed, no referrer leaks. */
const PRIVATE_HEADERS = {
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
} as const;

export function privateHtml(
  html: string,
  status = 200,
  headers: HeadersInit = {},
): Response {
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      ...PRIVATE_HEADERS,
      ...headers,
    },
  });
}

export function privateJson(body: unknown, status = 200): Response {
  return Response.json(body, { status, headers: PRIVATE_HEADERS });
}

/**
 * Reads at most `limit` bytes of a request's or a response's body; undefined
 * when it is larger.
 */
export async function readLimitedText(
  message: Request | Response,
  limit: number,
): Promise<string | undefined> {
  if (Number(message.headers.get("content-length") ?? 0) > limit) {
    await message.body?.cancel();
    return undefined;
  }
  if (!message.body) return "";
  const reader = message.body.getReader();
  const decoder = new TextDecoder();
  let body = "";
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.length;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    body += decoder.decode(read.value, { stream: true });
  }
  return body + decoder.decode();
}
