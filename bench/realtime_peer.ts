/**
 * A lean OpenAI Realtime (GA) WebSocket peer for the benchmark.
 *
 * tests/helpers/fake_realtime.ts keeps every client event and every byte of
 * input audio for assertions and draws a UUID per event; over hundreds of
 * calls for minutes that memory and CPU would land in the load generator's
 * figures. This peer speaks the same GA protocol (handshake checks,
 * session.created/updated, server-VAD speech events that cancel the active
 * response, response.created → output_audio.delta (response_id, item_id,
 * delta) → response.done, truncate checked against the audio actually sent,
 * cancel with no active response refused) but keeps only counters.
 *
 * Each session is driven by the benchmark's shared 20 ms metronome once its
 * first caller frame tells which call it belongs to: it answers every few
 * seconds with 1–2 s of audio in 100 ms deltas at real-time pace, and some
 * answers are interrupted by `input_audio_buffer.speech_started`.
 *
 * @module
 */

import {
  AUDIO_INPUT_KEYS as GA_AUDIO_INPUT_KEYS,
  AUDIO_OUTPUT_KEYS as GA_AUDIO_OUTPUT_KEYS,
  CLIENT_EVENTS as GA_CLIENT_EVENTS,
  defaultSession,
  FORMAT_TYPES as GA_FORMAT_TYPES,
  isObject,
  SESSION_KEYS as GA_SESSION_KEYS,
} from "../tests/helpers/fake_realtime.ts";
import {
  CALLER,
  type CallRecord,
  DELTA_BYTES,
  DELTA_TAIL,
  type Probe,
  readTag,
} from "./probe.ts";

type JsonObject = Record<string, unknown>;

export interface RealtimePeerOptions {
  apiKey: string;
  probe: Probe;
  /** One response in this many is interrupted by a barge-in (0: none). */
  bargeEvery: number;
  /** 20 ms ticks between the starts of two responses of a call. */
  responseEveryTicks: number;
}

const CLIENT_EVENTS = new Set(GA_CLIENT_EVENTS);
const SESSION_KEYS = new Set(GA_SESSION_KEYS);
const AUDIO_INPUT_KEYS = new Set(GA_AUDIO_INPUT_KEYS);
const AUDIO_OUTPUT_KEYS = new Set(GA_AUDIO_OUTPUT_KEYS);
const FORMAT_TYPES = new Set(GA_FORMAT_TYPES);

/** µ-law: 8 bytes per millisecond. */
const BYTES_PER_MS = 8;
/** Ticks between deltas of 100 ms (real-time pace). */
const TICKS_PER_DELTA = 5;
/** speech_started goes this many ticks after a delta, mid-playback. */
const BARGE_TICK = 2;
/** The delta after which an interrupted response is interrupted. */
const BARGE_AFTER_DELTAS = 8;

interface Active {
  id: string;
  itemId: string;
  total: number;
  sent: number;
  lastDeltaTick: number;
  /** Deltas after which speech_started comes; -1: not interrupted. */
  bargeAfter: number;
}

interface Problem {
  code: string;
  message: string;
  param: string | null;
}

export class RealtimePeer {
  readonly url: string;
  readonly sessions = new Set<RealtimeSession>();
  readonly options: RealtimePeerOptions;
  handshakes = 0;
  refusedHandshakes = 0;
  /** error events sent, by code. */
  readonly errorsSent = new Map<string, number>();
  truncationsAccepted = 0;
  truncationsRejected = 0;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #ids = 0;
  #calibration = new Set<WebSocket>();

