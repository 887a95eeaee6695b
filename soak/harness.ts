/**
 * Everything the soak drives the server with, and what it records: the
 * server process, the upstream front and its fake Realtime backends, calls
 * placed the way Twilio places them, and a record of each call's checks.
 *
 * @module
 */

import twilio from "twilio";
import {
  FakeRealtime,
  type FakeRealtimeSession,
} from "../peers/realtime/mod.ts";
import { TwilioEdge, type TwilioEdgeOptions } from "../peers/twilio_edge.ts";
import { ServerProcess } from "../peers/server_process.ts";
import { Inspector } from "./inspector.ts";
import { UpstreamFront, type UpstreamMode } from "./upstream.ts";

/**
 * The soak's HTTP requests keep no idle connection to the server: a pooled
 * keep-alive would count as an open socket of the server's at the end, which
 * is what the soak checks for leaks.
 */
export const soakHttp = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

export const PUBLIC_ORIGIN = "https://assistant.example.com";
export const ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef";
/** Fake Realtime backend for the "slow" mode: accepts the upgrade this late. */
export const SLOW_HANDSHAKE_MS = 1500;
/** The server's own upstream connect timeout (main.ts uses the default). */
export const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;

export type BackendMode = Exclude<UpstreamMode, "hang">;

export interface Secrets {
  openaiApiKey: string;
  twilioAuthToken: string;
  mcpPassword: string;
  /** /healthz shows the live-call count only with it. */
  adminToken: string;
}

export interface ServerSettings {
  maxConcurrentCalls: number;
  /** Undefined: the server's default (30). */
  maxCallMinutes: number | undefined;
  streamStartTimeoutSeconds: number;
  streamTokenTtlSeconds: number;
  drainSeconds: number;
  /** Run the server with the V8 inspector on loopback (forced GC, live object counts). */
  inspect: boolean;
}

/** Text the soak received from the server, for the secret scan. */
export interface ScanText {
  source: string;
  text: string;
  /** The stream token this text legitimately carries (a TwiML answer). */
  ownToken?: string;
}

export interface CallResult {
  id: number;
  kind: string;
  callSid: string;
  clean: boolean;
  problems: string[];
  /** Fault (or stream open) → stream closed by the server, or fault → next assistant audio. */
  silenceMs: number | undefined;
  silenceBoundMs: number | undefined;
  /** `reason` of the server's call.ended line. */
  endReason: string | undefined;
  durationMs: number;
}

export interface HttpResult {
  status: number;
  body: string;
  headers: Headers;
}

/** One call being placed: its identity, its sockets, and the problems found. */
export class CallRun {
  readonly problems: string[] = [];
  readonly startedAt = performance.now();
  streamUrl: string | undefined;
  token: string | undefined;
  edge: TwilioEdge | undefined;
  streamOpenedAt: number | undefined;
  /** When the Twilio stream closed (either side). */
  closedAt: number | undefined;
  faultAt: number | undefined;
  silenceMs: number | undefined;
  silenceBoundMs: number | undefined;
  endReason: string | undefined;
  /** Caller audio sent in media frames after `start`, in order. */
  readonly sentAudio: Uint8Array[] = [];
  /** Index of the first backend session that may belong to this call. */
  readonly sessionIndex: Map<BackendMode, number>;

  constructor(
    readonly id: number,
    readonly kind: string,
    readonly callSid: string,
    readonly label: string,
    sessionIndex: Map<BackendMode, number>,
  ) {
    this.sessionIndex = sessionIndex;
  }

  /** Records `problem` unless `ok`; returns `ok`. */
  check(ok: boolean, problem: string): boolean {
    if (!ok) this.problems.push(problem);
    return ok;
  }

  fault(): void {
    this.faultAt = performance.now();
  }
}

export class Harness {
  readonly results: CallResult[] = [];
  readonly scan: ScanText[] = [];
  readonly tokens: string[] = [];
  /** Bad frames and requests sent, by kind. */
  readonly badInputs = new Map<string, number>();
  readonly notes: string[] = [];
  healthzFailures = 0;
  healthzChecks = 0;
  /** The server's V8 inspector, when it runs with one (and until detached). */
  inspector: Inspector | undefined;
  #nextId = 0;
  #watchdog: ReturnType<typeof setInterval> | undefined;

  /** Server processes that were replaced (the resume phase's restarts). */
  readonly pastServers: ServerProcess[] = [];

