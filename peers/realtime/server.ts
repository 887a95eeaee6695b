/**
 * The fake Realtime endpoint: a Deno.serve on 127.0.0.1 with a random port,
 * serving `wss …/v1/realtime?model=…` and `GET /v1/models[/{id}]` as OpenAI
 * does (bearer key, OpenAI JSON error bodies).
 *
 * @module
 */
import { httpError, sleep } from "./common.ts";
import {
  DEFAULT_MODEL,
  ModelCatalog,
  modelNotFound,
  serveModels,
} from "./models.ts";
import type { FakeRealtimeOptions } from "./options.ts";
import { FakeRealtimeSession } from "./session.ts";

const DEFAULT_WAIT_MS = 2000;

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class FakeRealtime {
  /**
   * `ws://127.0.0.1:PORT/v1/realtime`, without `?model=`: the client adds
   * the model, and a handshake without one is refused as the API does.
   */
  readonly url: string;
  /** `http://127.0.0.1:PORT` (for `GET /v1/models/{id}`). */
  readonly origin: string;
  readonly sessions: FakeRealtimeSession[] = [];
  /** Requests to /v1/realtime (accepted or refused). */
  handshakes = 0;

  /** Handshakes whose client went away during handshakeDelayMs (no session). */
  abandonedHandshakes = 0;

  readonly models: ModelCatalog;

  #server: Deno.HttpServer<Deno.NetAddr>;
  #latency: LatencyProxy | undefined;
  #options: FakeRealtimeOptions;
  #taken = 0;
  #sessionWaiters: Array<Waiter<FakeRealtimeSession>> = [];
  #shutdown = new AbortController();

  private constructor(options: FakeRealtimeOptions) {
    this.#options = options;
    this.models = new ModelCatalog(options.modelRecords, options.retiredModels);
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
    // A handshake delay is network latency in front of the server, so a
    // client that gives up during it really goes away (no half-upgraded
    // socket is left behind, as a delay inside the handler would leave).
    if (options.handshakeDelayMs) {
      this.#latency = new LatencyProxy(
        this.#server.addr.port,
        options.handshakeDelayMs,
        () => this.abandonedHandshakes++,
      );
    }
    const port = this.#latency?.port ?? this.#server.addr.port;
    this.origin = `http://127.0.0.1:${port}`;
    this.url = `ws://127.0.0.1:${port}/v1/realtime`;
  }

  static start(options: FakeRealtimeOptions = {}): Promise<FakeRealtime> {
    return Promise.resolve(new FakeRealtime(options));
  }

  /** `url` with `?model=` (default gpt-realtime-2.1), as a client dials it. */
  urlWithModel(model = DEFAULT_MODEL): string {
    return `${this.url}?model=${encodeURIComponent(model)}`;
  }

  /** The next accepted session not yet returned by an earlier call. */
  nextSession(timeoutMs = DEFAULT_WAIT_MS): Promise<FakeRealtimeSession> {
    if (this.#taken < this.sessions.length) {
      return Promise.resolve(this.sessions[this.#taken++]);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter<FakeRealtimeSession> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#sessionWaiters.splice(this.#sessionWaiters.indexOf(waiter), 1);
          reject(
            new Error(
              `no Realtime session within ${timeoutMs} ms (${this.handshakes} handshakes)`,
            ),
          );
        }, timeoutMs),
      };
      this.#sessionWaiters.push(waiter);
    });
  }

  /** Closes every session from the server side, then the server. */
  async close(): Promise<void> {
    this.#shutdown.abort();
    for (const waiter of this.#sessionWaiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error("FakeRealtime closed"));
    }
    for (const session of this.sessions) session.close(1001, "going away");
    // Give close handshakes a moment; shutdown() cuts any that hang.
    const ac = new AbortController();
    await Promise.race([
      Promise.all(this.sessions.map((s) => s.closed)),
      sleep(1000, ac.signal),
    ]);
    ac.abort();
    await this.#latency?.close();
    await this.#server.shutdown();
  }

  #authProblem(req: Request): Response | null {
    const auth = req.headers.get("authorization");
    if (auth === `Bearer ${this.#options.apiKey ?? "sk-test"}`) return null;
    return httpError(
      401,
      auth
        ? "Incorrect API key provided."
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      "invalid_request_error",
      auth ? "invalid_api_key" : null,
    );
  }

  #handle(req: Request): Response {
    const url = new URL(req.url);
    if (
      url.pathname === "/v1/models" || url.pathname.startsWith("/v1/models/")
    ) {
      if (req.method !== "GET") {
        return httpError(
          405,
          "Method not allowed.",
          "invalid_request_error",
          null,
        );
      }
      return this.#authProblem(req) ?? serveModels(this.models, url.pathname);
    }
    if (url.pathname !== "/v1/realtime") {
      return httpError(404, "Not found.", "invalid_request_error", null);
    }
    this.handshakes++;
    const options = this.#options;
    if (options.handshakeStatus !== undefined) {
      return httpError(
        options.handshakeStatus,
        `Refused with HTTP ${options.handshakeStatus} (FakeRealtime handshakeStatus).`,
        options.handshakeStatus === 429 ? "requests" : "server_error",
        options.handshakeStatus === 429 ? "rate_limit_exceeded" : null,
      );
    }
    const unauthorised = this.#authProblem(req);
    if (unauthorised) return unauthorised;
    if (req.headers.has("openai-beta")) {
      // The beta interface was shut down; GA refuses the opt-in header.
      return httpError(
        400,
        "The Realtime beta has been shut down; remove the OpenAI-Beta header to use the GA interface.",
        "invalid_request_error",
        "beta_api_shutdown",
      );
    }
    const model = url.searchParams.get("model");
    if (!model) {
      return httpError(
        400,
        "Missing required parameter: 'model'.",
        "invalid_request_error",
        "missing_required_parameter",
        "model",
      );
    }
    // Unknown and shut-down models alike: the model no longer exists.
    if (!this.models.available(model)) return modelNotFound(model, null);
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
    // Copy the headers first: the request is closed once upgraded.
    const headers = new Headers(req.headers);
    const { socket, response } = Deno.upgradeWebSocket(req);
    const session = new FakeRealtimeSession(
      socket,
      headers,
      req.url,
      model,
      options,
      this.models,
    );
    socket.addEventListener("open", () => {
      session.sendSessionCreated();
      this.sessions.push(session);
      const waiter = this.#sessionWaiters.shift();
      if (waiter) {
        clearTimeout(waiter.timer);
        this.#taken++;
        waiter.resolve(session);
      }
    });
    return response;
  }
}