  private constructor(options: RealtimePeerOptions) {
    this.options = options;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#handle(request),
    );
    this.url =
      `ws://127.0.0.1:${this.#server.addr.port}/v1/realtime?model=gpt-realtime`;
  }

  static start(options: RealtimePeerOptions): RealtimePeer {
    return new RealtimePeer(options);
  }

  nextId(prefix: string): string {
    return `${prefix}_bench${(++this.#ids).toString(36).padStart(12, "0")}`;
  }

  countError(code: string): void {
    this.errorsSent.set(code, (this.errorsSent.get(code) ?? 0) + 1);
  }

  /** Closes every session from the server side, then the listener. */
  async close(): Promise<void> {
    for (const socket of this.#calibration) socket.close();
    const sessions = [...this.sessions];
    for (const session of sessions) session.close(1001, "going away");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(sessions.map((s) => s.closed)),
      new Promise((resolve) => timer = setTimeout(resolve, 2000)),
    ]);
    clearTimeout(timer);
    await this.#server.shutdown();
  }

  /** ws:// URL of the calibration listener (see Probe.floorInbound). */
  get calibrationUrl(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}/calibrate`;
  }

  /** Sends a timestamp to every calibration client (the outbound floor). */
  sendCalibration(): void {
    for (const socket of this.#calibration) {
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(String(performance.now()));
      }
    }
  }

  #calibrate(request: Request): Response {
    const { socket, response } = Deno.upgradeWebSocket(request);
    const probe = this.options.probe;
    socket.onmessage = (event) => {
      const now = performance.now();
      probe.floorInbound.record(now - Number(event.data));
    };
    socket.onopen = () => this.#calibration.add(socket);
    socket.onclose = () => this.#calibration.delete(socket);
    return response;
  }

  #handle(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname === "/calibrate") return this.#calibrate(request);
    this.handshakes++;
    const refuse = (status: number, message: string, code: string | null) => {
      this.refusedHandshakes++;
      return Response.json({
        error: { message, type: "invalid_request_error", param: null, code },
      }, { status });
    };
    if (url.pathname !== "/v1/realtime") return refuse(404, "Not found.", null);
    if (
      request.headers.get("authorization") !== `Bearer ${this.options.apiKey}`
    ) {
      return refuse(401, "Incorrect API key provided.", "invalid_api_key");
    }
    if (request.headers.has("openai-beta")) {
      return refuse(
        400,
        "The Realtime beta has been shut down.",
        "beta_api_shutdown",
      );
    }
    const model = url.searchParams.get("model");
    if (!model) {
      return refuse(
        400,
        "Missing required parameter: 'model'.",
        "missing_required_parameter",
      );
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return refuse(426, "Expected a WebSocket upgrade.", null);
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    const session = new RealtimeSession(this, socket, model);
    this.sessions.add(session);
    session.closed.then(() => this.sessions.delete(session));
    return response;
  }
}

/** One accepted Realtime connection. */
export class RealtimeSession {
  /** The call this session serves, known from its first tagged caller frame. */
  record: CallRecord | undefined;
  /** performance.now() when the first valid session.update arrived. */
  sessionUpdatedAt = -1;
  readonly closed: Promise<void>;

  #peer: RealtimePeer;
  #socket: WebSocket;
  #session: JsonObject;
  #inputBytes = 0;
  #active: Active | undefined;
  /** Bytes sent per assistant item (the last few only). */
  #items = new Map<string, number>();
  #lastItemId: string | null = null;
  #userItemId: string | null = null;
  #responses = 0;
  #tick = 0;
  #nextResponseTick = 0;
  #speechStopTick = -1;
  #voiceLocked = false;

  constructor(peer: RealtimePeer, socket: WebSocket, model: string) {
    this.#peer = peer;
    this.#socket = socket;
    this.#session = defaultSession(model, peer.nextId("sess"));
    socket.onopen = () =>
      this.#emit({ type: "session.created", session: this.#session });
    socket.onmessage = (event) => this.#onMessage(event.data);
    socket.onerror = () => {};
    this.closed = new Promise((resolve) => {
      socket.onclose = () => {
        this.#active = undefined;
        if (this.record) this.record.upstreamTick = undefined;
        resolve();
      };
    });
  }

  close(code: number, reason: string): void {
    if (this.#socket.readyState <= WebSocket.OPEN) {
      this.#socket.close(code, reason);
    }
  }

  // --- the conversation, paced by the metronome ----------------------------

  /** One 20 ms step of this call's conversation. */
  #step(): void {
    const tick = ++this.#tick;
    const active = this.#active;
    if (active) {
      const since = tick - active.lastDeltaTick;
      if (active.sent === active.bargeAfter) {
        if (since >= BARGE_TICK) {
          active.bargeAfter = -1;
          this.#speechStarted();
        }
      } else if (since >= TICKS_PER_DELTA) {
        this.#sendDelta(active);
      }
    } else if (tick >= this.#nextResponseTick) {
      this.#nextResponseTick += this.#peer.options.responseEveryTicks;
      this.#startResponse();
    }
    if (tick === this.#speechStopTick) this.#speechStopped();
  }

  #link(record: CallRecord): void {
    this.record = record;
    record.sessionReadyAt = this.sessionUpdatedAt;
    const every = this.#peer.options.responseEveryTicks;
    // Stagger answers across calls: 0.5 s after the call starts at the earliest.
    this.#nextResponseTick = 25 + (record.index * 37) % every;
    record.upstreamTick = () => this.#step();
  }

  #startResponse(): void {
    const record = this.record;
    if (!record) return;
    const n = this.#responses++;
    const { bargeEvery } = this.#peer.options;
    const total = 10 + ((record.index * 7 + n * 3) % 11); // 1.0–2.0 s
    const interrupted = bargeEvery > 0 && (record.index + n) % bargeEvery === 0;
    const active: Active = {
      id: this.#peer.nextId("resp"),
      itemId: this.#peer.nextId("item"),
      total,
      sent: 0,
      lastDeltaTick: this.#tick,
      bargeAfter: interrupted ? BARGE_AFTER_DELTAS : -1,
    };
    this.#active = active;
    const previous = this.#lastItemId;
    this.#lastItemId = active.itemId;
    this.#items.set(active.itemId, 0);
    if (this.#items.size > 4) {
      this.#items.delete(this.#items.keys().next().value!);
    }
    const item = assistantItem(active.itemId, "in_progress", []);
    this.#emit({
      type: "response.created",
      response: this.#response(active.id, "in_progress", null, []),
    });
    this.#emit({
      type: "response.output_item.added",
      response_id: active.id,
      output_index: 0,
      item,
    });
    this.#emit({
      type: "conversation.item.added",
      previous_item_id: previous,
      item,
    });
    this.#emit({
      type: "response.content_part.added",
      ...partIds(active),
      part: { type: "audio", transcript: "" },
    });
    this.#sendDelta(active);
  }

  #sendDelta(active: Active): void {
    const record = this.record!;
    const index = active.sent++;
    active.lastDeltaTick = this.#tick;
    this.#items.set(
      active.itemId,
      (this.#items.get(active.itemId) ?? 0) + DELTA_BYTES,
    );
    this.#voiceLocked = true;
    // Audio and its transcript interleave as from the real API.
    if (index % 2 === 0) {
      this.#emit({
        type: "response.output_audio_transcript.delta",
        ...partIds(active),
        delta: "Sure, here ",
      });
    }
    const tag = record.nextDeltaTag(performance.now());
    this.#send(
      `{"type":"response.output_audio.delta","event_id":"${
        this.#peer.nextId("event")
      }","response_id":"${active.id}","item_id":"${active.itemId}","output_index":0,"content_index":0,"delta":"${tag}${DELTA_TAIL}"}`,
    );
    if (active.sent === active.total) this.#finish(active, "completed", null);
  }

  /** Server VAD heard the caller: speech_started, and the API itself cancels the response. */
  #speechStarted(): void {
    const record = this.record!;
    this.#userItemId = this.#peer.nextId("item");
    // Only a barge-in over audio still playing at the edge must produce a clear.
    if (record.playQueuedBytes > 0) record.bargeSentAt = performance.now();
    else record.bargesNotPlaying++;
    this.#emit({
      type: "input_audio_buffer.speech_started",
      audio_start_ms: Math.floor(this.#inputBytes / BYTES_PER_MS),
      item_id: this.#userItemId,
    });
    if (this.#active && this.#interruptResponse()) {
      this.#finish(this.#active, "cancelled", "turn_detected");
    }
    this.#speechStopTick = this.#tick + 10;
  }

  #speechStopped(): void {
    const itemId = this.#userItemId ?? this.#peer.nextId("item");
    this.#userItemId = null;
    const previous = this.#lastItemId;
    this.#lastItemId = itemId;
    this.#emit({
      type: "input_audio_buffer.speech_stopped",
      audio_end_ms: Math.floor(this.#inputBytes / BYTES_PER_MS),
      item_id: itemId,
    });
    this.#emit({
      type: "input_audio_buffer.committed",
      previous_item_id: previous,
      item_id: itemId,
    });
    this.#emit({
      type: "conversation.item.input_audio_transcription.completed",
      item_id: itemId,
      content_index: 0,
      transcript: "Wait, one more thing.",
    });
  }

  #finish(
    active: Active,
    status: "completed" | "cancelled",
    reason: string | null,
  ): void {
    if (this.#active !== active) return;
    this.#active = undefined;
    const part = partIds(active);
    const item = assistantItem(
      active.itemId,
      status === "completed" ? "completed" : "incomplete",
      [{ type: "output_audio", transcript: "Sure, here " }],
    );
    this.#emit({ type: "response.output_audio.done", ...part });
    this.#emit({
      type: "response.output_audio_transcript.done",
      ...part,
      transcript: "Sure, here ",
    });
    this.#emit({
      type: "response.content_part.done",
      ...part,
      part: { type: "audio", transcript: "Sure, here " },
    });
    this.#emit({
      type: "response.output_item.done",
      response_id: active.id,
      output_index: 0,
      item,
    });
    this.#emit({
      type: "response.done",
      response: this.#response(
        active.id,
        status,
        reason ? { type: status, reason } : null,
        [item],
      ),
    });
  }

  #interruptResponse(): boolean {
    const audio = isObject(this.#session.audio) ? this.#session.audio : {};
    const input = isObject(audio.input) ? audio.input : {};
    const detection = input.turn_detection;
    return isObject(detection) && detection.interrupt_response !== false;
  }

  #response(
    id: string,
    status: string,
    details: JsonObject | null,
    output: JsonObject[],
  ): JsonObject {
    return {
      object: "realtime.response",
      id,
      status,
      status_details: details,
      output,
      conversation_id: "conv_bench",
      output_modalities: ["audio"],
      max_output_tokens: "inf",
      usage: status === "in_progress"
        ? null
        : { total_tokens: 0, input_tokens: 0, output_tokens: 0 },
      metadata: null,
    };
  }

  // --- client events --------------------------------------------------------

  #onMessage(data: unknown): void {
    const now = performance.now();
    const probe = this.#peer.options.probe;
    if (typeof data !== "string") {
      probe.protocolError("realtime: binary frame from the server");
      return this.#error(null, {
        code: "invalid_json",
        message: "Binary frames are not supported; send JSON text events.",
        param: null,
      });
    }
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      probe.protocolError("realtime: client event is not JSON");
      return this.#error(null, {
        code: "invalid_json",
        message: "We could not parse the JSON body of your request.",
        param: null,
      });
    }
    if (!isObject(event) || typeof event.type !== "string") {
      probe.protocolError("realtime: client event without type");
      return this.#error(null, {
        code: "missing_required_parameter",
        message: "Missing required parameter: 'type'.",
        param: "type",
      });
    }
    const type = event.type;
    if (!CLIENT_EVENTS.has(type)) {
      probe.protocolError(`realtime: unknown client event ${type}`);
      return this.#error(event, {
        code: "invalid_value",
        message: `Invalid value: '${type}'.`,
        param: "type",
      });
    }
    switch (type) {
      case "input_audio_buffer.append":
        return this.#onAppend(event, now);
      case "session.update":
        return this.#onSessionUpdate(event, now);
      case "conversation.item.truncate":
        return this.#onTruncate(event);
      case "response.cancel":
        if (!this.#active) {
          return this.#error(event, {
            code: "response_cancel_not_active",
            message: "Cancellation failed: no active response found",
            param: null,
          });
        }
        return this.#finish(this.#active, "cancelled", "client_cancelled");
      case "response.create": {
        if (this.#active) {
          return this.#error(event, {
            code: "conversation_already_has_active_response",
            message: "Conversation already has an active response in progress.",
            param: null,
          });
        }
        const id = this.#peer.nextId("resp");
        this.#emit({
          type: "response.created",
          response: this.#response(id, "in_progress", null, []),
        });
        this.#emit({
          type: "response.done",
          response: this.#response(id, "completed", null, []),
        });
        return;
      }
      case "conversation.item.create": {
        const id = this.#peer.nextId("item");
        const item = {
          ...(isObject(event.item) ? event.item : {}),
          id,
          status: "completed",
        };
        this.#emit({ type: "conversation.item.added", item });
        this.#emit({ type: "conversation.item.done", item });
        return;
      }
      default:
        return;
    }
  }

  #onAppend(event: JsonObject, now: number): void {
    const probe = this.#peer.options.probe;
    if (typeof event.audio !== "string") {
      probe.protocolError("realtime: append without audio");
      return this.#error(event, {
        code: "missing_required_parameter",
        message: "Missing required parameter: 'audio'.",
        param: "audio",
      });
    }
    let audio: Uint8Array;
    try {
      audio = Uint8Array.fromBase64(event.audio);
    } catch {
      probe.protocolError("realtime: append audio is not base64");
      return this.#error(event, {
        code: "invalid_value",
        message: "Invalid 'audio': expected base64-encoded audio bytes.",
        param: "audio",
      });
    }
    this.#inputBytes += audio.length;
    const tag = readTag(audio);
    if (!tag || tag.direction !== CALLER) return;
    const record = probe.calls[tag.call];
    if (!record) {
      probe.protocolError("realtime: audio of an unknown call");
      return;
    }
    if (this.record === undefined) this.#link(record);
    else if (this.record !== record) {
      probe.protocolError("realtime: one session carries two calls' audio");
      return;
    }
    probe.frameArrived(record, tag.seq, now);
  }

  #onSessionUpdate(event: JsonObject, now: number): void {
    const problem = checkSession(
      event.session,
      this.#session,
      this.#voiceLocked,
    );
    if (problem) {
      this.#peer.options.probe.protocolError(
        `realtime: session.update refused (${problem.code} ${problem.param})`,
      );
      return this.#error(event, problem);
    }
    const patch = event.session as JsonObject;
    this.#session = { ...this.#session, ...patch };
    if (this.sessionUpdatedAt < 0) this.sessionUpdatedAt = now;
    this.#emit({ type: "session.updated", session: this.#session });
  }

  #onTruncate(event: JsonObject): void {
    const itemId = event.item_id;
    const sent = typeof itemId === "string"
      ? this.#items.get(itemId)
      : undefined;
    if (typeof itemId !== "string" || sent === undefined) {
      return this.#error(event, {
        code: "item_truncate_invalid_item_id",
        message:
          `Error truncating item: the item with id '${itemId}' does not exist.`,
        param: "item_id",
      });
    }
    const audioEndMs = event.audio_end_ms;
    if (
      event.content_index !== 0 || typeof audioEndMs !== "number" ||
      !Number.isInteger(audioEndMs) || audioEndMs < 0
    ) {
      this.#peer.truncationsRejected++;
      return this.#error(event, {
        code: "invalid_value",
        message: "Invalid truncate.",
        param: "audio_end_ms",
      });
    }
    const sentMs = Math.floor(sent / BYTES_PER_MS);
    if (audioEndMs > sentMs) {
      this.#peer.truncationsRejected++;
      return this.#error(event, {
        code: "invalid_value",
        message:
          `Audio content of ${sentMs}ms is already shorter than ${audioEndMs}ms`,
        param: "audio_end_ms",
      });
    }
    this.#peer.truncationsAccepted++;
    this.#items.set(itemId, audioEndMs * BYTES_PER_MS);
    this.#emit({
      type: "conversation.item.truncated",
      item_id: itemId,
      content_index: 0,
      audio_end_ms: audioEndMs,
    });
  }

  // --- plumbing -------------------------------------------------------------

  #emit(event: JsonObject): void {
    const { type, ...rest } = event;
    this.#send(
      JSON.stringify({ type, event_id: this.#peer.nextId("event"), ...rest }),
    );
  }

  #error(clientEvent: JsonObject | null, problem: Problem): void {
    this.#peer.countError(problem.code);
    this.#emit({
      type: "error",
      error: {
        type: "invalid_request_error",
        code: problem.code,
        message: problem.message,
        param: problem.param,
        event_id: typeof clientEvent?.event_id === "string"
          ? clientEvent.event_id
          : null,
      },
    });
  }

  #send(text: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(text);
  }
}

