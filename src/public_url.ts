/**
 * The origin Twilio used to reach us. Behind a TLS-terminating proxy the
 * server sees http://, yet Twilio signed https://, so the configured
 * PUBLIC_URL wins; otherwise the forwarded headers, then Host.
 */
export function publicOrigin(
  request: Request,
  publicUrl: string | undefined,
): string {
  if (publicUrl !== undefined) return publicUrl;
  const url = new URL(request.url);
  const first = (name: string) =>
    request.headers.get(name)?.split(",")[0].trim();
  const proto = first("x-forwarded-proto")?.toLowerCase();
  const scheme = proto === "https" || proto === "http"
    ? proto
    : url.protocol.slice(0, -1);
  const host = first("x-forwarded-host") || request.headers.get("host") ||
    url.host;
  return `${scheme}://${host}`;
}

/** The WebSocket origin matching an HTTP origin: https → wss, http → ws. */
export function websocketOrigin(httpOrigin: string): string {
  return httpOrigin.replace(/^http/, "ws");
}
