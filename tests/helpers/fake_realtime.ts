/**
 * A local stand-in for the OpenAI Realtime API (GA) WebSocket endpoint.
 *
 * It follows the published protocol (see /work/shared/notes/protocols.md), not
 * our server's code, so end-to-end tests catch bridges that would fail against
 * the real API: beta-era session fields, string audio formats, truncating past
 * the audio actually sent, cancelling a response that is no longer active.
 * It never throws on bad client input; it answers with `error` events as the
 * real API does.
 *
 * @module
 */
import { concat } from "../../src/bytes.ts";

export type JsonObject = Record<string, unknown>;

export interface FakeRealtimeOptions {
  /** Expected bearer key (default "sk-test"). */
  apiKey?: string;
  /** If set, refuse every handshake with this HTTP status (401, 429, 500…). */
  handshakeStatus?: number;
  /** Delay before accepting a handshake (simulates a slow API). */
  handshakeDelayMs?: number;
  /**
   * Scripts what a client `response.create` produces (e.g. call `speak`).
   * Without it the fake answers with an empty completed response.
   */
  onResponseCreate?: (session: FakeRealtimeSession, event: JsonObject) => void;
}

export interface SpeakOptions {
  /** Bytes per `response.output_audio.delta` (default 800). */
  chunkBytes?: number;
  /** Pause between deltas; 0 means one delta per macrotask (default 0). */
  intervalMs?: number;
  /** Optional transcript, sent as one transcript delta and its done event. */
  transcript?: string;
}

export interface SpeakHandle {
  responseId: string;
  itemId: string;
  /** Resolves with the final response status ("completed" or "cancelled"). */
  done: Promise<string>;
}

export interface Truncation {
  itemId: string;
  audioEndMs: number;
  /** Duration of the item's audio actually sent when the truncate arrived. */
  sentMs: number;
  /** False when the API refused it (audio_end_ms beyond the audio sent). */
  accepted: boolean;
}

export interface CloseInfo {
  code: number;
  reason: string;
  byClient: boolean;
}

const DEFAULT_MODEL = "gpt-realtime";
const DEFAULT_WAIT_MS = 2000;

// GA client events; anything else is refused like the API does.
export const CLIENT_EVENTS = [
  "session.update",
  "input_audio_buffer.append",
  "input_audio_buffer.commit",
  "input_audio_buffer.clear",
  "conversation.item.create",
  "conversation.item.retrieve",
  "conversation.item.truncate",
  "conversation.item.delete",
  "response.create",
  "response.cancel",
  "output_audio_buffer.clear",
];

// GA session fields. Beta leftovers (input_audio_format, modalities, voice,
// temperature, turn_detection…) are not here, so they get unknown_parameter.
export const SESSION_KEYS = [
  "type",
  "model",
  "instructions",
  "output_modalities",
  "audio",
  "include",
  "tracing",
  "tools",
  "tool_choice",
  "max_output_tokens",
  "truncation",
  "prompt",
];
const AUDIO_KEYS = ["input", "output"];
export const AUDIO_INPUT_KEYS = [
  "format",
  "noise_reduction",
  "transcription",
  "turn_detection",
];
export const AUDIO_OUTPUT_KEYS = ["format", "voice", "speed"];
export const FORMAT_TYPES = ["audio/pcm", "audio/pcmu", "audio/pcma"];

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}

function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

/** G.711 (pcmu/pcma) is 8 kHz × 1 byte; GA `audio/pcm` is 24 kHz × 16 bit. */
function bytesPerMs(format: unknown): number {
  const type = asObject(format).type;
  return type === "audio/pcmu" || type === "audio/pcma" ? 8 : 48;
}

/** A timer-backed sleep that ends early (resolving) when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

function httpError(
  status: number,
  message: string,
  type: string,
  code: string | null,
): Response {
  return Response.json(
    { error: { message, type, param: null, code } },
    { status },
  );
}

function defaultTurnDetection(type: unknown): JsonObject {
  if (type === "semantic_vad") {
    return {
      type,
      eagerness: "auto",
      create_response: true,
      interrupt_response: true,
    };
  }
  return {
    type: "server_vad",
    threshold: 0.5,
    prefix_padding_ms: 300,
    silence_duration_ms: 200,
    idle_timeout_ms: null,
    create_response: true,
    interrupt_response: true,
  };
}

/** Fills in what the API fills in, so session.updated shows the effective config. */
function normaliseFormat(format: unknown): unknown {
  if (isObject(format) && format.type === "audio/pcm") {
    return { rate: 24000, ...format };
  }
  return format;
}

