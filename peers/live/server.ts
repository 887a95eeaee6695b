/**
 * The fake GPT-Live endpoint: `wss://api.openai.com/v1/live/sessions` served
 * as `ws://127.0.0.1:PORT/v1/live/sessions` behind a TCP relay (for
 * handshake latency and abrupt drops). Bearer key required; no query string
 * (the model goes in session.start, not the URL).
 *
 * @module
 */
import { Sessions } from "../sessions.ts";
import { authProblem, refusedHandshake, upgradeProblem } from "../common.ts";
import { LoopbackServer } from "../loopback_server.ts";
import { httpError } from "./common.ts";
import type { FakeLiveOptions } from "./options.ts";
import { FakeLiveSession } from "./session.ts";

export const LIVE_PATH = "/v1/live/sessions";

export class FakeLive {
  /** `ws://127.0.0.1:PORT/v1/live/sessions`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** Every accepted session, in order (a lean server keeps none). */
  readonly sessions: FakeLiveSession[];
  /** Requests to /v1/live/sessions (accepted or refused). */
  handshakes = 0;
  /** Handshakes whose client went away during handshakeDelayMs. */
  abandonedHandshakes = 0;
  /** Error events sent, by code, over every session (lean or not). */
  readonly errors = new Map<string, number>();

  /** Behind a relay, except a lean simulator without latency. */
  #server: LoopbackServer;
  #options: FakeLiveOptions;
  readonly #sessions: Sessions<FakeLiveSession>;
  #shutdown = new AbortController();

  private constructor(options: FakeLiveOptions) {
    this.#options = options;
    this.#sessions = new Sessions(
      "GPT-Live",
      !options.lean,
      () => this.handshakes,
    );
    this.sessions = this.#sessions.all;
    // The relay is what can cut a connection (drop) or delay a handshake;
    // under load it would double the generator's socket work, so a lean
    // simulator goes without one unless it must delay handshakes.
    const relayed = !options.lean || options.handshakeDelayMs;
    this.#server = new LoopbackServer(
      (req, info) => this.#handle(req, info),
      relayed
        ? {
          delayMs: options.handshakeDelayMs ?? 0,
          onAbandoned: () => this.abandonedHandshakes++,
        }
        : undefined,
    );
    this.origin = this.#server.origin;
    this.url = `ws://127.0.0.1:${this.#server.port}${LIVE_PATH}`;
  }

  static start(options: FakeLiveOptions = {}): Promise<FakeLive> {
    return Promise.resolve(new FakeLive(options));
  }

  /** The next accepted session not yet returned by an earlier call. */
  nextSession(timeoutMs?: number): Promise<FakeLiveSession> {
    return this.#sessions.next(timeoutMs);
  }

  /** Closes every session from the server side, then the server. */
  async close(): Promise<void> {
    this.#shutdown.abort();
    await this.#sessions.close();
    await this.#server.close();
  }

  #handle(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response {
    const url = new URL(req.url);
    if (url.pathname !== LIVE_PATH) {
      return httpError(404, "Not found.", "invalid_request_error", null);
    }
    this.handshakes++;
    const options = this.#options;
    if (options.handshakeStatus !== undefined) {
      return refusedHandshake(options.handshakeStatus, "FakeLive");
    }
    const unauthorised = authProblem(req, options.apiKey ?? "sk-test");
    if (unauthorised) return unauthorised;
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
    const refused = upgradeProblem(req, this.#shutdown.signal.aborted);
    if (refused) return refused;
    // Read the request first: it is closed once upgraded.
    const headers = new Headers(req.headers);
    const remotePort = info.remoteAddr.port;
    const { socket, response } = Deno.upgradeWebSocket(req);
    const session = new FakeLiveSession(
      socket,
      headers,
      req.url,
      options,
      () => {
        const relay = this.#server.relay;
        if (!relay) {
          throw new Error("a lean GPT-Live simulator cannot cut connections");
        }
        relay.drop((c) => c.targetSidePort === remotePort);
      },
      this.errors,
    );
    this.#sessions.created(session);
    socket.addEventListener("open", () => this.#sessions.opened(session));
    return response;
  }
}
