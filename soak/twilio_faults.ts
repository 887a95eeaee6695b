/**
 * Faults on the Twilio side: the caller hanging up or dropping while the
 * OpenAI handshake is in flight, a stream closed without `stop`, no
 * `start`, a `start` for another call, media before `start`, malformed and
 * oversized frames, and a pre-warmed session whose stream never comes.
 *
 * @module
 */

import {
  hangUp,
  HANGUP_CLOSE_MS,
  type KindSpec,
  oneCallAtATime,
  open,
  openSessions,
  serverEnds,
  SILENCE_BOUND_MS,
  turn,
} from "./calls.ts";
import { type CallRun, randomAudio, sleep } from "./harness.ts";

export function hangupInHandshake(withStop: boolean): KindSpec {
  return {
    kind: withStop
      ? "caller_hangup_during_upstream_handshake"
      : "caller_drop_during_upstream_handshake",
    description: `the caller ${
      withStop ? "hangs up (stop)" : "drops (no stop)"
    } while the OpenAI handshake is still in flight (OpenAI answers after ${1500} ms)`,
    group: "twilio",
    expected:
      `upstream socket closed ≤ ${HANGUP_CLOSE_MS} ms after the hang-up, no session ever left open`,
    run: oneCallAtATime("slow", async (h, run) => {
      if (!await h.answer(run)) return;
      await h.upstreamArrived(run);
      const edge = await h.connect(run);
      if (!edge) return;
      run.fault();
      if (withStop) edge.sendStop();
      else edge.close();
      await edge.closed;
      await h.expectUpstreamClosed(run, HANGUP_CLOSE_MS);
      await h.expectEnded(run, [
        withStop ? "caller hung up" : "media stream closed",
      ]);
      // Had the server left it, the slow handshake would now complete.
      await sleep(1700);
      const fake = h.backend("slow");
      const opened = fake.sessions.slice(run.sessionIndex.get("slow"));
      const stillOpen = await openSessions(opened);
      run.check(
        stillOpen === 0,
        `${stillOpen} upstream session(s) opened after the caller was gone`,
      );
      await h.expectUpstreamClosed(run, 500);
    }),
  };
}

export const abruptClose: KindSpec = {
  kind: "caller_abrupt_close",
  description: "the Twilio socket closes mid-answer without a stop",
  group: "twilio",
  expected: `upstream closed ≤ ${HANGUP_CLOSE_MS} ms after the close`,
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    await turn(run, call.edge, call.session, {
      answerBytes: 16000,
      paced: true,
    });
    run.fault();
    call.edge.close();
    await call.edge.closed;
    await h.expectUpstreamClosed(run, HANGUP_CLOSE_MS);
    await h.expectEnded(run, ["media stream closed"]);
    const closed = await call.session.closed;
    run.check(closed.byClient, "the upstream was not closed by the server");
  }),
};

export const noStart: KindSpec = {
  kind: "twilio_no_start",
  description: "the media stream connects but never sends `start`",
  group: "twilio",
  expected:
    "stream closed at STREAM_START_TIMEOUT_SECONDS (+1 s), upstream closed",
  run: oneCallAtATime("normal", async (h, run) => {
    if (!await h.answer(run)) return;
    const edge = await h.connect(run, { autoStart: false });
    if (!edge) return;
    edge.sendConnected();
    run.fault();
    await serverEnds(
      h,
      run,
      ["no start from Twilio"],
      h.settings.streamStartTimeoutSeconds * 1000 + 1000,
    );
  }),
};

export const callSidMismatch: KindSpec = {
  kind: "twilio_callsid_mismatch",
  description: "`start` carries another CallSid than the stream token's",
  group: "twilio",
  expected: `stream and upstream closed ≤ ${SILENCE_BOUND_MS} ms`,
  run: oneCallAtATime("normal", async (h, run) => {
    if (!await h.answer(run)) return;
    const edge = await h.connect(run, {
      callSid: `CA${"f".repeat(32)}`,
    });
    if (!edge) return;
    run.fault();
    h.countBad("start with a mismatched CallSid");
    await serverEnds(h, run, ["call sid mismatch"]);
  }),
};

export const mediaBeforeStart: KindSpec = {
  kind: "twilio_media_before_start",
  description: "media frames arrive before `start`",
  group: "twilio",
  expected: "frames refused and logged, then the call works; clean hang-up",
  run: oneCallAtATime("normal", async (h, run) => {
    if (!await h.answer(run)) return;
    const edge = await h.connect(run, { autoStart: false });
    if (!edge) return;
    edge.sendConnected();
    for (let f = 0; f < 5; f++) edge.sendMediaFrame(randomAudio(160));
    h.countBad("media before start", 5);
    edge.sendStart();
    const session = await h.session(run);
    if (!session) return edge.close();
    await turn(run, edge, session);
    await hangUp(h, run, edge, session);
  }),
};

