/**
 * Faults on the OpenAI side: a refused or hanging handshake, the socket cut
 * or closed mid-call, fatal and survivable `error` events, the 60-minute
 * session limit, and a refused truncate after a barge-in. Each checks the
 * defined outcome: the stream closed fast with an apology, or the call going
 * on with the next answer reaching the caller.
 *
 * @module
 */

import {
  errorEvent,
  type FakeRealtimeSession,
  SERVER_ERROR_MESSAGE,
} from "../peers/realtime/mod.ts";
import type { TwilioEdge } from "../peers/twilio_edge.ts";
import {
  audioReceived,
  bargeIn,
  hangUp,
  type KindSpec,
  oneCallAtATime,
  open,
  receivedBytes,
  serverEnds,
  SILENCE_BOUND_MS,
  turn,
} from "./calls.ts";
import {
  type CallRun,
  type Harness,
  randomAudio,
  sleep,
  UPSTREAM_CONNECT_TIMEOUT_MS,
} from "./harness.ts";
import type { UpstreamMode } from "./upstream.ts";

export function refused(mode: UpstreamMode, status: number): KindSpec {
  return {
    kind: `upstream_refused_${status}`,
    description: `OpenAI refuses the handshake with HTTP ${status}`,
    group: "upstream",
    expected: `stream closed ≤ ${SILENCE_BOUND_MS} ms after it opened, ${
      status >= 400 && status < 500 && status !== 429
        ? "the apology at once"
        : "resumed"
    }`,
    run: oneCallAtATime(mode, async (h, run) => {
      if (!await h.answer(run)) return;
      await h.upstreamArrived(run);
      const edge = await h.connect(run);
      if (!edge) return;
      run.fault();
      await edge.sendAudio(randomAudio(160 * 3), { intervalMs: 0 });
      // A 4xx (a bad key) would be refused again: the apology, no resume.
      const refusal = status >= 400 && status < 500 && status !== 429;
      await serverEnds(
        h,
        run,
        [refusal ? "upstream refused" : "upstream closed"],
        SILENCE_BOUND_MS,
        refusal ? "apology" : "resume",
      );
    }),
  };
}

export const handshakeTimeout: KindSpec = {
  kind: "upstream_handshake_timeout",
  description:
    "OpenAI accepts TCP but never answers the upgrade (calls run concurrently)",
  group: "upstream",
  expected: `stream closed ≤ ${
    UPSTREAM_CONNECT_TIMEOUT_MS + 2000
  } ms after it opened (server's 10 s connect timeout), apology`,
  async run(h, count) {
    const runs: CallRun[] = [];
    // Webhooks one by one so each pre-warm connection carries its call's label.
    for (let i = 0; i < count; i++) {
      const run = h.begin(this.kind, "hang");
      runs.push(run);
      if (await h.answer(run)) await h.upstreamArrived(run);
    }
    h.front.mode = "normal";
    h.front.label = "idle";
    await Promise.all(runs.map(async (run) => {
      try {
        const edge = await h.connect(run);
        if (!edge) return;
        run.fault();
        await edge.sendAudio(randomAudio(160 * 3), { intervalMs: 0 });
        await serverEnds(
          h,
          run,
          ["upstream closed"],
          UPSTREAM_CONNECT_TIMEOUT_MS + 2000,
        );
      } catch (error) {
        run.check(false, `soak script failed: ${String(error)}`);
      } finally {
        h.finish(run);
      }
    }));
  },
};

export const droppedMidCall: KindSpec = {
  kind: "upstream_dropped_mid_call",
  description: "the OpenAI TCP connection is cut mid-answer (no close frame)",
  group: "upstream",
  expected: `stream closed ≤ ${SILENCE_BOUND_MS} ms after the drop, apology`,
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    await turn(run, call.edge, call.session, {
      answerBytes: 16000,
      paced: true,
    });
    run.fault();
    h.front.drop(run.label);
    await serverEnds(h, run, ["upstream closed"]);
  }),
};

export const closedMidCall: KindSpec = {
  kind: "upstream_closed_mid_call",
  description: "OpenAI closes the socket mid-call (1011)",
  group: "upstream",
  expected: `stream closed ≤ ${SILENCE_BOUND_MS} ms after the close, apology`,
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    await turn(run, call.edge, call.session);
    run.fault();
    call.session.close(1011, "internal server error");
    await serverEnds(h, run, ["upstream closed"]);
  }),
};

