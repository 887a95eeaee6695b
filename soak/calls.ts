/**
 * The calls the soak places: a normal short call, and one script per fault
 * kind. Each script injects its fault, then checks the defined outcome: how
 * (and how fast) the stream ended, the server's `call.ended` reason, that
 * every upstream socket of the call closed, and what Twilio hears next.
 *
 * @module
 */

import type { FakeRealtimeSession } from "../tests/helpers/fake_realtime.ts";
import type { TwilioEdge } from "../tests/helpers/twilio_edge.ts";
import { startMessage } from "../tests/helpers/twilio_messages.ts";
import {
  type CallRun,
  type Harness,
  randomAudio,
  sleep,
  until,
  UPSTREAM_CONNECT_TIMEOUT_MS,
  within,
} from "./harness.ts";
import twilio from "twilio";
import type { UpstreamMode } from "./proxy.ts";
import { NonReadingClient } from "./raw_ws.ts";

/** Longest silence allowed after a fault, except the handshake timeout. */
export const SILENCE_BOUND_MS = 3000;
/** A hang-up must close the upstream socket within this. */
const HANGUP_CLOSE_MS = 1000;

export interface KindSpec {
  kind: string;
  /** What the fault is, for the report. */
  description: string;
  group: "normal" | "upstream" | "twilio" | "limits";
  /** What the server must do. */
  expected: string;
  run(h: Harness, count: number): Promise<void>;
}

// --- building blocks ---------------------------------------------------------

/** Waits until the edge has received `bytes` of assistant audio in total. */
function audioReceived(edge: TwilioEdge, bytes: number, timeoutMs: number) {
  let total = 0;
  let seen = 0;
  return until(() => {
    const messages = edge.received;
    for (; seen < messages.length; seen++) {
      const media = messages[seen].media;
      if (
        messages[seen].event === "media" && typeof media === "object" &&
        media !== null && "payload" in media
      ) {
        total += Math.floor(String(media.payload).length * 3 / 4);
      }
    }
    return total >= bytes;
  }, timeoutMs);
}

function receivedBytes(edge: TwilioEdge): number {
  let total = 0;
  for (const message of edge.received) {
    const media = message.media;
    if (
      message.event === "media" && typeof media === "object" &&
      media !== null && "payload" in media
    ) {
      total += Math.floor(String(media.payload).length * 3 / 4);
    }
  }
  return total;
}

/**
 * One turn: the caller speaks a few frames (relayed bit-exact), server VAD
 * hears it, the assistant answers and the audio reaches the caller.
 */
async function turn(
  run: CallRun,
  edge: TwilioEdge,
  session: FakeRealtimeSession,
  options: { answerBytes?: number; paced?: boolean; waitAll?: boolean } = {},
): Promise<void> {
  // Checked bit-exact at the hang-up (see hangUp), not here: waiting for
  // each call's first frames would cost a delayed-ACK round trip per call.
  const audio = randomAudio(160 * 5);
  run.sentAudio.push(audio);
  await edge.sendAudio(audio, { intervalMs: 0 });
  session.speechStarted();
  session.speechStopped();
  const answerBytes = options.answerBytes ?? 1600;
  const already = receivedBytes(edge);
  session.speak(randomAudio(answerBytes), {
    chunkBytes: 800,
    intervalMs: options.paced ? 20 : 0,
  });
  run.check(
    await audioReceived(
      edge,
      already + (options.waitAll ? answerBytes : 1),
      3000,
    ),
    "the assistant's answer did not reach the caller",
  );
}

/** Barge-in: the caller talks over the answer; Twilio is cleared, the item truncated. */
async function bargeIn(
  run: CallRun,
  edge: TwilioEdge,
  session: FakeRealtimeSession,
): Promise<void> {
  const clears = edge.clears;
  const truncations = session.truncations.length;
  session.speechStarted();
  run.check(
    await until(() => edge.clears > clears, 2000),
    "barge-in sent no clear to Twilio",
  );
  run.check(
    await until(() => session.truncations.length > truncations, 2000),
    "barge-in sent no truncate",
  );
  session.speechStopped();
}

/** Upstream errors the fake raised against the server's own events (a bridge bug). */
function unexpectedUpstreamErrors(session: FakeRealtimeSession): string[] {
  return session.errorsSent
    .map((e) => {
      const error = e.error;
      return typeof error === "object" && error !== null && "code" in error
        ? String(error.code)
        : "unknown";
    })
    .filter((code) => code !== "response_cancel_not_active");
}

