/**
 * One model response, played as the GA API streams it: `response.created`,
 * then each output item (assistant audio, function call, MCP call, MCP
 * approval request) with its own events, then `response.done`. A response
 * can be cancelled at any point (client cancel, server VAD), which closes
 * the open items as incomplete and reports the reason.
 *
 * @module
 */
import type {
  ConversationItem,
  RealtimeConversationItemAssistantMessage,
  RealtimeConversationItemFunctionCall,
  RealtimeMcpApprovalRequest,
  RealtimeMcpToolCall,
  RealtimeResponse,
  RealtimeResponseStatus,
  RealtimeResponseUsage,
} from "openai/resources/realtime/realtime";
import { deltasOf, newId, type ServerEventBody, sleep } from "./common.ts";
import type { Conversation, ItemWithId } from "./conversation.ts";
import type { SimSession } from "./session_schema.ts";
import { itemTokens, responseUsage, type TokenSplit } from "./usage.ts";

export type ResponseStatus =
  | "completed"
  | "cancelled"
  | "incomplete"
  | "failed";

/** The `error` of a failed mcp_call item, exactly as the openai types give it. */
export type McpCallError = NonNullable<RealtimeMcpToolCall["error"]>;

export type Segment =
  | {
    kind: "audio";
    audio: Uint8Array;
    chunkBytes: number;
    intervalMs: number;
    transcript: string;
    payload?: (index: number, chunk: Uint8Array) => string;
  }
  | { kind: "function_call"; name: string; arguments: string; callId: string }
  | {
    kind: "mcp_call";
    serverLabel: string;
    name: string;
    arguments: string;
    output: string | null;
    error: McpCallError | null;
    durationMs: number;
    approvalRequestId: string | null;
  }
  | {
    kind: "mcp_approval_request";
    serverLabel: string;
    name: string;
    arguments: string;
  };

/** What a response needs from its session. */
export interface ResponseHost {
  emit(event: ServerEventBody): void;
  readonly conversation: Conversation;
  session(): SimSession;
  /** Assistant audio went out: the voice is fixed from now on. */
  audioSent(): void;
  /** The response ended (any status); it is no longer the active one. */
  ended(run: ResponseRun): void;
  /** The `response.metadata` of the client `response.create` that started it (null for server VAD's). */
  readonly metadata: Record<string, string> | null;
  /** What a response starting now reads, and how much of it is cached (./usage.ts). */
  contextTokens(): { input: TokenSplit; cached: TokenSplit };
}

type ItemStatus = "completed" | "incomplete";

const ID_PREFIX: Record<Segment["kind"], string> = {
  audio: "item",
  function_call: "item",
  mcp_call: "mcp",
  mcp_approval_request: "mcpr",
};

/** G.711 (pcmu/pcma) is 8 kHz × 1 byte; GA `audio/pcm` is 24 kHz × 16 bit. */
export function bytesPerMs(format: { type?: string } | undefined): number {
  const type = format?.type;
  return type === "audio/pcmu" || type === "audio/pcma" ? 8 : 48;
}

export class ResponseRun {
  readonly id = newId("resp");
  /** One id per segment, in output order (output_index = position). */
  readonly itemIds: string[];
  readonly done: Promise<ResponseStatus>;

  readonly #host: ResponseHost;
  readonly #segments: Segment[];
  readonly #output: ConversationItem[] = [];
  /** Closers of items added but not done, by output index, in order. */
  readonly #open = new Map<number, (status: ItemStatus) => void>();
  readonly #abort = new AbortController();
  #resolve!: (status: ResponseStatus) => void;
  #ended = false;
  #context: { input: TokenSplit; cached: TokenSplit } | undefined;
  /** What `response.done` reported, once it was sent. */
  usage: RealtimeResponseUsage | undefined;

