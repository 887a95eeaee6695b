/**
 * Which URLs Twilio may have signed for a request. Twilio signs the URL it
 * requested, and what reaches this server can differ from it in ways the
 * server cannot see; each such way is one rule here. Host, path and query
 * (and a webhook's params) stay bound by the HMAC whatever the rules add.
 */

import { publicOrigin, websocketOrigin } from "../public_url.ts";

/**
 * A form webhook (`POST /incoming-call`, `/call-ended`): Twilio signs the
 * https URL with its query. A stream handshake (`GET /media-stream/…`):
 * Twilio signs the wss URL, with no query (it drops queries from
 * `<Stream url>`).
 */
export type SignedRequestKind = "webhook" | "stream";

export function signedUrlCandidates(
  request: Request,
  publicUrl: string | undefined,
  kind: SignedRequestKind,
): string[] {
  const url = new URL(request.url);
  const origin = publicOrigin(request, publicUrl);
  const requested = kind === "webhook"
    ? [origin + url.pathname + url.search]
    : slashVariants(websocketOrigin(origin) + url.pathname);
  return [...new Set(requested.flatMap(schemeVariants).flatMap(portVariants))];
}

/** Twilio's docs suggest accepting a handshake URL with or without a trailing slash. */
function slashVariants(url: string): string[] {
  const bare = url.replace(/\/$/, "");
  return [bare, `${bare}/`];
}

/**
 * With PUBLIC_URL unset and a proxy that terminates TLS without
 * X-Forwarded-Proto, the server cannot see the scheme Twilio used, so both
 * are tried.
 */
function schemeVariants(url: string): string[] {
  const swapped = url.replace(
    /^(https?|wss?):/,
    (scheme) => OTHER_SCHEME[scheme],
  );
  return [url, swapped];
}

const OTHER_SCHEME: Record<string, string> = {
  "https:": "http:",
  "http:": "https:",
  "wss:": "ws:",
  "ws:": "wss:",
};

/**
 * Twilio signs HTTPS voice webhooks without the port, but other products and
 * proxies differ: the URL as given and with the default port toggled.
 */
export function portVariants(url: string): string[] {
  const match = /^([a-z]+):\/\/([^/?#]*)(.*)$/i.exec(url);
  const defaultPort = match && DEFAULT_PORTS[match[1].toLowerCase()];
  if (!match || !defaultPort) return [url];
  const [, scheme, authority, rest] = match;
  if (authority.endsWith(`:${defaultPort}`)) {
    return [
      url,
      `${scheme}://${authority.slice(0, -defaultPort.length - 1)}${rest}`,
    ];
  }
  // An authority with another explicit port (or an IPv6 literal's colons
  // inside brackets) has no default-port variant.
  if (/:\d*$/.test(authority)) return [url];
  return [url, `${scheme}://${authority}:${defaultPort}${rest}`];
}

const DEFAULT_PORTS: Record<string, string | undefined> = {
  https: "443",
  http: "80",
  wss: "443",
  ws: "80",
};