function checkUpstreamErrors(run: CallRun, session: FakeRealtimeSession) {
  const errors = unexpectedUpstreamErrors(session);
  run.check(
    errors.length === 0,
    `the upstream API refused the server's events: ${errors.join(", ")}`,
  );
}

/**
 * The caller hangs up (`stop`): the upstream closes within a second, having
 * received every frame of caller audio, bit-exact and in order.
 */
async function hangUp(
  h: Harness,
  run: CallRun,
  edge: TwilioEdge,
  session?: FakeRealtimeSession,
) {
  run.fault();
  edge.sendStop();
  await edge.closed;
  await h.expectUpstreamClosed(run, HANGUP_CLOSE_MS);
  await h.expectEnded(run, ["caller hung up"]);
  if (session) checkRelayed(run, session);
}

function checkRelayed(run: CallRun, session: FakeRealtimeSession): void {
  const sent = run.sentAudio;
  const expected = new Uint8Array(sent.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const audio of sent) {
    expected.set(audio, offset);
    offset += audio.length;
  }
  const got = session.inputAudio();
  const same = got.length === expected.length &&
    got.every((byte, i) => byte === expected[i]);
  run.check(
    same,
    `caller audio not relayed bit-exact: ${got.length} of ${expected.length} bytes${
      got.length === expected.length ? " (content differs)" : ""
    }`,
  );
}

/** A call the server ends after a fault: stream closed fast, upstream closed, apology next. */
async function serverEnds(
  h: Harness,
  run: CallRun,
  reasons: string[],
  boundMs = SILENCE_BOUND_MS,
): Promise<void> {
  await h.expectServerClose(run, boundMs);
  await h.expectUpstreamClosed(run, 2000);
  await h.expectEnded(run, reasons);
  await h.afterStream(run, true);
}

async function place(
  h: Harness,
  kind: string,
  mode: UpstreamMode,
  script: (run: CallRun) => Promise<void>,
): Promise<CallRun> {
  const run = h.begin(kind, mode);
  try {
    await script(run);
  } catch (error) {
    run.check(false, `soak script failed: ${String(error)}`);
    run.edge?.close();
  } finally {
    h.finish(run);
  }
  return run;
}

/** Webhook, stream, session: the common opening. */
async function open(
  h: Harness,
  run: CallRun,
): Promise<{ edge: TwilioEdge; session: FakeRealtimeSession } | undefined> {
  if (!await h.answer(run)) return undefined;
  const edge = await h.connect(run);
  if (!edge) return undefined;
  const session = await h.session(run);
  if (!session) {
    edge.close();
    return undefined;
  }
  return { edge, session };
}

// --- the normal call ------------------------------------------------------------

/** A short call: a few frames, a short answer (sometimes interrupted), `stop`. */
export async function normalCall(
  h: Harness,
  kind: string,
  withBargeIn = false,
): Promise<string | undefined> {
  const run = await place(h, kind, "normal", async (run) => {
    const call = await open(h, run);
    if (!call) return;
    const { edge, session } = call;
    if (withBargeIn) {
      await turn(run, edge, session, { answerBytes: 8000, paced: true });
      await bargeIn(run, edge, session);
    } else {
      await turn(run, edge, session);
    }
    await hangUp(h, run, edge, session);
    checkUpstreamErrors(run, session);
  });
  return run.token;
}

// --- upstream faults ----------------------------------------------------------

function refused(mode: UpstreamMode, status: number): KindSpec {
  return {
    kind: `upstream_refused_${status}`,
    description: `OpenAI refuses the handshake with HTTP ${status}`,
    group: "upstream",
    expected:
      `stream closed ≤ ${SILENCE_BOUND_MS} ms after it opened, apology TwiML`,
    async run(h, count) {
      for (let i = 0; i < count; i++) {
        await place(h, this.kind, mode, async (run) => {
          if (!await h.answer(run)) return;
          await h.upstreamArrived(run);
          const edge = await h.connect(run);
          if (!edge) return;
          run.fault();
          await edge.sendAudio(randomAudio(160 * 3), { intervalMs: 0 });
          await serverEnds(h, run, ["upstream closed"]);
        });
      }
    },
  };
}

const handshakeTimeout: KindSpec = {
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

const droppedMidCall: KindSpec = {
  kind: "upstream_dropped_mid_call",
  description: "the OpenAI TCP connection is cut mid-answer (no close frame)",
  group: "upstream",
  expected: `stream closed ≤ ${SILENCE_BOUND_MS} ms after the drop, apology`,
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        const call = await open(h, run);
        if (!call) return;
        await turn(run, call.edge, call.session, {
          answerBytes: 16000,
          paced: true,
        });
        run.fault();
        h.front.drop(run.label);
        await serverEnds(h, run, ["upstream closed"]);
      });
    }
  },
};