  private constructor(
    /** The server process requests go to; the resume phase replaces it. */
    public server: ServerProcess,
    readonly front: UpstreamFront,
    readonly backends: Map<BackendMode, FakeRealtime>,
    readonly secrets: Secrets,
    readonly settings: ServerSettings,
    readonly kvDir: string,
    readonly launch: { root: string; env: Record<string, string> },
  ) {}

  static async start(
    projectRoot: string,
    settings: ServerSettings,
  ): Promise<Harness> {
    const secrets: Secrets = {
      openaiApiKey: `sk-soak-${hex(24)}`,
      twilioAuthToken: hex(16),
      mcpPassword: `zapier-mcp-SOAK-SECRET-${hex(12)}`,
      adminToken: `soak-admin-${hex(16)}`,
    };
    const backends = new Map<BackendMode, FakeRealtime>();
    const apiKey = secrets.openaiApiKey;
    backends.set(
      "normal",
      await FakeRealtime.start({
        apiKey,
        // The only response.create the bridge sends is a goodbye request.
        onResponseCreate: (session) => {
          session.speak(randomAudio(8 * 500), {
            chunkBytes: 800,
            transcript: "Goodbye.",
          });
        },
      }),
    );
    backends.set(
      "refuse401",
      await FakeRealtime.start({ apiKey, handshakeStatus: 401 }),
    );
    backends.set(
      "refuse429",
      await FakeRealtime.start({ apiKey, handshakeStatus: 429 }),
    );
    backends.set(
      "refuse500",
      await FakeRealtime.start({ apiKey, handshakeStatus: 500 }),
    );
    backends.set(
      "slow",
      await FakeRealtime.start({
        apiKey,
        handshakeDelayMs: SLOW_HANDSHAKE_MS,
      }),
    );
    const ports = new Map<UpstreamMode, number>();
    for (const [mode, fake] of backends) {
      ports.set(mode, Number(new URL(fake.url).port));
    }
    const front = new UpstreamFront(ports);
    const kvDir = await Deno.makeTempDir({ prefix: "soak-kv-" });
    const env: Record<string, string> = {
      OPENAI_API_KEY: secrets.openaiApiKey,
      TWILIO_AUTH_TOKEN: secrets.twilioAuthToken,
      ZAPIER_MCP_PASSWORD: secrets.mcpPassword,
      ADMIN_TOKEN: secrets.adminToken,
      PORT: "0",
      PUBLIC_URL: PUBLIC_ORIGIN,
      OPENAI_REALTIME_URL:
        `ws://127.0.0.1:${front.port}/v1/realtime?model=gpt-realtime`,
      KV_PATH: `${kvDir}/kv.sqlite3`,
      MAX_CONCURRENT_CALLS: String(settings.maxConcurrentCalls),
      STREAM_START_TIMEOUT_SECONDS: String(settings.streamStartTimeoutSeconds),
      STREAM_TOKEN_TTL_SECONDS: String(settings.streamTokenTtlSeconds),
      DRAIN_SECONDS: String(settings.drainSeconds),
      // The soak measures the call path. Summaries are a background job with
      // its own retries and 30 s timeouts, aimed here at an upstream the
      // soak keeps breaking, so they would still hold sockets when the
      // figures are read; tests/memory_calls_test.ts covers them.
      MEMORY: "false",
      NO_COLOR: "1",
    };
    if (settings.maxCallMinutes !== undefined) {
      env.MAX_CALL_MINUTES = String(settings.maxCallMinutes);
    }
    const server = await ServerProcess.start({
      root: projectRoot,
      env,
      permissions: "broad",
      flags: settings.inspect ? ["--inspect=127.0.0.1:0"] : [],
    });
    const harness = new Harness(
      server,
      front,
      backends,
      secrets,
      settings,
      kvDir,
      { root: projectRoot, env },
    );
    const inspectorUrl = server.inspectorUrl();
    if (inspectorUrl) harness.inspector = await Inspector.connect(inspectorUrl);
    harness.#startWatchdog();
    return harness;
  }

  /**
   * A new server process on the same KV store (as a restart or a second
   * instance), without the inspector; `replace`: requests go to it from now on.
   */
  async startServer(
    replace: boolean,
    env: Record<string, string> = {},
  ): Promise<ServerProcess> {
    const server = await ServerProcess.start({
      root: this.launch.root,
      env: { ...this.launch.env, ...env },
      permissions: "broad",
    });
    if (replace) {
      this.pastServers.push(this.server);
      this.server = server;
    }
    return server;
  }

