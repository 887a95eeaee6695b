/**
 * One accepted Realtime WebSocket connection: answers client events as the
 * GA API does and lets a test script what the model does (speak, call a
 * function, call an MCP tool, ask for MCP approval) and what server VAD hears.
 *
 * @module
 */
import type {
  ConversationItem,
  RealtimeErrorEvent,
  RealtimeMcpListTools,
  RealtimeResponseUsage,
} from "openai/resources/realtime/realtime";
import { CLIENT_ITEM_TYPES, clientItem } from "./client_items.ts";
import {
  asObject,
  errorEvent,
  type ErrorType,
  invalidType,
  invalidValue,
  isObject,
  type JsonObject,
  missingParameter,
  newId,
  type Problem,
  SERVER_ERROR_MESSAGE,
  type ServerEventBody,
} from "./common.ts";
import {
  type ApprovalRequestRecord,
  Conversation,
  type ItemRecord,
} from "./conversation.ts";
import { needsApproval, offeredTools } from "./mcp.ts";
import { EventLog } from "../event_log.ts";
import { SimSocket } from "../sim_socket.ts";
import type { ModelCatalog } from "./models.ts";
import type { FakeRealtimeOptions } from "./options.ts";
import { bytesPerMs, ResponseRun, type Segment } from "./responses.ts";
import { contextTokens, type TokenSplit } from "./usage.ts";
import { VoiceActivity } from "../voice_activity.ts";
import type {
  ApprovalResponse,
  CloseInfo,
  FunctionCallHandle,
  FunctionCallSpec,
  McpCallHandle,
  McpCallSpec,
  McpListing,
  Preamble,
  SpeakHandle,
  SpeakOptions,
  ToolCallOptions,
  Truncation,
} from "./scripts.ts";
import {
  checkSessionPatch,
  CLIENT_EVENTS,
  defaultSession,
  isCheckedPatch,
  mcpToolsOf,
  mergeSession,
  type SimSession,
  withTurnDefaults,
} from "./session_schema.ts";

const DEFAULT_WAIT_MS = 2000;

/** What the server adds up over all its sessions (sessions of a lean server do not stay). */
export interface SessionTally {
  /** Error events sent, by code (the type when there is none). */
  errors: Map<string, number>;
  truncatesAccepted: number;
  truncatesRefused: number;
}