const closedMidCall: KindSpec = {
  kind: "upstream_closed_mid_call",
  description: "OpenAI closes the socket mid-call (1011)",
  group: "upstream",
  expected: `stream closed ≤ ${SILENCE_BOUND_MS} ms after the close, apology`,
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        const call = await open(h, run);
        if (!call) return;
        await turn(run, call.edge, call.session);
        run.fault();
        call.session.close(1011, "internal server error");
        await serverEnds(h, run, ["upstream closed"]);
      });
    }
  },
};

const fatalError: KindSpec = {
  kind: "upstream_error_fatal",
  description: "OpenAI sends an `error` event of type server_error",
  group: "upstream",
  expected:
    `both sockets closed, stream ≤ ${SILENCE_BOUND_MS} ms after the error, apology`,
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        const call = await open(h, run);
        if (!call) return;
        await turn(run, call.edge, call.session);
        run.fault();
        call.session.send({
          type: "error",
          event_id: "event_soak_fatal",
          error: {
            type: "server_error",
            code: null,
            message:
              "The server had an error while processing your request. Sorry about that!",
            param: null,
            event_id: null,
          },
        });
        await serverEnds(h, run, ["upstream error"]);
        const closed = await call.session.closed;
        run.check(closed.byClient, "the server did not close the upstream");
      });
    }
  },
};

const sessionExpired: KindSpec = {
  kind: "upstream_session_limit_60min",
  description:
    "OpenAI ends the session at its 60-minute limit (session_expired, then closes)",
  group: "upstream",
  expected: `stream closed ≤ ${SILENCE_BOUND_MS} ms after the event, apology`,
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        const call = await open(h, run);
        if (!call) return;
        await turn(run, call.edge, call.session);
        run.fault();
        call.session.send({
          type: "error",
          event_id: "event_soak_expired",
          error: {
            type: "invalid_request_error",
            code: "session_expired",
            message: "Your session hit the maximum duration of 60 minutes.",
            param: null,
            event_id: null,
          },
        });
        await sleep(20);
        call.session.close(1000, "session expired");
        await serverEnds(h, run, ["upstream error", "upstream closed"]);
      });
    }
  },
};

const nonFatalError: KindSpec = {
  kind: "upstream_error_nonfatal",
  description:
    "OpenAI refuses one client event (invalid_request_error); the call must go on",
  group: "upstream",
  expected: "next answer reaches the caller ≤ 3000 ms later; clean hang-up",
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        const call = await open(h, run);
        if (!call) return;
        const { edge, session } = call;
        await turn(run, edge, session, { waitAll: true });
        run.fault();
        session.send({
          type: "error",
          event_id: "event_soak_refused",
          error: {
            type: "invalid_request_error",
            code: "invalid_value",
            message: "Invalid value: 'x'.",
            param: "item.type",
            event_id: null,
          },
        });
        await continues(h, run, edge, session);
      });
    }
  },
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

const truncateRejected: KindSpec = {
  kind: "upstream_truncate_rejected",
  description:
    'after a barge-in OpenAI rejects the truncate ("Audio content of Xms is already shorter than Yms")',
  group: "upstream",
  expected: "next answer reaches the caller ≤ 3000 ms later; clean hang-up",
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        const call = await open(h, run);
        if (!call) return;
        const { edge, session } = call;
        await turn(run, edge, session, { answerBytes: 16000, paced: true });
        await bargeIn(run, edge, session);
        run.fault();
        session.send({
          type: "error",
          event_id: "event_soak_truncate",
          error: {
            type: "invalid_request_error",
            code: "invalid_value",
            message: "Audio content of 40ms is already shorter than 1200ms",
            param: "audio_end_ms",
            event_id: null,
          },
        });
        await continues(h, run, edge, session);
      });
    }
  },
};

// --- Twilio-side faults --------------------------------------------------------

function hangupInHandshake(withStop: boolean): KindSpec {
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
    async run(h, count) {
      for (let i = 0; i < count; i++) {
        await place(h, this.kind, "slow", async (run) => {
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
        });
      }
    },
  };
}

const abruptClose: KindSpec = {
  kind: "caller_abrupt_close",
  description: "the Twilio socket closes mid-answer without a stop",
  group: "twilio",
  expected: `upstream closed ≤ ${HANGUP_CLOSE_MS} ms after the close`,
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
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
      });
    }
  },
};