export const serverError: KindSpec = {
  kind: "upstream_server_error",
  description:
    "OpenAI sends an `error` event of type server_error (documented as recoverable); the call must go on",
  group: "upstream",
  expected: "next answer reaches the caller ≤ 3000 ms later; clean hang-up",
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    const { edge, session } = call;
    await turn(run, edge, session, { waitAll: true });
    run.fault();
    session.send(
      { ...errorEvent("server_error", null, SERVER_ERROR_MESSAGE) },
    );
    await continues(h, run, edge, session);
  }),
};

export const expiredError: KindSpec = {
  kind: "upstream_error_fatal",
  description:
    "OpenAI sends an `error` that ends the session (session_expired) and leaves the socket open",
  group: "upstream",
  expected:
    `both sockets closed, stream ≤ ${SILENCE_BOUND_MS} ms after the error, apology`,
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    await turn(run, call.edge, call.session);
    run.fault();
    call.session.send({
      ...errorEvent(
        "invalid_request_error",
        "session_expired",
        "Your session hit the maximum duration of 60 minutes.",
      ),
    });
    await serverEnds(h, run, ["upstream error"]);
    const closed = await call.session.closed;
    run.check(closed.byClient, "the server did not close the upstream");
  }),
};

export const sessionExpired: KindSpec = {
  kind: "upstream_session_limit_60min",
  description:
    "OpenAI ends the session at its 60-minute limit (session_expired, then closes)",
  group: "upstream",
  expected: `stream closed ≤ ${SILENCE_BOUND_MS} ms after the event, apology`,
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    await turn(run, call.edge, call.session);
    run.fault();
    call.session.send({
      ...errorEvent(
        "invalid_request_error",
        "session_expired",
        "Your session hit the maximum duration of 60 minutes.",
      ),
    });
    await sleep(20);
    call.session.close(1000, "session expired");
    await serverEnds(h, run, ["upstream error", "upstream closed"]);
  }),
};

export const nonFatalError: KindSpec = {
  kind: "upstream_error_nonfatal",
  description:
    "OpenAI refuses one client event (invalid_request_error); the call must go on",
  group: "upstream",
  expected: "next answer reaches the caller ≤ 3000 ms later; clean hang-up",
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    const { edge, session } = call;
    await turn(run, edge, session, { waitAll: true });
    run.fault();
    session.send({
      ...errorEvent(
        "invalid_request_error",
        "invalid_value",
        "Invalid value: 'x'.",
        "item.type",
      ),
    });
    await continues(h, run, edge, session);
  }),
};

/** After a survivable fault: the next answer still reaches the caller, then a clean hang-up. */
async function continues(
  h: Harness,
  run: CallRun,
  edge: TwilioEdge,
  session: FakeRealtimeSession,
): Promise<void> {
  await sleep(50);
  run.check(
    edge.received.length > 0 && run.closedAt === undefined,
    "the stream closed after a survivable fault",
  );
  const before = receivedBytes(edge);
  const from = run.faultAt ?? performance.now();
  session.speak(randomAudio(1600), { chunkBytes: 800 });
  run.silenceBoundMs = SILENCE_BOUND_MS;
  const heard = await audioReceived(edge, before + 1, SILENCE_BOUND_MS + 2000);
  run.silenceMs = performance.now() - from;
  run.check(
    heard,
    "no assistant audio after the fault: the caller is left in silence",
  );
  run.check(
    run.silenceMs <= SILENCE_BOUND_MS,
    `${Math.round(run.silenceMs)} ms of silence after the fault`,
  );
  if (run.closedAt !== undefined) return;
  await hangUp(h, run, edge, session);
}

export const truncateRejected: KindSpec = {
  kind: "upstream_truncate_rejected",
  description:
    'after a barge-in OpenAI rejects the truncate ("Audio content of Xms is already shorter than Yms")',
  group: "upstream",
  expected: "next answer reaches the caller ≤ 3000 ms later; clean hang-up",
  run: oneCallAtATime("normal", async (h, run) => {
    const call = await open(h, run);
    if (!call) return;
    const { edge, session } = call;
    await turn(run, edge, session, { answerBytes: 16000, paced: true });
    await bargeIn(run, edge, session);
    run.fault();
    session.send({
      ...errorEvent(
        "invalid_request_error",
        "invalid_value",
        "Audio content of 40ms is already shorter than 1200ms",
        "audio_end_ms",
      ),
    });
    await continues(h, run, edge, session);
  }),
};