/** The session a new Realtime connection starts with, as the GA API reports it. */
export function defaultSession(model: string, id = newId("sess")): JsonObject {
  return {
    type: "realtime",
    object: "realtime.session",
    id,
    model,
    output_modalities: ["audio"],
    instructions: "",
    tools: [],
    tool_choice: "auto",
    max_output_tokens: "inf",
    tracing: null,
    truncation: "auto",
    prompt: null,
    include: null,
    expires_at: Math.floor(Date.now() / 1000) + 3600,
    audio: {
      input: {
        format: { type: "audio/pcm", rate: 24000 },
        transcription: null,
        noise_reduction: null,
        turn_detection: defaultTurnDetection("server_vad"),
      },
      output: {
        format: { type: "audio/pcm", rate: 24000 },
        voice: "alloy",
        speed: 1,
      },
    },
  };
}

interface Problem {
  code: string;
  message: string;
  param: string | null;
}

const unknownParameter = (param: string): Problem => ({
  code: "unknown_parameter",
  message: `Unknown parameter: '${param}'.`,
  param,
});

const invalidType = (
  param: string,
  expected: string,
  value: unknown,
): Problem => ({
  code: "invalid_type",
  message: `Invalid type for '${param}': expected ${expected}, but got ${
    Array.isArray(value)
      ? "an array"
      : value === null
      ? "null"
      : `a ${typeof value}`
  } instead.`,
  param,
});

function firstUnknownKey(
  obj: JsonObject,
  allowed: string[],
  prefix: string,
): Problem | null {
  const key = Object.keys(obj).find((k) => !allowed.includes(k));
  return key === undefined ? null : unknownParameter(`${prefix}.${key}`);
}

function checkFormat(format: unknown, param: string): Problem | null {
  if (format === undefined) return null;
  if (!isObject(format)) return invalidType(param, "an object", format);
  if (!FORMAT_TYPES.includes(String(format.type))) {
    return {
      code: "invalid_value",
      message: `Invalid value: '${format.type}'. Supported values are: ${
        FORMAT_TYPES.map((t) => `'${t}'`).join(", ")
      }.`,
      param: `${param}.type`,
    };
  }
  return null;
}

/** Validates a session.update `session` object the way the GA API does. */
function checkSessionPatch(
  patch: unknown,
  current: JsonObject,
  voiceLocked: boolean,
): Problem | null {
  if (patch === undefined) {
    return {
      code: "missing_required_parameter",
      message: "Missing required parameter: 'session'.",
      param: "session",
    };
  }
  if (!isObject(patch)) return invalidType("session", "an object", patch);
  if (patch.type === undefined) {
    return {
      code: "missing_required_parameter",
      message: "Missing required parameter: 'session.type'.",
      param: "session.type",
    };
  }
  if (patch.type !== "realtime") {
    return {
      code: "invalid_value",
      message:
        `Invalid value: '${patch.type}'. Supported values are: 'realtime'.`,
      param: "session.type",
    };
  }
  const unknown = firstUnknownKey(patch, SESSION_KEYS, "session");
  if (unknown) return unknown;

  const modalities = patch.output_modalities;
  if (
    modalities !== undefined &&
    !(Array.isArray(modalities) && modalities.length === 1 &&
      (modalities[0] === "audio" || modalities[0] === "text"))
  ) {
    // GA answers with either audio (plus transcript) or text, never both.
    return {
      code: "invalid_value",
      message:
        "Invalid value for 'session.output_modalities': use ['audio'] or ['text'].",
      param: "session.output_modalities",
    };
  }

  if (patch.audio === undefined) return null;
  if (!isObject(patch.audio)) {
    return invalidType("session.audio", "an object", patch.audio);
  }
  const audioProblem = firstUnknownKey(
    patch.audio,
    AUDIO_KEYS,
    "session.audio",
  );
  if (audioProblem) return audioProblem;

  const { input, output } = patch.audio;
  if (input !== undefined) {
    if (!isObject(input)) {
      return invalidType("session.audio.input", "an object", input);
    }
    const problem =
      firstUnknownKey(input, AUDIO_INPUT_KEYS, "session.audio.input") ??
        checkFormat(input.format, "session.audio.input.format");
    if (problem) return problem;
  }
  if (output !== undefined) {
    if (!isObject(output)) {
      return invalidType("session.audio.output", "an object", output);
    }
    const problem =
      firstUnknownKey(output, AUDIO_OUTPUT_KEYS, "session.audio.output") ??
        checkFormat(output.format, "session.audio.output.format");
    if (problem) return problem;
    const currentVoice = asObject(asObject(current.audio).output).voice;
    if (
      output.voice !== undefined && output.voice !== currentVoice && voiceLocked
    ) {
      return {
        code: "cannot_update_voice",
        message:
          "Cannot update a conversation's voice if assistant audio is present.",
        param: "session.audio.output.voice",
      };
    }
  }
  return null;
}

