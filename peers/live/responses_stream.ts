/**
 * One delegated Responses API response as GPT-Live streams it: each nested
 * Responses event wrapped in a `response.event` with the delegation's id.
 * The nested events are typed with the official Responses stream event
 * types; lifecycle snapshots are cleared ("omit input and clear
 * instructions, tools, and output"), as the live types document.
 *
 * @module
 */
import type { ResponseEvent } from "openai/resources/live/live";
import type {
  Response,
  ResponseCompletedEvent,
  ResponseContentPartAddedEvent,
  ResponseContentPartDoneEvent,
  ResponseCreatedEvent,
  ResponseFunctionCallArgumentsDeltaEvent,
  ResponseFunctionCallArgumentsDoneEvent,
  ResponseFunctionToolCall,
  ResponseInProgressEvent,
  ResponseOutputItemAddedEvent,
  ResponseOutputItemDoneEvent,
  ResponseOutputMessage,
  ResponseTextDeltaEvent,
  ResponseTextDoneEvent,
} from "openai/resources/responses/responses";
import { newId } from "./common.ts";

/** `output_text` is an SDK convenience computed client-side, not wire data. */
export type WireResponse = Omit<Response, "output_text">;

type Lifecycle =
  | ResponseCreatedEvent
  | ResponseInProgressEvent
  | ResponseCompletedEvent;
type OnWire<E> = E extends Lifecycle ? Omit<E, "response"> & {
    response: WireResponse;
  }
  : E;

/** Every nested Responses event the simulator streams. */
export type NestedEvent = OnWire<
  | Lifecycle
  | ResponseOutputItemAddedEvent
  | ResponseOutputItemDoneEvent
  | ResponseFunctionCallArgumentsDeltaEvent
  | ResponseFunctionCallArgumentsDoneEvent
  | ResponseContentPartAddedEvent
  | ResponseContentPartDoneEvent
  | ResponseTextDeltaEvent
  | ResponseTextDoneEvent
>;

export interface StreamedCall {
  itemId: string;
  callId: string;
  name: string;
  arguments: string;
}

export interface BackendSettings {
  model: string;
  parallelToolCalls: boolean;
  toolChoice: Response["tool_choice"];
  maxOutputTokens: number | null;
}

/** Splits text into streamed deltas that join back to it. */
function deltas(text: string, size = 24): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) {
    parts.push(text.slice(i, i + size));
  }
  return parts.length ? parts : [""];
}

export class ResponseStream {
  readonly id = newId("resp");
  readonly delegationId: string;
  #sequence = 0;
  #outputIndex = 0;
  #outputChars = 0;
  #settings: BackendSettings;
  #send: (event: ResponseEvent) => void;
  #createdAt = Math.floor(Date.now() / 1000);
  #done = false;

  constructor(
    delegationId: string,
    settings: BackendSettings,
    send: (event: ResponseEvent) => void,
  ) {
    this.delegationId = delegationId;
    this.#settings = settings;
    this.#send = send;
  }

  get finished(): boolean {
    return this.#done;
  }