  backend(mode: BackendMode): FakeRealtime {
    const fake = this.backends.get(mode);
    if (!fake) throw new Error(`no backend ${mode}`);
    return fake;
  }

  countBad(kind: string, n = 1): void {
    this.badInputs.set(kind, (this.badInputs.get(kind) ?? 0) + n);
  }

  /** Starts a call of `kind`: its upstream connections will carry its label. */
  begin(kind: string, mode: UpstreamMode, callSid = newCallSid()): CallRun {
    const id = ++this.#nextId;
    const label = `${kind}#${id}`;
    this.front.mode = mode;
    this.front.label = label;
    const index = new Map<BackendMode, number>();
    for (const [name, fake] of this.backends) {
      index.set(name, fake.sessions.length);
    }
    return new CallRun(id, kind, callSid, label, index);
  }

  /** Records the call's outcome; clean when no check failed. */
  finish(run: CallRun): CallResult {
    const edge = run.edge;
    if (edge) {
      run.check(
        edge.protocolErrors.length === 0,
        `server sent Twilio what Twilio rejects: ${
          edge.protocolErrors.slice(0, 2).join("; ")
        }`,
      );
      for (const message of edge.received) {
        if (message.event !== "media") {
          this.scan.push({
            source: "twilio stream message",
            text: JSON.stringify(message),
          });
        }
      }
    }
    const result: CallResult = {
      id: run.id,
      kind: run.kind,
      callSid: run.callSid,
      clean: run.problems.length === 0,
      problems: run.problems,
      silenceMs: run.silenceMs === undefined
        ? undefined
        : Math.round(run.silenceMs),
      silenceBoundMs: run.silenceBoundMs,
      endReason: run.endReason,
      durationMs: Math.round(performance.now() - run.startedAt),
    };
    this.results.push(result);
    return result;
  }

  // --- HTTP ----------------------------------------------------------------

  /** A form POST as Twilio sends it; `signature` null: unsigned, a string: forged. */
  async post(
    path: string,
    params: Record<string, string>,
    signature?: string | null,
    scanSource = `POST ${path}`,
  ): Promise<HttpResult> {
    const headers = new Headers({
      "content-type": "application/x-www-form-urlencoded",
    });
    const sig = signature === undefined
      ? twilio.getExpectedTwilioSignature(
        this.secrets.twilioAuthToken,
        PUBLIC_ORIGIN + path,
        params,
      )
      : signature;
    if (sig !== null) headers.set("x-twilio-signature", sig);
    const response = await fetch(this.server.origin + path, {
      method: "POST",
      headers,
      body: new URLSearchParams(params).toString(),
      client: soakHttp,
    });
    const body = await response.text();
    const ownToken = /\/media-stream\/([^"<]+)/.exec(body)?.[1];
    this.scan.push({
      source: scanSource,
      text: `${response.status}\n${headerText(response.headers)}\n${body}`,
      ownToken,
    });
    return { status: response.status, body, headers: response.headers };
  }

  async healthz(timeoutMs = 5000): Promise<{ calls: number } | undefined> {
    try {
      const response = await fetch(`${this.server.origin}/healthz`, {
        headers: { authorization: `Bearer ${this.secrets.adminToken}` },
        signal: AbortSignal.timeout(timeoutMs),
        client: soakHttp,
      });
      const text = await response.text();
      this.scan.push({
        source: "GET /healthz",
        text: `${response.status}\n${headerText(response.headers)}\n${text}`,
      });
      const body: unknown = JSON.parse(text);
      if (typeof body === "object" && body !== null && "calls" in body) {
        return { calls: Number(body.calls) };
      }
      return undefined;
    } catch {
      return undefined;
    }
  }

  webhookParams(callSid: string): Record<string, string> {
    return {
      AccountSid: ACCOUNT_SID,
      CallSid: callSid,
      From: "+14155550123",
      To: "+18005550199",
      CallStatus: "ringing",
      Direction: "inbound",
    };
  }

  /** The signed webhook; on success the run gets its stream URL and token. */
  async answer(run: CallRun): Promise<boolean> {
    const response = await this.post(
      "/incoming-call",
      this.webhookParams(run.callSid),
    );
    const match = /<Stream url="([^"]+)"/.exec(response.body);
    if (response.status !== 200 || !match) {
      run.check(
        false,
        `webhook answered ${response.status}: ${response.body.slice(0, 120)}`,
      );
      return false;
    }
    run.streamUrl = match[1].replaceAll("&amp;", "&");
    run.token = run.streamUrl.split("/").pop();
    if (run.token) this.tokens.push(run.token);
    return true;
  }