/**
 * Merges a validated patch into the session. Nested `audio.input` and
 * `audio.output` are merged key by key; leaf config objects (format,
 * turn_detection…) are replaced whole, as the API does, then normalised.
 */
function mergeSession(current: JsonObject, patch: JsonObject): JsonObject {
  const next: JsonObject = { ...current, ...structuredClone(patch) };
  if (!isObject(patch.audio)) return next;
  const curAudio = asObject(current.audio);
  const input: JsonObject = {
    ...asObject(curAudio.input),
    ...structuredClone(asObject(patch.audio.input)),
  };
  const output: JsonObject = {
    ...asObject(curAudio.output),
    ...structuredClone(asObject(patch.audio.output)),
  };
  input.format = normaliseFormat(input.format);
  output.format = normaliseFormat(output.format);
  if (isObject(asObject(patch.audio.input).turn_detection)) {
    const td = asObject(input.turn_detection);
    input.turn_detection = { ...defaultTurnDetection(td.type), ...td };
  }
  next.audio = { input, output };
  return next;
}

interface Waiter<T> {
  matches: (value: T) => boolean;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface ItemRecord {
  role: string;
  /** Audio bytes of this item the client has received (or kept after a truncate). */
  audioBytes: number;
  bytesPerMs: number;
  item: JsonObject;
}

interface ActiveResponse {
  id: string;
  itemId: string;
  chunks: Uint8Array[];
  next: number;
  intervalMs: number;
  transcript: string;
  previousItemId: string | null;
  timer?: ReturnType<typeof setTimeout>;
  resolve: (status: string) => void;
}

/** One accepted Realtime WebSocket connection. */
export class FakeRealtimeSession {
  readonly headers: Headers;
  readonly requestUrl: string;
  readonly received: JsonObject[] = [];
  readonly errorsSent: JsonObject[] = [];
  readonly truncations: Truncation[] = [];
  readonly closed: Promise<CloseInfo>;
  /** The effective session config, as the API reports it in session.updated. */
  session: JsonObject;

  #socket: WebSocket;
  #options: FakeRealtimeOptions;
  #input: Uint8Array[] = [];
  #inputBytes = 0;
  #committedBytes = 0;
  #items = new Map<string, ItemRecord>();
  #lastItemId: string | null = null;
  #pendingUserItemId: string | null = null;
  #active: ActiveResponse | undefined;
  #voiceLocked = false;
  #closedByServer = false;
  #isClosed = false;
  #cursors = new Map<string, number>();
  #waiters: Array<Waiter<JsonObject> & { type: string }> = [];

