/**
 * Model retirements against the Realtime simulator: the start-up check
 * reads the model record OpenAI serves, and a retired model's handshake is
 * refused as the real API does after a shutdown.
 */
import assert from "node:assert/strict";
import { DEFAULT_REALTIME_MODEL } from "../src/config.ts";
import { within } from "../src/http/deadline.ts";
import { delay, startTestServer } from "./helpers/test_server.ts";

Deno.test("the default model is not a retiring one: the simulator's record for it has no shutdown date", async () => {
  const server = await startTestServer();
  try {
    const status = await server.app.modelCheck;
    assert.deepEqual(status, {
      id: DEFAULT_REALTIME_MODEL,
      lookup: "done",
      shutdownDate: null,
    });
    const health = await (await fetch(`${server.origin}/healthz`)).json();
    assert.equal(health.model.shutdownDate, null);
    assert.ok(
      !server.logs.events().some((e) => e.event === "model.retiring"),
    );
  } finally {
    await server.close();
  }
});

Deno.test("a retiring model is warned about at start-up, on /healthz and /calls, from OpenAI's model record", async () => {
  const server = await startTestServer({
    OPENAI_REALTIME_MODEL: "gpt-realtime",
    ADMIN_TOKEN: "an-admin-token-of-some-length",
  });
  try {
    const status = await server.app.modelCheck;
    assert.equal(status.shutdownDate, "2027-01-20");
    const warning = server.logs.events().find((e) =>
      e.event === "model.retiring"
    );
    assert.equal(warning?.shutdownDate, "2027-01-20");
    const health = await (await fetch(`${server.origin}/healthz`)).json();
    assert.equal(health.model.shutdownDate, "2027-01-20");
    const calls = await fetch(`${server.origin}/calls`, {
      headers: { authorization: "Bearer an-admin-token-of-some-length" },
    });
    assert.match(await calls.text(), /OPENAI_REALTIME_MODEL=gpt-realtime-2\.1/);
  } finally {
    await server.close();
  }
});

Deno.test("after a shutdown the retired model's handshake is refused: the caller hears the apology instead of silence", async () => {
  const server = await startTestServer(
    { OPENAI_REALTIME_MODEL: "gpt-realtime" },
    { retiredModels: ["gpt-realtime"] },
  );
  try {
    const edge = await server.call();
    assert.ok(
      await within(edge.closed, 10_000),
      "the stream was never closed: the caller is left in silence",
    );
    const ended = server.logs.events().find((e) => e.event === "call.ended");
    assert.equal(ended?.reason, "upstream refused");
    await delay(10);
    assert.equal(server.realtime.sessions.length, 0, "no session was opened");
  } finally {
    await server.close();
  }
});
