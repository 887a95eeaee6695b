/**
 * Run with --v8-flags=--expose-gc: places calls whose stream the server
 * closes mid-flood (bad frames) or after a `stop`, then prints how many of
 * the server's media-stream sockets are still reachable after a full GC.
 */
import { CALL_PARAMS } from "../../peers/twilio_requests.ts";
import { delay, startTestServer } from "./test_server.ts";

const released: WeakRef<WebSocket>[] = [];
const upgrade = Deno.upgradeWebSocket;
Deno.upgradeWebSocket = (request, options) => {
  const upgraded = upgrade(request, options);
  if (new URL(request.url).pathname.startsWith("/media-stream/")) {
    released.push(new WeakRef(upgraded.socket));
  }
  return upgraded;
};

const server = await startTestServer();
for (let i = 0; i < 3; i++) {
  // One stream per call: each call has its own CallSid.
  const callSid = `CA${String(i).padStart(32, "0")}`;
  const edge = await server.connect(
    await server.answer({ ...CALL_PARAMS, CallSid: callSid }),
    { callSid },
  );
  const session = await server.realtime.nextSession();
  await session.waitFor("session.update");
  // More bad frames than tolerated: the server closes while more are queued.
  for (let n = 0; n < 60; n++) edge.sendRaw(`garbage ${n}`);
  await edge.closed;
}
await delay(300);
const gc = (globalThis as unknown as { gc(): void }).gc;
for (let i = 0; i < 5; i++) {
  gc();
  await delay(20);
}
console.log(JSON.stringify({
  sockets: released.length,
  alive: released.filter((ref) => ref.deref() !== undefined).length,
}));
await server.close();
