/**
 * A small RFC 6455 WebSocket client (text, ping/pong, close) over
 * `Deno.connect` + `Deno.startTls`, for the OpenAI socket.
 *
 * Why not `new WebSocket()`: Deno 2.9 clears TCP_NODELAY on its client
 * sockets, so each 20 ms caller frame can wait for the delayed ACK of the
 * previous one (measured: p99 27 ms added caller→OpenAI at any load, 4.5 ms
 * with TCP_NODELAY). Here the socket keeps TCP_NODELAY, and a refused
 * handshake's HTTP status is known (401, 429, ...).
 */

import { concat } from "../bytes.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const MAX_HANDSHAKE_BYTES = 16 * 1024;
/** OpenAI's largest events are audio deltas of a few KB; refuse absurd frames. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/**
 * Per-connection read buffer. Most events fit in one read; larger ones are
 * assembled from several. (64 KiB cost ~35 KiB of resident memory per call.)
 */
const READ_CHUNK_BYTES = 8 * 1024;
/** The largest frame header (10) plus the masking key (4). */
const MAX_HEADER_BYTES = 14;
/** Write buffers start this size; one grown past the next limit is dropped once written. */
const WRITE_BUFFER_BYTES = 1024;
const MAX_KEPT_WRITE_BUFFER_BYTES = 4 * 1024;
/** Masking keys are drawn from the system CSPRNG this many bytes at a time. */
const MASK_POOL_BYTES = 256;

export interface WebSocketClientOptions {
  headers?: Record<string, string>;
  /** Extra trusted CA certificates (PEM), e.g. for a private endpoint. */
  caCerts?: string[];
}

export interface WebSocketClientHandlers {
  open(): void;
  message(text: string): void;
  /** The connection is over; `detail` says why when it never opened. */
  close(code: number, reason: string, detail: string): void;
}

type State = "connecting" | "open" | "closing" | "closed";