function partIds(active: Active): JsonObject {
  return {
    response_id: active.id,
    item_id: active.itemId,
    output_index: 0,
    content_index: 0,
  };
}

function assistantItem(
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

function unknownKey(
  obj: JsonObject,
  allowed: Set<string>,
  prefix: string,
): Problem | null {
  const key = Object.keys(obj).find((k) => !allowed.has(k));
  return key === undefined ? null : {
    code: "unknown_parameter",
    message: `Unknown parameter: '${prefix}.${key}'.`,
    param: `${prefix}.${key}`,
  };
}

function checkFormat(format: unknown, param: string): Problem | null {
  if (format === undefined) return null;
  if (!isObject(format) || !FORMAT_TYPES.has(String(format.type))) {
    return {
      code: "invalid_value",
      message: `Invalid '${param}': expected an object with a supported type.`,
      param,
    };
  }
  return null;
}

/** The GA checks of a session.update that a bridge can get wrong. */
function checkSession(
  patch: unknown,
  current: JsonObject,
  voiceLocked: boolean,
): Problem | null {
  if (!isObject(patch)) {
    return {
      code: "missing_required_parameter",
      message: "Missing required parameter: 'session'.",
      param: "session",
    };
  }
  if (patch.type !== "realtime") {
    return {
      code: "invalid_value",
      message: "Invalid value for 'session.type': expected 'realtime'.",
      param: "session.type",
    };
  }
  const problem = unknownKey(patch, SESSION_KEYS, "session");
  if (problem) return problem;
  if (patch.audio === undefined) return null;
  if (!isObject(patch.audio)) {
    return {
      code: "invalid_type",
      message: "Invalid type for 'session.audio'.",
      param: "session.audio",
    };
  }
  const { input, output } = patch.audio;
  if (isObject(input)) {
    const p = unknownKey(input, AUDIO_INPUT_KEYS, "session.audio.input") ??
      checkFormat(input.format, "session.audio.input.format");
    if (p) return p;
  }
  if (isObject(output)) {
    const p = unknownKey(output, AUDIO_OUTPUT_KEYS, "session.audio.output") ??
      checkFormat(output.format, "session.audio.output.format");
    if (p) return p;
    const audio = isObject(current.audio) ? current.audio : {};
    const currentOutput = isObject(audio.output) ? audio.output : {};
    if (
      voiceLocked && output.voice !== undefined &&
      output.voice !== currentOutput.voice
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
