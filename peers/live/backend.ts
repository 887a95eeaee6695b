/**
 * The Responses backend a GPT-Live session delegates to: delegations, the
 * function calls it makes, the outputs the client returns with
 * `response.item.create`, and the `response.create` that continues it —
 * refused with `function_call_outputs_required` while any call still lacks
 * an output, and queued (not refused) while a backend response is running.
 *
 * @module
 */
import type {
  DelegationCreatedEvent,
  ResponseEvent,
  ResponsesDelegationConfig,
} from "openai/resources/live/live";
import {
  type JsonObject,
  newId,
  type Problem,
  type ServerEventBody,
  utf8Length,
} from "./common.ts";
import { ResponseStream } from "./responses_stream.ts";
import { missingParameter } from "../schema.ts";

export interface FunctionCallSpec {
  name: string;
  /** JSON text, or a value to JSON-encode (default "{}"). */
  arguments?: string | JsonObject;
  /** Default: a fresh `call_…` id. */
  callId?: string;
}

export interface FunctionOutput {
  callId: string;
  /** The function the backend called. */
  name: string;
  delegationId: string;
  /** `output` as the client sent it (a string, or content parts). */
  output: unknown;
}

export interface FunctionCallHandle {
  delegationId: string;
  responseId: string;
  callIds: string[];
  itemIds: string[];
  /** Resolves with the outputs once the client's response.create continues. */
  answered: Promise<FunctionOutput[]>;
}

export interface CallOptions {
  /** Timeline position of session.delegation.created (default: now). */
  offsetMs?: number;
}

/** What the session gives the backend. */
export interface BackendHost {
  emit(event: ServerEventBody): void;
  /** The session's Responses delegation settings, or null if it has none. */
  responses(): ResponsesDelegationConfig | null;
  timelineMs(): number;
  after(ms: number, fn: () => void): void;
  /** Runs the test's script for a response the client created. */
  scriptResponse(outputs: FunctionOutput[]): void;
}

export interface BackendLimits {
  /** Items appended with response.item.create per session (default 128). */
  items: number;
  /** UTF-8 bytes appended per session (default 32768). */
  bytes: number;
}

interface CallRecord {
  name: string;
  delegationId: string;
  output: FunctionOutput | null;
  /** A response.create has continued past this call. */
  continued: boolean;
  answered: { resolve: (outputs: FunctionOutput[]) => void };
}

