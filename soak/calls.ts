/**
 * What every call the soak places is made of: the opening (webhook, stream,
 * session), a turn of speech and answer, a barge-in, the hang-up with its
 * bit-exact check of the caller's audio, the defined end after a fault, and
 * the normal short call itself. The fault kinds (./upstream_faults.ts,
 * ./twilio_faults.ts, ./limits.ts) are scripts built from these.
 *
 * @module
 */

import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import type { TwilioEdge } from "../peers/twilio_edge.ts";
import type { NotReadingFigures } from "./caller_not_reading.ts";
import {
  type CallRun,
  type Harness,
  randomAudio,
  sleep,
  until,
} from "./harness.ts";
import type { BusyFigures } from "./limits.ts";
import type { UpstreamMode } from "./upstream.ts";

/** Longest silence allowed after a fault, except the handshake timeout. */
export const SILENCE_BOUND_MS = 3000;
/** A hang-up must close the upstream socket within this. */
export const HANGUP_CLOSE_MS = 1000;

/** Figures a fault kind measured beyond its calls' checks. */
export interface KindFigures {
  busy?: BusyFigures;
  notReading?: NotReadingFigures;
}

export interface KindSpec {
  kind: string;
  /** What the fault is, for the report. */
  description: string;
  group: "normal" | "upstream" | "twilio" | "limits";
  /** What the server must do. */
  expected: string;
  run(h: Harness, count: number): Promise<KindFigures | void>;
}

// --- building blocks ---------------------------------------------------------

/** Waits until the edge has received `bytes` of assistant audio in total. */
export function audioReceived(
  edge: TwilioEdge,
  bytes: number,
  timeoutMs: number,
) {
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

export function receivedBytes(edge: TwilioEdge): number {
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
export async function turn(
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
export async function bargeIn(
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

export function checkUpstreamErrors(
  run: CallRun,
  session: FakeRealtimeSession,
) {
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
export async function hangUp(
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

/** One 20 ms µ-law frame, as Twilio sends them. */
const FRAME_BYTES = 160;

/**
 * Every byte the caller sent reached the upstream in order. The server may
 * add whole frames of µ-law silence (0xff) where the caller's stream had a
 * gap (src/call/caller_gaps.ts: the soak holds calls open without sending
 * audio); nothing else may be added, lost or changed.
 */
function checkRelayed(run: CallRun, session: FakeRealtimeSession): void {
  const sent = run.sentAudio;
  const expected = new Uint8Array(sent.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const audio of sent) {
    expected.set(audio, offset);
    offset += audio.length;
  }
  const got = session.inputAudio();
  let at = 0;
  let filled = 0;
  let same = true;
  for (let i = 0; i < got.length && same;) {
    const want = expected.subarray(at, at + FRAME_BYTES);
    const frame = got.subarray(i, i + want.length);
    if (want.length > 0 && frame.every((byte, j) => byte === want[j])) {
      at += want.length;
      i += want.length;
      continue;
    }
    const filler = got.subarray(i, i + FRAME_BYTES);
    same = filler.length === FRAME_BYTES && filler.every((b) => b === 0xff);
    filled += FRAME_BYTES;
    i += FRAME_BYTES;
  }
  same &&= at === expected.length;
  run.check(
    same,
    `caller audio not relayed bit-exact: ${
      got.length - filled
    } of ${expected.length} bytes${
      got.length - filled === expected.length ? " (content differs)" : ""
    }`,
  );
}

/**
 * A call the server ends after a fault: stream closed fast, upstream
 * closed, then resumed (or, for a session the API refused, the apology).
 */
export async function serverEnds(
  h: Harness,
  run: CallRun,
  reasons: string[],
  boundMs = SILENCE_BOUND_MS,
  after: "resume" | "apology" = "resume",
): Promise<void> {
  await h.expectServerClose(run, boundMs);
  await h.expectUpstreamClosed(run, 2000);
  await h.expectEnded(run, reasons);
  await h.afterStream(run, after);
}

export async function place(
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

/** A fault kind's calls, placed one after another, each running `script`. */
export function oneCallAtATime(
  mode: UpstreamMode,
  script: (h: Harness, run: CallRun) => Promise<void>,
): KindSpec["run"] {
  return async function (this: KindSpec, h: Harness, count: number) {
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, mode, (run) => script(h, run));
    }
  };
}

/** Webhook, stream, session: the common opening. */
export async function open(
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

/** How many of these simulated sessions are still open. */
export async function openSessions(
  sessions: FakeRealtimeSession[],
): Promise<number> {
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
