/**
 * A minimal RFC 6455 WebSocket client over `Deno.connect`, for the simulated
 * Twilio edges.
 *
 * Deno's own `new WebSocket()` (and `WebSocketStream`) clears TCP_NODELAY on
 * its socket (observed with strace on Deno 2.9.6: `setsockopt(fd, SOL_TCP,
 * TCP_NODELAY, [0])`), so a 20 ms frame can wait for the delayed ACK of the
 * previous one: up to tens of milliseconds that would be charged to the
 * server. Real Twilio edges do not behave like that, so the load generator
 * speaks WebSocket itself over a TCP connection with TCP_NODELAY set (the
 * `Deno.connect` default) and only text, ping/pong and close frames.
 *
 * @module
 */

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export interface CloseInfo {
  code: number;
  reason: string;
}

/** A cheap mask generator: RFC 6455 wants unpredictable masks from browsers; a test peer needs only valid ones. */
let maskState = (Math.random() * 0x7fffffff) | 1;
function nextMask(): number {
  maskState ^= maskState << 13;
  maskState ^= maskState >>> 17;
  maskState ^= maskState << 5;
  return maskState >>> 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export class RawWebSocket {
  /** Text messages; binary messages arrive as Uint8Array. */
  onmessage: (data: string | Uint8Array) => void = () => {};
  readonly closed: Promise<CloseInfo>;
  #conn: Deno.TcpConn;
  #open = true;
  #closeSent = false;
  #resolveClosed!: (info: CloseInfo) => void;
  #writeQueue: Uint8Array[] = [];
  #writing = false;
  #fragments: Uint8Array[] = [];
  #fragmentOpcode = 0;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(conn: Deno.TcpConn, leftover: Uint8Array) {
    this.#conn = conn;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#readLoop(leftover);
  }

  /** Connects and completes the opening handshake; rejects on any other answer than 101. */
  static async connect(
    url: string,
    headers: Record<string, string> = {},
  ): Promise<RawWebSocket> {
    const target = new URL(url);
    if (target.protocol !== "ws:") throw new Error("only ws:// is supported");
    const conn = await Deno.connect({
      hostname: target.hostname,
      port: Number(target.port || 80),
    });
    conn.setNoDelay(true);
    const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
    const lines = [
      `GET ${target.pathname}${target.search} HTTP/1.1`,
      `Host: ${target.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    try {
      await writeAll(conn, encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
      let buffer: Uint8Array = new Uint8Array(0);
      let end = -1;
      const chunk = new Uint8Array(4096);
      while (end < 0) {
        const n = await conn.read(chunk);
        if (n === null) throw new Error("connection closed during handshake");
        buffer = concat(buffer, chunk.slice(0, n));
        end = indexOfHeaderEnd(buffer);
        if (end < 0 && buffer.length > 16384) {
          throw new Error("handshake answer too long");
        }
      }
      const head = new TextDecoder().decode(buffer.subarray(0, end));
      const status = Number(head.slice(9, 12));
      if (status !== 101) {
        throw new Error(`stream handshake refused: HTTP ${status}`);
      }
      const accept = /^sec-websocket-accept:\s*(\S+)\s*$/im.exec(head)?.[1];
      const expected = new Uint8Array(
        await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID)),
      ).toBase64();
      if (accept !== expected) throw new Error("bad Sec-WebSocket-Accept");
      return new RawWebSocket(conn, buffer.slice(end + 4));
    } catch (error) {
      try {
        conn.close();
      } catch { /* already closed */ }
      throw error;
    }
  }

  get isOpen(): boolean {
    return this.#open && !this.#closeSent;
  }

  sendText(text: string): void {
    if (!this.isOpen) return;
    this.#sendFrame(0x1, encoder.encode(text));
  }

  /** Starts the closing handshake; the connection ends when the server answers. */
  close(code = 1000, reason = ""): void {
    if (!this.#open || this.#closeSent) return;
    const reasonBytes = encoder.encode(reason);
    const payload = new Uint8Array(2 + reasonBytes.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(reasonBytes, 2);
    this.#sendFrame(0x8, payload);
    this.#closeSent = true;
    // Do not wait forever for a server that never answers.
    this.#closeTimer = setTimeout(
      () => this.#finish({ code: 1006, reason: "" }),
      3000,
    );
  }

  #sendFrame(opcode: number, payload: Uint8Array): void {
    const length = payload.length;
    const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const frame = new Uint8Array(headerLength + 4 + length);
    frame[0] = 0x80 | opcode;
    if (length < 126) {
      frame[1] = 0x80 | length;
    } else if (length < 65536) {
      frame[1] = 0x80 | 126;
      frame[2] = length >> 8;
      frame[3] = length & 0xff;
    } else {
      frame[1] = 0x80 | 127;
      new DataView(frame.buffer).setBigUint64(2, BigInt(length));
    }
    const mask = nextMask();
    const m0 = mask >>> 24, m1 = (mask >>> 16) & 0xff;
    const m2 = (mask >>> 8) & 0xff, m3 = mask & 0xff;
    frame[headerLength] = m0;
    frame[headerLength + 1] = m1;
    frame[headerLength + 2] = m2;
    frame[headerLength + 3] = m3;
    const start = headerLength + 4;
    const masks = [m0, m1, m2, m3];
    for (let i = 0; i < length; i++) {
      frame[start + i] = payload[i] ^ masks[i & 3];
    }
    this.#writeQueue.push(frame);
    if (!this.#writing) this.#flush();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#writeQueue.length > 0 && this.#open) {
        const frames = this.#writeQueue;
        this.#writeQueue = [];
        let data: Uint8Array;
        if (frames.length === 1) {
          data = frames[0];
        } else {
          data = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          let offset = 0;
          for (const f of frames) {
            data.set(f, offset);
            offset += f.length;
          }
        }
        await writeAll(this.#conn, data);
      }
    } catch {
      this.#finish({ code: 1006, reason: "" });
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(leftover: Uint8Array): Promise<void> {
    let buffer = leftover;
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        buffer = this.#parse(buffer);
        if (!this.#open) return;
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        buffer = buffer.length === 0
          ? chunk.slice(0, n)
          : concat(buffer, chunk.subarray(0, n));
      }
    } catch {
      // reset or closed locally
    }
    this.#finish({ code: 1006, reason: "" });
  }

  /** Handles every complete frame in `buffer`; returns what is left. */
  #parse(buffer: Uint8Array): Uint8Array {
    let offset = 0;
    while (this.#open) {
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
      const masked = (b1 & 0x80) !== 0;
      if (masked) header += 4;
      if (available < header + length) break;
      let payload = buffer.subarray(
        offset + header,
        offset + header + length,
      );
      if (masked) {
        // Servers must not mask; unmask anyway to stay readable.
        const key = buffer.subarray(offset + header - 4, offset + header);
        payload = payload.map((byte, i) => byte ^ key[i & 3]);
      }
      offset += header + length;
      this.#onFrame((b0 & 0x80) !== 0, b0 & 0x0f, payload);
    }
    return offset === buffer.length ? new Uint8Array(0) : buffer.slice(offset);
  }

  #onFrame(fin: boolean, opcode: number, payload: Uint8Array): void {
    switch (opcode) {
      case 0x0: // continuation
        this.#fragments.push(payload.slice());
        if (fin) {
          const total = this.#fragments.reduce(
            (acc, f) => concat(acc, f),
            new Uint8Array(0),
          );
          this.#fragments = [];
          this.#deliver(this.#fragmentOpcode, total);
        }
        return;
      case 0x1:
      case 0x2:
        if (fin) this.#deliver(opcode, payload);
        else {
          this.#fragmentOpcode = opcode;
          this.#fragments = [payload.slice()];
        }
        return;
      case 0x8: {
        const code = payload.length >= 2
          ? (payload[0] << 8) | payload[1]
          : 1005;
        const reason = payload.length > 2
          ? new TextDecoder().decode(payload.subarray(2))
          : "";
        if (!this.#closeSent) {
          this.#sendFrame(0x8, payload.slice(0, 2));
          this.#closeSent = true;
        }
        // Let the echo go out, then end the connection.
        queueMicrotask(() => this.#finish({ code, reason }));
        return;
      }
      case 0x9: // ping
        this.#sendFrame(0xa, payload.slice());
        return;
      default: // pong and reserved opcodes
        return;
    }
  }

  #deliver(opcode: number, payload: Uint8Array): void {
    if (opcode === 0x1) {
      let text: string;
      try {
        text = decoder.decode(payload);
      } catch {
        this.close(1007, "invalid UTF-8");
        return;
      }
      this.onmessage(text);
    } else {
      this.onmessage(payload.slice());
    }
  }

  #finish(info: CloseInfo): void {
    if (!this.#open) return;
    this.#open = false;
    clearTimeout(this.#closeTimer);
    const drain = this.#writing ? 50 : 0;
    setTimeout(() => {
      try {
        this.#conn.close();
      } catch { /* already closed */ }
    }, drain);
    this.#resolveClosed(info);
  }
}

function indexOfHeaderEnd(buffer: Uint8Array): number {
  for (let i = 0; i + 3 < buffer.length; i++) {
    if (
      buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 &&
      buffer[i + 3] === 10
    ) return i;
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    offset += await conn.write(data.subarray(offset));
  }
}
