/**
 * The OpenAI socket's WebSocket client against real servers: Deno's own
 * (ws and wss), and hand-written ones for what Deno's cannot do.
 */
import assert from "node:assert/strict";
import {
  WebSocketClient,
  type WebSocketClientHandlers,
} from "../src/upstream/websocket_client.ts";
import { hasOpenssl, localhostCertificate } from "./helpers/certificate.ts";

interface Recorded {
  opened: Promise<void>;
  messages: string[];
  closed: Promise<{ code: number; reason: string; detail: string }>;
  nextMessage(): Promise<string>;
}

function record(): WebSocketClientHandlers & Recorded {
  const opened = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<
    { code: number; reason: string; detail: string }
  >();
  const messages: string[] = [];
  let waiting: ((text: string) => void) | undefined;
  return {
    opened: opened.promise,
    closed: closed.promise,
    messages,
    nextMessage: () => new Promise((resolve) => waiting = resolve),
    open: () => opened.resolve(),
    message: (text) => {
      messages.push(text);
      waiting?.(text);
      waiting = undefined;
    },
    close: (code, reason, detail) => closed.resolve({ code, reason, detail }),
  };
}

/** Reads a client's upgrade request and accepts it (RFC 6455 4.2.2). */
async function answerHandshake(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  const n = await conn.read(buffer);
  const request = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  const key = /Sec-WebSocket-Key: (\S+)/i.exec(request)![1];
  const accept = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    ),
  ).toBase64();
  await conn.write(new TextEncoder().encode(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  ));
}

/** A Deno WebSocket server that echoes text and reports what it saw. */
function echoServer(tls?: { cert: string; key: string }) {
  const serverClosed = Promise.withResolvers<
    { code: number; reason: string }
  >();
  const headers = Promise.withResolvers<Headers>();
  let socket: WebSocket | undefined;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls },
    (request) => {
      headers.resolve(new Headers(request.headers));
      const upgraded = Deno.upgradeWebSocket(request);
      socket = upgraded.socket;
      socket.onmessage = (event) => socket!.send(event.data);
      socket.onclose = (event) =>
        serverClosed.resolve({ code: event.code, reason: event.reason });
      return upgraded.response;
    },
  );
  return {
    port: server.addr.port,
    headers: headers.promise,
    serverClosed: serverClosed.promise,
    socket: () => socket!,
    shutdown: () => server.shutdown(),
  };
}

Deno.test("WebSocketClient sends its headers and round-trips small, large and unicode text", async () => {
  const server = echoServer();
  const client = record();
  const socket = new WebSocketClient(
    `ws://127.0.0.1:${server.port}/v1/realtime?model=gpt-realtime`,
    client,
    { headers: { Authorization: "Bearer sk-test" } },
  );
  await client.opened;
  assert.equal((await server.headers).get("authorization"), "Bearer sk-test");
  for (const text of ["hi", "é€😀", "x".repeat(300), "y".repeat(70_000)]) {
    const echoed = client.nextMessage();
    assert.equal(socket.send(text), true);
    assert.equal(await echoed, text);
  }
  socket.close(1000, "done");
  assert.deepEqual(await server.serverClosed, { code: 1000, reason: "done" });
  assert.equal((await client.closed).code, 1000);
  assert.equal(socket.send("late"), false);
  await server.shutdown();
});

/**
 * A raw server that accepts one client, reads nothing until `release()`, then
 * returns the first `count` frames it receives, unmasked, with their keys.
 */
function holdingServer(count: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const released = Promise.withResolvers<void>();
  const frames = (async () => {
    const conn = await listener.accept();
    await answerHandshake(conn);
    await released.promise;
    const out: { mask: string; text: string }[] = [];
    let buffer = new Uint8Array(0);
    const chunk = new Uint8Array(256 * 1024);
    while (out.length < count) {
      const n = await conn.read(chunk);
      if (n === null) break;
      const joined = new Uint8Array(buffer.length + n);
      joined.set(buffer);
      joined.set(chunk.subarray(0, n), buffer.length);
      buffer = joined;
      for (;;) {
        if (buffer.length < 2) break;
        assert.equal(buffer[0], 0x81, "a final text frame");
        assert.equal(buffer[1] & 0x80, 0x80, "masked");
        let length = buffer[1] & 0x7f;
        let header = 2;
        if (length === 126) {
          length = (buffer[2] << 8) | buffer[3];
          header = 4;
        } else if (length === 127) {
          length = Number(new DataView(buffer.buffer).getBigUint64(2));
          header = 10;
        }
        if (buffer.length < header + 4 + length) break;
        const mask = buffer.subarray(header, header + 4);
        const body = buffer.subarray(header + 4, header + 4 + length)
          .map((byte, i) => byte ^ mask[i & 3]);
        out.push({ mask: mask.toHex(), text: new TextDecoder().decode(body) });
        buffer = buffer.slice(header + 4 + length);
      }
    }
    conn.close();
    listener.close();
    return out;
  })();
  return {
    url: `ws://127.0.0.1:${listener.addr.port}/`,
    release: () => released.resolve(),
    frames,
  };
}