function jsonText(value: string | JsonObject | undefined): string {
  if (value === undefined) return "{}";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Transcription models billed by audio duration (their model pages). */
const DURATION_BILLED = new Set([
  "whisper-1",
  "gpt-transcribe",
  "gpt-live-transcribe",
  "gpt-realtime-whisper",
]);

export class FakeRealtimeSession {
  readonly headers: Headers;
  readonly requestUrl: string;
  readonly errorsSent: RealtimeErrorEvent[] = [];
  /** Client response.create events refused because a response was active. */
  readonly refusedCreates: JsonObject[] = [];
  readonly truncations: Truncation[] = [];
  /** MCP tool listings, one per server (re)configured by session.update. */
  readonly mcpListings: McpListing[] = [];
  /** The client's mcp_approval_response items, in order. */
  readonly approvalResponses: ApprovalResponse[] = [];
  /** The `usage` of every `response.done` sent, in order (./usage.ts). */
  readonly usages: RealtimeResponseUsage[] = [];
  /** The seconds each input transcription reported as billed (duration-billed models). */
  readonly transcribedSeconds: number[] = [];
  readonly closed: Promise<CloseInfo>;
  /** The effective session config, as the API reports it in session.updated. */
  session: SimSession;
  /** performance.now() when the first session.update was accepted. */
  firstUpdateAt: number | undefined;

  readonly #wire: SimSocket;
  readonly #options: FakeRealtimeOptions;
  #vad: { key: string; activity: VoiceActivity } | undefined;
  /** Milliseconds of audio in the last committed turn. */
  #turnMs = 0;
  readonly #catalog: ModelCatalog;
  readonly #tally: SessionTally;
  readonly #log: EventLog;
  readonly #conversation = new Conversation();
  #inputBytes = 0;
  #committedBytes = 0;
  #pendingUserItemId: string | null = null;
  #active: ResponseRun | undefined;
  /** The metadata of the `response.create` being handled, for the response it starts. */
  #createMetadata: Record<string, string> | null = null;
  #voiceLocked = false;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  /** server_label → the tool config its current listing was made for. */
  #listedConfigs = new Map<string, string>();
  /** What the last response read: the next one finds it cached. */
  #lastContext: TokenSplit = { text: 0, audio: 0 };

  constructor(
    socket: WebSocket,
    headers: Headers,
    requestUrl: string,
    model: string,
    options: FakeRealtimeOptions,
    catalog: ModelCatalog,
    tally: SessionTally,
  ) {
    this.#options = options;
    this.#catalog = catalog;
    this.#tally = tally;
    this.#log = new EventLog(!options.lean);
    this.headers = headers;
    this.requestUrl = requestUrl;
    this.session = defaultSession(model);
    this.#wire = new SimSocket(socket, {
      message: (data) => this.#onMessage(data),
      failed: (error) =>
        this.#sendError("server_error", null, error, null, null),
      closed: () => {
        this.#active?.stop();
        for (const timer of this.#timers) clearTimeout(timer);
        this.#timers.clear();
        this.#log.close();
      },
    });
    this.closed = this.#wire.closed;
  }

  /** Whether server VAD cancels an in-progress response on speech start. */
  get interruptResponse(): boolean {
    const detection = this.session.audio?.input?.turn_detection;
    return !!detection && detection.interrupt_response !== false;
  }

  /** Writes through to `session.audio.input.turn_detection.interrupt_response`. */
  set interruptResponse(value: boolean) {
    const audio = this.session.audio ?? {};
    const detection = audio.input?.turn_detection ??
      withTurnDefaults({ type: "server_vad" });
    this.session = {
      ...this.session,
      audio: {
        ...audio,
        input: {
          ...audio.input,
          turn_detection: { ...detection, interrupt_response: value },
        },
      },
    };
  }

  /** The id of the response in progress, if any. */
  get activeResponseId(): string | null {
    return this.#active?.id ?? null;
  }

  /** Every client event, parsed, in order (none in a lean session). */
  get received(): JsonObject[] {
    return this.#log.received;
  }

  /** All audio the client appended, decoded, in order. */
  inputAudio(): Uint8Array {
    return this.#log.audio();
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

  // --- what the model does ---------------------------------------------------

  /**
   * Streams `audio` as an assistant response with the GA event sequence.
   * Throws if a response is already in progress: the API runs one at a time.
   */
  speak(audio: Uint8Array, opts: SpeakOptions = {}): SpeakHandle {
    const run = this.#startRun([this.#audioSegment(audio, opts)]);
    return { responseId: run.id, itemId: run.itemIds[0], done: run.done };
  }

  /**
   * A model response that calls function tools (several at once only for
   * models with parallel tool calls), optionally after a spoken preamble.
   * The response ends after the calls; nothing follows until the client
   * sends its outputs and a `response.create`.
   */
  functionCall(
    calls: FunctionCallSpec | FunctionCallSpec[],
    options: ToolCallOptions = {},
  ): FunctionCallHandle {
    const specs = Array.isArray(calls) ? calls : [calls];
    this.#assertCallable(specs.length);
    const declared = (this.session.tools ?? []).flatMap((t) =>
      t.type === "mcp" ? [] : [t.name]
    );
    const segments: Segment[] = specs.map((spec) => {
      if (!declared.includes(spec.name)) {
        throw new Error(
          `the model cannot call function '${spec.name}': the session declares ${
            JSON.stringify(declared)
          }`,
        );
      }
      return {
        kind: "function_call",
        name: spec.name,
        arguments: jsonText(spec.arguments),
        callId: spec.callId ?? newId("call"),
      };
    });
    const { run, preambleItemId, itemIds } = this.#startToolRun(
      segments,
      options.preamble,
    );
    return {
      responseId: run.id,
      preambleItemId,
      itemIds,
      callIds: segments.flatMap((s) =>
        s.kind === "function_call" ? [s.callId] : []
      ),
      done: run.done,
    };
  }

  /**
   * A model response that calls remote MCP tools. The API runs the calls
   * itself (`response.mcp_call.*`), then ends the response: it does NOT
   * create a follow-up response; only a client `response.create` does. A
   * tool whose server requires approval yields an `mcp_approval_request`
   * instead, unless the client already approved that exact call.
   */
  mcpCall(
    calls: McpCallSpec | McpCallSpec[],
    options: ToolCallOptions = {},
  ): McpCallHandle {
    const specs = Array.isArray(calls) ? calls : [calls];
    this.#assertCallable(specs.length);
    const planned = specs.map((spec) => this.#mcpSegment(spec));
    const segments = planned.map((p) => p.segment);
    // Only a response that really starts uses up the approvals it relies on.
    for (const p of planned) if (p.approval) p.approval.consumed = true;
    const preamble = options.preamble ??
      (specs.length === 1 ? specs[0].preamble : undefined);
    const { run, preambleItemId, itemIds } = this.#startToolRun(
      segments,
      preamble,
    );
    return {
      responseId: run.id,
      preambleItemId,
      itemIds,
      approvalRequestIds: itemIds.filter((_, i) =>
        segments[i].kind === "mcp_approval_request"
      ),
      done: run.done,
    };
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
      this.#active.finish("cancelled", {
        type: "cancelled",
        reason: "turn_detected",
      });
    }
  }

  /**
   * Server VAD heard the caller stop: speech_stopped, then the buffer is
   * committed into a user item. Does not start a response by itself; script
   * one (`speak`, `mcpCall`, `functionCall`) as server VAD would create it.
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

  /**
   * Input transcription finished: what the caller said, as the API reports
   * it. The duration-billed models (gpt-live-transcribe and the rest) report
   * the seconds of the last committed turn; the others rough token counts.
   */
  callerSaid(transcript: string, itemId = newId("item")): void {
    const model = this.session.audio?.input?.transcription?.model ?? "";
    const tokens = Math.ceil(transcript.length / 4);
    const seconds = Math.round(this.#turnMs) / 1000;
    if (DURATION_BILLED.has(model)) this.transcribedSeconds.push(seconds);
    this.#emit({
      type: "conversation.item.input_audio_transcription.completed",
      item_id: itemId,
      content_index: 0,
      transcript,
      usage: DURATION_BILLED.has(model) ? { type: "duration", seconds } : {
        type: "tokens",
        input_tokens: 0,
        output_tokens: tokens,
        total_tokens: tokens,
      },
    });
  }

  /**
   * A recoverable `server_error` (the session stays open). With
   * `failResponse`, the active response also ends with status "failed".
   */
  serverError(
    message = SERVER_ERROR_MESSAGE,
    options: { failResponse?: boolean } = {},
  ): void {
    this.#sendError("server_error", null, message, null, null);
    if (options.failResponse && this.#active) {
      this.#active.finish("failed", {
        type: "failed",
        error: { type: "server_error", message },
      });
    }
  }

  /** The first server event; FakeRealtime sends it once the socket opens. */
  sendSessionCreated(): void {
    this.#emit({ type: "session.created", session: this.session });
  }

  /** Sends a raw server event as given (call ids in it count as issued). */
  send(event: JsonObject): void {
    this.#noteRawCall(event);
    this.sendText(JSON.stringify(event));
  }

  sendText(text: string): void {
    this.#wire.send(text);
  }

  /** Closes the socket from the server side. */
  close(code = 1000, reason = ""): void {
    this.#active?.stop();
    this.#wire.close(code, reason);
  }

  // --- responses -------------------------------------------------------------

  #startRun(segments: Segment[]): ResponseRun {
    if (this.#active) {
      throw new Error(
        `response ${this.#active.id} is still in progress; the API runs one response at a time`,
      );
    }
    const run = new ResponseRun({
      emit: (event) => this.#emit(event),
      conversation: this.#conversation,
      // Read at each use: session.update may change the output format.
      session: () => this.session,
      audioSent: () => this.#voiceLocked = true,
      ended: (r) => {
        if (this.#active === r) this.#active = undefined;
        if (r.usage) this.usages.push(r.usage);
      },
      metadata: this.#createMetadata,
      contextTokens: () => {
        const input = contextTokens(
          this.session.instructions ?? "",
          this.#conversation,
          this.#committedBytes / bytesPerMs(this.session.audio?.input?.format),
        );
        const cached = this.#lastContext;
        this.#lastContext = input;
        return { input, cached };
      },
    }, segments);
    this.#createMetadata = null;
    this.#active = run;
    run.start();
    return run;
  }

  #startToolRun(segments: Segment[], preamble: Preamble | undefined) {
    const all = preamble
      ? [this.#audioSegment(preamble.audio, preamble), ...segments]
      : segments;
    const run = this.#startRun(all);
    return {
      run,
      preambleItemId: preamble ? run.itemIds[0] : null,
      itemIds: preamble ? run.itemIds.slice(1) : run.itemIds,
    };
  }

  #audioSegment(audio: Uint8Array, opts: SpeakOptions): Segment {
    const chunkBytes = opts.chunkBytes ?? 800;
    if (!(chunkBytes > 0)) throw new Error("chunkBytes must be positive");
    return {
      kind: "audio",
      audio: audio.slice(),
      chunkBytes,
      intervalMs: opts.intervalMs ?? 0,
      transcript: opts.transcript ?? "",
      payload: opts.payload,
    };
  }

  /** Several tool calls in one response need a model with parallel calls. */
  #assertCallable(count: number): void {
    if (this.#active) {
      throw new Error(
        `response ${this.#active.id} is still in progress; the API runs one response at a time`,
      );
    }
    if (count === 0) throw new Error("script at least one tool call");
    const parallel = this.#catalog.reasons(String(this.session.model)) &&
      this.session.parallel_tool_calls !== false;
    if (count > 1 && !parallel) {
      throw new Error(
        `model ${this.session.model} makes one tool call per response (parallel_tool_calls needs a gpt-realtime-2.x model and is off when false)`,
      );
    }
  }

  #mcpSegment(
    spec: McpCallSpec,
  ): { segment: Segment; approval?: ApprovalRequestRecord } {
    const servers = mcpToolsOf(this.session);
    const config = spec.serverLabel === undefined
      ? (servers.length === 1 ? servers[0] : undefined)
      : servers.find((s) => s.server_label === spec.serverLabel);
    if (!config) {
      throw new Error(
        `no MCP server ${
          spec.serverLabel ?? "(give serverLabel)"
        } in the session; it has ${
          JSON.stringify(servers.map((s) => s.server_label))
        }`,
      );
    }
    const label = config.server_label;
    const listing = this.mcpListings.findLast((l) => l.serverLabel === label);
    const tool = listing?.tools.find((t) => t.name === spec.name);
    if (!listing || listing.status !== "completed" || !tool) {
      // The model only knows the tools the API listed.
      throw new Error(
        `the model cannot call '${spec.name}' on '${label}': listing ${
          listing?.status ?? "not started"
        }, tools ${JSON.stringify(listing?.tools.map((t) => t.name) ?? [])}`,
      );
    }
    const args = jsonText(spec.arguments);
    if (needsApproval(config, tool)) {
      const approved = [...this.#conversation.approvalRequests.values()].find(
        (r) =>
          r.serverLabel === label && r.name === spec.name &&
          r.arguments === args && r.answer?.approve === true && !r.consumed,
      );
      if (!approved) {
        return {
          segment: {
            kind: "mcp_approval_request",
            serverLabel: label,
            name: spec.name,
            arguments: args,
          },
        };
      }
      return { segment: call(approved.id), approval: approved };
    }
    return { segment: call(null) };

    function call(approvalRequestId: string | null): Segment {
      return {
        kind: "mcp_call",
        serverLabel: label,
        name: spec.name,
        arguments: args,
        output: spec.error ? null : (spec.output ?? "{}"),
        error: spec.error ?? null,
        durationMs: spec.durationMs ?? 0,
        approvalRequestId,
      };
    }
  }

  // --- MCP tool listing ------------------------------------------------------

  /** Lists the tools of each MCP server the session gained or changed. */
  #listMcpTools(): void {
    const configs = mcpToolsOf(this.session);
    // A server removed from the session is listed again if it comes back.
    for (const label of this.#listedConfigs.keys()) {
      if (!configs.some((c) => c.server_label === label)) {
        this.#listedConfigs.delete(label);
      }
    }
    for (const config of configs) {
      const label = config.server_label;
      const key = JSON.stringify(config);
      if (this.#listedConfigs.get(label) === key) continue;
      this.#listedConfigs.set(label, key);
      const listing: McpListing = {
        serverLabel: label,
        itemId: newId("mcpl"),
        status: "in_progress",
        tools: [],
      };
      this.mcpListings.push(listing);
      const item: RealtimeMcpListTools & { id: string } = {
        id: listing.itemId,
        type: "mcp_list_tools",
        server_label: label,
        tools: [],
      };
      this.#emit({ type: "mcp_list_tools.in_progress", item_id: item.id });
      const previous = this.#conversation.append(item);
      this.#emit({
        type: "conversation.item.added",
        previous_item_id: previous,
        item,
      });
      // The API fetches tools/list from the server: a network round trip.
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (this.#options.mcpListFails) {
          listing.status = "failed";
          this.#emit({ type: "mcp_list_tools.failed", item_id: item.id });
          return;
        }
        listing.status = "completed";
        listing.tools = offeredTools(config, this.#options.mcpTools ?? []);
        const done = { ...item, tools: listing.tools };
        this.#conversation.update(done);
        this.#emit({
          type: "conversation.item.done",
          previous_item_id: previous,
          item: done,
        });
        this.#emit({ type: "mcp_list_tools.completed", item_id: item.id });
      }, this.#options.mcpListDelayMs ?? 0);
      this.#timers.add(timer);
    }
  }

  // --- client events ---------------------------------------------------------

  #onMessage(data: unknown): void {
    if (typeof data !== "string") {
      return this.#sendError(
        "invalid_request_error",
        "invalid_json",
        "Binary frames are not supported; send JSON text events.",
        null,
        null,
      );
    }
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      return this.#sendError(
        "invalid_request_error",
        "invalid_json",
        "We could not parse the JSON body of your request.",
        null,
        null,
      );
    }
    if (!isObject(event)) {
      return this.#sendError(
        "invalid_request_error",
        "invalid_type",
        "Invalid type for event: expected an object.",
        null,
        null,
      );
    }
    this.#log.push(event);
    this.#dispatch(event);
    this.#log.notify();
  }

  #dispatch(event: JsonObject): void {
    const type = event.type;
    if (typeof type !== "string") {
      return this.#fail(event, missingParameter("type"));
    }
    if (!(CLIENT_EVENTS as readonly string[]).includes(type)) {
      return this.#fail(event, invalidValue("type", type, CLIENT_EVENTS));
    }
    switch (type) {
      case "session.update":
        return this.#onSessionUpdate(event);
      case "input_audio_buffer.append":
        return this.#onAppend(event);
      case "input_audio_buffer.commit":
        if (this.#inputBytes - this.#committedBytes === 0) {
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
          (_id, r) =>
            this.#emit({ type: "conversation.item.retrieved", item: r.item }),
        );
      case "conversation.item.delete":
        return this.#withItem(event, "item_delete_invalid_item_id", (id) => {
          this.#conversation.delete(id);
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
    const patch = event.session;
    const model = isObject(patch) && typeof patch.model === "string"
      ? patch.model
      : String(this.session.model);
    const problem = checkSessionPatch(patch, {
      current: this.session,
      voiceLocked: this.#voiceLocked,
      reasoningModel: this.#catalog.reasons(model),
      retiredModels: this.#catalog.retired,
    });
    if (problem) return this.#fail(event, problem);
    if (!isCheckedPatch(patch)) return;
    this.session = mergeSession(this.session, patch);
    this.firstUpdateAt ??= performance.now();
    this.#emit({ type: "session.updated", session: this.session });
    this.#listMcpTools();
  }

  #onAppend(event: JsonObject): void {
    if (typeof event.audio !== "string") {
      return this.#fail(event, missingParameter("audio"));
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
    this.#log.pushAudio(bytes);
    this.#inputBytes += bytes.length;
    this.#options.onInputAudio?.(this, bytes);
    if (this.#options.detectSpeech) this.#detectSpeech(bytes);
  }

  /** Server VAD on the audio bytes (detectSpeech). */
  #detectSpeech(bytes: Uint8Array): void {
    const detection = this.session.audio?.input?.turn_detection;
    const format = this.session.audio?.input?.format?.type;
    if (detection?.type !== "server_vad" || format === "audio/pcma") return;
    const silenceMs = detection.silence_duration_ms ?? 500;
    const key = `${format}/${silenceMs}`;
    if (this.#vad?.key !== key) {
      this.#vad = {
        key,
        activity: format === "audio/pcmu"
          ? new VoiceActivity("pcmu", 8, silenceMs)
          : new VoiceActivity("pcm16", 48, silenceMs),
      };
    }
    for (const event of this.#vad.activity.push(bytes)) {
      if (event === "speech_started") {
        this.speechStarted();
        continue;
      }
      this.speechStopped();
      if (detection.create_response !== false) this.#options.onTurnEnd?.(this);
    }
  }

  #onItemCreate(event: JsonObject): void {
    const raw = event.item;
    if (raw === undefined) return this.#fail(event, missingParameter("item"));
    if (!isObject(raw)) {
      return this.#fail(event, invalidType("item", "an object", raw));
    }
    const id = typeof raw.id === "string" ? raw.id : newId("item");
    if (this.#conversation.items.has(id)) {
      return this.#fail(event, {
        code: "item_id_already_exists",
        message: `Item with id '${id}' already exists.`,
        param: "item.id",
      });
    }
    const problem = this.#checkNewItem(raw);
    if (problem) return this.#fail(event, problem);
    const item = clientItem(raw, id);
    if (!item) {
      return this.#fail(
        event,
        invalidValue("item.type", raw.type, CLIENT_ITEM_TYPES),
      );
    }
    if (item.type === "mcp_approval_response") {
      const request = this.#conversation.approvalRequests.get(
        item.approval_request_id,
      );
      if (request) {
        request.answer = { approve: item.approve, reason: item.reason ?? null };
      }
      this.approvalResponses.push({
        itemId: id,
        approvalRequestId: item.approval_request_id,
        approve: item.approve,
        reason: item.reason ?? null,
      });
    }
    const previous = typeof event.previous_item_id === "string"
      ? event.previous_item_id
      : this.#conversation.lastItemId;
    this.#conversation.append(item, null, previous);
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

  /** The references a new item makes must point at what the model issued. */
  #checkNewItem(raw: JsonObject): Problem | null {
    if (raw.type === "function_call_output") {
      if (typeof raw.call_id !== "string") {
        return missingParameter("item.call_id");
      }
      if (typeof raw.output !== "string") {
        return missingParameter("item.output");
      }
      if (!this.#conversation.hasCall(raw.call_id)) {
        // Message as the API words it; the code is our best guess.
        return {
          code: "invalid_value",
          message: `Tool call ID '${raw.call_id}' not found in conversation.`,
          param: "item.call_id",
        };
      }
    }
    if (raw.type === "mcp_approval_response") {
      if (typeof raw.approval_request_id !== "string") {
        return missingParameter("item.approval_request_id");
      }
      if (typeof raw.approve !== "boolean") {
        return missingParameter("item.approve");
      }
      if (!this.#conversation.approvalRequests.has(raw.approval_request_id)) {
        return {
          code: "invalid_value",
          message:
            `MCP approval request '${raw.approval_request_id}' not found in conversation.`,
          param: "item.approval_request_id",
        };
      }
    }
    return null;
  }

  #onTruncate(event: JsonObject): void {
    this.#withItem(event, "item_truncate_invalid_item_id", (itemId, record) => {
      if (!record.assistantAudio) {
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
      if (accepted) this.#tally.truncatesAccepted++;
      else this.#tally.truncatesRefused++;
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
    const active = this.#active;
    if (active) {
      // One response at a time per conversation; the hook never runs.
      this.refusedCreates.push(event);
      return this.#fail(event, {
        code: "conversation_already_has_active_response",
        message:
          `Conversation already has an active response in progress: ${active.id}. Wait until the response is finished before creating a new one.`,
        param: null,
      });
    }
    // The response the create starts carries its metadata, as the API echoes it.
    const response = asObject(event.response);
    this.#createMetadata = isStringRecord(response.metadata)
      ? response.metadata
      : null;
    const hook = this.#options.onResponseCreate;
    if (hook) {
      hook(this, event);
      this.#createMetadata = null;
      return;
    }
    // Without a script the model answers with nothing.
    this.#startRun([]);
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
    active.finish("cancelled", {
      type: "cancelled",
      reason: "client_cancelled",
    });
  }

  // --- input audio -----------------------------------------------------------

  #inputMs(): number {
    const format = this.session.audio?.input?.format;
    const perMs = format?.type === "audio/pcmu" || format?.type === "audio/pcma"
      ? 8
      : 48;
    return Math.floor(this.#inputBytes / perMs);
  }

  #commitInput(itemId: string): void {
    this.#turnMs = (this.#inputBytes - this.#committedBytes) /
      bytesPerMs(this.session.audio?.input?.format);
    this.#committedBytes = this.#inputBytes;
    const item: ConversationItem & { id: string } = {
      id: itemId,
      object: "realtime.item",
      type: "message",
      role: "user",
      status: "completed",
      content: [{ type: "input_audio" }],
    };
    const previous = this.#conversation.append(item);
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

  // --- plumbing --------------------------------------------------------------

  /** Function calls in raw events a test sends count as the model's. */
  #noteRawCall(event: JsonObject): void {
    if (
      event.type === "response.function_call_arguments.done" &&
      typeof event.call_id === "string"
    ) {
      const itemId = typeof event.item_id === "string"
        ? event.item_id
        : newId("item");
      this.#conversation.noteRawCall(event.call_id, itemId);
    }
    const item = asObject(event.item);
    if (
      item.type === "function_call" && typeof item.call_id === "string" &&
      typeof item.id === "string"
    ) {
      this.#conversation.noteRawCall(item.call_id, item.id);
    }
  }

  #withItem(
    event: JsonObject,
    code: string,
    then: (itemId: string, record: ItemRecord) => void,
  ): void {
    const itemId = event.item_id;
    const record = typeof itemId === "string"
      ? this.#conversation.items.get(itemId)
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

  #emit(event: ServerEventBody): void {
    const { type, ...rest } = event;
    this.sendText(JSON.stringify({ type, event_id: newId("event"), ...rest }));
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
    type: ErrorType,
    code: string | null,
    message: string,
    param: string | null,
    clientEventId: string | null,
  ): void {
    const event = errorEvent(type, code, message, param, clientEventId);
    this.errorsSent.push(event);
    const key = code ?? type;
    this.#tally.errors.set(key, (this.#tally.errors.get(key) ?? 0) + 1);
    this.sendText(JSON.stringify(event));
  }
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return isObject(value) &&
    Object.values(value).every((v) => typeof v === "string");
}