  constructor(host: ResponseHost, segments: Segment[]) {
    this.#host = host;
    this.#segments = segments;
    this.itemIds = segments.map((s) => newId(ID_PREFIX[s.kind]));
    this.done = new Promise((r) => this.#resolve = r);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Emits response.created and the synchronous start, then streams the rest. */
  start(): void {
    this.#context = this.#host.contextTokens();
    this.#emit({
      type: "response.created",
      response: this.#response("in_progress"),
    });
    void this.#play();
  }

  /** Ends now with the closing events, e.g. cancelled by the client or VAD. */
  finish(
    status: Exclude<ResponseStatus, "completed">,
    details: RealtimeResponseStatus,
  ): void {
    this.#end(status, details);
  }

  /** Stops without a word: the socket is going away. */
  stop(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#abort.abort();
    this.#open.clear();
    this.#host.ended(this);
    this.#resolve("cancelled");
  }

  // --- playback ------------------------------------------------------------

  async #play(): Promise<void> {
    const segments = this.#segments;
    let i = 0;
    while (i < segments.length && !this.#ended) {
      const segment = segments[i];
      if (segment.kind === "mcp_call") {
        // Consecutive MCP calls run in parallel, as gpt-realtime-2.x does.
        let j = i;
        while (segments[j]?.kind === "mcp_call") j++;
        await this.#playMcpCalls(i, j);
        i = j;
        continue;
      }
      if (segment.kind === "audio") await this.#playAudio(i, segment);
      else if (segment.kind === "function_call") {
        await this.#playFunctionCall(i, segment);
      } else this.#playApprovalRequest(i, segment);
      i++;
    }
    this.#end("completed", null);
  }

  async #playAudio(
    index: number,
    segment: Extract<Segment, { kind: "audio" }>,
  ): Promise<void> {
    const itemId = this.itemIds[index];
    const host = this.#host;
    const format = host.session().audio?.output?.format;
    const item = assistantItem(itemId, "in_progress", []);
    const previous = host.conversation.append(item, {
      bytesPerMs: bytesPerMs(format),
    });
    this.#added(index, item, previous);
    const part = {
      response_id: this.id,
      item_id: itemId,
      output_index: index,
      content_index: 0,
    };
    const transcript = segment.transcript;
    this.#emit({
      type: "response.content_part.added",
      ...part,
      part: { type: "audio", transcript: "" },
    });
    if (transcript) {
      this.#emit({
        type: "response.output_audio_transcript.delta",
        ...part,
        delta: transcript,
      });
    }
    const close = (status: ItemStatus) => {
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
      this.#itemDone(
        index,
        assistantItem(itemId, status, [{ type: "output_audio", transcript }]),
        previous,
      );
    };
    this.#open.set(index, close);

    const { audio, chunkBytes } = segment;
    for (let offset = 0; offset < audio.length; offset += chunkBytes) {
      // One delta per macrotask at least, like a network would deliver them.
      await sleep(offset === 0 ? 0 : segment.intervalMs, this.#abort.signal);
      if (this.#ended) return;
      const chunk = audio.subarray(offset, offset + chunkBytes);
      const record = host.conversation.items.get(itemId);
      if (record) record.audioBytes += chunk.length;
      host.audioSent();
      this.#emit({
        type: "response.output_audio.delta",
        ...part,
        delta: segment.payload?.(offset / chunkBytes, chunk) ??
          chunk.toBase64(),
      });
    }
    if (audio.length === 0) {
      await sleep(0, this.#abort.signal);
      if (this.#ended) return;
    }
    this.#open.delete(index);
    close("completed");
  }

  async #playFunctionCall(
    index: number,
    segment: Extract<Segment, { kind: "function_call" }>,
  ): Promise<void> {
    const itemId = this.itemIds[index];
    const callId = segment.callId;
    const item = (
      status: "in_progress" | ItemStatus,
      args: string,
    ): RealtimeConversationItemFunctionCall & { id: string } => ({
      id: itemId,
      object: "realtime.item",
      type: "function_call",
      status,
      name: segment.name,
      call_id: callId,
      arguments: args,
    });
    const previous = this.#host.conversation.append(item("in_progress", ""));
    this.#added(index, item("in_progress", ""), previous);
    this.#open.set(
      index,
      (status) => this.#itemDone(index, item(status, ""), previous),
    );
    // The arguments stream a moment later, as the model generates them.
    await sleep(0, this.#abort.signal);
    if (this.#ended) return;
    const ids = {
      response_id: this.id,
      item_id: itemId,
      output_index: index,
      call_id: callId,
    };
    for (const delta of deltasOf(segment.arguments)) {
      this.#emit({
        type: "response.function_call_arguments.delta",
        ...ids,
        delta,
      });
    }
    this.#emit({
      type: "response.function_call_arguments.done",
      ...ids,
      name: segment.name,
      arguments: segment.arguments,
    });
    this.#open.delete(index);
    this.#itemDone(index, item("completed", segment.arguments), previous);
  }

  async #playMcpCalls(from: number, to: number): Promise<void> {
    const calls: Array<{
      index: number;
      segment: Extract<Segment, { kind: "mcp_call" }>;
      previous: string | null;
    }> = [];
    for (let index = from; index < to; index++) {
      const segment = this.#segments[index];
      if (segment.kind !== "mcp_call") continue;
      const item = this.#mcpItem(index, segment, "", null, null);
      const previous = this.#host.conversation.append(item);
      this.#added(index, item, previous);
      const ids = {
        response_id: this.id,
        item_id: item.id,
        output_index: index,
      };
      for (const delta of deltasOf(segment.arguments)) {
        this.#emit({
          type: "response.mcp_call_arguments.delta",
          ...ids,
          delta,
        });
      }
      this.#emit({
        type: "response.mcp_call_arguments.done",
        ...ids,
        arguments: segment.arguments,
      });
      this.#emit({
        type: "response.mcp_call.in_progress",
        item_id: item.id,
        output_index: index,
      });
      // Cancelled mid-call: the item ends with neither output nor error.
      this.#open.set(
        index,
        () =>
          this.#itemDone(
            index,
            this.#mcpItem(index, segment, segment.arguments, null, null),
            previous,
          ),
      );
      calls.push({ index, segment, previous });
    }
    // The API runs the calls concurrently; each ends after its own duration.
    const byDuration = [...calls].sort((a, b) =>
      a.segment.durationMs - b.segment.durationMs
    );
    let elapsed = 0;
    for (const { index, segment, previous } of byDuration) {
      await sleep(segment.durationMs - elapsed, this.#abort.signal);
      if (this.#ended) return;
      elapsed = segment.durationMs;
      const itemId = this.itemIds[index];
      this.#emit({
        type: segment.error
          ? "response.mcp_call.failed"
          : "response.mcp_call.completed",
        item_id: itemId,
        output_index: index,
      });
      this.#open.delete(index);
      this.#itemDone(
        index,
        this.#mcpItem(
          index,
          segment,
          segment.arguments,
          segment.error ? null : segment.output,
          segment.error,
        ),
        previous,
      );
    }
  }

  #playApprovalRequest(
    index: number,
    segment: Extract<Segment, { kind: "mcp_approval_request" }>,
  ): void {
    const item: RealtimeMcpApprovalRequest = {
      id: this.itemIds[index],
      type: "mcp_approval_request",
      server_label: segment.serverLabel,
      name: segment.name,
      arguments: segment.arguments,
    };
    const conversation = this.#host.conversation;
    const previous = conversation.append(item);
    conversation.approvalRequests.set(item.id, {
      id: item.id,
      serverLabel: segment.serverLabel,
      name: segment.name,
      arguments: segment.arguments,
      consumed: false,
    });
    this.#added(index, item, previous);
    this.#itemDone(index, item, previous);
  }

  // --- events --------------------------------------------------------------

  #mcpItem(
    index: number,
    segment: Extract<Segment, { kind: "mcp_call" }>,
    args: string,
    output: string | null,
    error: McpCallError | null,
  ): RealtimeMcpToolCall {
    return {
      id: this.itemIds[index],
      type: "mcp_call",
      server_label: segment.serverLabel,
      name: segment.name,
      arguments: args,
      approval_request_id: segment.approvalRequestId,
      output,
      error,
    };
  }

  #added(index: number, item: ItemWithId, previous: string | null): void {
    this.#output[index] = item;
    this.#emit({
      type: "response.output_item.added",
      response_id: this.id,
      output_index: index,
      item,
    });
    this.#emit({
      type: "conversation.item.added",
      previous_item_id: previous,
      item,
    });
  }

  #itemDone(index: number, item: ItemWithId, previous: string | null): void {
    this.#output[index] = item;
    this.#host.conversation.update(item);
    this.#emit({
      type: "response.output_item.done",
      response_id: this.id,
      output_index: index,
      item,
    });
    this.#emit({
      type: "conversation.item.done",
      previous_item_id: previous,
      item,
    });
  }

  #end(status: ResponseStatus, details: RealtimeResponseStatus | null): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#abort.abort();
    const closing = status === "completed" ? "completed" : "incomplete";
    for (const close of this.#open.values()) close(closing);
    this.#open.clear();
    this.usage = this.#usage();
    this.#emit({
      type: "response.done",
      response: this.#response(status, details),
    });
    this.#host.ended(this);
    this.#resolve(status);
  }

  #emit(event: ServerEventBody): void {
    this.#host.emit(event);
  }

  /** The conversation it read, and what it wrote: the items of its output, as far as they went. */
  #usage(): RealtimeResponseUsage {
    const output = { text: 0, audio: 0 };
    for (const id of this.itemIds) {
      const record = this.#host.conversation.items.get(id);
      if (!record) continue;
      const tokens = itemTokens(record);
      output.text += tokens.text;
      output.audio += tokens.audio;
    }
    const context = this.#context ?? {
      input: { text: 0, audio: 0 },
      cached: { text: 0, audio: 0 },
    };
    return responseUsage(context.input, context.cached, output);
  }

  #response(
    status: ResponseStatus | "in_progress",
    details: RealtimeResponseStatus | null = null,
  ): RealtimeResponse {
    return responseObject(
      this.#host.session(),
      this.#host.conversation.id,
      this.id,
      status,
      details,
      this.#output.filter((item) => item !== undefined),
      this.#host.metadata,
      status === "in_progress" ? undefined : this.usage,
    );
  }
}