/**
 * TCP latency in front of the fake: holds each new connection's bytes for
 * `delayMs`, then connects through — unless the client closed meanwhile.
 */
class LatencyProxy {
  readonly port: number;
  readonly #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;

  constructor(
    targetPort: number,
    delayMs: number,
    onAbandoned: () => void,
  ) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#accepting = (async () => {
      try {
        for await (const client of listener) {
          const task = this.#relay(client, targetPort, delayMs, onAbandoned);
          this.#tasks.add(task);
          task.finally(() => this.#tasks.delete(task));
        }
      } catch {
        // The listener was closed.
      }
    })();
  }

  async #relay(
    client: Deno.Conn,
    targetPort: number,
    delayMs: number,
    onAbandoned: () => void,
  ): Promise<void> {
    this.#conns.add(client);
    const held: Uint8Array[] = [];
    const reader = client.readable.getReader();
    // One read stays pending across the wait, so no byte is lost.
    let pending = reader.read().catch(() => ({
      done: true as const,
      value: undefined,
    }));
    let clientClosed = false;
    const deadline = Date.now() + delayMs;
    for (let left = delayMs; left > 0; left = deadline - Date.now()) {
      const timeout = new AbortController();
      const read = await Promise.race([
        pending,
        sleep(left, timeout.signal).then(() => undefined),
      ]);
      timeout.abort();
      if (read === undefined) break;
      if (read.done) {
        clientClosed = true;
        break;
      }
      held.push(read.value);
      pending = reader.read().catch(() => ({
        done: true as const,
        value: undefined,
      }));
    }
    if (clientClosed) {
      onAbandoned();
      this.#close(client);
      return;
    }
    let target: Deno.Conn;
    try {
      target = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      this.#close(client);
      return;
    }
    this.#conns.add(target);
    const up = (async () => {
      const writer = target.writable.getWriter();
      try {
        for (const chunk of held) await writer.write(chunk);
        for (let r = await pending; !r.done; r = await reader.read()) {
          await writer.write(r.value);
        }
      } catch {
        // Either side went away.
      }
      this.#close(target);
    })();
    const down = target.readable.pipeTo(client.writable).catch(() => {});
    await Promise.all([up, down]);
    this.#close(client);
  }

  #close(conn: Deno.Conn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of [...this.#conns]) this.#close(conn);
    await this.#accepting;
    await Promise.all(this.#tasks);
  }
}