const BAD_FRAMES: { name: string; frame: () => string | Uint8Array }[] = [
  { name: "binary frame", frame: () => new Uint8Array([1, 2, 3, 4]) },
  { name: "non-JSON text", frame: () => "this is not json {" },
  { name: "JSON that is not an object", frame: () => "[1,2,3]" },
  {
    name: "unknown event",
    frame: () => JSON.stringify({ event: "surprise", streamSid: "MZx" }),
  },
  {
    name: "media with a non-base64 payload",
    frame: () => JSON.stringify({ event: "media", media: { payload: "***" } }),
  },
  {
    name: "media without payload",
    frame: () => JSON.stringify({ event: "media", media: {} }),
  },
  { name: "frame without event", frame: () => JSON.stringify({ hello: 1 }) },
];

export const badFrames: KindSpec = {
  kind: "twilio_bad_frames",
  description:
    "binary, non-JSON, non-object, unknown-event and malformed media frames mid-call",
  group: "twilio",
  expected:
    "each refused and survived: caller audio still relayed, clean hang-up",
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    const { edge, session } = call;
    await turn(run, edge, session, { waitAll: true });
    run.fault();
    for (const bad of BAD_FRAMES) {
      for (let n = 0; n < 2; n++) edge.sendRaw(bad.frame());
      h.countBad(bad.name, 2);
    }
    await turn(run, edge, session);
    run.check(
      run.closedAt === undefined,
      "the stream was closed by bad frames under the limit",
    );
    await hangUp(h, run, edge, session);
  }),
};

export const badFrameFlood: KindSpec = {
  kind: "twilio_bad_frame_flood",
  description: "60 malformed frames in a row (more than the 50 tolerated)",
  group: "twilio",
  expected:
    `stream closed ≤ ${SILENCE_BOUND_MS} ms (protocol violation), upstream closed`,
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    await turn(run, call.edge, call.session);
    run.fault();
    for (let n = 0; n < 60; n++) call.edge.sendRaw(`garbage ${n}`);
    h.countBad("non-JSON text", 60);
    await serverEnds(h, run, ["protocol violation"]);
  }),
};

export function hugeFrame(binary: boolean): KindSpec {
  const size = binary ? 1024 * 1024 : 200_000;
  return {
    kind: binary ? "twilio_huge_binary_frame" : "twilio_huge_text_frame",
    description: `one ${binary ? "binary" : "text"} frame of ${
      size.toLocaleString("en")
    } ${binary ? "bytes" : "characters"} (limit 65,536)`,
    group: "twilio",
    expected: `stream closed ≤ ${SILENCE_BOUND_MS} ms, upstream closed`,
    run: oneCallAtATime("normal", async (h, run) => {
      const call = await open(h, run);
      if (!call) return;
      await turn(run, call.edge, call.session);
      run.fault();
      call.edge.sendRaw(
        binary ? randomAudio(size) : JSON.stringify({
          event: "media",
          streamSid: call.edge.streamSid,
          media: { payload: "A".repeat(size) },
        }),
      );
      h.countBad(binary ? "huge binary frame" : "huge text frame");
      await serverEnds(h, run, ["protocol violation"]);
    }),
  };
}

export const unclaimedPrewarm: KindSpec = {
  kind: "stream_never_connects",
  description:
    "a signed webhook pre-warms a session but no media stream ever comes (calls run concurrently)",
  group: "twilio",
  expected:
    "the pre-warmed upstream closed when the token expires (STREAM_TOKEN_TTL_SECONDS + 2 s)",
  async run(h, count) {
    const runs: CallRun[] = [];
    for (let i = 0; i < count; i++) {
      const run = h.begin(this.kind, "normal");
      runs.push(run);
      if (await h.answer(run)) await h.upstreamArrived(run);
    }
    h.front.label = "idle";
    const boundMs = h.settings.streamTokenTtlSeconds * 1000 + 2000;
    await Promise.all(runs.map(async (run) => {
      run.faultAt = run.startedAt;
      const closed = await h.front.waitClosed(run.label, boundMs + 3000);
      const last = Math.max(
        ...h.front.withLabel(run.label).map((c) => c.closedAt ?? Infinity),
      );
      run.silenceBoundMs = boundMs;
      run.silenceMs = closed ? last - run.startedAt : undefined;
      run.check(closed, "the pre-warmed upstream session was never closed");
      run.check(
        run.silenceMs === undefined || run.silenceMs <= boundMs,
        `pre-warmed upstream closed ${
          Math.round(run.silenceMs ?? 0)
        } ms after the webhook (bound ${boundMs} ms)`,
      );
      h.finish(run);
    }));
  },
};