export function assistantItem(
  id: string,
  status: "in_progress" | ItemStatus,
  content: RealtimeConversationItemAssistantMessage.Content[],
): RealtimeConversationItemAssistantMessage & { id: string } {
  return {
    id,
    object: "realtime.item",
    type: "message",
    role: "assistant",
    status,
    content,
  };
}

/**
 * The response resource. `status_details` and `usage` are left out rather
 * than null: the openai types make them optional, not nullable.
 */
export function responseObject(
  session: SimSession,
  conversationId: string,
  id: string,
  status: ResponseStatus | "in_progress",
  details: RealtimeResponseStatus | null,
  output: ConversationItem[],
  metadata: Record<string, string> | null,
  usage?: RealtimeResponseUsage,
): RealtimeResponse {
  const out = session.audio?.output;
  return {
    object: "realtime.response",
    id,
    status,
    ...(details ? { status_details: details } : {}),
    output,
    conversation_id: conversationId,
    output_modalities: session.output_modalities,
    max_output_tokens: session.max_output_tokens,
    audio: { output: { format: out?.format, voice: out?.voice } },
    ...(status === "in_progress" ? {} : {
      usage: usage ??
        { total_tokens: 0, input_tokens: 0, output_tokens: 0 },
    }),
    metadata,
  };
}
