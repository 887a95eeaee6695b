/**
 * Drives a CallBridge with its Realtime engine in-process: plain objects on
 * both ports and a clock the test advances by hand. The upstream side speaks OpenAI's wire events,
 * type-checked against the `openai` package's realtime types, so a test
 * cannot feed the bridge an event shape the API does not send.
 */
import type { RealtimeServerEvent } from "openai/resources/realtime/realtime";
import { type BridgeOptions, CallBridge } from "../../src/call/bridge.ts";
import type { Cancel, Clock } from "../../src/call/clock.ts";
import type { TwilioHandlers, TwilioPort } from "../../src/call/ports.ts";
import type {
  UpstreamHandlers,
  UpstreamPort,
} from "../../src/upstream/port.ts";
import type { CallObserver } from "../../src/call_vocabulary.ts";
import { RealtimeEngine } from "../../src/realtime/engine.ts";
import { endCall } from "../../src/tools/end_call.ts";
import { type ServerTool, ToolBox } from "../../src/tools/toolbox.ts";
import { isRecord } from "../../src/json.ts";
import { memoryLogger } from "./logs.ts";

/** A clock that moves only when the test says so. */
export class FakeClock implements Clock {
  #now = 0;
  #timers: { at: number; every?: number; run: () => void; id: number }[] = [];
  #ids = 0;

  now(): number {
    return this.#now;
  }

  after(ms: number, run: () => void): Cancel {
    return this.#add(ms, run);
  }

  every(ms: number, run: () => void): Cancel {
    return this.#add(ms, run, ms);
  }

  /** Moves time on by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const next = this.#timers.filter((t) => t.at <= until)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.#now = next.at;
      if (next.every) next.at += next.every;
      else this.#timers.splice(this.#timers.indexOf(next), 1);
      next.run();
    }
    this.#now = until;
  }

  #add(ms: number, run: () => void, every?: number): Cancel {
    const timer = { at: this.#now + ms, every, run, id: ++this.#ids };
    this.#timers.push(timer);
    return () => {
      const index = this.#timers.indexOf(timer);
      if (index >= 0) this.#timers.splice(index, 1);
    };
  }
}

type JsonObject = Record<string, unknown>;

/** The Twilio side: records what the bridge sends, plays marks back on demand. */
export class FakeTwilio implements TwilioPort {
  readonly sent: JsonObject[] = [];
  bufferedAmount = 0;
  closed = false;
  #handlers: TwilioHandlers | undefined;

  attach(handlers: TwilioHandlers): void {
    this.#handlers = handlers;
  }

  send(text: string): void {
    const message: unknown = JSON.parse(text);
    if (!isRecord(message)) throw new Error(`not an object: ${text}`);
    this.sent.push(message);
  }

  close(): void {
    this.closed = true;
  }

  /** Delivers a Media Streams message from Twilio. */
  receive(message: JsonObject): void {
    this.#handlers?.message(JSON.stringify(message));
  }

  start(
    callSid: string,
    streamSid = "MZ00000000000000000000000000000001",
  ): void {
    this.receive({
      event: "start",
      sequenceNumber: "1",
      streamSid,
      start: {
        streamSid,
        accountSid: "AC00000000000000000000000000000001",
        callSid,
        tracks: ["inbound"],
        customParameters: { caller: "+14155550123" },
        mediaFormat: {
          encoding: "audio/x-mulaw",
          sampleRate: 8000,
          channels: 1,
        },
      },
    });
  }

  dtmf(digit: string): void {
    this.receive({
      event: "dtmf",
      streamSid: "MZ00000000000000000000000000000001",
      sequenceNumber: "9",
      dtmf: { track: "inbound_track", digit },
    });
  }