export class WebSocketClient {
  #state: State = "connecting";
  #conn: Deno.Conn | undefined;
  #handlers: WebSocketClientHandlers;
  /**
   * Frames are built in place in `#pending` and written from it; while one
   * buffer is being written the next fills the other, so the per-message path
   * allocates no buffers.
   */
  #pending = new Uint8Array(WRITE_BUFFER_BYTES);
  #pendingLength = 0;
  #spare: Uint8Array<ArrayBuffer> | undefined;
  #queued = 0;
  #writing = false;
  #masks = new Uint8Array(MASK_POOL_BYTES);
  #maskOffset = MASK_POOL_BYTES;
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentOpcode = 0;
  #flushing: Promise<void> = Promise.resolve();
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(
    url: string,
    handlers: WebSocketClientHandlers,
    options: WebSocketClientOptions = {},
  ) {
    this.#handlers = handlers;
    this.#connect(new URL(url), options).catch((error) =>
      this.#finish(
        1006,
        "",
        error instanceof Error ? error.message : String(error),
      )
    );
  }

  get isOpen(): boolean {
    return this.#state === "open";
  }

  get isClosed(): boolean {
    return this.#state === "closed";
  }

  /** Bytes accepted by send() and not yet written to the socket. */
  get bufferedAmount(): number {
    return this.#queued;
  }

  send(text: string): boolean {
    if (this.#state !== "open") return false;
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    const start = this.#reserve(MAX_HEADER_BYTES + text.length * 3);
    const { written } = encoder.encodeInto(
      text,
      this.#pending.subarray(start + MAX_HEADER_BYTES),
    );
    this.#frame(0x1, start, written);
    return true;
  }

  /** Starts the closing handshake; while connecting, gives up the connection at once. */
  close(code = 1000, reason = ""): void {
    if (this.#state === "connecting") {
      this.#finish(1006, "", "closed while connecting");
      return;
    }
    if (this.#state !== "open") return;
    const reasonBytes = encoder.encode(reason).subarray(0, 123);
    const payload = new Uint8Array(2 + reasonBytes.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(reasonBytes, 2);
    this.#sendFrame(0x8, payload);
    this.#state = "closing";
    // A server that never answers the close does not keep the socket.
    this.#closeTimer = setTimeout(() => this.#finish(code, reason, ""), 2000);
  }

  async #connect(url: URL, options: WebSocketClientOptions): Promise<void> {
    const secure = url.protocol === "wss:";
    if (!secure && url.protocol !== "ws:") {
      throw new Error(`unsupported protocol ${url.protocol}`);
    }
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const tcp = await Deno.connect({
      hostname,
      port: Number(url.port || (secure ? 443 : 80)),
    });
    tcp.setNoDelay(true);
    if (this.#state !== "connecting") {
      tcp.close();
      return;
    }
    this.#conn = tcp;
    const conn = secure
      ? await Deno.startTls(tcp, { hostname, caCerts: options.caCerts })
      : tcp;
    if (this.#state !== "connecting") {
      conn.close();
      return;
    }
    this.#conn = conn;
    const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
    const request = [
      `GET ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...Object.entries(options.headers ?? {}).map(([n, v]) => `${n}: ${v}`),
    ].join("\r\n") + "\r\n\r\n";
    await writeAll(conn, encoder.encode(request));

    let buffer: Uint8Array = new Uint8Array(0);
    let end = -1;
    const chunk = new Uint8Array(4096);
    while (end < 0) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("connection closed during the handshake");
      buffer = concat([buffer, chunk.subarray(0, n)]);
      end = headerEnd(buffer);
      if (end < 0 && buffer.length > MAX_HANDSHAKE_BYTES) {
        throw new Error("handshake answer too long");
      }
    }
    const head = new TextDecoder().decode(buffer.subarray(0, end));
    const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
    if (status !== "101") {
      throw new Error(`handshake refused with HTTP ${status ?? "?"}`);
    }
    const accept = /^sec-websocket-accept:\s*(\S+)\s*$/im.exec(head)?.[1];
    const expected = new Uint8Array(
      await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID)),
    ).toBase64();
    if (accept !== expected) throw new Error("bad Sec-WebSocket-Accept");
    if (this.#state !== "connecting") return;
    this.#state = "open";
    this.#handlers.open();
    await this.#readLoop(conn, buffer.slice(end + 4));
  }

  async #readLoop(conn: Deno.Conn, leftover: Uint8Array): Promise<void> {
    let buffer = leftover;
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    try {
      for (;;) {
        buffer = this.#parse(buffer);
        if (this.#state === "closed") return;
        const n = await conn.read(chunk);
        if (n === null) break;
        // #parse consumes `chunk` before the next read and copies what it keeps.
        buffer = buffer.length === 0
          ? chunk.subarray(0, n)
          : concat([buffer, chunk.subarray(0, n)]);
      }
    } catch {
      // Reset, or closed here.
    }
    this.#finish(1006, "", "connection lost");
  }

  /** Handles every complete frame in `buffer`; returns the rest. */
  #parse(buffer: Uint8Array): Uint8Array {
    let offset = 0;
    while (this.#state !== "closed") {
      const available = buffer.length - offset;
      if (available < 2) break;
      const b0 = buffer[offset];
      const b1 = buffer[offset + 1];
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (available < 4) break;
        length = (buffer[offset + 2] << 8) | buffer[offset + 3];
        header = 4;
      } else if (length === 127) {
        if (available < 10) break;
        length = Number(
          new DataView(buffer.buffer, buffer.byteOffset + offset + 2, 8)
            .getBigUint64(0),
        );
        header = 10;
      }
      if (length > MAX_MESSAGE_BYTES || (b1 & 0x80) !== 0) {
        // Servers never mask (RFC 6455 5.1); neither limit is met by OpenAI.
        this.#protocolError(1002, "bad frame");
        return new Uint8Array(0);
      }
      if (available < header + length) break;
      const payload = buffer.subarray(
        offset + header,
        offset + header + length,
      );
      offset += header + length;
      this.#onFrame((b0 & 0x80) !== 0, b0 & 0x0f, payload);
    }
    return offset === buffer.length ? new Uint8Array(0) : buffer.slice(offset);
  }

  #onFrame(fin: boolean, opcode: number, payload: Uint8Array): void {
    switch (opcode) {
      case 0x0:
      case 0x1:
      case 0x2: {
        if (opcode !== 0x0) {
          this.#fragmentOpcode = opcode;
          this.#fragments = [];
          this.#fragmentBytes = 0;
        }
        if (fin && this.#fragments.length === 0) {
          this.#deliver(payload);
          return;
        }
        // The read buffer is reused: a fragment kept for later is copied.
        this.#fragments.push(payload.slice());
        this.#fragmentBytes += payload.length;
        if (this.#fragmentBytes > MAX_MESSAGE_BYTES) {
          this.#protocolError(1009, "message too big");
          return;
        }
        if (!fin) return;
        const message = concat(this.#fragments);
        this.#fragments = [];
        this.#fragmentBytes = 0;
        this.#deliver(message);
        return;
      }
      case 0x8: {
        const code = payload.length >= 2
          ? (payload[0] << 8) | payload[1]
          : 1005;
        const reason = payload.length > 2
          ? new TextDecoder().decode(payload.subarray(2))
          : "";
        if (this.#state === "open") this.#sendFrame(0x8, payload.slice(0, 2));
        this.#finish(code, reason, "");
        return;
      }
      case 0x9:
        if (this.#state === "open") this.#sendFrame(0xa, payload.slice());
        return;
      default:
        return;
    }
  }

  /** A complete message; the Realtime API sends text only, so binary is ignored. */
  #deliver(message: Uint8Array): void {
    if (this.#fragmentOpcode !== 0x1 || this.#state !== "open") return;
    let text: string;
    try {
      text = this.#decoder.decode(message);
    } catch {
      this.#protocolError(1007, "invalid UTF-8");
      return;
    }
    this.#handlers.message(text);
  }

  #protocolError(code: number, reason: string): void {
    if (this.#state === "open") this.close(code, reason);
    this.#finish(code, reason, reason);
  }

  /** Sends a control frame (close, pong): their payloads are at most 125 bytes. */
  #sendFrame(opcode: number, payload: Uint8Array): void {
    const start = this.#reserve(MAX_HEADER_BYTES + payload.length);
    this.#pending.set(payload, start + MAX_HEADER_BYTES);
    this.#frame(opcode, start, payload.length);
  }

  /** Room for `bytes` more in `#pending`; returns where they start. */
  #reserve(bytes: number): number {
    const needed = this.#pendingLength + bytes;
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(Math.max(needed, this.#pending.length * 2));
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    return this.#pendingLength;
  }

  /**
   * Turns the `length` payload bytes that were put at
   * `start + MAX_HEADER_BYTES` into a final, masked frame (RFC 6455 5.2)
   * starting at `start`, and queues it.
   */
  #frame(opcode: number, start: number, length: number): void {
    const buffer = this.#pending;
    const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const payloadAt = start + header + 4;
    buffer.copyWithin(
      payloadAt,
      start + MAX_HEADER_BYTES,
      start + MAX_HEADER_BYTES + length,
    );
    buffer[start] = 0x80 | opcode;
    if (length < 126) {
      buffer[start + 1] = 0x80 | length;
    } else if (length < 65536) {
      buffer[start + 1] = 0x80 | 126;
      buffer[start + 2] = length >> 8;
      buffer[start + 3] = length & 0xff;
    } else {
      buffer[start + 1] = 0x80 | 127;
      new DataView(buffer.buffer).setBigUint64(start + 2, BigInt(length));
    }
    if (this.#maskOffset === MASK_POOL_BYTES) {
      crypto.getRandomValues(this.#masks);
      this.#maskOffset = 0;
    }
    const masks = this.#masks;
    const key = this.#maskOffset;
    this.#maskOffset += 4;
    for (let i = 0; i < 4; i++) buffer[start + header + i] = masks[key + i];
    for (let i = 0; i < length; i++) {
      buffer[payloadAt + i] ^= masks[key + (i & 3)];
    }
    const end = payloadAt + length;
    this.#queued += end - start;
    this.#pendingLength = end;
    if (!this.#writing) this.#flushing = this.#flush();
  }

  async #flush(): Promise<void> {
    const conn = this.#conn;
    if (!conn) return;
    this.#writing = true;
    try {
      while (this.#pendingLength > 0 && this.#state !== "closed") {
        const buffer = this.#pending;
        const length = this.#pendingLength;
        this.#pending = this.#spare ?? new Uint8Array(WRITE_BUFFER_BYTES);
        this.#pendingLength = 0;
        this.#spare = undefined;
        for (let offset = 0; offset < length;) {
          offset += await conn.write(buffer.subarray(offset, length));
        }
        this.#queued -= length;
        // A big message (session.update) does not keep its buffer for the call.
        if (buffer.length <= MAX_KEPT_WRITE_BUFFER_BYTES) this.#spare = buffer;
      }
    } catch {
      this.#finish(1006, "", "write failed");
    } finally {
      this.#writing = false;
    }
  }

  #finish(code: number, reason: string, detail: string): void {
    if (this.#state === "closed") return;
    const opened = this.#state !== "connecting";
    this.#state = "closed";
    clearTimeout(this.#closeTimer);
    this.#pendingLength = 0;
    this.#queued = 0;
    // A frame being written (a close echo) goes out first.
    const conn = this.#conn;
    this.#flushing.finally(() => {
      try {
        conn?.close();
      } catch {
        // Already closed.
      }
    });
    this.#handlers.close(
      code,
      reason,
      opened ? detail : detail || "no handshake",
    );
  }
}

function headerEnd(buffer: Uint8Array): number {
  for (let i = 0; i + 3 < buffer.length; i++) {
    if (
      buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 &&
      buffer[i + 3] === 10
    ) return i;
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    offset += await conn.write(data.subarray(offset));
  }
}
