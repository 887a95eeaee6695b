/**
 * The OpenAI Realtime (GA) engine of one call: turns the API's events into
 * what the bridge acts on, and the bridge's requests into client events.
 * Owns what is Realtime-specific: the one-active-response rule (every
 * `response.create` goes through the scheduler), the follow-up after MCP
 * calls, function calls, truncating and cancelling on barge-in, which
 * response says the goodbye, and which errors end the session.
 */

import {
  type EngineEnd,
  type EngineListener,
  upstreamClosed,
  type VoiceEngine,
} from "../call/engine.ts";
import { GoodbyePlan, type GoodbyeStep } from "./goodbye_plan.ts";
import type { HeardPosition } from "../call/playback_ledger.ts";
import type { UpstreamPort } from "../upstream/port.ts";
import {
  type ResponseReason,
  type ResponseRequest,
  ResponseScheduler,
} from "./response_scheduler.ts";
import { DEFAULT_REALTIME_MODEL } from "../config.ts";
import type { Logger } from "../log.ts";
import type { ToolBox, ToolOutcome } from "../tools/toolbox.ts";
import {
  clientEvents,
  parseServerEvent,
  type RealtimeError,
  type ServerEvent,
} from "./events.ts";
import { TRANSCRIPTION_MODEL } from "./configured_models.ts";
import { GREETING_REQUEST } from "./session.ts";
import { SESSION_RETRY_EVENT, SESSION_SETUP_EVENT } from "./session_setup.ts";

export interface RealtimeEngineOptions {
  logger: Logger;
  /** The function tools this server runs (end_call and the rest). */
  tools: ToolBox;
  /** The call the tools run for. */
  callSid: string;
  /** The greeting's response.create went out with the session (GREETING set). */
  greetingRequested?: boolean;
  /** The session's model, which prices its usage (OPENAI_REALTIME_MODEL). */
  model?: string;
}

export const END_CALL_GOODBYE =
  "You are hanging up the call now: say a brief goodbye to the caller.";
export function toolsUnavailableNote(server: string): string {
  return `Your ${server} tools (Todoist, Gmail and the rest) could not be reached and are unavailable on this call. ` +
    "If the caller asks for something that needs them, say plainly that you cannot reach those tools right now; never pretend to have used them.";
}
export function dtmfNote(digits: string): string {
  return `(The caller pressed ${digits} on the phone keypad.)`;
}

/**
 * Errors that really end the session: expiry and authentication. The API
 * documents the rest (server_error, a refused client event...) as
 * recoverable with the session still open, and a socket that closes ends
 * the call by itself.
 */
const FATAL_ERROR_CODES = new Set([
  "session_expired",
  "invalid_api_key",
  "session_not_found",
]);
function isFatal(error: RealtimeError): boolean {
  return FATAL_ERROR_CODES.has(error.code) || refusesSession(error);
}
/** A bad key: a resumed session would be refused the same way. */
function refusesSession(error: RealtimeError): boolean {
  return error.code === "invalid_api_key" ||
    error.type === "authentication_error";
}

/** Interrupted responses remembered so their late deltas are dropped. */
const MAX_INTERRUPTED = 4;

export class RealtimeEngine implements VoiceEngine {
  readonly #upstream: UpstreamPort;
  readonly #logger: Logger;
  readonly #responses: ResponseScheduler;
  readonly #goodbye = new GoodbyePlan();
  readonly #tools: ToolBox;
  readonly #callSid: string;
  readonly #model: string;
  #listener: EngineListener | undefined;
  #lastAudioResponse: string | undefined;
  /** Responses interrupted by the caller: their late deltas are dropped. */
  #interrupted: string[] = [];
  /** The server of each `mcp_list_tools` item, and its tool count once known. */
  #toolLists = new Map<
    string,
    { server: string; tools?: number; completed?: boolean }
  >();
  #over = false;
  /**
   * The first session.update was refused: until session.updated shows G.711
   * µ-law both ways, the session runs on its defaults (src/realtime/session_setup.ts).
   */
  #onDefaults = false;

