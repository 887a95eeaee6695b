/**
 * The OpenAI side of the load: the peers' simulators in their lean mode
 * (peers/realtime, peers/live), each session linked to its call by the tag
 * of the first caller frame it receives, then stepped by that call's
 * scripted model (./answers.ts). Every caller frame that arrives is timed
 * here. The GPT-Live engine gets a Realtime simulator too: the server sends
 * its call summaries and model look-up to that host.
 *
 * @module
 */

import { FakeLive, type FakeLiveSession } from "../peers/live/mod.ts";
import { TEST_API_KEY } from "../peers/keys.ts";
import {
  FakeRealtime,
  type FakeRealtimeSession,
} from "../peers/realtime/mod.ts";
import { type AnswerPlan, answersFor } from "./answers.ts";
import type { Engine } from "./options.ts";
import { CALLER, type CallRecord, type Probe, readTag } from "./probe.ts";

export interface Upstream {
  realtime: FakeRealtime;
  live: FakeLive | undefined;
  /** Handshakes the engine's endpoint answered. */
  handshakes(): number;
  /** Error events the engine's simulator sent, by code. */
  errors(): Map<string, number>;
  close(): Promise<void>;
}

type Session = FakeRealtimeSession | FakeLiveSession;

export async function startUpstream(
  engine: Engine,
  probe: Probe,
  plan: AnswerPlan,
): Promise<Upstream> {
  const linked = new WeakMap<Session, CallRecord>();
  const onInputAudio = (session: Session, audio: Uint8Array) => {
    const now = performance.now();
    const tag = readTag(audio);
    if (!tag || tag.direction !== CALLER) return;
    const record = probe.calls[tag.call];
    if (!record) {
      probe.protocolError(`${engine}: audio of an unknown call`);
      return;
    }
    const known = linked.get(session);
    if (known === undefined) {
      linked.set(session, record);
      link(engine, session, record, plan);
    } else if (known !== record) {
      probe.protocolError(`${engine}: one session carries two calls' audio`);
      return;
    }
    probe.frameArrived(record, tag.seq, now);
  };
  const realtime = await FakeRealtime.start({
    apiKey: TEST_API_KEY,
    lean: true,
    onInputAudio,
  });
  const live = engine === "live"
    ? await FakeLive.start({ apiKey: TEST_API_KEY, lean: true, onInputAudio })
    : undefined;
  return {
    realtime,
    live,
    handshakes: () => live?.handshakes ?? realtime.handshakes,
    errors: () => live?.errors ?? realtime.tally.errors,
    close: async () => {
      await live?.close();
      await realtime.close();
    },
  };
}

/** The session serves `record` from now on: its model answers on the call's ticks. */
function link(
  engine: Engine,
  session: Session,
  record: CallRecord,
  plan: AnswerPlan,
): void {
  record.sessionReadyAt = "firstUpdateAt" in session
    ? session.firstUpdateAt ?? -1
    : performance.now() - session.timelineMs();
  record.upstreamTick = answersFor(engine, session, record, plan);
  session.closed.then(() => record.upstreamTick = undefined);
}
