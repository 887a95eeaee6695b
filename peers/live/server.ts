/**
 * The fake GPT-Live endpoint: `wss://api.openai.com/v1/live/sessions` served
 * as `ws://127.0.0.1:PORT/v1/live/sessions` behind a TCP relay (for
 * handshake latency and abrupt drops). Bearer key required; no query string
 * (the model goes in session.start, not the URL).
 *
 * @module
 */
import { httpError, sleep } from "./common.ts";
import type { FakeLiveOptions } from "./options.ts";
import { FakeLiveSession } from "./session.ts";
import { TcpProxy } from "./tcp_proxy.ts";

const DEFAULT_WAIT_MS = 2000;
export const LIVE_PATH = "/v1/live/sessions";

interface Waiter {
  resolve: (session: FakeLiveSession) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class FakeLive {
  /** `ws://127.0.0.1:PORT/v1/live/sessions`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly sessions: FakeLiveSession[] = [];
  /** Requests to /v1/live/sessions (accepted or refused). */
  handshakes = 0;
  /** Handshakes whose client went away during handshakeDelayMs. */
  abandonedHandshakes = 0;

  #server: Deno.HttpServer<Deno.NetAddr>;
  #proxy: TcpProxy;
  #options: FakeLiveOptions;
  #taken = 0;
  #waiters: Waiter[] = [];
  #shutdown = new AbortController();

  private constructor(options: FakeLiveOptions) {
    this.#options = options;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req, info) => this.#handle(req, info),
    );
    this.#proxy = new TcpProxy(
      this.#server.addr.port,
      options.handshakeDelayMs ?? 0,
      () => this.abandonedHandshakes++,
    );
    this.origin = `http://127.0.0.1:${this.#proxy.port}`;
    this.url = `ws://127.0.0.1:${this.#proxy.port}${LIVE_PATH}`;
  }

  static start(options: FakeLiveOptions = {}): Promise<FakeLive> {
    return Promise.resolve(new FakeLive(options));
  }

  /** The next accepted session not yet returned by an earlier call. */
  nextSession(timeoutMs = DEFAULT_WAIT_MS): Promise<FakeLiveSession> {
    if (this.#taken < this.sessions.length) {
      return Promise.resolve(this.sessions[this.#taken++]);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(
            new Error(
              `no GPT-Live session within ${timeoutMs} ms (${this.handshakes} handshakes)`,
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Closes every session from the server side, then the server. */
  async close(): Promise<void> {
    this.#shutdown.abort();
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error("FakeLive closed"));
    }
    for (const session of this.sessions) session.close(1001, "going away");
    // Give close handshakes a moment; the relay cuts any that hang.
    const ac = new AbortController();
    await Promise.race([
      Promise.all(this.sessions.map((s) => s.closed)),
      sleep(1000, ac.signal),
    ]);
    ac.abort();
    await this.#proxy.close();
    await this.#server.shutdown();
  }

  #handle(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response {
    const url = new URL(req.url);
    if (url.pathname !== LIVE_PATH) {
      return httpError(404, "Not found.", "invalid_request_error", null);
    }
    this.handshakes++;
    const options = this.#options;
    if (options.handshakeStatus !== undefined) {
      return httpError(
        options.handshakeStatus,
        `Refused with HTTP ${options.handshakeStatus} (FakeLive handshakeStatus).`,
        options.handshakeStatus === 429 ? "requests" : "server_error",
        options.handshakeStatus === 429 ? "rate_limit_exceeded" : null,
      );
    }
    const auth = req.headers.get("authorization");
    if (auth !== `Bearer ${options.apiKey ?? "sk-test"}`) {
      return httpError(
        401,
        auth
          ? "Incorrect API key provided."
          : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        "invalid_request_error",
        auth ? "invalid_api_key" : null,
      );
    }
    // The docs: connect "with no query parameters"; the model belongs in
    // session.start. Refusing a query is this simulator's strictness.
    const [param] = url.searchParams.keys();
    if (param !== undefined) {
      return httpError(
        400,
        `Unknown parameter: '${param}'. Connect without query parameters and send the model in session.start.`,
        "invalid_request_error",
        "unknown_parameter",
        param,
      );
    }
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return httpError(
        426,
        "Expected a WebSocket upgrade.",
        "invalid_request_error",
        null,
      );
    }
    if (this.#shutdown.signal.aborted) {
      return httpError(503, "Shutting down.", "server_error", null);
    }
    // Read the request first: it is closed once upgraded.
    const headers = new Headers(req.headers);
    const remotePort = info.remoteAddr.port;
    const { socket, response } = Deno.upgradeWebSocket(req);
    const session = new FakeLiveSession(
      socket,
      headers,
      req.url,
      options,
      () => this.#proxy.drop(remotePort),
    );
    socket.addEventListener("open", () => {
      this.sessions.push(session);
      const waiter = this.#waiters.shift();
      if (waiter) {
        clearTimeout(waiter.timer);
        this.#taken++;
        waiter.resolve(session);
      }
    });
    return response;
  }
}
