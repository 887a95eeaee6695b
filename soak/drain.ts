/**
 * The drain: SIGTERM while a call is live and no other instance is up. The
 * call must be handed over (ended for the next process to resume) within
 * DRAIN_SECONDS, a webhook during the drain must hear "restarting" and open
 * no upstream, and the process must exit 0.
 *
 * @module
 */

import {
  type CallResult,
  type CallRun,
  type Harness,
  sleep,
  within,
} from "./harness.ts";

export interface DrainFigures {
  callClosedMs: number | undefined;
  restartingTwiml: boolean;
  upstreamOpenedDuringDrain: number;
  exitCode: number | undefined;
  exitMs: number | undefined;
  run: CallResult | undefined;
}

export async function drainPhase(h: Harness): Promise<DrainFigures> {
  const run: CallRun = h.begin("drain_live_call", "normal");
  let restartingTwiml = false;
  let upstreamOpened = 0;
  let callClosedMs: number | undefined;
  if (await h.answer(run)) {
    const edge = await h.connect(run);
    const session = edge ? await h.session(run) : undefined;
    if (edge && session) {
      await edge.sendAudio(new Uint8Array(800), { intervalMs: 0 });
      h.stopWatchdog();
      // Deno.exit() spins forever while an inspector session is attached
      // (observed on 2.9.6): detach before the server's own exit.
      h.inspector?.close();
      h.inspector = undefined;
      await sleep(200);
      run.fault();
      h.server.kill("SIGTERM");
      await sleep(200);
      const late = h.begin("drain_refused_webhook", "normal");
      const response = await h.post(
        "/incoming-call",
        h.webhookParams(late.callSid),
      ).catch(() => undefined);
      restartingTwiml = response !== undefined && response.status === 200 &&
        /<Say>[^<]*restarting[^<]*<\/Say><Hangup\/>/.test(response.body);
      late.check(
        restartingTwiml,
        `a webhook during the drain got ${response?.status} ${
          response?.body.slice(0, 120)
        }`,
      );
      await sleep(20);
      upstreamOpened = h.front.withLabel(late.label).length;
      late.check(upstreamOpened === 0, "an upstream was opened while draining");
      h.finish(late);
      h.front.label = run.label;
      await h.expectServerClose(run, h.settings.drainSeconds * 1000 + 2000);
      callClosedMs = run.silenceMs;
      await h.expectUpstreamClosed(run, 2000);
      await h.expectEnded(run, ["handover"]);
    } else {
      edge?.close();
    }
  }
  const result = h.finish(run);
  const termAt = run.faultAt ?? performance.now();
  if (run.faultAt === undefined) {
    h.inspector?.close();
    h.inspector = undefined;
    await sleep(200);
    h.server.kill("SIGTERM");
  }
  const exitCode = await within(h.server.exited, 10_000);
  return {
    callClosedMs,
    restartingTwiml,
    upstreamOpenedDuringDrain: upstreamOpened,
    exitCode,
    exitMs: exitCode === undefined
      ? undefined
      : Math.round(performance.now() - termAt),
    run: result,
  };
}
