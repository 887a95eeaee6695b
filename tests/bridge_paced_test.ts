/**
 * Paced playback, for engines that cannot truncate (GPT-Live): the bridge
 * keeps only a short window of audio queued at Twilio and holds the rest.
 */
import assert from "node:assert/strict";
import { CallBridge } from "../src/call/bridge.ts";
import type { EngineListener, VoiceEngine } from "../src/call/engine.ts";
import type { HeardPosition } from "../src/call/playback_ledger.ts";
import { CALL_SID, FakeClock, FakeTwilio } from "./helpers/bridge_harness.ts";
import { memoryLogger } from "./helpers/logs.ts";

/** An engine with a playback window that the test speaks for. */
class PacedEngine implements VoiceEngine {
  listener!: EngineListener;
  readonly isOpen = true;
  readonly opened = Promise.resolve(0);
  readonly closed = Promise.resolve();
  readonly startedAt = 0;
  readonly interruptions: HeardPosition[][] = [];
  goodbyes: string[] = [];
  constructor(readonly playbackWindowMs: number) {}
  attach(listener: EngineListener): void {
    this.listener = listener;
  }
  callerAudio(): void {}
  callerKeys(): void {}
  interrupted(heard: HeardPosition[]): void {
    this.interruptions.push(heard);
  }
  sayGoodbye(instruction: string): void {
    this.goodbyes.push(instruction);
  }
  close(): void {}
}

const CHUNK_20MS = new Uint8Array(160).fill(0x7f).toBase64();

function setUp(windowMs = 240) {
  const clock = new FakeClock();
  const twilio = new FakeTwilio();
  const engine = new PacedEngine(windowMs);
  const ended: string[] = [];
  const bridge = new CallBridge({
    twilio,
    engine,
    clock,
    expectedCallSid: CALL_SID,
    logger: memoryLogger(),
    limits: { maxCallMs: 60_000, startTimeoutMs: 10_000 },
    observer: { ended: (summary) => ended.push(summary.reason) },
  });
  twilio.start(CALL_SID);
  return { bridge, clock, twilio, engine, ended };
}

/** Acknowledges the oldest unacknowledged mark, as Twilio does when its audio has played. */
function playOne(twilio: FakeTwilio, acked: Set<string>): boolean {
  const mark = twilio.sent.find((m) =>
    m.event === "mark" && !acked.has((m.mark as { name: string }).name)
  );
  if (!mark) return false;
  const name = (mark.mark as { name: string }).name;
  acked.add(name);
  twilio.receive({
    event: "mark",
    streamSid: "MZ00000000000000000000000000000001",
    sequenceNumber: "5",
    mark: { name },
  });
  return true;
}

Deno.test("paced playback keeps only the window queued at Twilio and holds the rest", () => {
  const { twilio, engine } = setUp(240);
  // Two seconds of audio arrive at once (faster than real time).
  for (let i = 0; i < 100; i++) engine.listener.audio("", CHUNK_20MS);
  assert.equal(twilio.mediaBytes(), 240 * 8, "exactly the 240 ms window");
});

Deno.test("paced playback sends more as Twilio plays, until all of it is heard, in order", () => {
  const { twilio, engine, clock } = setUp(240);
  const chunks = Array.from(
    { length: 50 },
    (_, i) => new Uint8Array(160).fill(i).toBase64(),
  );
  for (const chunk of chunks) engine.listener.audio("", chunk);
  const acked = new Set<string>();
  let maxQueuedBytes = 0;
  for (;;) {
    const queued = twilio.mediaBytes() - acked.size * 160;
    maxQueuedBytes = Math.max(maxQueuedBytes, queued);
    clock.advance(20);
    if (!playOne(twilio, acked)) break;
  }
  const payloads = twilio.sent.filter((m) => m.event === "media")
    .map((m) => (m.media as { payload: string }).payload);
  assert.deepEqual(payloads, chunks);
  assert.ok(maxQueuedBytes <= 240 * 8, `${maxQueuedBytes} bytes queued`);
});

Deno.test("paced playback: an interruption drops what is held and clears Twilio", () => {
  const { twilio, engine } = setUp(240);
  for (let i = 0; i < 100; i++) engine.listener.audio("", CHUNK_20MS);
  engine.listener.callerStartedSpeaking();
  assert.equal(twilio.events().at(-1), "clear");
  const acked = new Set<string>();
  while (playOne(twilio, acked));
  assert.equal(twilio.mediaBytes(), 240 * 8, "nothing held is sent later");
});

Deno.test("paced playback: a hang-up waits until the held goodbye has played", () => {
  const { bridge, twilio, engine, ended } = setUp(240);
  bridge.hangUp("call time limit", "Say goodbye.");
  assert.deepEqual(engine.goodbyes, ["Say goodbye."]);
  for (let i = 0; i < 30; i++) engine.listener.audio("", CHUNK_20MS);
  engine.listener.goodbyeSaid();
  const acked = new Set<string>();
  while (playOne(twilio, acked)) {
    if (acked.size < 30) assert.deepEqual(ended, []);
  }
  assert.equal(twilio.mediaBytes(), 30 * 160);
  assert.deepEqual(ended, ["call time limit"]);
});