  /** Twilio's `<Connect action>` request after the stream closed. */
  continueCall(callSid: string): Promise<HttpResult> {
    return this.post(
      "/call-ended",
      { ...this.webhookParams(callSid), CallStatus: "in-progress" },
    );
  }

  /**
   * Twilio's request after the stream closed. After an end on purpose: a
   * plain `<Hangup/>`. After a session the API refused: the apology, no new
   * stream. After another fault: the call is resumed on a new stream; the
   * caller then hangs up on it, and the next request hangs up.
   */
  async afterStream(
    run: CallRun,
    expected: "hang_up" | "apology" | "resume",
  ): Promise<void> {
    const hangsUpPlainly = (body: string) =>
      /<Response><Hangup\/><\/Response>$/.test(body);
    if (expected === "apology") {
      const response = await this.continueCall(run.callSid);
      run.check(
        response.status === 200 && /<Say>[^<]+<\/Say><Hangup\/>/.test(
          response.body,
        ) && !response.body.includes("<Stream"),
        `no apology after a refused session: ${response.body.slice(0, 160)}`,
      );
      return;
    }
    if (expected === "resume") {
      // The resumed session comes from the normal upstream, labelled apart.
      this.front.mode = "normal";
      this.front.label = `${run.label}/resumed`;
    }
    const earlier = new Set(this.server.eventsFor(run.callSid));
    const response = await this.continueCall(run.callSid);
    if (expected === "hang_up") {
      run.check(
        response.status === 200 && hangsUpPlainly(response.body),
        `unexpected TwiML after a clean end: ${response.body.slice(0, 160)}`,
      );
      return;
    }
    const resumed =
      /<Connect action="[^"]+" method="POST"><Stream url="([^"]+)"/
        .exec(response.body);
    if (
      !run.check(
        response.status === 200 && resumed !== null,
        `the call was not resumed after the stream dropped: ${
          response.body.slice(0, 160)
        }`,
      )
    ) return;
    run.streamUrl = resumed![1].replaceAll("&amp;", "&");
    const edge = await this.connect(run);
    if (!edge) return;
    // The resumed call is up (its session ready), then the caller hangs up.
    run.check(
      await this.server.waitFor(
        (e) =>
          e.event === "upstream.ready" && e.callSid === run.callSid &&
          !earlier.has(e),
        5000,
      ) !== undefined,
      "the resumed session never became ready",
    );
    edge.sendStop();
    await within(edge.closed, 5000);
    const last = await this.continueCall(run.callSid);
    run.check(
      last.status === 200 && hangsUpPlainly(last.body),
      `the caller hung up on the resumed stream, then: ${
        last.body.slice(0, 160)
      }`,
    );
  }

  // --- sockets ---------------------------------------------------------------

  /** Connects a simulated Twilio edge to the run's stream, as Twilio would. */
  async connect(
    run: CallRun,
    options: Partial<TwilioEdgeOptions> = {},
  ): Promise<TwilioEdge | undefined> {
    if (!run.streamUrl) return undefined;
    const path = new URL(run.streamUrl).pathname;
    let edge: TwilioEdge;
    try {
      edge = await TwilioEdge.connect({
        url: `ws://127.0.0.1:${this.server.port}${path}`,
        signedUrl: run.streamUrl,
        authToken: this.secrets.twilioAuthToken,
        callSid: run.callSid,
        accountSid: ACCOUNT_SID,
        ...options,
      });
    } catch (error) {
      run.check(false, `stream handshake failed: ${String(error)}`);
      return undefined;
    }
    run.edge = edge;
    run.streamOpenedAt = performance.now();
    edge.closed.then(({ reason }) => {
      run.closedAt = performance.now();
      if (reason) this.scan.push({ source: "close reason", text: reason });
    });
    return edge;
  }

  /** Waits until the run's pre-warm (or first) upstream connection arrives at the front. */
  async upstreamArrived(run: CallRun, timeoutMs = 2000): Promise<boolean> {
    const ok = await until(
      () => this.front.withLabel(run.label).length > 0,
      timeoutMs,
    );
    return run.check(ok, "no upstream connection was opened for the call");
  }

  /** The first session the backend accepted since the run began. */
  async session(
    run: CallRun,
    mode: BackendMode = "normal",
    timeoutMs = 3000,
  ): Promise<FakeRealtimeSession | undefined> {
    const fake = this.backend(mode);
    const index = run.sessionIndex.get(mode) ?? 0;
    await until(() => fake.sessions.length > index, timeoutMs);
    const session = fake.sessions[index];
    run.check(session !== undefined, "the upstream session never opened");
    return session;
  }

  /**
   * Waits for the server to close the stream, at most `boundMs` after the
   * fault (or after the stream opened); records the silence.
   */
  async expectServerClose(run: CallRun, boundMs: number): Promise<void> {
    const edge = run.edge;
    if (!edge) return;
    const from = run.faultAt ?? run.streamOpenedAt ?? performance.now();
    run.silenceBoundMs = boundMs;
    const closed = await within(edge.closed, boundMs + 1000);
    if (closed === undefined || run.closedAt === undefined) {
      run.check(
        false,
        `stream still open ${boundMs + 1000} ms after the fault`,
      );
      // Not closed: the call went on, so this is no silence; it is a failure.
      edge.close();
      await edge.closed;
      return;
    }
    run.silenceMs = run.closedAt - from;
    run.check(
      run.silenceMs <= boundMs,
      `stream closed ${
        Math.round(run.silenceMs)
      } ms after the fault (bound ${boundMs} ms)`,
    );
  }

  /** Every upstream connection of the call is closed within `timeoutMs`. */
  async expectUpstreamClosed(run: CallRun, timeoutMs: number): Promise<void> {
    const closed = await this.front.waitClosed(run.label, timeoutMs);
    run.check(
      closed,
      `${
        this.front.open(run.label).length
      } upstream socket(s) still open ${timeoutMs} ms after the call ended`,
    );
  }

  /** The server logged call.ended for this call with one of `reasons`. */
  async expectEnded(
    run: CallRun,
    reasons: string[],
    timeoutMs = 3000,
  ): Promise<void> {
    const ended = await this.server.callEnded(run.callSid, timeoutMs);
    run.endReason = ended === undefined ? undefined : String(ended.reason);
    run.check(
      ended !== undefined && reasons.includes(String(ended.reason)),
      ended === undefined
        ? "no call.ended log line"
        : `ended with "${ended.reason}", expected ${reasons.join(" or ")}`,
    );
  }

  // --- the end ---------------------------------------------------------------

  stopWatchdog(): void {
    clearInterval(this.#watchdog);
  }

  /** Stops everything; a step that hangs is reported and left behind. */
  async close(): Promise<void> {
    this.stopWatchdog();
    this.inspector?.close();
    this.server.kill("SIGKILL");
    const step = async (name: string, promise: Promise<unknown>) => {
      if (await within(promise.then(() => true), 10_000) === undefined) {
        console.error(`soak: closing ${name} took over 10 s; moving on`);
      }
    };
    await step("the server process", this.server.exited);
    await step("the server's output", this.server.drained());
    await step("the upstream front", this.front.close());
    for (const [mode, fake] of this.backends) {
      await step(`the ${mode} fake Realtime`, fake.close());
    }
    await Deno.remove(this.kvDir, { recursive: true }).catch(() => {});
  }

  #startWatchdog(): void {
    let busy = false;
    this.#watchdog = setInterval(async () => {
      if (busy || this.server.exitCode !== undefined) return;
      busy = true;
      this.healthzChecks++;
      const health = await this.healthz(5000);
      if (health === undefined && this.server.exitCode === undefined) {
        this.healthzFailures++;
      }
      busy = false;
    }, 1000);
  }
}

// --- small helpers -------------------------------------------------------------

export function hex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

export function newCallSid(): string {
  return `CA${hex(16)}`;
}

/** Random µ-law: any byte sequence is valid audio. */
export function randomAudio(bytes: number): Uint8Array {
  const audio = new Uint8Array(bytes);
  for (let offset = 0; offset < bytes; offset += 65536) {
    crypto.getRandomValues(audio.subarray(offset, offset + 65536));
  }
  return audio;
}

/** Polls `condition` every 5 ms; false after `timeoutMs`. */
export async function until(
  condition: () => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() >= deadline) return false;
    await sleep(5);
  }
  return true;
}

/** The promise's value, or undefined after `ms`. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function headerText(headers: Headers): string {
  return [...headers].map(([name, value]) => `${name}: ${value}`).join("\n");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