function jsonText(value: string | JsonObject | undefined): string {
  if (value === undefined) return "{}";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export class Backend {
  readonly functionOutputs: FunctionOutput[] = [];
  /** Every item the client appended with response.item.create. */
  readonly items: JsonObject[] = [];
  /** Delegations handed to the client (client delegation). */
  readonly clientDelegations = new Set<string>();
  #host: BackendHost;
  #limits: BackendLimits;
  #queuedDelayMs: number;
  #calls = new Map<string, CallRecord>();
  #open: ResponseStream | null = null;
  #queued = 0;
  #appendedBytes = 0;

  constructor(host: BackendHost, limits: BackendLimits, queuedDelayMs: number) {
    this.#host = host;
    this.#limits = limits;
    this.#queuedDelayMs = queuedDelayMs;
  }

  /** The backend response in progress (awaiting the script), if any. */
  get openResponse(): ResponseStream | null {
    return this.#open;
  }

  /** Calls issued and not yet continued past by a response.create. */
  get pendingCallIds(): string[] {
    return [...this.#calls].filter(([, c]) => !c.continued).map(([id]) => id);
  }

  /**
   * The backend calls functions. Inside a response the client created (the
   * script of onResponseCreate), the calls end that response; otherwise the
   * Live model delegates anew: session.delegation.created, then a response.
   */
  callFunction(
    calls: FunctionCallSpec | FunctionCallSpec[],
    options: CallOptions = {},
  ): FunctionCallHandle {
    const specs = Array.isArray(calls) ? calls : [calls];
    const config = this.#requireResponses();
    if (specs.length === 0) throw new Error("script at least one call");
    const declared = (config.tools ?? []).flatMap((t) =>
      t.type === "function" ? [t.name] : []
    );
    for (const spec of specs) {
      if (!declared.includes(spec.name)) {
        throw new Error(
          `the backend cannot call '${spec.name}': the delegation declares ${
            JSON.stringify(declared)
          }`,
        );
      }
      if (spec.callId && this.#calls.has(spec.callId)) {
        throw new Error(`call id ${spec.callId} was already issued`);
      }
    }
    if (config.tool_choice === "none") {
      throw new Error("tool_choice is 'none': the backend calls no tools");
    }
    if (specs.length > 1 && config.parallel_tool_calls === false) {
      throw new Error(
        "parallel_tool_calls is false: the backend makes one call per response",
      );
    }
    const stream = this.#open ?? this.#delegate(options.offsetMs);
    this.#open = null;
    let resolve: (outputs: FunctionOutput[]) => void = () => {};
    const answered = new Promise<FunctionOutput[]>((r) => resolve = r);
    // One resolver shared by the handle's calls.
    const box = { resolve };
    const callIds: string[] = [];
    const itemIds: string[] = [];
    for (const spec of specs) {
      const callId = spec.callId ?? newId("call");
      const itemId = newId("fc");
      callIds.push(callId);
      itemIds.push(itemId);
      this.#calls.set(callId, {
        name: spec.name,
        delegationId: stream.delegationId,
        output: null,
        continued: false,
        answered: box,
      });
      stream.functionCall({
        itemId,
        callId,
        name: spec.name,
        arguments: jsonText(spec.arguments),
      });
    }
    this.#finish(stream);
    return {
      delegationId: stream.delegationId,
      responseId: stream.id,
      callIds,
      itemIds,
      answered,
    };
  }

  /**
   * The backend's text answer ends the open response (the one a client
   * response.create started). Speaking it is the Live model's part.
   */
  reply(text: string): ResponseStream {
    const stream = this.#open;
    if (!stream) {
      throw new Error(
        "no backend response is open: reply() answers a client response.create (use it in onResponseCreate)",
      );
    }
    this.#open = null;
    stream.message(text);
    this.#finish(stream);
    return stream;
  }

  /** Ends the open response with no output (what an unscripted create gets). */
  completeEmpty(): void {
    const stream = this.#open;
    if (!stream) return;
    this.#open = null;
    this.#finish(stream);
  }

  /** Client delegation: metadata only, the task text is not included. */
  delegateToClient(offsetMs?: number): string {
    const id = newId("item");
    this.clientDelegations.add(id);
    this.#host.emit({
      type: "session.delegation.created",
      offset_ms: offsetMs ?? this.#host.timelineMs(),
      delegation: { id, type: "delegation", target: "client" },
    });
    return id;
  }

  /** `response.item.create`, after its schema passed. */
  onItemCreate(item: JsonObject): Problem | null {
    if (!this.#host.responses()) {
      return responsesRequired("response.item.create");
    }
    const bytes = utf8Length(JSON.stringify(item));
    if (
      this.items.length + 1 > this.#limits.items ||
      this.#appendedBytes + bytes > this.#limits.bytes
    ) {
      // Measured on the real API: the item is refused, and a call it was
      // answering stays unanswered.
      return {
        code: "response_input_buffer_full",
        message:
          `Responses input buffer is full: appended input is limited to ${this.#limits.items} items and ${this.#limits.bytes} UTF-8 bytes per session.`,
        param: "item",
      };
    }
    if (item.type === "function_call_output") {
      const problem = this.#acceptOutput(item);
      if (problem) return problem;
    }
    this.items.push(item);
    this.#appendedBytes += bytes;
    return null;
  }

  /** `response.create`. */
  onResponseCreate(): Problem | null {
    if (!this.#host.responses()) return responsesRequired("response.create");
    const missing = this.#missingOutputs();
    if (missing.length) {
      return {
        code: "function_call_outputs_required",
        message:
          `Function call outputs are required before a response can be created. Missing outputs for call_id: ${
            missing.join(", ")
          }.`,
      };
    }
    // Measured: a create while a delegation runs is queued, not refused.
    if (this.#open) {
      this.#queued++;
      return null;
    }
    this.#continue();
    return null;
  }

  #continue(): void {
    const pending = this.pendingCallIds.map((id) => this.#calls.get(id)!);
    for (const call of pending) call.continued = true;
    const last = pending.at(-1);
    // The continuation stays in the delegation that made the calls.
    let stream: ResponseStream;
    if (last) {
      stream = this.#stream(last.delegationId);
      stream.start();
    } else {
      stream = this.#delegate();
    }
    this.#open = stream;
    // Each callFunction handle learns the outputs of its own calls.
    const byHandle = new Map<CallRecord["answered"], FunctionOutput[]>();
    for (const call of pending) {
      const list = byHandle.get(call.answered) ?? [];
      if (call.output) list.push(call.output);
      byHandle.set(call.answered, list);
    }
    for (const [handle, outputs] of byHandle) handle.resolve(outputs);
    this.#host.scriptResponse(
      pending.flatMap((c) => c.output ? [c.output] : []),
    );
  }

  #missingOutputs(): string[] {
    return this.pendingCallIds.filter((id) => !this.#calls.get(id)?.output);
  }

  #acceptOutput(item: JsonObject): Problem | null {
    const callId = item.call_id;
    if (typeof callId !== "string") return missingParameter("item.call_id");
    const call = this.#calls.get(callId);
    if (!call || call.continued) {
      // Worded as the Responses API words it; the code is a guess.
      return {
        code: "invalid_value",
        message:
          `No tool call found for function call output with call_id ${callId}.`,
        param: "item.call_id",
      };
    }
    if (call.output) {
      return {
        code: "invalid_value",
        message: `Function call ${callId} already has an output.`,
        param: "item.call_id",
      };
    }
    call.output = {
      callId,
      name: call.name,
      delegationId: call.delegationId,
      output: item.output,
    };
    this.functionOutputs.push(call.output);
    return null;
  }

  #finish(stream: ResponseStream): void {
    stream.complete();
    if (this.#queued > 0) {
      this.#queued--;
      // Measured: the queued create opens its response ~150 ms after the
      // previous one ends. Calls made since then still need their outputs.
      this.#host.after(this.#queuedDelayMs, () => {
        if (this.#open) this.#queued++;
        else if (this.#missingOutputs().length === 0) this.#continue();
      });
    }
  }

  /** A new delegation: session.delegation.created, then its response. */
  #delegate(offsetMs?: number): ResponseStream {
    const delegationId = newId("item");
    const stream = this.#stream(delegationId);
    const delegation: DelegationCreatedEvent.Delegation = {
      id: delegationId,
      type: "delegation",
      target: "responses",
      response_id: stream.id,
    };
    this.#host.emit({
      type: "session.delegation.created",
      offset_ms: offsetMs ?? this.#host.timelineMs(),
      delegation,
    });
    stream.start();
    return stream;
  }

  #stream(delegationId: string): ResponseStream {
    const config = this.#requireResponses();
    const choice = config.tool_choice;
    return new ResponseStream(
      delegationId,
      {
        model: config.model,
        parallelToolCalls: config.parallel_tool_calls ?? true,
        toolChoice: typeof choice === "string" ? choice : "auto",
        maxOutputTokens: config.max_output_tokens ?? null,
      },
      (event: ResponseEvent) => this.#host.emit(event),
    );
  }

  #requireResponses(): ResponsesDelegationConfig {
    const config = this.#host.responses();
    if (!config) {
      throw new Error(
        "the session has no Responses delegation (delegation.type 'responses')",
      );
    }
    return config;
  }
}

function responsesRequired(event: string): Problem {
  return {
    code: "responses_delegation_required",
    message:
      `${event} requires Responses delegation; this session's delegation is not 'responses'.`,
    param: "type",
  };
}