  /** response.created, then response.in_progress. */
  start(): void {
    this.#emit({
      type: "response.created",
      sequence_number: this.#next(),
      response: this.#snapshot("in_progress"),
    });
    this.#emit({
      type: "response.in_progress",
      sequence_number: this.#next(),
      response: this.#snapshot("in_progress"),
    });
  }

  /**
   * A function call item: added in progress with empty arguments, the
   * arguments streamed, then done with the completed item. A probe of the
   * real API (2026-09-12) saw the same call three times: added, arguments
   * done, item done.
   */
  functionCall(call: StreamedCall): void {
    const outputIndex = this.#outputIndex++;
    const item = (
      status: ResponseFunctionToolCall["status"],
      args: string,
    ): ResponseFunctionToolCall => ({
      id: call.itemId,
      type: "function_call",
      status,
      arguments: args,
      call_id: call.callId,
      name: call.name,
    });
    this.#emit({
      type: "response.output_item.added",
      sequence_number: this.#next(),
      output_index: outputIndex,
      item: item("in_progress", ""),
    });
    for (const delta of deltas(call.arguments)) {
      this.#emit({
        type: "response.function_call_arguments.delta",
        sequence_number: this.#next(),
        output_index: outputIndex,
        item_id: call.itemId,
        delta,
      });
    }
    this.#emit({
      type: "response.function_call_arguments.done",
      sequence_number: this.#next(),
      output_index: outputIndex,
      item_id: call.itemId,
      arguments: call.arguments,
    });
    this.#emit({
      type: "response.output_item.done",
      sequence_number: this.#next(),
      output_index: outputIndex,
      item: item("completed", call.arguments),
    });
    this.#outputChars += call.arguments.length;
  }

  /** An assistant message item with its text streamed. */
  message(text: string): void {
    const outputIndex = this.#outputIndex++;
    const itemId = newId("msg");
    const message = (
      status: ResponseOutputMessage["status"],
      content: ResponseOutputMessage["content"],
    ): ResponseOutputMessage => ({
      id: itemId,
      type: "message",
      role: "assistant",
      status,
      content,
    });
    const part = (t: string) => ({
      type: "output_text" as const,
      text: t,
      annotations: [],
    });
    this.#emit({
      type: "response.output_item.added",
      sequence_number: this.#next(),
      output_index: outputIndex,
      item: message("in_progress", []),
    });
    this.#emit({
      type: "response.content_part.added",
      sequence_number: this.#next(),
      output_index: outputIndex,
      item_id: itemId,
      content_index: 0,
      part: part(""),
    });
    for (const delta of deltas(text)) {
      this.#emit({
        type: "response.output_text.delta",
        sequence_number: this.#next(),
        output_index: outputIndex,
        item_id: itemId,
        content_index: 0,
        delta,
        logprobs: [],
      });
    }
    this.#emit({
      type: "response.output_text.done",
      sequence_number: this.#next(),
      output_index: outputIndex,
      item_id: itemId,
      content_index: 0,
      text,
      logprobs: [],
    });
    this.#emit({
      type: "response.content_part.done",
      sequence_number: this.#next(),
      output_index: outputIndex,
      item_id: itemId,
      content_index: 0,
      part: part(text),
    });
    this.#emit({
      type: "response.output_item.done",
      sequence_number: this.#next(),
      output_index: outputIndex,
      item: message("completed", [part(text)]),
    });
    this.#outputChars += text.length;
  }

  /** response.completed, with usage and the cleared snapshot. */
  complete(): void {
    if (this.#done) return;
    this.#done = true;
    const output = Math.ceil(this.#outputChars / 4);
    // Token counts are rough: only their shape is modelled.
    const input = 200;
    this.#emit({
      type: "response.completed",
      sequence_number: this.#next(),
      response: {
        ...this.#snapshot("completed"),
        completed_at: Math.floor(Date.now() / 1000),
        usage: {
          input_tokens: input,
          input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
          output_tokens: output,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: input + output,
        },
      },
    });
  }

  #next(): number {
    return this.#sequence++;
  }

  #snapshot(status: NonNullable<Response["status"]>): WireResponse {
    const s = this.#settings;
    return {
      id: this.id,
      object: "response",
      created_at: this.#createdAt,
      status,
      model: s.model,
      access_programs: null,
      error: null,
      incomplete_details: null,
      // Cleared on the wire to keep messages small.
      instructions: null,
      tools: [],
      output: [],
      metadata: null,
      parallel_tool_calls: s.parallelToolCalls,
      temperature: null,
      top_p: null,
      tool_choice: s.toolChoice,
      max_output_tokens: s.maxOutputTokens,
    };
  }

  #emit(event: NestedEvent): void {
    this.#send({
      type: "response.event",
      event_id: newId("event"),
      delegation_id: this.delegationId,
      event: { ...event },
    });
  }
}