  constructor(
    socket: WebSocket,
    headers: Headers,
    requestUrl: string,
    model: string,
    options: FakeRealtimeOptions,
  ) {
    this.#socket = socket;
    this.#options = options;
    this.headers = headers;
    this.requestUrl = requestUrl;
    this.session = defaultSession(model);
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (ev) => {
        this.#isClosed = true;
        this.#stopActive("cancelled");
        for (const w of this.#waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`session closed before a '${w.type}' event`));
        }
        resolve({
          code: ev.code,
          reason: ev.reason,
          byClient: !this.#closedByServer,
        });
      });
    });
    socket.addEventListener("message", (ev) => {
      try {
        this.#onMessage(ev.data);
      } catch (err) {
        // A bug in the fake must surface in the test, not kill the server.
        this.#sendError("server_error", null, String(err), null, null);
      }
    });
  }

  /** Whether server VAD cancels an in-progress response on speech start. */
  get interruptResponse(): boolean {
    const td = asObject(this.session.audio).input;
    const detection = asObject(td).turn_detection;
    return isObject(detection) && detection.interrupt_response !== false;
  }

  /** Writes through to `session.audio.input.turn_detection.interrupt_response`. */
  set interruptResponse(value: boolean) {
    const audio = asObject(this.session.audio);
    const input = asObject(audio.input);
    const detection = isObject(input.turn_detection)
      ? input.turn_detection
      : defaultTurnDetection("server_vad");
    this.session = {
      ...this.session,
      audio: {
        ...audio,
        input: {
          ...input,
          turn_detection: { ...detection, interrupt_response: value },
        },
      },
    };
  }

  /** All audio the client appended, decoded, in order. */
  inputAudio(): Uint8Array {
    return concat(this.#input);
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
    const found = this.#take(type, predicate);
    if (found) return Promise.resolve(found);
    if (this.#isClosed) {
      return Promise.reject(
        new Error(`session closed before a '${type}' event`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        type,
        matches: predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          const seen = this.received.map((e) => e.type).join(", ");
          reject(
            new Error(
              `no '${type}' client event within ${timeoutMs} ms (received: ${seen})`,
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /**
   * Streams `audio` as an assistant response with the GA event sequence.
   * Throws if a response is already in progress: the API runs one at a time.
   */
  speak(audio: Uint8Array, opts: SpeakOptions = {}): SpeakHandle {
    if (this.#active) {
      throw new Error(
        `response ${this.#active.id} is still in progress; the API runs one response at a time`,
      );
    }
    const chunkBytes = opts.chunkBytes ?? 800;
    if (!(chunkBytes > 0)) throw new Error("chunkBytes must be positive");
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < audio.length; i += chunkBytes) {
      chunks.push(audio.slice(i, i + chunkBytes));
    }
    const responseId = newId("resp");
    const itemId = newId("item");
    let resolve!: (status: string) => void;
    const done = new Promise<string>((r) => resolve = r);
    const active: ActiveResponse = {
      id: responseId,
      itemId,
      chunks,
      next: 0,
      intervalMs: opts.intervalMs ?? 0,
      transcript: opts.transcript ?? "",
      previousItemId: this.#lastItemId,
      resolve,
    };
    this.#active = active;
    const item = this.#assistantItem(itemId, "in_progress", []);
    this.#items.set(itemId, {
      role: "assistant",
      audioBytes: 0,
      bytesPerMs: bytesPerMs(this.#outputFormat()),
      item,
    });
    this.#lastItemId = itemId;

    this.#emit({
      type: "response.created",
      response: this.#responseObject(responseId, "in_progress", null, []),
    });
    this.#emit({
      type: "response.output_item.added",
      response_id: responseId,
      output_index: 0,
      item,
    });
    this.#emit({
      type: "conversation.item.added",
      previous_item_id: active.previousItemId,
      item,
    });
    const part = this.#partIds(active);
    this.#emit({
      type: "response.content_part.added",
      ...part,
      part: { type: "audio", transcript: "" },
    });
    if (active.transcript) {
      this.#emit({
        type: "response.output_audio_transcript.delta",
        ...part,
        delta: active.transcript,
      });
    }
    this.#scheduleDelta(active, 0);
    return { responseId, itemId, done };
  }

  /** Server VAD heard the caller start speaking. */
  speechStarted(): void {
    this.#pendingUserItemId = newId("item");
    this.#emit({
      type: "input_audio_buffer.speech_started",
      audio_start_ms: this.#inputMs(),
      item_id: this.#pendingUserItemId,
    });
    // With interrupt_response the API cancels the response itself, so a
    // client response.cancel that follows gets response_cancel_not_active.
    if (this.#active && this.interruptResponse) {
      this.#finish(this.#active, "cancelled", "turn_detected");
    }
  }

  /**
   * Server VAD heard the caller stop: speech_stopped, then the buffer is
   * committed into a user item. Does not start a response by itself; script
   * one with `speak()`.
   */
  speechStopped(): void {
    const itemId = this.#pendingUserItemId ?? newId("item");
    this.#pendingUserItemId = null;
    this.#emit({
      type: "input_audio_buffer.speech_stopped",
      audio_end_ms: this.#inputMs(),
      item_id: itemId,
    });
    this.#commitInput(itemId);
  }

  /** Input transcription finished: what the caller said, as the API reports it. */
  callerSaid(transcript: string, itemId = newId("item")): void {
    this.#emit({
      type: "conversation.item.input_audio_transcription.completed",
      item_id: itemId,
      content_index: 0,
      transcript,
    });
  }

  /** Sends a raw server event as given. */
  send(event: JsonObject): void {
    this.sendText(JSON.stringify(event));
  }

  sendText(text: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(text);
  }

  /** Closes the socket from the server side. */
  close(code = 1000, reason = ""): void {
    if (this.#isClosed) return;
    this.#closedByServer = true;
    this.#stopActive("cancelled");
    try {
      this.#socket.close(code, reason);
    } catch {
      this.#socket.close();
    }
  }

  // --- client events -------------------------------------------------------

  #onMessage(data: unknown): void {
    if (typeof data !== "string") {
      this.#sendError(
        "invalid_request_error",
        "invalid_json",
        "Binary frames are not supported; send JSON text events.",
        null,
        null,
      );
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      this.#sendError(
        "invalid_request_error",
        "invalid_json",
        "We could not parse the JSON body of your request.",
        null,
        null,
      );
      return;
    }
    if (!isObject(event)) {
      this.#sendError(
        "invalid_request_error",
        "invalid_type",
        "Invalid type for event: expected an object.",
        null,
        null,
      );
      return;
    }
    this.received.push(event);
    this.#dispatch(event);
    this.#notifyWaiters();
  }

  #dispatch(event: JsonObject): void {
    const type = event.type;
    if (typeof type !== "string") {
      return this.#fail(event, {
        code: "missing_required_parameter",
        message: "Missing required parameter: 'type'.",
        param: "type",
      });
    }
    if (!CLIENT_EVENTS.includes(type)) {
      return this.#fail(event, {
        code: "invalid_value",
        message: `Invalid value: '${type}'. Supported values are: ${
          CLIENT_EVENTS.map((t) => `'${t}'`).join(", ")
        }.`,
        param: "type",
      });
    }
    switch (type) {
      case "session.update":
        return this.#onSessionUpdate(event);
      case "input_audio_buffer.append":
        return this.#onAppend(event);
      case "input_audio_buffer.commit":
        if (this.#inputBytesSinceCommit() === 0) {
          return this.#fail(event, {
            code: "input_audio_buffer_commit_empty",
            message:
              "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has 0.00ms of audio.",
            param: null,
          });
        }
        return this.#commitInput(newId("item"));
      case "input_audio_buffer.clear":
        this.#committedBytes = this.#inputBytes;
        return this.#emit({ type: "input_audio_buffer.cleared" });
      case "conversation.item.create":
        return this.#onItemCreate(event);
      case "conversation.item.retrieve":
        return this.#withItem(
          event,
          "item_retrieve_invalid_item_id",
          (id, r) =>
            this.#emit({
              type: "conversation.item.retrieved",
              item: { ...r.item, id },
            }),
        );
      case "conversation.item.delete":
        return this.#withItem(event, "item_delete_invalid_item_id", (id) => {
          this.#items.delete(id);
          this.#emit({ type: "conversation.item.deleted", item_id: id });
        });
      case "conversation.item.truncate":
        return this.#onTruncate(event);
      case "response.create":
        return this.#onResponseCreate(event);
      case "response.cancel":
        return this.#onResponseCancel(event);
      case "output_audio_buffer.clear":
        // Exists only for WebRTC/SIP; over WebSocket the client owns playback.
        return this.#fail(event, {
          code: "invalid_value",
          message:
            "output_audio_buffer.clear is only supported for WebRTC and SIP sessions.",
          param: "type",
        });
    }
  }

  #onSessionUpdate(event: JsonObject): void {
    const problem = checkSessionPatch(
      event.session,
      this.session,
      this.#voiceLocked,
    );
    if (problem) return this.#fail(event, problem);
    this.session = mergeSession(this.session, asObject(event.session));
    this.#emit({ type: "session.updated", session: this.session });
  }

  #onAppend(event: JsonObject): void {
    if (typeof event.audio !== "string") {
      return this.#fail(event, {
        code: "missing_required_parameter",
        message: "Missing required parameter: 'audio'.",
        param: "audio",
      });
    }
    let bytes: Uint8Array;
    try {
      bytes = Uint8Array.fromBase64(event.audio);
    } catch {
      return this.#fail(event, {
        code: "invalid_value",
        message: "Invalid 'audio': expected base64-encoded audio bytes.",
        param: "audio",
      });
    }
    this.#input.push(bytes);
    this.#inputBytes += bytes.length;
  }

  #onItemCreate(event: JsonObject): void {
    if (!isObject(event.item)) {
      return this.#fail(event, {
        code: "missing_required_parameter",
        message: "Missing required parameter: 'item'.",
        param: "item",
      });
    }
    const id = typeof event.item.id === "string"
      ? event.item.id
      : newId("item");
    if (this.#items.has(id)) {
      return this.#fail(event, {
        code: "item_id_already_exists",
        message: `Item with id '${id}' already exists.`,
        param: "item.id",
      });
    }
    const item: JsonObject = {
      ...structuredClone(event.item),
      id,
      object: "realtime.item",
      status: "completed",
    };
    const previous = typeof event.previous_item_id === "string"
      ? event.previous_item_id
      : this.#lastItemId;
    this.#items.set(id, {
      role: String(item.role ?? item.type),
      audioBytes: 0,
      bytesPerMs: 8,
      item,
    });
    this.#lastItemId = id;
    this.#emit({
      type: "conversation.item.added",
      previous_item_id: previous,
      item,
    });
    this.#emit({
      type: "conversation.item.done",
      previous_item_id: previous,
      item,
    });
  }

  #onTruncate(event: JsonObject): void {
    this.#withItem(event, "item_truncate_invalid_item_id", (itemId, record) => {
      if (record.role !== "assistant") {
        return this.#fail(event, {
          code: "invalid_value",
          message: "Only model output audio messages can be truncated",
          param: "item_id",
        });
      }
      if (event.content_index !== 0) {
        return this.#fail(event, {
          code: "invalid_value",
          message:
            "Invalid 'content_index': the item has one audio part, at 0.",
          param: "content_index",
        });
      }
      const audioEndMs = event.audio_end_ms;
      if (
        typeof audioEndMs !== "number" || !Number.isInteger(audioEndMs) ||
        audioEndMs < 0
      ) {
        return this.#fail(
          event,
          invalidType("audio_end_ms", "a non-negative integer", audioEndMs),
        );
      }
      const sentMs = Math.floor(record.audioBytes / record.bytesPerMs);
      const accepted = audioEndMs <= sentMs;
      this.truncations.push({ itemId, audioEndMs, sentMs, accepted });
      if (!accepted) {
        return this.#fail(event, {
          code: "invalid_value",
          message:
            `Audio content of ${sentMs}ms is already shorter than ${audioEndMs}ms`,
          param: "audio_end_ms",
        });
      }
      record.audioBytes = audioEndMs * record.bytesPerMs;
      this.#emit({
        type: "conversation.item.truncated",
        item_id: itemId,
        content_index: 0,
        audio_end_ms: audioEndMs,
      });
    });
  }

  #onResponseCreate(event: JsonObject): void {
    if (this.#active) {
      return this.#fail(event, {
        code: "conversation_already_has_active_response",
        message:
          `Conversation already has an active response in progress: ${this.#active.id}. Wait until the response is finished before creating a new one.`,
        param: null,
      });
    }
    const hook = this.#options.onResponseCreate;
    if (hook) return hook(this, event);
    const id = newId("resp");
    this.#emit({
      type: "response.created",
      response: this.#responseObject(id, "in_progress", null, []),
    });
    this.#emit({
      type: "response.done",
      response: this.#responseObject(id, "completed", null, []),
    });
  }

  #onResponseCancel(event: JsonObject): void {
    const active = this.#active;
    const wanted = event.response_id;
    if (!active || (typeof wanted === "string" && wanted !== active.id)) {
      return this.#fail(event, {
        code: "response_cancel_not_active",
        message: "Cancellation failed: no active response found",
        param: null,
      });
    }
    this.#finish(active, "cancelled", "client_cancelled");
  }

  // --- responses -----------------------------------------------------------

  #scheduleDelta(active: ActiveResponse, delayMs: number): void {
    active.timer = setTimeout(() => {
      active.timer = undefined;
      if (this.#active !== active) return;
      const chunk = active.chunks[active.next];
      if (chunk) {
        active.next++;
        const record = this.#items.get(active.itemId);
        if (record) record.audioBytes += chunk.length;
        this.#voiceLocked = true;
        this.#emit({
          type: "response.output_audio.delta",
          ...this.#partIds(active),
          delta: chunk.toBase64(),
        });
      }
      if (active.next < active.chunks.length) {
        this.#scheduleDelta(active, active.intervalMs);
      } else {
        this.#finish(active, "completed", null);
      }
    }, delayMs);
  }

  /** Ends the active response with the closing GA event sequence. */
  #finish(
    active: ActiveResponse,
    status: "completed" | "cancelled",
    reason: string | null,
  ): void {
    if (this.#active !== active) return;
    this.#active = undefined;
    if (active.timer !== undefined) clearTimeout(active.timer);
    const part = this.#partIds(active);
    const transcript = active.transcript;
    this.#emit({ type: "response.output_audio.done", ...part });
    if (transcript) {
      this.#emit({
        type: "response.output_audio_transcript.done",
        ...part,
        transcript,
      });
    }
    this.#emit({
      type: "response.content_part.done",
      ...part,
      part: { type: "audio", transcript },
    });
    const item = this.#assistantItem(
      active.itemId,
      status === "completed" ? "completed" : "incomplete",
      [{ type: "output_audio", transcript }],
    );
    const record = this.#items.get(active.itemId);
    if (record) record.item = item;
    this.#emit({
      type: "response.output_item.done",
      response_id: active.id,
      output_index: 0,
      item,
    });
    this.#emit({
      type: "conversation.item.done",
      previous_item_id: active.previousItemId,
      item,
    });
    const details = reason ? { type: status, reason } : null;
    this.#emit({
      type: "response.done",
      response: this.#responseObject(active.id, status, details, [item]),
    });
    active.resolve(status);
  }

  /** Stops a response without sending anything (the socket is going away). */
  #stopActive(status: string): void {
    const active = this.#active;
    if (!active) return;
    this.#active = undefined;
    if (active.timer !== undefined) clearTimeout(active.timer);
    active.resolve(status);
  }

  #responseObject(
    id: string,
    status: string,
    statusDetails: JsonObject | null,
    output: JsonObject[],
  ): JsonObject {
    const outputAudio = asObject(asObject(this.session.audio).output);
    return {
      object: "realtime.response",
      id,
      status,
      status_details: statusDetails,
      output,
      conversation_id: "conv_fake",
      output_modalities: this.session.output_modalities,
      max_output_tokens: this.session.max_output_tokens,
      audio: {
        output: { format: outputAudio.format, voice: outputAudio.voice },
      },
      usage: status === "in_progress" ? null : {
        total_tokens: 0,
        input_tokens: 0,
        output_tokens: 0,
      },
      metadata: null,
    };
  }

  #assistantItem(
    id: string,
    status: string,
    content: JsonObject[],
  ): JsonObject {
    return {
      id,
      object: "realtime.item",
      type: "message",
      role: "assistant",
      status,
      content,
    };
  }

  #partIds(active: ActiveResponse): JsonObject {
    return {
      response_id: active.id,
      item_id: active.itemId,
      output_index: 0,
      content_index: 0,
    };
  }

  #outputFormat(): unknown {
    return asObject(asObject(this.session.audio).output).format;
  }

  // --- input audio ---------------------------------------------------------

  #inputBytesSinceCommit(): number {
    return this.#inputBytes - this.#committedBytes;
  }

  #inputMs(): number {
    const format = asObject(asObject(this.session.audio).input).format;
    return Math.floor(this.#inputBytes / bytesPerMs(format));
  }

  #commitInput(itemId: string): void {
    this.#committedBytes = this.#inputBytes;
    const previous = this.#lastItemId;
    const item: JsonObject = {
      id: itemId,
      object: "realtime.item",
      type: "message",
      role: "user",
      status: "completed",
      content: [{ type: "input_audio", transcript: null }],
    };
    this.#items.set(itemId, {
      role: "user",
      audioBytes: 0,
      bytesPerMs: 8,
      item,
    });
    this.#lastItemId = itemId;
    this.#emit({
      type: "input_audio_buffer.committed",
      previous_item_id: previous,
      item_id: itemId,
    });
    this.#emit({
      type: "conversation.item.added",
      previous_item_id: previous,
      item,
    });
    this.#emit({
      type: "conversation.item.done",
      previous_item_id: previous,
      item,
    });
  }

  // --- plumbing ------------------------------------------------------------

  #withItem(
    event: JsonObject,
    code: string,
    then: (itemId: string, record: ItemRecord) => void,
  ): void {
    const itemId = event.item_id;
    const record = typeof itemId === "string"
      ? this.#items.get(itemId)
      : undefined;
    if (typeof itemId !== "string" || !record) {
      const verb = code.split("_")[1].replace(/e$/, "ing");
      return this.#fail(event, {
        code,
        message:
          `Error ${verb} item: the item with id '${itemId}' does not exist.`,
        param: "item_id",
      });
    }
    then(itemId, record);
  }

  #emit(event: JsonObject): void {
    const { type, ...rest } = event;
    this.send({ type, event_id: newId("event"), ...rest });
  }

  #fail(clientEvent: JsonObject, problem: Problem): void {
    this.#sendError(
      "invalid_request_error",
      problem.code,
      problem.message,
      problem.param,
      typeof clientEvent.event_id === "string" ? clientEvent.event_id : null,
    );
  }

  #sendError(
    type: string,
    code: string | null,
    message: string,
    param: string | null,
    clientEventId: string | null,
  ): void {
    const event: JsonObject = {
      type: "error",
      event_id: newId("event"),
      error: { type, code, message, param, event_id: clientEventId },
    };
    this.errorsSent.push(event);
    this.send(event);
  }

  #take(
    type: string,
    predicate: (e: JsonObject) => boolean,
  ): JsonObject | null {
    const start = this.#cursors.get(type) ?? 0;
    for (let i = start; i < this.received.length; i++) {
      const event = this.received[i];
      if (event.type === type && predicate(event)) {
        this.#cursors.set(type, i + 1);
        return event;
      }
    }
    return null;
  }

  #notifyWaiters(): void {
    for (const waiter of [...this.#waiters]) {
      const found = this.#take(waiter.type, waiter.matches);
      if (!found) continue;
      clearTimeout(waiter.timer);
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(found);
    }
  }
}