  constructor(upstream: UpstreamPort, options: RealtimeEngineOptions) {
    this.#upstream = upstream;
    this.#logger = options.logger;
    this.#tools = options.tools;
    this.#callSid = options.callSid;
    this.#model = options.model ?? DEFAULT_REALTIME_MODEL;
    this.#responses = new ResponseScheduler(
      options.greetingRequested
        ? { eventId: GREETING_REQUEST, reasons: ["greeting"] }
        : undefined,
    );
  }

  get isOpen(): boolean {
    return this.#upstream.isOpen;
  }

  get opened(): Promise<number> {
    return this.#upstream.opened;
  }

  get closed(): Promise<void> {
    return this.#upstream.closed;
  }

  get startedAt(): number {
    return this.#upstream.startedAt;
  }

  attach(listener: EngineListener): void {
    this.#listener = listener;
    this.#upstream.attach({
      message: (data) => this.#onFrame(data),
      closed: (reason) => this.#end(upstreamClosed(reason), reason),
    });
  }

  callerAudio(payload: string): void {
    this.#upstream.send(clientEvents.appendAudio(payload));
  }

  callerKeys(digits: string): void {
    this.#upstream.send(clientEvents.userMessage(dtmfNote(digits)));
    this.#request("dtmf");
  }

  interrupted(heard: HeardPosition[]): void {
    // Every item still queued at the caller: the playing one at what was
    // heard, later ones at 0, so the model's context holds only what was said.
    for (const { itemId, audioEndMs } of heard) {
      this.#upstream.send(clientEvents.truncate(itemId, audioEndMs));
    }
    const active = this.#responses.activeResponseId;
    if (active !== undefined) {
      this.#upstream.send(clientEvents.cancelResponse());
      this.#interrupted.push(active);
      if (this.#interrupted.length > MAX_INTERRUPTED) this.#interrupted.shift();
      this.#responses.cancelled();
    }
  }

  sayGoodbye(instruction: string): void {
    this.#take(this.#goodbye.begin(instruction));
  }

  close(): void {
    this.#over = true;
    this.#upstream.close();
  }

  #onFrame(data: unknown): void {
    if (this.#over) return;
    const parsed = parseServerEvent(data);
    if (!parsed.ok) {
      this.#logger.log("warn", "upstream.bad_event", { reason: parsed.reason });
      return;
    }
    this.#onEvent(parsed.event, this.#listener!);
  }

  #onEvent(event: ServerEvent, listener: EngineListener): void {
    switch (event.type) {
      case "response.output_audio.delta":
        // Audio of a session still on its defaults (PCM16) would be noise.
        if (this.#onDefaults) return;
        if (this.#interrupted.includes(event.responseId)) return;
        this.#lastAudioResponse = event.responseId;
        listener.audio(event.itemId, event.delta);
        return;
      case "input_audio_buffer.speech_started":
        this.#responses.speechStarted();
        listener.callerStartedSpeaking();
        return;
      case "input_audio_buffer.speech_stopped":
        listener.callerStoppedSpeaking();
        this.#send(this.#responses.speechStopped());
        return;
      case "response.created":
        this.#responses.created(event.responseId, event.tag);
        this.#goodbye.responseCreated(
          event.responseId,
          this.#responses.reasonsOf(event.responseId).includes("goodbye"),
        );
        return;
      case "response.done":
        this.#onResponseDone(event);
        return;
      case "response.function_call_arguments.done":
        this.#onFunctionCall(event);
        return;
      case "response.mcp_call.in_progress":
        listener.toolStarted();
        return;
      case "tool_call.done":
        this.#logger.log(event.failed ? "warn" : "info", "tool_call", {
          kind: event.kind,
          name: event.name,
          server: event.server || undefined,
          failed: event.failed,
          errorType: event.errorType,
        });
        listener.toolCall({
          name: event.name,
          server: event.server,
          failed: event.failed,
          errorType: event.errorType,
          ...(event.result === undefined ? {} : { result: event.result }),
        });
        return;
      case "mcp_list_tools.item":
        this.#onToolList(event.itemId, event.server, event.tools);
        return;
      case "mcp_list_tools.completed":
        this.#onToolList(event.itemId, undefined, undefined, true);
        return;
      case "mcp_list_tools.failed":
        this.#onToolListFailed(event.itemId, listener);
        return;
      case "mcp_approval_request":
        // The session asks for no approvals (require_approval: "never"), so
        // one that arrives anyway is approved as configured, never left pending.
        this.#logger.log("warn", "mcp.approval_request", {
          server: event.server,
          name: event.name,
          approved: true,
        });
        this.#upstream.send(clientEvents.mcpApprovalResponse(event.id, true));
        this.#request("mcp_follow_up");
        return;
      case "input_transcription.completed":
        if (event.transcript) listener.transcript("caller", event.transcript);
        // Transcription is billed apart from the session's model.
        if (event.usage) {
          listener.usage(
            "seconds" in event.usage
              ? {
                kind: "duration",
                model: TRANSCRIPTION_MODEL,
                seconds: event.usage.seconds,
              }
              : {
                kind: "tokens",
                model: TRANSCRIPTION_MODEL,
                tokens: event.usage.tokens,
              },
          );
        }
        return;
      case "response.output_audio_transcript.delta":
        // Kept as the line in progress: a crash mid-answer still leaves it.
        if (event.delta) listener.transcriptDelta?.(event.itemId, event.delta);
        return;
      case "response.output_audio_transcript.done":
        if (event.transcript) {
          listener.transcript("assistant", event.transcript);
        }
        return;
      case "error":
        this.#onError(event.error);
        return;
      case "session.updated":
        if (
          event.formats.input === "audio/pcmu" &&
          event.formats.output === "audio/pcmu"
        ) this.#onDefaults = false;
        return;
      case "session.created":
      case "ignored":
        return;
    }
  }

  #onResponseDone(
    event: Extract<ServerEvent, { type: "response.done" }>,
  ): void {
    const { responseId, status } = event;
    if (status === "failed") {
      this.#logger.log("warn", "response.failed", { responseId });
    }
    // Every response is billed, cancelled ones too: each reports its own tokens.
    if (event.usage) {
      this.#listener?.usage({
        kind: "tokens",
        model: this.#model,
        tokens: event.usage,
      });
    }
    this.#take(
      this.#goodbye.responseDone(
        responseId,
        this.#lastAudioResponse === responseId,
      ),
    );
    // The API ran the MCP calls and ended the response; it does not answer
    // by itself (completed or failed), so one follow-up is asked for.
    if (event.mcpCalls > 0) this.#request("mcp_follow_up");
    this.#send(this.#responses.done(responseId));
  }

  #onFunctionCall(
    call: Extract<
      ServerEvent,
      { type: "response.function_call_arguments.done" }
    >,
  ): void {
    const outcome = this.#tools.run(call.name, call.arguments, {
      callSid: this.#callSid,
    });
    // end_call answers at once, while its response may still be active: the
    // goodbye is the one that response says.
    if (outcome instanceof Promise) {
      outcome.then((result) => this.#answer(call, result));
    } else {
      this.#answer(call, outcome);
    }
  }

  /** Sends a function call's output; the model answers with it, unless it hung up. */
  #answer(
    call: { callId: string; name: string; responseId: string },
    outcome: ToolOutcome,
  ): void {
    if (this.#over) return;
    this.#upstream.send(
      clientEvents.functionCallOutput(
        call.callId,
        JSON.stringify(outcome.output),
      ),
    );
    if (!outcome.hangUp) {
      this.#request("function_output");
      return;
    }
    // A second end_call (parallel tool calls) changes nothing.
    if (this.#goodbye.started) return;
    this.#listener?.hangUpRequested();
    const saying = this.#responses.activeResponseId === call.responseId
      ? call.responseId
      : undefined;
    this.#take(this.#goodbye.begin(END_CALL_GOODBYE, saying));
  }

  #take(step: GoodbyeStep | undefined): void {
    if (step?.kind === "request") {
      this.#upstream.send(clientEvents.systemMessage(step.instruction));
      this.#request("goodbye");
    } else if (step?.kind === "said") {
      this.#listener?.goodbyeSaid();
    }
  }

  /** Every response.create goes through the scheduler. */
  #request(reason: ResponseReason): void {
    // Once the goodbye is said, nothing more is asked of the model.
    if (this.#goodbye.said) return;
    this.#send(this.#responses.request(reason));
  }

  #send(request: ResponseRequest | undefined): void {
    if (!request || this.#over) return;
    this.#upstream.send(clientEvents.createResponse(request.eventId));
  }

  #onToolList(
    itemId: string,
    server: string | undefined,
    tools: number | undefined,
    completed = false,
  ): void {
    const list = this.#toolLists.get(itemId) ?? { server: "" };
    if (server) list.server = server;
    if (tools !== undefined) list.tools = tools;
    const logNow = (completed || list.completed) && list.tools !== undefined;
    list.completed ||= completed;
    this.#toolLists.set(itemId, list);
    if (logNow) {
      this.#logger.log("info", "mcp.tools_listed", {
        server: list.server || undefined,
        tools: list.tools,
      });
      this.#toolLists.delete(itemId);
    }
  }

  #onToolListFailed(itemId: string, listener: EngineListener): void {
    const server = this.#toolLists.get(itemId)?.server || "MCP";
    this.#toolLists.delete(itemId);
    this.#logger.log("warn", "mcp.tools_unavailable", { server });
    listener.toolsUnavailable(server);
    this.#upstream.send(
      clientEvents.systemMessage(toolsUnavailableNote(server)),
    );
  }

  #onError(error: RealtimeError): void {
    if (
      error.eventId === SESSION_SETUP_EVENT ||
      error.eventId === SESSION_RETRY_EVENT
    ) {
      // The upstream retries once without the optional fields, then fails.
      this.#onDefaults = true;
      this.#logger.log("warn", "session.field_refused", {
        field: error.param || undefined,
        code: error.code,
        retrying: error.eventId === SESSION_SETUP_EVENT,
        message: error.message.slice(0, 200),
      });
      return;
    }
    if (error.code === "conversation_already_has_active_response") {
      // Our create lost a race (server VAD answered first): it waits again.
      this.#logger.log("info", "response.deferred", { eventId: error.eventId });
      this.#send(this.#responses.refused(error.eventId));
      return;
    }
    const fatal = isFatal(error);
    // The API may cancel an interrupted response itself before ours arrives.
    if (error.code !== "response_cancel_not_active") {
      this.#logger.log(fatal ? "error" : "warn", "upstream.error", {
        type: error.type,
        code: error.code || undefined,
        eventId: error.eventId || undefined,
        message: error.message.slice(0, 200),
      });
    }
    if (fatal) {
      this.#end(
        refusesSession(error) ? "upstream refused" : "upstream error",
        error.code || error.type,
      );
      return;
    }
    // A create refused for another reason must not leave the scheduler waiting.
    if (error.eventId) this.#send(this.#responses.failed(error.eventId));
  }

  #end(reason: EngineEnd, detail: string): void {
    if (this.#over) return;
    this.#over = true;
    this.#listener?.ended(reason, detail);
  }
}
