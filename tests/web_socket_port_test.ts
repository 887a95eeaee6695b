/**
 * webSocketPort() over a real upgraded socket: a call that ends before its
 * stream's upgrade has completed (its upstream handshake was refused at
 * once) still closes the stream, so Twilio goes on to the apology.
 */
import assert from "node:assert/strict";
import { webSocketPort } from "../src/call/ports.ts";
import { within } from "../src/http/deadline.ts";

/** How the client saw the stream close, or undefined if it never did. */
async function closedInHandler(): Promise<
  { code: number; reason: string } | undefined
> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      const port = webSocketPort(socket);
      port.attach({ message() {}, closed() {} });
      port.close();
      return response;
    },
  );
  const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    client.addEventListener(
      "close",
      (event) => resolve({ code: event.code, reason: event.reason }),
    )
  );
  try {
    return await within(closed, 5_000);
  } finally {
    if (client.readyState <= WebSocket.OPEN) client.close();
    await closed;
    await server.shutdown();
  }
}

Deno.test("webSocketPort().close() before the upgrade has completed still closes the stream", async () => {
  const closed = await closedInHandler();
  assert.ok(closed, "the stream was never closed: the caller hears silence");
  assert.deepEqual(closed, { code: 1000, reason: "call ended" });
});