/** The fake Realtime endpoint: a Deno.serve on 127.0.0.1 with a random port. */
export class FakeRealtime {
  readonly url: string;
  readonly sessions: FakeRealtimeSession[] = [];
  handshakes = 0;

  /** Handshakes whose client went away during handshakeDelayMs (no session). */
  abandonedHandshakes = 0;

  #server: Deno.HttpServer<Deno.NetAddr>;
  #latency: LatencyProxy | undefined;
  #options: FakeRealtimeOptions;
  #taken = 0;
  #sessionWaiters: Array<Waiter<FakeRealtimeSession>> = [];
  #shutdown = new AbortController();

  private constructor(options: FakeRealtimeOptions) {
    this.#options = options;
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
    this.url = `ws://127.0.0.1:${port}/v1/realtime?model=${DEFAULT_MODEL}`;
  }

  static start(options: FakeRealtimeOptions = {}): Promise<FakeRealtime> {
    return Promise.resolve(new FakeRealtime(options));
  }

  /** The next accepted session not yet returned by an earlier call. */
  nextSession(timeoutMs = DEFAULT_WAIT_MS): Promise<FakeRealtimeSession> {
    if (this.#taken < this.sessions.length) {
      return Promise.resolve(this.sessions[this.#taken++]);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter<FakeRealtimeSession> = {
        matches: () => true,
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

  #handle(req: Request): Response {
    this.handshakes++;
    const url = new URL(req.url);
    if (url.pathname !== "/v1/realtime") {
      return httpError(404, "Not found.", "invalid_request_error", null);
    }
    const options = this.#options;
    if (options.handshakeStatus !== undefined) {
      return httpError(
        options.handshakeStatus,
        `Refused with HTTP ${options.handshakeStatus} (FakeRealtime handshakeStatus).`,
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
    // Copy the headers first: the request is closed once upgraded.
    const headers = new Headers(req.headers);
    const { socket, response } = Deno.upgradeWebSocket(req);
    const session = new FakeRealtimeSession(
      socket,
      headers,
      req.url,
      model,
      options,
    );
    socket.addEventListener("open", () => {
      session.send({
        type: "session.created",
        event_id: newId("event"),
        session: session.session,
      });
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