Deno.test("WebSocketClient keeps frames sent while a write is blocked intact and in order", async () => {
  const blocking = Array.from(
    { length: 600 },
    (_, i) => `${i}:` + String.fromCharCode(97 + (i % 26)).repeat(20_000),
  );
  // Big enough to reach the bytes the kernel has not taken yet.
  const later = Array.from(
    { length: 400 },
    (_, i) => `later ${i} é` + "z".repeat(i % 2 ? 300 : 20_000),
  );
  const server = holdingServer(blocking.length + later.length);
  const client = record();
  const socket = new WebSocketClient(server.url, client);
  await client.opened;
  // 12 MB is more than the kernel buffers take: a write stays pending.
  for (const text of blocking) assert.equal(socket.send(text), true);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(socket.bufferedAmount > 0, "a write is still in flight");
  for (const text of later) assert.equal(socket.send(text), true);
  server.release();
  const frames = await server.frames;
  assert.equal(frames.length, blocking.length + later.length);
  assert.ok(
    frames.every((f, i) => f.text === [...blocking, ...later][i]),
    "every frame arrived intact and in order",
  );
  await client.closed;
});

Deno.test("WebSocketClient masks every frame with a fresh key", async () => {
  const count = 200;
  const server = holdingServer(count);
  const client = record();
  const socket = new WebSocketClient(server.url, client);
  await client.opened;
  for (let i = 0; i < count; i++) socket.send(`frame ${i}`);
  server.release();
  const frames = await server.frames;
  assert.deepEqual(
    frames.map((f) => f.text),
    Array.from({ length: count }, (_, i) => `frame ${i}`),
  );
  assert.equal(new Set(frames.map((f) => f.mask)).size, count);
  await client.closed;
});

Deno.test("WebSocketClient reports a close started by the server", async () => {
  const server = echoServer();
  const client = record();
  new WebSocketClient(`ws://127.0.0.1:${server.port}/`, client);
  await client.opened;
  await server.headers;
  while (!server.socket()) await new Promise((r) => setTimeout(r, 5));
  server.socket().close(4000, "session over");
  const closed = await client.closed;
  assert.equal(closed.code, 4000);
  assert.equal(closed.reason, "session over");
  await server.serverClosed;
  await server.shutdown();
});

Deno.test("WebSocketClient names the HTTP status of a refused handshake", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      Response.json({ error: { message: "Incorrect API key" } }, {
        status: 401,
      }),
  );
  const client = record();
  new WebSocketClient(`ws://127.0.0.1:${server.addr.port}/`, client);
  const closed = await client.closed;
  assert.match(closed.detail, /HTTP 401/);
  await server.shutdown();
});

Deno.test("WebSocketClient.close() while connecting drops the connection at once", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    await conn.read(buffer); // the upgrade request, never answered
    const next = await conn.read(buffer).catch(() => null);
    conn.close();
    return next;
  })();
  const client = record();
  const socket = new WebSocketClient(
    `ws://127.0.0.1:${listener.addr.port}/`,
    client,
  );
  await new Promise((r) => setTimeout(r, 100));
  socket.close();
  assert.match((await client.closed).detail, /closed while connecting/);
  assert.equal(await accepted, null, "the server saw the connection end");
  listener.close();
});

Deno.test("WebSocketClient reassembles fragmented text and answers pings", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serverSide = (async () => {
    const conn = await listener.accept();
    await answerHandshake(conn);
    const enc = new TextEncoder();
    // "hello " + "world" in two frames, with a ping between them.
    await conn.write(new Uint8Array([0x01, 6, ...enc.encode("hello ")]));
    await conn.write(new Uint8Array([0x89, 4, ...enc.encode("ping")]));
    await conn.write(new Uint8Array([0x80, 5, ...enc.encode("world")]));
    const pong = new Uint8Array(64);
    const read = await conn.read(pong);
    conn.close();
    return pong.subarray(0, read ?? 0);
  })();
  const client = record();
  new WebSocketClient(`ws://127.0.0.1:${listener.addr.port}/`, client);
  const message = await client.nextMessage();
  assert.equal(message, "hello world");
  const pong = await serverSide;
  assert.equal(pong[0], 0x8a, "a pong frame");
  assert.equal(pong[1], 0x80 | 4, "masked, with the ping's 4 bytes");
  const mask = pong.subarray(2, 6);
  const body = pong.subarray(6, 10).map((b, i) => b ^ mask[i]);
  assert.equal(new TextDecoder().decode(body), "ping");
  await client.closed;
  listener.close();
});

Deno.test({
  name: "WebSocketClient speaks wss:// (TLS) with a trusted certificate",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    const { cert, key } = await localhostCertificate(dir);
    const server = echoServer({ cert, key });
    const client = record();
    const socket = new WebSocketClient(
      `wss://localhost:${server.port}/v1/realtime`,
      client,
      { caCerts: [cert] },
    );
    await Promise.race([
      client.opened,
      client.closed.then((c) => Promise.reject(new Error(c.detail))),
    ]);
    const echoed = client.nextMessage();
    socket.send("over TLS");
    assert.equal(await echoed, "over TLS");
    socket.close();
    await client.closed;
    await server.serverClosed;
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  },
});
