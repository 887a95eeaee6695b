/**
 * A WebSocket client done by hand over TCP, for what a normal client cannot
 * do: see the HTTP status of a refused upgrade cheaply (floods), and stop
 * reading while the server keeps sending (a caller that stops reading).
 *
 * @module
 */

import { clientFrame } from "../peers/client_frame.ts";
import { concat } from "../src/bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface RawResponse {
  status: number;
  /** Status line, headers and whatever body arrived, as text (for the secret scan). */
  text: string;
}

function handshakeRequest(
  port: number,
  path: string,
  headers: Record<string, string>,
): Uint8Array {
  const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return encoder.encode(lines.join("\r\n") + "\r\n\r\n");
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    offset += await conn.write(data.subarray(offset));
  }
}

/** Reads until the end of the HTTP headers (and the body, when it has a length). */
async function readResponse(
  conn: Deno.Conn,
  readBody: boolean,
): Promise<{ status: number; text: string; head: number }> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(4096);
  let text = "";
  let headEnd = -1;
  while (headEnd < 0) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
    total += n;
    text = decoder.decode(concat(chunks));
    headEnd = text.indexOf("\r\n\r\n");
    if (total > 64 * 1024) break;
  }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  if (readBody && headEnd >= 0) {
    const length = Number(
      /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, headEnd))?.[1] ?? 0,
    );
    while (encoder.encode(text).length - (headEnd + 4) < length) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
      text = decoder.decode(concat(chunks));
    }
  }
  return { status, text, head: headEnd };
}

/** One upgrade attempt; returns the HTTP answer and closes the connection. */
export async function tryUpgrade(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, handshakeRequest(port, path, headers));
    const { status, text } = await readResponse(conn, true);
    return { status, text };
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

/**
 * A media-stream client that completes the handshake, sends what it is
 * told, and never reads another byte: the server's writes pile up.
 */
export class NonReadingClient {
  readonly status: number;
  readonly responseText: string;
  readonly #conn: Deno.Conn;
  #closed = false;

  private constructor(conn: Deno.Conn, status: number, text: string) {
    this.#conn = conn;
    this.status = status;
    this.responseText = text;
  }

  static async connect(
    port: number,
    path: string,
    headers: Record<string, string>,
  ): Promise<NonReadingClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, handshakeRequest(port, path, headers));
    const { status, text, head } = await readResponse(conn, false);
    return new NonReadingClient(
      conn,
      status,
      head >= 0 ? text.slice(0, head) : text,
    );
  }

  async sendText(text: string): Promise<void> {
    await writeAll(this.#conn, clientFrame(0x1, encoder.encode(text)));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}
