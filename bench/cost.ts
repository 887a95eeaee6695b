/**
 * What one minute of the same scripted call costs on each engine: the same
 * caller speech and assistant answers, the same goodbye with `end_call`,
 * through the real server, against the peers' simulators (not lean: every
 * server event is kept). The Realtime simulator reports GA usage in every
 * `response.done` (peers/realtime/usage.ts); GPT-Live reports the session's
 * billed seconds (`session.closed`) and its Responses backend's tokens.
 * Both are priced with the server's own price table (src/cost), and set
 * against what the server journaled for the call.
 *
 * @module
 */

import { DEFAULT_PRICES } from "../src/cost/prices.ts";
import { priceUsage } from "../src/cost/pricing.ts";
import {
  addUsage,
  noTokens,
  type TokenCounts,
  type UsageTotals,
} from "../src/cost/usage.ts";
import { responsesUsage } from "../src/cost/usage.ts";
import { parseServerEvent } from "../src/realtime/events.ts";
import { isRecord } from "../src/json.ts";
import { FakeLive, type FakeLiveSession } from "../peers/live/mod.ts";
import { TEST_API_KEY, TEST_AUTH_TOKEN } from "../peers/keys.ts";
import {
  FakeRealtime,
  type FakeRealtimeSession,
} from "../peers/realtime/mod.ts";
import type { ServerProcess } from "../peers/server_process.ts";
import { TwilioEdge } from "../peers/twilio_edge.ts";
import {
  CALL_PARAMS,
  streamUrlOf,
  webhookTwiml,
} from "../peers/twilio_requests.ts";
import type { Engine, Options } from "./options.ts";
import {
  delay,
  journalRecord,
  PUBLIC_ORIGIN,
  startBenchServer,
  stopServer,
} from "./server.ts";

/** One turn: the caller speaks, then the assistant answers, then a pause. */
const TURN_MS = 10_000;
const CALLER_MS = 3_000;
const ANSWER_MS = 6_000;
const GOODBYE_MS = 3_000;
const BYTES_PER_MS = 8;
const CALLER_SAYS = "Can you tell me what is on my calendar tomorrow?";
const ASSISTANT_SAYS =
  "Tomorrow you have a team meeting at ten and lunch with Sam at one.";
const CALLER_GOODBYE = "That's all, thank you. Bye!";
const ASSISTANT_GOODBYE = "You're welcome. Goodbye!";

export interface EngineCost {
  engine: Engine;
  /** Stream start → the server closed it after the goodbye. */
  callSeconds: number;
  /** What the simulator reported, by model, as the server reads it. */
  usage: UsageTotals;
  /** Priced by the bench with src/cost's price table. */
  microUsd: number;
  perMinuteMicroUsd: number;
  /** What the server itself journaled for the call, if it did. */
  journal: { microUsd: number | undefined; usage: unknown };
  unpriced: string[];
}

export interface CostComparison {
  script: string;
  engines: EngineCost[];
}

/** The script, as the report describes it (the last turn is the goodbye). */
export function scriptOf(turns: number): string {
  return `${turns - 1} turns of ${CALLER_MS / 1000} s of caller speech and a ${
    ANSWER_MS / 1000
  } s answer, ${TURN_MS / 1000} s apart, then a goodbye (${
    GOODBYE_MS / 1000
  } s) and end_call; caller audio streams all along, as Twilio sends it`;
}

/** Both engines' scripted calls, side by side (concurrently: the live one is billed by the second). */
export async function costComparison(
  options: Options,
  pinned: boolean,
): Promise<CostComparison> {
  const turns = Math.max(1, Math.round(options.costSeconds * 1000 / TURN_MS));
  const engines = await Promise.all(
    options.engines.map((engine) =>
      scriptedCall(engine, options, pinned, turns)
    ),
  );
  return { script: scriptOf(turns), engines };
}

async function scriptedCall(
  engine: Engine,
  options: Options,
  pinned: boolean,
  turns: number,
): Promise<EngineCost> {
  const goodbye = new Uint8Array(GOODBYE_MS * BYTES_PER_MS).fill(0x7f);
  const realtime = await FakeRealtime.start({ apiKey: TEST_API_KEY });
  const live = engine === "live"
    ? await FakeLive.start({
      apiKey: TEST_API_KEY,
      // The backend called end_call: GPT-Live says the goodbye it wrote.
      onResponseCreate: (session, outputs) => {
        if (outputs.some((o) => o.name === "end_call")) {
          session.reply(ASSISTANT_GOODBYE, { audio: goodbye });
        }
      },
    })
    : undefined;
  const kvDir = await Deno.makeTempDir({ prefix: `bench-cost-${engine}-` });
  let server: ServerProcess | undefined;
  try {
    server = await startBenchServer(options, {
      engine,
      realtimeUrl: realtime.url,
      liveUrl: live?.url,
      kvDir,
      pinned,
      maxCalls: 10,
    });
    const callSid = `CA${crypto.getRandomValues(new Uint8Array(16)).toHex()}`;
    const edge = await connect(server.port, callSid);
    const openedAt = performance.now();
    // Twilio streams the caller's line all along, speech or not.
    const line = edge.sendAudio(
      new Uint8Array((turns * TURN_MS + 30_000) * BYTES_PER_MS).fill(0xff),
    );
    if (live) await speakLive(await live.nextSession(10_000), turns);
    else {await speakRealtime(
        await realtime.nextSession(10_000),
        turns,
        goodbye,
      );}
    const closed = await Promise.race([
      edge.closed.then(() => true),
      delay(turns * TURN_MS + 30_000).then(() => false),
    ]);
    if (!closed) edge.close();
    await line;
    const callSeconds = (performance.now() - openedAt) / 1000;
    const usage = live
      ? liveUsage(live.sessions[0])
      : realtimeUsage(realtime.sessions[0]);
    const cost = priceUsage(usage, DEFAULT_PRICES);
    const journal = await journaled(server.port, callSid);
    return {
      engine,
      callSeconds: Math.round(callSeconds * 10) / 10,
      usage,
      microUsd: cost.microUsd,
      perMinuteMicroUsd: Math.round(cost.microUsd / (callSeconds / 60)),
      journal,
      unpriced: cost.unpriced,
    };
  } finally {
    if (server) await stopServer(server);
    await live?.close();
    await realtime.close();
    await Deno.remove(kvDir, { recursive: true }).catch(() => {});
  }
}

