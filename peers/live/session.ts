/**
 * One GPT-Live primary WebSocket: answers client events as OpenAI documents
 * them and lets a test script the Live model (speech, transcripts of the
 * caller, delegations with function calls, usage, the end of the session).
 * It never throws on bad client input; it answers with `error` events.
 *
 * @module
 */
import type {
  ErrorEvent,
  ResponsesDelegationConfig,
  SessionClosedEvent,
  SessionConfig,
  SessionResource,
} from "openai/resources/live/live";
import {
  type AudioSpec,
  audioSpec,
  DEFAULT_FORMAT,
  FIXTURE_BYTES_PER_MS,
  fixtureToSessionFormat,
} from "./audio.ts";
import {
  Backend,
  type CallOptions,
  type FunctionCallHandle,
  type FunctionCallSpec,
  type FunctionOutput,
} from "./backend.ts";
import {
  CLIENT_EVENT_SCHEMAS,
  CLIENT_EVENT_TYPES,
  type ClientEventOf,
  isClientEventType,
  isDecisionEvent,
  type ModelledEventType,
} from "./client_events.ts";
import {
  APPEND_TOKEN_LIMIT,
  approxTokens,
  type EventIdLessType,
  isObject,
  type JsonObject,
  newId,
  type Problem,
  type ServerEventBody,
} from "./common.ts";
import type {
  AppendKind,
  AppendRecord,
  CloseInfo,
  FakeLiveOptions,
} from "./options.ts";
import {
  type Assert,
  type Equals,
  invalidValue,
  missingParameter,
  validate,
} from "../schema.ts";
import {
  applyUpdate,
  checkStart,
  isProblem,
  resolveSession,
} from "./session_config.ts";
import {
  type SpeakHandle,
  type SpeakOptions,
  transcriptPieces,
  Voice,
} from "./voice.ts";
import { EventLog } from "../event_log.ts";
import { SimSocket } from "../sim_socket.ts";
import { Waiters } from "../waiters.ts";
import { VoiceActivity } from "../voice_activity.ts";

const DEFAULT_WAIT_MS = 2000;
/** Fixtures are limited to 30 seconds. */
const FIXTURE_MAX_BYTES = 30_000 * FIXTURE_BYTES_PER_MS;
/** Pace of `callerSaid` timestamps (words per second of speech). */
const CALLER_WORDS_PER_SECOND = 2.8;

/** Server events that carry no event_id on the primary WebSocket. */
const NO_EVENT_ID = [
  "session.output_audio.delta",
  "session.input_audio.append",
] as const;
export type _NoEventIdMatchesTypes = Assert<
  Equals<(typeof NO_EVENT_ID)[number], EventIdLessType>
>;

export type SessionState =
  | "awaiting_start"
  | "starting"
  | "started"
  | "failed"
  | "closed";

export type CloseReason = SessionClosedEvent["reason"];

type Handlers = {
  [K in ModelledEventType]: (
    event: ClientEventOf<K>,
    id: string | null,
  ) => void;
};

export class FakeLiveSession {
  readonly headers: Headers;
  readonly requestUrl: string;
  /** Every server event sent, in order (audio deltas included; none when lean). */
  readonly emitted: JsonObject[] = [];
  readonly errorsSent: ErrorEvent[] = [];
  readonly instructions: AppendRecord[] = [];
  readonly commentary: AppendRecord[] = [];
  readonly thinking: AppendRecord[] = [];
  readonly closed: Promise<CloseInfo>;
  /** The effective session (null until session.started). */
  session: SessionResource | null = null;

