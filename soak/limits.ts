/**
 * The server's limits: MAX_CONCURRENT_CALLS (the busy answer, no upstream,
 * a freed slot usable again) and MAX_CALL_MINUTES (the goodbye played,
 * then the stream closed at the limit).
 *
 * @module
 */

import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import type { TwilioEdge } from "../peers/twilio_edge.ts";
import {
  hangUp,
  type KindFigures,
  type KindSpec,
  open,
  place,
  receivedBytes,
  turn,
} from "./calls.ts";
import { type CallRun, type Harness, sleep, until, within } from "./harness.ts";

export interface BusyFigures {
  held: number;
  overCapacityWebhooks: number;
  busyAnswers: number;
  upstreamOpenedForBusy: number;
  acceptedAfterRelease: boolean;
}

export const concurrencyLimit: KindSpec = {
  kind: "over_capacity",
  description: "webhooks beyond MAX_CONCURRENT_CALLS while the server is full",
  group: "limits",
  expected:
    "200 TwiML <Say>busy</Say><Hangup/>, no <Stream>, no upstream session; a freed slot is usable again",
  async run(h, count): Promise<KindFigures> {
    const health = await h.healthz();
    const live = health?.calls ?? 0;
    const held: {
      run: CallRun;
      edge: TwilioEdge;
      session: FakeRealtimeSession;
    }[] = [];
    for (let i = live; i < h.settings.maxConcurrentCalls; i++) {
      const run = h.begin("capacity_filler", "normal");
      const call = await open(h, run);
      if (call) {
        await turn(run, call.edge, call.session);
        held.push({ run, ...call });
      } else {
        h.finish(run);
      }
    }
    let busy = 0;
    let upstreams = 0;
    for (let i = 0; i < count; i++) {
      const run = h.begin(this.kind, "normal");
      const response = await h.post(
        "/incoming-call",
        h.webhookParams(run.callSid),
      );
      const isBusy = response.status === 200 &&
        /<Say>[^<]*busy[^<]*<\/Say><Hangup\/>/.test(response.body) &&
        !response.body.includes("<Stream");
      if (isBusy) busy++;
      run.check(
        isBusy,
        `not a busy answer: ${response.status} ${response.body.slice(0, 160)}`,
      );
      await sleep(20);
      const opened = h.front.withLabel(run.label).length;
      upstreams += opened;
      run.check(
        opened === 0,
        `${opened} upstream session(s) opened for a refused call`,
      );
      h.finish(run);
    }
    // A hung-up call frees its slot.
    let accepted = false;
    const first = held.shift();
    if (first) {
      await hangUp(h, first.run, first.edge, first.session);
      h.finish(first.run);
      await until(
        () => h.front.open().length <= h.settings.maxConcurrentCalls,
        2000,
      );
      const run = h.begin("capacity_freed", "normal");
      const call = await open(h, run);
      if (call) {
        accepted = true;
        await turn(run, call.edge, call.session);
        await hangUp(h, run, call.edge, call.session);
      }
      h.finish(run);
    }
    for (const { run, edge, session } of held) {
      await hangUp(h, run, edge, session);
      h.finish(run);
    }
    return {
      busy: {
        held: held.length + (first ? 1 : 0),
        overCapacityWebhooks: count,
        busyAnswers: busy,
        upstreamOpenedForBusy: upstreams,
        acceptedAfterRelease: accepted,
      },
    };
  },
};

/** Started first, in the background: it ends at MAX_CALL_MINUTES. */
export async function startTimeLimitCall(
  h: Harness,
): Promise<{ done: Promise<CallRun> }> {
  const started = Promise.withResolvers<void>();
  const done = place(h, "call_time_limit", "normal", async (run) => {
    const call = await open(h, run);
    h.front.label = "idle";
    started.resolve();
    if (!call) return;
    const { edge, session } = call;
    await turn(run, edge, session, { waitAll: true });
    const limitMs = (h.settings.maxCallMinutes ?? 30) * 60_000;
    const before = receivedBytes(edge);
    // The assistant says goodbye (the fake speaks 500 ms on response.create),
    // the goodbye plays on Twilio's clock, then the stream closes.
    const opened = run.streamOpenedAt ?? run.startedAt;
    await within(edge.closed, limitMs + 10_000);
    const closedAfter = (run.closedAt ?? performance.now()) - opened;
    run.check(
      run.closedAt !== undefined && closedAfter >= limitMs &&
        closedAfter <= limitMs + 5000,
      run.closedAt === undefined
        ? `still open ${
          limitMs + 10_000
        } ms into the call (limit ${limitMs} ms)`
        : `closed ${
          Math.round(closedAfter)
        } ms into the call (limit ${limitMs} ms)`,
    );
    if (run.closedAt === undefined) edge.close();
    run.check(
      receivedBytes(edge) >= before + 4000,
      "the goodbye was not played before the stream closed",
    );
    await h.expectUpstreamClosed(run, 2000);
    await h.expectEnded(run, ["call time limit"]);
    await h.afterStream(run, "hang_up");
  });
  await Promise.race([started.promise, done]);
  return { done };
}
