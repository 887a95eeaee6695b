/**
 * The owner's forms change things (notes added, deleted), so they must come
 * from the owner's own pages. The session cookie is SameSite=Strict, which
 * already keeps other sites' requests signed out; this refuses, as well, any
 * request a browser marks as coming from elsewhere. Clients that are not
 * browsers send neither header and authenticate with the bearer token.
 */

import { publicOrigin } from "../public_url.ts";

export function isSameOrigin(
  request: Request,
  publicUrl: string | undefined,
): boolean {
  // Browsers set Sec-Fetch-Site themselves and pages cannot change it. The
  // owner's pages send no referrer, so their own posts carry `Origin: null`:
  // where the browser says where a request came from, that is the answer.
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) return site === "same-origin" || site === "none";
  const origin = request.headers.get("origin");
  return origin === null || origin === publicOrigin(request, publicUrl);
}