  /** Echoes every mark sent so far, as Twilio does once their audio has played. */
  playAll(): void {
    for (const message of this.sent.filter((m) => m.event === "mark")) {
      const mark = message.mark as { name: string };
      if (this.#acked.has(mark.name)) continue;
      this.#acked.add(mark.name);
      this.receive({
        event: "mark",
        streamSid: "MZ00000000000000000000000000000001",
        sequenceNumber: "10",
        mark,
      });
    }
  }

  #acked = new Set<string>();

  hangUp(): void {
    this.#handlers?.closed();
  }

  /** The `event` names sent, in order. */
  events(): string[] {
    return this.sent.map((m) => String(m.event));
  }

  /** µ-law bytes of every `media` message sent. */
  mediaBytes(): number {
    return this.sent.filter((m) => m.event === "media")
      .reduce(
        (n, m) =>
          n + Uint8Array.fromBase64((m.media as { payload: string }).payload)
            .length,
        0,
      );
  }
}

/**
 * The voice engine's socket: records client events and delivers server
 * events typed as the vendor's (`Event`: Realtime's by default).
 */
export class FakeUpstream<Event extends { type: string } = RealtimeServerEvent>
  implements UpstreamPort {
  readonly sent: JsonObject[] = [];
  readonly startedAt = 0;
  isOpen = true;
  readonly opened = Promise.resolve(0);
  readonly closed = Promise.resolve();
  wasClosed = false;
  #handlers: UpstreamHandlers | undefined;
  #eventCounter = 0;

  attach(handlers: UpstreamHandlers): void {
    this.#handlers = handlers;
  }

  send(data: string): boolean {
    const event: unknown = JSON.parse(data);
    if (!isRecord(event)) throw new Error(`not an object: ${data}`);
    this.sent.push(event);
    return true;
  }

  close(): void {
    this.wasClosed = true;
  }

  /** Delivers a server event; `event_id` is filled in. */
  emit(event: DistributiveOmit<Event, "event_id">): void {
    this.#handlers?.message(
      JSON.stringify({ event_id: `event_${++this.#eventCounter}`, ...event }),
    );
  }

  dropped(reason = "upstream closed (1006)"): void {
    this.#handlers?.closed(reason);
  }

  /** Client events of `type`, in order. */
  ofType(type: string): JsonObject[] {
    return this.sent.filter((e) => e.type === type);
  }

  /** Every client event's type, in order. */
  types(): string[] {
    return this.sent.map((e) => String(e.type));
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K>
  : never;

export const CALL_SID = "CA00000000000000000000000000000001";

export interface Harness {
  bridge: CallBridge;
  clock: FakeClock;
  twilio: FakeTwilio;
  upstream: FakeUpstream;
  logs: ReturnType<typeof memoryLogger>;
  observed: { kind: string; value: unknown }[];
}

/** A bridge on fakes, its stream already started. */
export function startBridge(
  options:
    & Partial<Omit<BridgeOptions, "twilio" | "engine" | "clock">>
    & { greetingRequested?: boolean; tools?: ServerTool[] } = {},
): Harness {
  const clock = new FakeClock();
  const twilio = new FakeTwilio();
  const upstream = new FakeUpstream();
  const logs = memoryLogger();
  const observed: { kind: string; value: unknown }[] = [];
  const observer: CallObserver = {
    transcript: (role, text) => observed.push({ kind: role, value: text }),
    toolCall: (call) => observed.push({ kind: "tool", value: call }),
    mcpToolsUnavailable: (server) =>
      observed.push({ kind: "tools_unavailable", value: server }),
    ended: (summary) => observed.push({ kind: "ended", value: summary }),
  };
  const { greetingRequested, tools, ...bridgeOptions } = options;
  const engine = new RealtimeEngine(upstream, {
    logger: logs,
    tools: new ToolBox(tools ?? [endCall]),
    callSid: CALL_SID,
    greetingRequested,
  });
  const bridge = new CallBridge({
    twilio,
    engine,
    clock,
    expectedCallSid: CALL_SID,
    logger: logs,
    limits: { maxCallMs: 30 * 60_000, startTimeoutMs: 10_000 },
    observer,
    ...bridgeOptions,
  });
  twilio.start(CALL_SID);
  return { bridge, clock, twilio, upstream, logs, observed };
}