const noStart: KindSpec = {
  kind: "twilio_no_start",
  description: "the media stream connects but never sends `start`",
  group: "twilio",
  expected:
    "stream closed at STREAM_START_TIMEOUT_SECONDS (+1 s), upstream closed",
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
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
      });
    }
  },
};

const callSidMismatch: KindSpec = {
  kind: "twilio_callsid_mismatch",
  description: "`start` carries another CallSid than the stream token's",
  group: "twilio",
  expected: `stream and upstream closed ≤ ${SILENCE_BOUND_MS} ms`,
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        if (!await h.answer(run)) return;
        const edge = await h.connect(run, {
          callSid: `CA${"f".repeat(32)}`,
        });
        if (!edge) return;
        run.fault();
        h.countBad("start with a mismatched CallSid");
        await serverEnds(h, run, ["call sid mismatch"]);
      });
    }
  },
};

const mediaBeforeStart: KindSpec = {
  kind: "twilio_media_before_start",
  description: "media frames arrive before `start`",
  group: "twilio",
  expected: "frames refused and logged, then the call works; clean hang-up",
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
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
      });
    }
  },
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

const badFrames: KindSpec = {
  kind: "twilio_bad_frames",
  description:
    "binary, non-JSON, non-object, unknown-event and malformed media frames mid-call",
  group: "twilio",
  expected:
    "each refused and survived: caller audio still relayed, clean hang-up",
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
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
      });
    }
  },
};

const badFrameFlood: KindSpec = {
  kind: "twilio_bad_frame_flood",
  description: "60 malformed frames in a row (more than the 50 tolerated)",
  group: "twilio",
  expected:
    `stream closed ≤ ${SILENCE_BOUND_MS} ms (protocol violation), upstream closed`,
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        const call = await open(h, run);
        if (!call) return;
        await turn(run, call.edge, call.session);
        run.fault();
        for (let n = 0; n < 60; n++) call.edge.sendRaw(`garbage ${n}`);
        h.countBad("non-JSON text", 60);
        await serverEnds(h, run, ["protocol violation"]);
      });
    }
  },
};

function hugeFrame(binary: boolean): KindSpec {
  const size = binary ? 1024 * 1024 : 200_000;
  return {
    kind: binary ? "twilio_huge_binary_frame" : "twilio_huge_text_frame",
    description: `one ${binary ? "binary" : "text"} frame of ${
      size.toLocaleString("en")
    } ${binary ? "bytes" : "characters"} (limit 65,536)`,
    group: "twilio",
    expected: `stream closed ≤ ${SILENCE_BOUND_MS} ms, upstream closed`,
    async run(h, count) {
      for (let i = 0; i < count; i++) {
        await place(h, this.kind, "normal", async (run) => {
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
        });
      }
    },
  };
}

/** RSS peak while a caller that stops reading is being flooded (KiB). */
export interface NotReadingFigures {
  rssBeforeKiB: number;
  rssPeakKiB: number;
  rssAfterKiB: number;
  audioOfferedBytes: number;
  /** From the start of the flood of audio to the server's call.ended. */
  endedAfterMs: number;
  /** Sockets of the server before the call, while held after it ended, and after the client left. */
  socketsBefore: number;
  socketsHeld: number;
  socketsAfter: number;
}

export const notReadingFigures: NotReadingFigures[] = [];