  readonly #wire: SimSocket;
  readonly #options: FakeLiveOptions;
  readonly #drop: () => void;
  /** The server's count of error events sent, by code, over all sessions. */
  readonly #errors: Map<string, number>;
  readonly #backend: Backend;
  #state: SessionState = "awaiting_start";
  #spec: AudioSpec = audioSpec(DEFAULT_FORMAT);
  #vad: VoiceActivity | undefined;
  #voice: Voice | null = null;
  #t0 = 0;
  #lastUsage = 0;
  #muted = false;
  #fixtureActive = false;
  readonly #log: EventLog;
  #startWaiters = new Waiters<void, SessionResource>();
  #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    socket: WebSocket,
    headers: Headers,
    requestUrl: string,
    options: FakeLiveOptions,
    drop: () => void,
    errors: Map<string, number>,
  ) {
    this.#errors = errors;
    this.headers = headers;
    this.requestUrl = requestUrl;
    this.#options = options;
    this.#drop = drop;
    this.#log = new EventLog(!options.lean);
    this.#backend = new Backend(
      {
        emit: (event) => this.#emit(event),
        responses: () => this.#responses(),
        timelineMs: () => this.timelineMs(),
        after: (ms, fn) => this.#after(ms, fn),
        scriptResponse: (outputs) => this.#scriptResponse(outputs),
      },
      options.responseInputLimits ?? { items: 128, bytes: 32_768 },
      options.queuedResponseDelayMs ?? 150,
    );
    this.#wire = new SimSocket(socket, {
      message: (data) => this.#onMessage(data),
      failed: (error) => this.#serverError(error),
      closed: () => this.#onClosed(),
    });
    this.closed = this.#wire.closed;
  }

  /** Every client event, parsed, in order (refused ones included). */
  get received(): JsonObject[] {
    return this.#log.received;
  }

  get state(): SessionState {
    return this.#state;
  }

  get muted(): boolean {
    return this.#muted;
  }

  /** Whether the model is speaking (or has speech queued). */
  get speaking(): boolean {
    return this.#voice?.speaking ?? false;
  }

  /** Function outputs the client returned with response.item.create. */
  get functionOutputs(): FunctionOutput[] {
    return this.#backend.functionOutputs;
  }

  /** Every item the client appended with response.item.create. */
  get responseItems(): JsonObject[] {
    return this.#backend.items;
  }

  /** Calls the backend made that no response.create has continued yet. */
  get pendingCallIds(): string[] {
    return this.#backend.pendingCallIds;
  }

  /** All audio the client appended, decoded, in order. */
  inputAudio(): Uint8Array {
    return this.#log.audio();
  }

  /** The session timeline: ms since session.started (0 before it). */
  timelineMs(): number {
    return this.#state === "started" || this.#state === "closed"
      ? Math.round(performance.now() - this.#t0)
      : 0;
  }

  /**
   * The next client event of `type` (already received or future) matching
   * `predicate`. A cursor per type makes consecutive calls return successive
   * events.
   */
  waitFor(
    type: string,
    predicate: (e: JsonObject) => boolean = () => true,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<JsonObject> {
    return this.#log.waitFor(type, predicate, timeoutMs);
  }

  /** Resolves with the effective session once session.started is sent. */
  waitStarted(timeoutMs = DEFAULT_WAIT_MS): Promise<SessionResource> {
    if (this.session) return Promise.resolve(this.session);
    if (this.#wire.isClosed || this.#state === "failed") {
      return Promise.reject(new Error(`session ${this.#state}, not started`));
    }
    return this.#startWaiters.add(
      undefined,
      timeoutMs,
      () => new Error(`no session.started within ${timeoutMs} ms`),
    );
  }

  // --- what the Live model does ----------------------------------------------

  /**
   * The model says `audio` (in the session's format): output audio deltas
   * with no item id and no done event, and the transcript on the timeline.
   * Utterances play one after another.
   */
  speak(audio: Uint8Array, options: SpeakOptions = {}): SpeakHandle {
    return this.#requireVoice().speak(audio, options);
  }

  /** The model stops talking by itself (and drops what it had queued). */
  stopSpeaking(): void {
    this.#voice?.stopAll();
  }

  /** The caller's words, as `session.input_transcript.delta` fragments. */
  callerSaid(text: string): void {
    this.#requireVoice();
    const pieces = transcriptPieces(text);
    const words = (text.match(/\S+/g) ?? []).length;
    const end = this.timelineMs();
    const start = Math.max(0, end - (words / CALLER_WORDS_PER_SECOND) * 1000);
    const span = (end - start) / Math.max(1, pieces.length);
    pieces.forEach((delta, i) => {
      this.#emit({
        type: "session.input_transcript.delta",
        delta,
        start_ms: Math.round(start + i * span),
        end_ms: Math.round(start + (i + 1) * span),
      });
    });
  }

  /**
   * The backend calls function tools. Outside onResponseCreate this is a
   * new delegation (session.delegation.created, then the response); inside
   * it, the calls end the response the client created.
   */
  callFunction(
    calls: FunctionCallSpec | FunctionCallSpec[],
    options: CallOptions = {},
  ): FunctionCallHandle {
    this.#requireVoice();
    return this.#backend.callFunction(calls, options);
  }

  /**
   * The backend answers with text (ending the response a client
   * response.create opened); with `audio`, GPT-Live then speaks it.
   */
  reply(
    text: string,
    speech?: { audio: Uint8Array } & Omit<SpeakOptions, "transcript">,
  ): SpeakHandle | null {
    this.#requireVoice();
    this.#backend.reply(text);
    if (!speech) return null;
    const { audio, ...options } = speech;
    return this.speak(audio, { ...options, transcript: text });
  }

  /** Client delegation: hands the app a task (metadata only). */
  delegateToClient(options: CallOptions = {}): string {
    this.#requireVoice();
    return this.#backend.delegateToClient(options.offsetMs);
  }

  /** `session.usage.updated` with cumulative seconds (never decreasing). */
  usage(seconds: number, options: { usageRatio?: number } = {}): void {
    this.#requireVoice();
    if (seconds < this.#lastUsage) {
      throw new Error(
        `usage is cumulative: ${seconds} s is below the ${this.#lastUsage} s already reported`,
      );
    }
    this.#lastUsage = seconds;
    this.#emit({
      type: "session.usage.updated",
      usage: { seconds },
      ...(options.usageRatio === undefined
        ? {}
        : { context_window: { usage_ratio: options.usageRatio } }),
    });
  }

  /** The session ends: session.closed with `reason`, then the socket closes. */
  end(reason: CloseReason): void {
    this.#requireVoice();
    this.#finish(reason, null);
  }

  /** The TCP connection dies: no session.closed, no close frame. */
  drop(): void {
    this.#wire.serverCloses(() => {
      this.#voice?.close();
      this.#drop();
    });
  }

  /** Injects an `error` event (e.g. a server_error). */
  sendError(problem: Problem): void {
    this.#fail(problem, null);
  }

  /** Injects an `info` event. */
  info(code: string, message: string): void {
    this.#emit({ type: "info", code, message });
  }

  /** Sends a raw server event as given. */
  send(event: JsonObject): void {
    this.#record(event);
    this.#sendText(JSON.stringify(event));
  }

  /** Closes the socket from the server side, without session.closed. */
  close(code = 1000, reason = ""): void {
    if (this.#wire.isClosed) return;
    this.#voice?.close();
    this.#wire.close(code, reason);
  }

  // --- client events -----------------------------------------------------------

  #onMessage(data: unknown): void {
    if (typeof data !== "string") {
      return this.#fail({
        code: "invalid_json",
        message: "Binary frames are not supported; send JSON text events.",
      }, null);
    }
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      return this.#fail({
        code: "invalid_json",
        message: "We could not parse the JSON body of your request.",
      }, null);
    }
    if (!isObject(event)) {
      return this.#fail({
        code: "invalid_type",
        message: "Invalid type for event: expected an object.",
      }, null);
    }
    this.#log.push(event);
    this.#dispatch(event);
    this.#log.notify();
  }

  #dispatch(event: JsonObject): void {
    const id = typeof event.event_id === "string" ? event.event_id : null;
    const type = event.type;
    if (type === undefined) return this.#fail(missingParameter("type"), id);
    if (typeof type !== "string" || !isClientEventType(type)) {
      // No truncate, cancel or commit exist in GPT-Live.
      return this.#fail(invalidValue("type", type, CLIENT_EVENT_TYPES), id);
    }
    if (type === "session.start" && this.#state === "started") {
      return this.#fail({
        code: "session_already_started",
        message: "The session has already started; send session.start once.",
        param: "type",
      }, id);
    }
    // Only session.start before session.started, and only once.
    const ready = type === "session.start"
      ? this.#state === "awaiting_start"
      : this.#state === "started";
    if (!ready) return this.#fail(notStarted(), id);
    // Neither Decisions delegation nor triggers is modelled (or accepted):
    // the API's answer to a session without them.
    if (isDecisionEvent(type)) return this.#fail(noDecisions(), id);
    const problem = validate(CLIENT_EVENT_SCHEMAS[type], event, "");
    if (problem) {
      if (type === "session.start") return this.#startFailed(problem, id);
      return this.#fail(problem, id);
    }
    this.#handle(type, event, id);
  }

  /** The schema built from the event's own interface has validated it. */
  #handle<K extends ModelledEventType>(
    type: K,
    event: JsonObject,
    id: string | null,
  ): void {
    const handler = this.#handlers[type] as (
      e: ClientEventOf<K>,
      id: string | null,
    ) => void;
    handler(event as unknown as ClientEventOf<K>, id);
  }

  readonly #handlers: Handlers = {
    "session.start": (e, id) => this.#onStart(e.session, id),
    "session.update": (e, id) => {
      const next = applyUpdate(this.session!, e.session);
      if (isProblem(next)) return this.#fail(next, id);
      this.session = next;
      this.#emit({ type: "session.updated", session: next, ...cid(id) });
    },
    "session.input_audio.append": (e, id) => this.#onAudio(e.audio, id),
    "session.input_audio.mute": (_e, id) => {
      this.#muted = true;
      this.#emit({ type: "session.input_audio.muted", ...cid(id) });
    },
    "session.input_audio.unmute": (_e, id) => {
      this.#muted = false;
      this.#emit({ type: "session.input_audio.unmuted", ...cid(id) });
    },
    "session.output_audio.fixture.play": (e, id) =>
      this.#onFixture(e.audio, id),
    "session.instructions.append": (e, id) =>
      this.#onAppend("instructions", e.content, e.delegation_id, id),
    "session.thinking.append": (e, id) =>
      this.#onAppend("thinking", e.content, e.delegation_id, id),
    "session.commentary.append": (e, id) =>
      this.#onAppend("commentary", e.content, e.delegation_id, id),
    "response.item.create": (e, id) => {
      const problem = this.#backend.onItemCreate({ ...e.item });
      if (problem) this.#fail(problem, id);
    },
    "response.create": (_e, id) => {
      const problem = this.#backend.onResponseCreate();
      if (problem) this.#fail(problem, id);
    },
    "session.close": (_e, id) => this.#finish("close_requested", id),
  };

  #onStart(config: SessionConfig, id: string | null): void {
    const problem = checkStart(config, this.#options.models ?? ["gpt-live-1"]);
    if (problem) return this.#startFailed(problem, id);
    this.#state = "starting";
    this.#after(this.#options.startDelayMs ?? 100, () => {
      const session = resolveSession(
        config,
        this.#options.sessionSeconds ?? 3600,
      );
      this.#spec = audioSpec(session.audio?.format ?? DEFAULT_FORMAT);
      this.#voice = new Voice({
        audio: (delta) =>
          this.#emit({ type: "session.output_audio.delta", delta }),
        transcript: (delta, start_ms, end_ms) =>
          this.#emit({
            type: "session.output_transcript.delta",
            delta,
            start_ms,
            end_ms,
          }),
        now: () => this.timelineMs(),
      }, this.#spec);
      this.session = session;
      this.#state = "started";
      this.#t0 = performance.now();
      this.#emit({ type: "session.started", session, ...cid(id) });
      this.#startWaiters.wake(() => session);
      if (this.#options.idleSilence) this.#voice.setIdleSilence(true);
      const every = this.#options.usageEveryMs;
      if (every) this.#tickUsage(every);
      this.#options.onStarted?.(this);
    });
  }

  /** A session.start error: no session.started, then the socket is cut. */
  #startFailed(problem: Problem, id: string | null): void {
    this.#state = "failed";
    this.#fail(problem, id);
    this.#after(this.#options.startupErrorCloseMs ?? 2000, () => this.drop());
  }

  #onAudio(audio: string, id: string | null): void {
    let bytes: Uint8Array;
    try {
      bytes = Uint8Array.fromBase64(audio);
    } catch {
      return this.#fail({
        code: "invalid_value",
        message: "Invalid 'audio': expected base64-encoded raw audio.",
        param: "audio",
      }, id);
    }
    if (this.#spec.format.type === "audio/pcm" && bytes.length % 2) {
      return this.#fail({
        code: "invalid_value",
        message: "Invalid 'audio': PCM16 audio needs an even number of bytes.",
        param: "audio",
      }, id);
    }
    this.#log.pushAudio(bytes);
    this.#options.onInputAudio?.(this, bytes);
    this.#detectSpeech(bytes);
  }

  /** The caller's turns, from the audio bytes (detectSpeechSilenceMs). */
  #detectSpeech(bytes: Uint8Array): void {
    const silenceMs = this.#options.detectSpeechSilenceMs;
    const format = this.#spec.format.type;
    if (silenceMs === undefined || format === "audio/pcma") return;
    this.#vad ??= new VoiceActivity(
      format === "audio/pcmu" ? "pcmu" : "pcm16",
      this.#spec.bytesPerMs,
      silenceMs,
    );
    for (const event of this.#vad.push(bytes)) {
      if (event === "speech_stopped") this.#options.onTurnEnd?.(this);
    }
  }

  #onFixture(audio: string, id: string | null): void {
    let bytes: Uint8Array;
    try {
      bytes = Uint8Array.fromBase64(audio);
    } catch {
      return this.#fail({
        code: "invalid_value",
        message: "Invalid 'audio': expected base64-encoded PCM16 at 24 kHz.",
        param: "audio",
      }, id);
    }
    if (bytes.length === 0 || bytes.length % 2) {
      return this.#fail({
        code: "invalid_value",
        message: "Invalid 'audio': expected whole PCM16 samples.",
        param: "audio",
      }, id);
    }
    if (bytes.length > FIXTURE_MAX_BYTES) {
      return this.#fail({
        code: "invalid_value",
        message: "Invalid 'audio': a fixture is at most 30 seconds.",
        param: "audio",
      }, id);
    }
    if (this.#fixtureActive) return this.#fail(fixtureActive(), id);
    // Validated whole before the model's speech is interrupted.
    const voice = this.#requireVoice();
    voice.stopAll();
    this.#fixtureActive = true;
    this.#emit({ type: "session.output_audio.fixture.playing", ...cid(id) });
    const played = voice.speak(
      fixtureToSessionFormat(bytes, this.#spec.format),
      { realTime: true },
    );
    played.done.then((result) => {
      this.#fixtureActive = false;
      // Not emitted for canceled playback.
      if (!result.stopped && !this.#wire.isClosed) {
        this.#emit({ type: "session.output_audio.fixture.played", ...cid(id) });
      }
    });
  }

  #onAppend(
    kind: AppendKind,
    content: string,
    delegationId: string | null,
    id: string | null,
  ): void {
    if (this.#fixtureActive) return this.#fail(fixtureActive(), id);
    if (delegationId !== null) {
      if (this.session?.delegation?.type === "responses") {
        return this.#fail({
          code: "invalid_value",
          message:
            "A non-null delegation_id is not accepted with Responses delegation.",
          param: "delegation_id",
        }, id);
      }
      if (!this.#backend.clientDelegations.has(delegationId)) {
        return this.#fail({
          code: "invalid_value",
          message: `Unknown client delegation '${delegationId}'.`,
          param: "delegation_id",
        }, id);
      }
    }
    if (approxTokens(content) > APPEND_TOKEN_LIMIT) {
      // Code, message and param as a real session reported them.
      return this.#fail({
        code: "invalid_value",
        message:
          `Context append text must not exceed ${APPEND_TOKEN_LIMIT} tokens.`,
        param: "content",
      }, id);
    }
    const record: AppendRecord = {
      kind,
      content,
      delegationId,
      clientEventId: id,
      atMs: this.timelineMs(),
    };
    this[kind].push(record);
    const ack = () => {
      const at = this.timelineMs();
      const body = { start_ms: at, end_ms: at, ...cid(id) };
      if (kind === "instructions") {
        this.#emit({ type: "session.instructions.appended", ...body });
      } else if (kind === "thinking") {
        this.#emit({ type: "session.thinking.appended", ...body });
      } else {
        this.#emit({ type: "session.commentary.appended", ...body });
      }
    };
    const delay = this.#options.appendAckDelayMs ?? 0;
    if (delay > 0) this.#after(delay, ack);
    else ack();
    this.#options.onAppend?.(this, record);
  }

  #responses(): ResponsesDelegationConfig | null {
    const delegation = this.session?.delegation;
    return delegation?.type === "responses" ? delegation.responses : null;
  }

  #scriptResponse(outputs: FunctionOutput[]): void {
    const hook = this.#options.onResponseCreate;
    if (!hook) return this.#backend.completeEmpty();
    const result = hook(this, outputs);
    if (result instanceof Promise) {
      result.catch((err) => this.#serverError(String(err)));
    }
  }

  /** session.closed with the final session and usage, then the socket closes. */
  #finish(reason: CloseReason, id: string | null): void {
    if (this.#wire.isClosed || !this.session) return;
    this.#voice?.stopAll();
    const elapsed = Math.round(this.timelineMs() / 100) / 10;
    this.#emit({
      type: "session.closed",
      reason,
      session: this.session,
      usage: { seconds: Math.max(this.#lastUsage, elapsed) },
      ...cid(id),
    });
    this.close(1000, "");
  }

  #tickUsage(every: number): void {
    this.#after(every, () => {
      this.usage(
        Math.max(this.#lastUsage, Math.round(this.timelineMs() / 1000)),
      );
      this.#tickUsage(every);
    });
  }

  // --- plumbing ------------------------------------------------------------------

  #requireVoice(): Voice {
    if (!this.#voice || this.#state !== "started") {
      throw new Error(
        `the session is ${this.#state}: script the model after session.started (await session.waitStarted())`,
      );
    }
    return this.#voice;
  }

  #emit(event: ServerEventBody): void {
    const noId = (NO_EVENT_ID as readonly string[]).includes(event.type);
    const { type, ...rest } = event;
    const body = noId ? event : { type, event_id: newId("event"), ...rest };
    this.#record(body);
    this.#sendText(JSON.stringify(body));
  }

  #fail(problem: Problem, id: string | null): void {
    const event: ErrorEvent = {
      type: "error",
      event_id: newId("event"),
      error: {
        type: problem.type ?? "invalid_request_error",
        code: problem.code,
        message: problem.message,
        ...(problem.param === undefined ? {} : { param: problem.param }),
        ...(id === null ? {} : { client_event_id: id }),
      },
      ...cid(id),
    };
    this.errorsSent.push(event);
    this.#errors.set(problem.code, (this.#errors.get(problem.code) ?? 0) + 1);
    this.#record({ ...event });
    this.#sendText(JSON.stringify(event));
  }

  #serverError(message: string): void {
    this.#fail({ code: "server_error", message, type: "server_error" }, null);
  }

  /** Keeps a sent event in `emitted`, unless the session is lean. */
  #record(event: JsonObject): void {
    if (!this.#options.lean) this.emitted.push(event);
  }

  #sendText(text: string): void {
    this.#wire.send(text);
  }

  #after(ms: number, fn: () => void): void {
    if (this.#wire.isClosed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      try {
        fn();
      } catch (err) {
        this.#serverError(String(err));
      }
    }, ms);
    this.#timers.add(timer);
  }

  #onClosed(): void {
    if (this.#state !== "failed") this.#state = "closed";
    this.#voice?.close();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#log.close();
    this.#startWaiters.failAll(() =>
      new Error("session closed before session.started")
    );
  }
}

/** `client_event_id`, when the client supplied an event_id. */
function cid(id: string | null): { client_event_id?: string } {
  return id === null ? {} : { client_event_id: id };
}

function notStarted(): Problem {
  return {
    code: "session_not_started",
    message:
      "The session has not started: send session.start first and wait for session.started.",
  };
}

function noDecisions(): Problem {
  return {
    code: "decisions_not_configured",
    message:
      "Decision events need Decisions delegation or transcript triggers in this session.",
  };
}

function fixtureActive(): Problem {
  return {
    code: "fixture_active",
    message: "Rejected while an audio fixture is active.",
  };
}
