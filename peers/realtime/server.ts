/**
 * The fake Realtime endpoint: a Deno.serve on 127.0.0.1 with a random port,
 * serving `wss …/v1/realtime?model=…`, `GET /v1/models[/{id}]` and
 * `POST /v1/responses` (./responses_api.ts) as OpenAI does (bearer key,
 * OpenAI JSON error bodies).
 *
 * @module
 */
import { LoopbackServer } from "../loopback_server.ts";
import { Sessions } from "../sessions.ts";
import {
  authProblem,
  missingParameterResponse,
  refusedHandshake,
  upgradeProblem,
} from "../common.ts";
import { httpError } from "./common.ts";
import {
  DEFAULT_MODEL,
  ModelCatalog,
  modelNotFound,
  serveModels,
} from "./models.ts";
import type { FakeRealtimeOptions } from "./options.ts";
import { ResponsesApi } from "./responses_api.ts";
import { FakeRealtimeSession, type SessionTally } from "./session.ts";

export class FakeRealtime {
  /**
   * `ws://127.0.0.1:PORT/v1/realtime`, without `?model=`: the client adds
   * the model, and a handshake without one is refused as the API does.
   */
  readonly url: string;
  /** `http://127.0.0.1:PORT` (for `GET /v1/models/{id}`). */
  readonly origin: string;
  /** Every accepted session, in order (a lean server keeps none). */
  readonly sessions: FakeRealtimeSession[];
  /** Added up over every session, lean or not. */
  readonly tally: SessionTally = {
    errors: new Map(),
    truncatesAccepted: 0,
    truncatesRefused: 0,
  };
  /** Requests to /v1/realtime (accepted or refused). */
  handshakes = 0;

  /** Handshakes whose client went away during handshakeDelayMs (no session). */
  abandonedHandshakes = 0;

  readonly models: ModelCatalog;
  /** `POST /v1/responses`: the requests it had and what it answered. */
  readonly responsesApi: ResponsesApi;

  #server: LoopbackServer;
  #options: FakeRealtimeOptions;
  readonly #sessions: Sessions<FakeRealtimeSession>;
  #shutdown = new AbortController();

  private constructor(options: FakeRealtimeOptions) {
    this.#options = options;
    this.#sessions = new Sessions(
      "Realtime",
      !options.lean,
      () => this.handshakes,
    );
    this.sessions = this.#sessions.all;
    this.models = new ModelCatalog(options.modelRecords, options.retiredModels);
    this.responsesApi = new ResponsesApi(options.responses);
    // A handshake delay is network latency in front of the server, so a
    // client that gives up during it really goes away (no half-upgraded
    // socket is left behind, as a delay inside the handler would leave).
    this.#server = new LoopbackServer(
      (req) => this.#handle(req),
      options.handshakeDelayMs
        ? {
          delayMs: options.handshakeDelayMs,
          onAbandoned: () => this.abandonedHandshakes++,
        }
        : undefined,
    );
    this.origin = this.#server.origin;
    this.url = `ws://127.0.0.1:${this.#server.port}/v1/realtime`;
  }

  static start(options: FakeRealtimeOptions = {}): Promise<FakeRealtime> {
    return Promise.resolve(new FakeRealtime(options));
  }

  /** `url` with `?model=` (default gpt-realtime-2.1), as a client dials it. */
  urlWithModel(model = DEFAULT_MODEL): string {
    return `${this.url}?model=${encodeURIComponent(model)}`;
  }

  /** The next accepted session not yet returned by an earlier call. */
  nextSession(timeoutMs?: number): Promise<FakeRealtimeSession> {
    return this.#sessions.next(timeoutMs);
  }

  /** Closes every session from the server side, then the server. */
  async close(): Promise<void> {
    this.#shutdown.abort();
    await this.#sessions.close();
    await this.#server.close();
  }

  #authProblem(req: Request): Response | null {
    return authProblem(req, this.#options.apiKey ?? "sk-test");
  }

  #handle(req: Request): Response | Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/v1/responses") {
      return this.#authProblem(req) ??
        this.responsesApi.handle(req, this.#shutdown.signal);
    }
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
      return refusedHandshake(options.handshakeStatus, "FakeRealtime");
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
      return missingParameterResponse("model");
    }
    // Unknown and shut-down models alike: the model no longer exists.
    if (!this.models.acceptsSession(model)) {
      return modelNotFound(model, null);
    }
    const refused = upgradeProblem(req, this.#shutdown.signal.aborted);
    if (refused) return refused;
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
      this.tally,
    );
    this.#sessions.created(session);
    socket.addEventListener("open", () => {
      session.sendSessionCreated();
      this.#sessions.opened(session);
    });
    return response;
  }
}