const callerNotReading: KindSpec = {
  kind: "caller_stops_reading",
  description:
    "the Twilio side stops reading while the assistant streams 16 MB of audio (raw TCP client)",
  group: "twilio",
  expected:
    'call ended "caller not reading" (outbound buffer bounded at 4 MiB), upstream closed, RSS bounded',
  async run(h, count) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        if (!await h.answer(run) || !run.streamUrl) return;
        const path = new URL(run.streamUrl).pathname;
        await h.upstreamArrived(run);
        const socketsBefore = h.server.openSockets() ?? 0;
        const rssBefore = h.server.rssKiB() ?? 0;
        const client = await NonReadingClient.connect(h.server.port, path, {
          "X-Twilio-Signature": twilio.getExpectedTwilioSignature(
            h.secrets.twilioAuthToken,
            run.streamUrl,
            {},
          ),
        });
        try {
          h.scan.push({
            source: "stream handshake",
            text: client.responseText,
          });
          if (
            !run.check(
              client.status === 101,
              `handshake answered ${client.status}`,
            )
          ) return;
          const streamSid = `MZ${"a".repeat(32)}`;
          await client.sendText(
            JSON.stringify({
              event: "connected",
              protocol: "Call",
              version: "1.0.0",
            }),
          );
          await client.sendText(JSON.stringify(startMessage({
            sequenceNumber: "1",
            streamSid,
            accountSid: "AC0123456789abcdef0123456789abcdef",
            callSid: run.callSid,
            customParameters: {},
          })));
          const session = await h.session(run);
          if (!session) return;
          await sleep(100);
          run.fault();
          const offered = 16 * 1024 * 1024;
          session.speak(randomAudio(offered), { chunkBytes: 32 * 1024 });
          let peak = rssBefore;
          const sampler = setInterval(() => {
            peak = Math.max(peak, h.server.rssKiB() ?? 0);
          }, 25);
          const ended = await h.server.callEnded(run.callSid, 20_000);
          clearInterval(sampler);
          run.endReason = ended === undefined
            ? undefined
            : String(ended.reason);
          const endedAfterMs = performance.now() - (run.faultAt ?? 0);
          run.check(
            ended?.reason === "caller not reading",
            ended === undefined
              ? "the call never ended while the caller was not reading"
              : `ended with "${ended.reason}", expected "caller not reading"`,
          );
          await h.expectUpstreamClosed(run, 2000);
          await sleep(1000);
          const socketsHeld = h.server.openSockets() ?? 0;
          const rssAfter = h.server.rssKiB() ?? 0;
          client.close();
          await sleep(500);
          const socketsAfter = h.server.openSockets() ?? 0;
          notReadingFigures.push({
            rssBeforeKiB: rssBefore,
            rssPeakKiB: peak,
            rssAfterKiB: rssAfter,
            audioOfferedBytes: offered,
            endedAfterMs: Math.round(endedAfterMs),
            socketsBefore,
            socketsHeld,
            socketsAfter,
          });
          run.check(
            peak - rssBefore < 64 * 1024,
            `server RSS grew ${
              Math.round((peak - rssBefore) / 1024)
            } MiB while the caller was not reading (bound 64 MiB)`,
          );
        } finally {
          client.close();
        }
      });
    }
  },
};

const unclaimedPrewarm: KindSpec = {
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

// --- limits ---------------------------------------------------------------------

export interface BusyFigures {
  held: number;
  overCapacityWebhooks: number;
  busyAnswers: number;
  upstreamOpenedForBusy: number;
  acceptedAfterRelease: boolean;
}

export const busyFigures: BusyFigures[] = [];

const concurrencyLimit: KindSpec = {
  kind: "over_capacity",
  description: "webhooks beyond MAX_CONCURRENT_CALLS while the server is full",
  group: "limits",
  expected:
    "200 TwiML <Say>busy</Say><Hangup/>, no <Stream>, no upstream session; a freed slot is usable again",
  async run(h, count) {
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
    busyFigures.push({
      held: held.length + (first ? 1 : 0),
      overCapacityWebhooks: count,
      busyAnswers: busy,
      upstreamOpenedForBusy: upstreams,
      acceptedAfterRelease: accepted,
    });
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
    await h.afterStream(run, false);
  });
  await Promise.race([started.promise, done]);
  return { done };
}

export const KINDS: { spec: KindSpec; count: number }[] = [
  { spec: concurrencyLimit, count: 10 },
  { spec: refused("refuse401", 401), count: 5 },
  { spec: refused("refuse429", 429), count: 5 },
  { spec: refused("refuse500", 500), count: 5 },
  { spec: handshakeTimeout, count: 3 },
  { spec: droppedMidCall, count: 5 },
  { spec: closedMidCall, count: 3 },
  { spec: fatalError, count: 5 },
  { spec: sessionExpired, count: 3 },
  { spec: nonFatalError, count: 5 },
  { spec: truncateRejected, count: 5 },
  { spec: hangupInHandshake(true), count: 5 },
  { spec: hangupInHandshake(false), count: 5 },
  { spec: abruptClose, count: 5 },
  { spec: noStart, count: 3 },
  { spec: callSidMismatch, count: 3 },
  { spec: mediaBeforeStart, count: 3 },
  { spec: badFrames, count: 5 },
  { spec: badFrameFlood, count: 2 },
  { spec: hugeFrame(false), count: 3 },
  { spec: hugeFrame(true), count: 2 },
  { spec: callerNotReading, count: 1 },
  { spec: unclaimedPrewarm, count: 3 },
];

async function openSessions(sessions: FakeRealtimeSession[]): Promise<number> {
  let open = 0;
  for (const session of sessions) {
    const closed = await Promise.race([
      session.closed.then(() => true),
      sleep(0).then(() => false),
    ]);
    if (!closed) open++;
  }
  return open;
}

export { openSessions };
