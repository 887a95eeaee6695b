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

const clientAddresses = new WeakMap<Request, string>();

/**
 * The address of the socket a request came on (a proxy in front shows as
 * itself: headers naming a client could be forged); "unknown" in-process.
 */
export function clientAddress(request: Request): string {
  return clientAddresses.get(request) ?? "unknown";
}

/** A body must be in within this long of the request's arrival. */
export const BODY_DEADLINE_MS = 15_000;

/** A request body that did not arrive by its deadline. */
export class BodyTimeoutError extends Error {
  constructor() {
    super("request body too slow");
    this.name = "BodyTimeoutError";
  }
}

/**
 * `body`, failing with BodyTimeoutError once `deadlineMs` have passed: a
 * client trickling its body cannot hold a request (and its memory) open.
 */
export function bodyWithDeadline(
  body: ReadableStream<Uint8Array>,
  deadlineMs: number,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const deadline = Date.now() + deadlineMs;
  return new ReadableStream({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(
          () => resolve("late"),
          Math.max(0, deadline - Date.now()),
        );
      });
      const next = await Promise.race([reader.read(), late]);
      clearTimeout(timer);
      if (next === "late") {
        reader.cancel().catch(() => {});
        controller.error(new BodyTimeoutError());
      } else if (next.done) {
        controller.close();
      } else {
        controller.enqueue(next.value);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/**
 * The app's request handler for `routes`. A handler that throws answers 500;
 * the log names the route and the error's class, never its message, which
 * may hold request data. A body not in within `bodyDeadlineMs` answers 408.
 */
export function router(
  routes: readonly Route[],
  logger: Logger,
  bodyDeadlineMs = BODY_DEADLINE_MS,
): (request: Request, info?: Deno.ServeHandlerInfo) => Promise<Response> {
  return async (incoming, info) => {
    // GET carries no body (and a WebSocket upgrade needs the original request).
    const request = incoming.body && incoming.method !== "GET"
      ? new Request(incoming, {
        body: bodyWithDeadline(incoming.body, bodyDeadlineMs),
      })
      : incoming;
    const address = info?.remoteAddr;
    if (address && "hostname" in address) {
      clientAddresses.set(request, address.hostname);
    }
    let pathMatched = false;
    for (const { method, pattern, handle } of routes) {
      const match = pattern.exec(request.url);
      if (!match) continue;
      pathMatched = true;
      if (request.method !== method) continue;
      try {
        return await handle(request, match);
      } catch (error) {
        if (error instanceof BodyTimeoutError) {
          return text(408, "request body too slow");
        }
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
