/**
 * A tiny router: a table of method, path pattern and handler. The first
 * route whose path and method match answers; a path that matches only with
 * another method is a 405, no path a 404.
 */

import type { Logger } from "../log.ts";
import { text } from "./responses.ts";

export type Handler = (
  request: Request,
  match: URLPatternResult,
) => Promise<Response> | Response;

export interface Route {
  method: "GET" | "POST" | "DELETE";
  pattern: URLPattern;
  handle: Handler;
}

export function route(
  method: Route["method"],
  pathname: string,
  handle: Handler,
): Route {
  return { method, pattern: new URLPattern({ pathname }), handle };
}

/**
 * The app's request handler for `routes`. A handler that throws answers 500;
 * the log names the route and the error's class, never its message, which
 * may hold request data.
 */
export function router(
  routes: readonly Route[],
  logger: Logger,
): (request: Request) => Promise<Response> {
  return async (request) => {
    let pathMatched = false;
    for (const { method, pattern, handle } of routes) {
      const match = pattern.exec(request.url);
      if (!match) continue;
      pathMatched = true;
      if (request.method !== method) continue;
      try {
        return await handle(request, match);
      } catch (error) {
        logger.log("error", "request.failed", {
          path: pattern.pathname,
          error: error instanceof Error ? error.name : "unknown",
        });
        return text(500, "internal error");
      }
    }
    return pathMatched
      ? text(405, "method not allowed")
      : text(404, "not found");
  };
}
