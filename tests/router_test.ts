import assert from "node:assert/strict";
import { route, router } from "../src/http/router.ts";
import { memoryLogger } from "./helpers/logs.ts";

const ok = (body: string) => () => new Response(body);

Deno.test("router() answers the first route whose path and method match, with the path's groups", async () => {
  const handle = router([
    route(
      "GET",
      "/calls/:callSid",
      (_request, match) => new Response(match.pathname.groups.callSid),
    ),
    route("GET", "/calls/:other", ok("second")),
  ], memoryLogger());
  const response = await handle(new Request("http://x/calls/CA1"));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "CA1");
});

Deno.test("router() answers 404 for an unknown path and 405 for a known path with another method", async () => {
  const handle = router([
    route("GET", "/healthz", ok("ok")),
    route("POST", "/incoming-call", ok("twiml")),
  ], memoryLogger());
  const missing = await handle(new Request("http://x/nope"));
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), "not found\n");
  const wrong = await handle(new Request("http://x/incoming-call"));
  assert.equal(wrong.status, 405);
  assert.equal(await wrong.text(), "method not allowed\n");
});

Deno.test("router() tries a later route with the same path and the request's method", async () => {
  const handle = router([
    route("GET", "/login", ok("form")),
    route("POST", "/login", ok("signed in")),
  ], memoryLogger());
  const response = await handle(
    new Request("http://x/login", { method: "POST" }),
  );
  assert.equal(await response.text(), "signed in");
});

Deno.test("router() answers 500 when a handler throws, logging the route and the error's class but not its message", async () => {
  const logs = memoryLogger();
  const handle = router([
    route("POST", "/call-ended", () => {
      throw new TypeError("secret detail +14155550123");
    }),
    route("GET", "/rejects", () => Promise.reject("a string")),
  ], logs);
  const thrown = await handle(
    new Request("http://x/call-ended", { method: "POST" }),
  );
  assert.equal(thrown.status, 500);
  const body = await thrown.text();
  assert.equal(body, "internal error\n");
  const rejected = await handle(new Request("http://x/rejects"));
  assert.equal(rejected.status, 500);
  await rejected.body?.cancel();
  const events = logs.events();
  assert.deepEqual(
    events.map(({ level, event, path, error }) => ({
      level,
      event,
      path,
      error,
    })),
    [
      {
        level: "error",
        event: "request.failed",
        path: "/call-ended",
        error: "TypeError",
      },
      {
        level: "error",
        event: "request.failed",
        path: "/rejects",
        error: "unknown",
      },
    ],
  );
  assert.ok(!logs.lines.join("\n").includes("secret detail"));
});
