/**
 * What the simulated model does on each call of the load, stepped every
 * 20 ms by the shared metronome once the call's session is known: an
 * answer every few seconds (staggered across calls) of 1–2 s of audio in
 * 100 ms deltas at real-time pace, each delta stamped with a send-time tag
 * as it leaves the simulator. On the Realtime engine one answer in
 * `bargeEvery` is interrupted by server VAD mid-playback; GPT-Live has no
 * speech-start event (its model handles interruptions itself), so its
 * answers play out.
 *
 * @module
 */

import type { FakeLiveSession } from "../peers/live/mod.ts";
import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import type { Engine } from "./options.ts";
import { type CallRecord, DELTA_BYTES, DELTA_TAIL } from "./probe.ts";

/** 20 ms ticks between two deltas of 100 ms (real-time pace). */
const TICKS_PER_DELTA = 5;
/** speech_started comes this many ticks after a delta, mid-playback. */
const BARGE_TICK = 2;
/** The delta after which an interrupted answer is interrupted. */
const BARGE_AFTER_DELTAS = 8;
/** The caller's speech after a barge-in lasts this many ticks (200 ms). */
const BARGE_SPEECH_TICKS = 10;
const TRANSCRIPT = "Sure, here is what I found for you.";
/** Audio of the longest answer (2 s); its bytes are never read. */
const SILENT = new Uint8Array(20 * DELTA_BYTES);

export interface AnswerPlan {
  /** 20 ms ticks between the starts of two answers of a call. */
  everyTicks: number;
  /** One answer in this many is interrupted (0: none; Realtime only). */
  bargeEvery: number;
}

/** The step of one call's model, every 20 ms. */
export type Answers = () => void;

export function answersFor(
  engine: Engine,
  session: FakeRealtimeSession | FakeLiveSession,
  record: CallRecord,
  plan: AnswerPlan,
): Answers {
  const answers = engine === "realtime"
    ? new RealtimeAnswers(session as FakeRealtimeSession, record, plan)
    : new LiveAnswers(session as FakeLiveSession, record, plan);
  return () => answers.step();
}

/** When a call's answers start, and how long each is: staggered across calls. */
class Schedule {
  /** 20 ms ticks since the session was linked. */
  tick = 0;
  /** Answers started. */
  answers = 0;
  readonly #record: CallRecord;
  readonly #every: number;
  #next: number;

  constructor(record: CallRecord, everyTicks: number) {
    this.#record = record;
    this.#every = everyTicks;
    // 0.5 s into the call at the earliest.
    this.#next = 25 + (record.index * 37) % everyTicks;
  }

  /** Whether the next answer is due (then it is counted as started). */
  due(): boolean {
    if (this.tick < this.#next) return false;
    this.#next += this.#every;
    this.answers++;
    return true;
  }

  /** The audio of the answer just started: 10–20 deltas (1–2 s). */
  audio(): Uint8Array {
    const n = this.answers - 1;
    const deltas = 10 + ((this.#record.index * 7 + n * 3) % 11);
    return SILENT.subarray(0, deltas * DELTA_BYTES);
  }

  /** Each delta's payload: the call's next tag, stamped as it is sent. */
  payload(): string {
    return this.#record.nextDeltaTag(performance.now()) + DELTA_TAIL;
  }
}

class RealtimeAnswers {
  readonly #session: FakeRealtimeSession;
  readonly #record: CallRecord;
  readonly #bargeEvery: number;
  readonly #schedule: Schedule;
  #speechStopTick = -1;
  #answer:
    | { id: string; sent: number; lastDeltaTick: number; bargeAfter: number }
    | undefined;

  constructor(
    session: FakeRealtimeSession,
    record: CallRecord,
    plan: AnswerPlan,
  ) {
    this.#session = session;
    this.#record = record;
    this.#bargeEvery = plan.bargeEvery;
    this.#schedule = new Schedule(record, plan.everyTicks);
  }

  step(): void {
    const tick = ++this.#schedule.tick;
    const answer = this.#answer;
    if (answer && this.#session.activeResponseId === answer.id) {
      if (
        answer.bargeAfter >= 0 && answer.sent >= answer.bargeAfter &&
        tick - answer.lastDeltaTick >= BARGE_TICK
      ) {
        answer.bargeAfter = -1;
        this.#bargeIn();
      }
    } else if (this.#schedule.due()) {
      this.#start();
    }
    if (tick === this.#speechStopTick) {
      this.#session.speechStopped();
      this.#session.callerSaid("Wait, one more thing.");
    }
  }

  #start(): void {
    const schedule = this.#schedule;
    const n = schedule.answers - 1;
    const interrupted = this.#bargeEvery > 0 &&
      (this.#record.index + n) % this.#bargeEvery === 0;
    const answer = {
      id: "",
      sent: 0,
      lastDeltaTick: schedule.tick,
      bargeAfter: interrupted ? BARGE_AFTER_DELTAS : -1,
    };
    this.#answer = answer;
    answer.id = this.#session.speak(schedule.audio(), {
      chunkBytes: DELTA_BYTES,
      intervalMs: TICKS_PER_DELTA * 20,
      transcript: TRANSCRIPT,
      payload: () => {
        answer.sent++;
        answer.lastDeltaTick = schedule.tick;
        return schedule.payload();
      },
    }).responseId;
  }

  /** Server VAD hears the caller over the answer; the API itself cancels the response. */
  #bargeIn(): void {
    const record = this.#record;
    // Only a barge-in over audio still playing at the edge must produce a clear.
    if (record.queuedBytes() > 0) record.bargeSentAt = performance.now();
    else record.bargesNotPlaying++;
    this.#session.speechStarted();
    this.#speechStopTick = this.#schedule.tick + BARGE_SPEECH_TICKS;
  }
}

class LiveAnswers {
  readonly #session: FakeLiveSession;
  readonly #schedule: Schedule;

  constructor(session: FakeLiveSession, record: CallRecord, plan: AnswerPlan) {
    this.#session = session;
    this.#schedule = new Schedule(record, plan.everyTicks);
  }

  step(): void {
    const schedule = this.#schedule;
    schedule.tick++;
    if (this.#session.speaking || !schedule.due()) return;
    // The Live model paces its own speech at real time.
    this.#session.speak(schedule.audio(), {
      chunkBytes: DELTA_BYTES,
      transcript: TRANSCRIPT,
      payload: () => schedule.payload(),
    });
  }
}
