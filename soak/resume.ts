/**
 * A call outlives its process: about 20 live calls, each with one exchange
 * behind it, then SIGKILL, a new process on the same KV store, and Twilio's
 * `<Connect action>` continuation for every call at once. Each call must be
 * resumed once, with its conversation in the new session; a replayed
 * continuation must open nothing; no session may be left open.
 *
 * @module
 */

import type { FakeRealtimeSession } from "../peers/realtime/mod.ts";
import { TwilioEdge } from "../peers/twilio_edge.ts";
import { openSessions } from "./calls.ts";
import {
  ACCOUNT_SID,
  type Harness,
  newCallSid,
  randomAudio,
  sleep,
  until,
  within,
} from "./harness.ts";

export interface ResumeFigures {
  /** Calls live when the server was killed. */
  live: number;
  /** Calls whose continuation answered a new stream that then carried the call. */
  resumed: number;
  /** Resumed sessions that held both sides of the call's exchange. */
  contextPresent: number;
  /** Twilio's continuation request → the resumed upstream session configured, per call. */
  readyMs: number[];
  /** Upstream sessions beyond one per resumed call. */
  duplicateSessions: number;
  /**
   * Continuations replayed while the resumed stream was live, refused: TwiML
   * (a pause and a redirect, never an HTTP error to Twilio) with no stream.
   */
  replaysRefused: number;
  leakedSessions: number;
  /** The killed process's exit code (137 for SIGKILL). */
  killedExit: number | undefined;
}

interface LiveCall {
  callSid: string;
  edge: TwilioEdge;
  question: string;
  answer: string;
}

/** The text of every message item the server created in a session. */
function messageTexts(session: FakeRealtimeSession): string[] {
  return session.received
    .filter((e) => e.type === "conversation.item.create")
    .map((e) => e.item as { type?: string; content?: { text?: string }[] })
    .filter((item) => item.type === "message")
    .map((item) => item.content?.[0]?.text ?? "");
}

function connect(h: Harness, streamUrl: string, callSid: string) {
  return TwilioEdge.connect({
    url: `ws://127.0.0.1:${h.server.port}${new URL(streamUrl).pathname}`,
    signedUrl: streamUrl,
    authToken: h.secrets.twilioAuthToken,
    callSid,
    accountSid: ACCOUNT_SID,
  });
}

/** The percentile `p` (0..1) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

export async function resumePhase(
  h: Harness,
  count: number,
): Promise<ResumeFigures> {
  const fake = h.backend("normal");
  h.front.mode = "normal";
  h.front.label = "resume";
  const phaseStart = fake.sessions.length;
  const capacity = { MAX_CONCURRENT_CALLS: String(count + 5) };
  const first = await h.startServer(true, capacity);

  // 1. The live calls, each with one exchange the new session must know.
  const calls: LiveCall[] = [];
  for (let i = 0; i < count; i++) {
    const callSid = newCallSid();
    const index = fake.sessions.length;
    const answered = await h.post("/incoming-call", h.webhookParams(callSid));
    const streamUrl = /<Stream url="([^"]+)"/.exec(answered.body)?.[1];
    if (!streamUrl) continue;
    const edge = await connect(h, streamUrl, callSid);
    if (!await until(() => fake.sessions.length > index, 3000)) continue;
    const session = fake.sessions[index];
    await session.waitFor("session.update");
    const question = `Question ${i}: what is on my list today?`;
    const answer = `Answer ${i}: two tasks, the dentist and the bank.`;
    session.callerSaid(question);
    const audio = randomAudio(800);
    await session.speak(audio, { transcript: answer }).done;
    await edge.waitForPlayed(audio.length, 3000).catch(() => {});
    calls.push({ callSid, edge, question, answer });
  }
  // The conversations' last writes land, then the process dies mid-call.
  await sleep(300);
  first.kill("SIGKILL");
  const killedExit = await within(first.exited, 10_000);
  await Promise.all(calls.map((call) => within(call.edge.closed, 5000)));

  // 2. A new process on the same KV; Twilio continues every call at once.
  const sessionsBefore = fake.sessions.length;
  await h.startServer(true, capacity);
  const sessionsOf = (call: LiveCall) =>
    fake.sessions.slice(sessionsBefore).filter((s) =>
      messageTexts(s).includes(call.question)
    );
  const readyMs: number[] = [];
  let contextPresent = 0;
  let replaysRefused = 0;
  const resumedEdges: TwilioEdge[] = [];
  await Promise.all(calls.map(async (call) => {
    const requested = performance.now();
    const response = await h.continueCall(call.callSid);
    const streamUrl =
      /<Connect action="[^"]+" method="POST"><Stream url="([^"]+)"/.exec(
        response.body,
      )?.[1];
    if (!streamUrl) return;
    // The pre-warmed session is configured with the call's conversation.
    if (!await until(() => sessionsOf(call).length > 0, 5000)) return;
    readyMs.push(performance.now() - requested);
    const texts = messageTexts(sessionsOf(call)[0]);
    if (texts.includes(call.question) && texts.includes(call.answer)) {
      contextPresent++;
    }
    const edge = await connect(
      h,
      streamUrl.replaceAll("&amp;", "&"),
      call.callSid,
    )
      .catch(() => undefined);
    if (!edge) return;
    resumedEdges.push(edge);
    await edge.sendAudio(new Uint8Array(800), { intervalMs: 0 });
    // Twilio's request replayed while the resumed stream is live.
    const replay = await h.continueCall(call.callSid);
    if (replay.status === 200 && !replay.body.includes("<Stream")) {
      replaysRefused++;
    }
  }));

  // 3. The callers hang up; nothing may be left open.
  for (const edge of resumedEdges) edge.sendStop();
  await Promise.all(resumedEdges.map((edge) => within(edge.closed, 5000)));
  await sleep(500);
  const duplicateSessions = calls.reduce(
    (sum, call) => sum + Math.max(0, sessionsOf(call).length - 1),
    0,
  );
  await until(() => h.front.open("resume").length === 0, 5000);
  const leakedSessions = await openSessions(fake.sessions.slice(phaseStart));
  h.server.kill("SIGTERM");
  await within(h.server.exited, 10_000);
  return {
    live: calls.length,
    resumed: resumedEdges.length,
    contextPresent,
    readyMs,
    duplicateSessions,
    replaysRefused,
    leakedSessions,
    killedExit,
  };
}