async function connect(port: number, callSid: string): Promise<TwilioEdge> {
  const streamUrl = streamUrlOf(
    await webhookTwiml(
      `http://127.0.0.1:${port}`,
      `${PUBLIC_ORIGIN}/incoming-call`,
      { ...CALL_PARAMS, CallSid: callSid },
    ),
  );
  return await TwilioEdge.connect({
    url: `ws://127.0.0.1:${port}${new URL(streamUrl).pathname}`,
    signedUrl: streamUrl,
    authToken: TEST_AUTH_TOKEN,
    callSid,
    accountSid: CALL_PARAMS.AccountSid,
    customParameters: { caller: CALL_PARAMS.From },
  });
}

function answer(ms: number): Uint8Array {
  return new Uint8Array(ms * BYTES_PER_MS).fill(0x7f);
}

/** The script on Realtime: server VAD hears each turn, the model answers it. */
async function speakRealtime(
  session: FakeRealtimeSession,
  turns: number,
  goodbye: Uint8Array,
): Promise<void> {
  const paced = { chunkBytes: 800, intervalMs: 100 };
  for (let turn = 0; turn < turns; turn++) {
    const last = turn === turns - 1;
    await delay(turn === 0 ? 1000 : TURN_MS - CALLER_MS - ANSWER_MS);
    session.speechStarted();
    await delay(last ? CALLER_MS - 1000 : CALLER_MS);
    session.speechStopped();
    session.callerSaid(last ? CALLER_GOODBYE : CALLER_SAYS);
    if (last) {
      // The goodbye, then end_call, in one response, as the model does.
      await session.functionCall({ name: "end_call" }, {
        preamble: { audio: goodbye, transcript: ASSISTANT_GOODBYE, ...paced },
      }).done;
    } else {
      await session.speak(answer(ANSWER_MS), {
        transcript: ASSISTANT_SAYS,
        ...paced,
      }).done;
    }
  }
}

/** The same script on GPT-Live: it hears the caller and answers by itself; the goodbye goes through end_call. */
async function speakLive(
  session: FakeLiveSession,
  turns: number,
): Promise<void> {
  await session.waitStarted(10_000);
  for (let turn = 0; turn < turns; turn++) {
    const last = turn === turns - 1;
    await delay(turn === 0 ? 1000 : TURN_MS - CALLER_MS - ANSWER_MS);
    await delay(last ? CALLER_MS - 1000 : CALLER_MS);
    session.callerSaid(last ? CALLER_GOODBYE : CALLER_SAYS);
    if (last) {
      // The backend decides to hang up; GPT-Live speaks its goodbye (onResponseCreate).
      session.callFunction({ name: "end_call" });
    } else {
      await session.speak(answer(ANSWER_MS), { transcript: ASSISTANT_SAYS })
        .done;
    }
  }
}

/** Every response.done's usage, read as the server reads it. */
function realtimeUsage(session: FakeRealtimeSession | undefined): UsageTotals {
  let totals: UsageTotals = {};
  const model = String(session?.session.model);
  for (const usage of session?.usages ?? []) {
    const parsed = parseServerEvent(JSON.stringify({
      type: "response.done",
      response: { id: "resp", usage },
    }));
    const tokens: TokenCounts = parsed.ok &&
        parsed.event.type === "response.done" && parsed.event.usage
      ? parsed.event.usage
      : noTokens();
    totals = addUsage(totals, {
      kind: "tokens",
      model,
      tokens,
    });
  }
  return totals;
}

/** The session's billed seconds and the backend's tokens, from the events it sent. */
function liveUsage(session: FakeLiveSession | undefined): UsageTotals {
  let totals: UsageTotals = {};
  for (const event of session?.emitted ?? []) {
    if (
      event.type === "session.closed" || event.type === "session.usage.updated"
    ) {
      const usage = isRecord(event.usage) ? event.usage : {};
      if (typeof usage.seconds === "number") {
        totals = addUsage(totals, {
          kind: "seconds",
          model: String(session?.session?.model ?? "gpt-live-1"),
          seconds: usage.seconds,
        });
      }
    }
    const nested = isRecord(event.event) ? event.event : {};
    const response = isRecord(nested.response) ? nested.response : {};
    const tokens = nested.type === "response.completed"
      ? responsesUsage(response.usage)
      : undefined;
    if (tokens) {
      totals = addUsage(totals, {
        kind: "tokens",
        model: String(response.model),
        tokens,
      });
    }
  }
  return totals;
}

/** The server's own record of the call's cost (written when the call ends). */
async function journaled(
  port: number,
  callSid: string,
): Promise<EngineCost["journal"]> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const body = await journalRecord(port, callSid).catch(() => undefined);
    const record = isRecord(body?.record) ? body.record : undefined;
    if (record && record.endedAt !== null && record.endedAt !== undefined) {
      return {
        microUsd: typeof record.costMicroUsd === "number"
          ? record.costMicroUsd
          : undefined,
        usage: record.usage,
      };
    }
    await delay(100);
  }
  return { microUsd: undefined, usage: undefined };
}
