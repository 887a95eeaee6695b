/**
 * What each call cost: Realtime's `response.done` usage over real sockets
 * (and the summary's tokens after it), GPT-Live's seconds and backend
 * tokens in-process, priced exactly, journaled per call and shown on /calls.
 */
import assert from "node:assert/strict";
import type { RealtimeResponseUsage } from "openai/resources/realtime/realtime";
import type { ServerEvent as LiveWireEvent } from "openai/resources/live/live";
import type { ResponseUsage } from "openai/resources/responses/responses";
import { CallBridge } from "../src/call/bridge.ts";
import { DEFAULT_PRICES } from "../src/cost/prices.ts";
import { formatSpend, formatUsd } from "../src/cost/pricing.ts";
import { SpendLedger } from "../src/cost/spend.ts";
import { CallJournal } from "../src/journal/journal.ts";
import { LiveEngine } from "../src/live/engine.ts";
import { endCall } from "../src/tools/end_call.ts";
import { ToolBox } from "../src/tools/toolbox.ts";
import {
  CALL_SID,
  FakeClock,
  FakeTwilio,
  FakeUpstream,
} from "./helpers/bridge_harness.ts";
import { memoryLogger } from "./helpers/logs.ts";
import { hangUp, placeCall, waitForSummary } from "./helpers/placed_call.ts";
import { randomAudio, startTestServer } from "./helpers/test_server.ts";

/**
 * The price formula, written out again from OpenAI's price list (dollars
 * per 1M tokens, so tokens × price is micro-dollars × 10⁶ / 10⁶): the sum
 * in exact integers of "µ$ × 10⁶", rounded half up once.
 */
const PER_1M = {
  realtimeText: { input: 4_000_000n, cached: 400_000n, output: 24_000_000n },
  realtimeAudio: { input: 32_000_000n, cached: 400_000n, output: 64_000_000n },
  miniText: { input: 750_000n, cached: 75_000n, output: 4_500_000n },
};

function realtimeCost(usages: RealtimeResponseUsage[]): bigint {
  let total = 0n;
  for (const u of usages) {
    const i = u.input_token_details!;
    const o = u.output_token_details!;
    const cachedText = BigInt(i.cached_tokens_details!.text_tokens!);
    const cachedAudio = BigInt(i.cached_tokens_details!.audio_tokens!);
    total += (BigInt(i.text_tokens!) - cachedText) * PER_1M.realtimeText.input +
      cachedText * PER_1M.realtimeText.cached +
      BigInt(o.text_tokens!) * PER_1M.realtimeText.output +
      (BigInt(i.audio_tokens!) - cachedAudio) * PER_1M.realtimeAudio.input +
      cachedAudio * PER_1M.realtimeAudio.cached +
      BigInt(o.audio_tokens!) * PER_1M.realtimeAudio.output;
  }
  return total;
}

function miniCost(usage: ResponseUsage): bigint {
  const cached = BigInt(usage.input_tokens_details.cached_tokens);
  return (BigInt(usage.input_tokens) - cached) * PER_1M.miniText.input +
    cached * PER_1M.miniText.cached +
    BigInt(usage.output_tokens) * PER_1M.miniText.output;
}

/**
 * µ$ × 10⁶ plus gpt-live-transcribe's $0.017 a minute for `ms` of audio,
 * to the micro-dollar, half up (the per-ms price is not a whole µ$ × 10⁶).
 */
function microWithTranscription(units: bigint, ms: number): number {
  const perMinute = units * 60_000n + BigInt(ms) * 17_000n * 1_000_000n;
  return Number((perMinute + 30_000_000_000n) / 60_000_000_000n);
}

Deno.test("a Realtime call's cost is the exact price of every response.done usage and of its input transcription's seconds, plus its summary's tokens", async () => {
  const server = await startTestServer({}, {
    responses: {
      // Slow enough that the record is read before the summary adds to it.
      delayMs: 300,
      reply: () =>
        JSON.stringify({
          summary: "Two questions.",
          open_loops: [],
          todos: [],
        }),
    },
  });
  try {
    const call = await placeCall(server, 1);
    for (let turn = 0; turn < 3; turn++) {
      await call.edge.sendAudio(randomAudio(160 * 25));
      call.session.speechStarted();
      call.session.speechStopped();
      call.session.callerSaid(`Question number ${turn}?`);
      const spoken = call.session.speak(randomAudio(8 * 700), {
        transcript: `Answer number ${turn}, at some length.`,
      });
      await spoken.done;
      await call.edge.waitForPlayed(8 * 700 * (turn + 1), 4000);
    }
    const usages = [...call.session.usages];
    assert.equal(usages.length, 3);
    assert.ok(
      usages[2].input_token_details!.cached_tokens! > 0,
      "later responses read a cached prefix",
    );
    // Each turn's audio, as transcription billed it (about 25 frames, and
    // the silence while the caller listened).
    const transcribed = call.session.transcribedSeconds;
    assert.equal(transcribed.length, 3);
    assert.ok(transcribed.every((seconds) => seconds > 0));
    const ms = Math.round(transcribed.reduce((a, b) => a + b, 0) * 1000);
    const voiceOnly = await hangUp(server, call);
    assert.equal(
      voiceOnly.costMicroUsd,
      microWithTranscription(realtimeCost(usages), ms),
    );
    assert.equal(voiceOnly.usage!["gpt-live-transcribe"].seconds, ms / 1000);

    const record = await waitForSummary(server, call.callSid);
    const [answer] = server.realtime.responsesApi.responses;
    const expected = microWithTranscription(
      realtimeCost(usages) + miniCost(answer.usage!),
      ms,
    );
    assert.equal(record.costMicroUsd, expected);
    assert.equal(record.unpricedModels, undefined);
    const voice = record.usage!["gpt-realtime-2.1"].tokens;
    assert.equal(
      voice.outputAudio,
      usages.reduce((n, u) => n + u.output_token_details!.audio_tokens!, 0),
    );
    assert.deepEqual(record.usage![answer.model].tokens, {
      inputText: answer.usage!.input_tokens,
      inputAudio: 0,
      cachedText: 0,
      cachedAudio: 0,
      outputText: answer.usage!.output_tokens,
      outputAudio: 0,
    });

    // The day and the month are that call's cost, and /calls shows them.
    const now = Date.now();
    assert.equal(await server.app.spend.day(now), expected);
    assert.equal(await server.app.spend.monthToDate(now), expected);
  } finally {
    await server.close();
  }
});

Deno.test("/calls shows each call's cost and the month to date; /api/calls carries them", async () => {
  const ADMIN_TOKEN = "cost-page-admin-token-0123";
  const server = await startTestServer({ ADMIN_TOKEN, MEMORY: "false" });
  try {
    const costs: number[] = [];
    for (const n of [1, 2]) {
      const call = await placeCall(server, n);
      await call.session.speak(randomAudio(8 * 400 * n)).done;
      await call.edge.waitForPlayed(8 * 400 * n, 3000);
      const record = await hangUp(server, call);
      costs.push(record.costMicroUsd!);
    }
    assert.ok(costs[1] > costs[0] && costs[0] > 0, String(costs));
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const page =
      await (await fetch(`${server.origin}/calls`, { headers: auth }))
        .text();
    for (const cost of costs) assert.ok(page.includes(formatUsd(cost)), page);
    assert.ok(
      page.includes(`This month: <b>${formatSpend(costs[0] + costs[1])}</b>`),
    );
    const json = await (await fetch(`${server.origin}/api/calls`, {
      headers: auth,
    })).json();
    assert.deepEqual(
      json.calls.map((c: { costMicroUsd: number }) => c.costMicroUsd),
      [costs[1], costs[0]],
    );
    assert.equal(json.spending.monthToDateMicroUsd, costs[0] + costs[1]);
  } finally {
    await server.close();
  }
});

Deno.test("a GPT-Live call's cost is its session seconds at $0.05/min plus the delegation backend's tokens, exactly", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const logs = memoryLogger();
    const spend = new SpendLedger(kv, "UTC");
    const journal = new CallJournal(kv, {
      retentionDays: 30,
      transcripts: true,
      logger: logs,
      prices: DEFAULT_PRICES,
      spend,
    });
    const clock = new FakeClock();
    const twilio = new FakeTwilio();
    const upstream = new FakeUpstream<LiveWireEvent>();
    const engine = new LiveEngine(upstream, {
      logger: logs,
      clock,
      tools: new ToolBox([endCall]),
      callSid: CALL_SID,
      model: "gpt-live-1",
      backendModel: "gpt-5.4-mini",
    });
    const observer = journal.observe(CALL_SID, "phone");
    new CallBridge({
      twilio,
      engine,
      clock,
      expectedCallSid: CALL_SID,
      logger: logs,
      limits: { maxCallMs: 60_000, startTimeoutMs: 10_000 },
      observer,
    });
    twilio.start(CALL_SID);
    const session = {
      id: "sess_1",
      expires_at: 0,
      model: "gpt-live-1",
      status: "active" as const,
    };
    upstream.emit({ type: "session.started", session });
    upstream.emit({ type: "session.usage.updated", usage: { seconds: 12.5 } });
    const backendUsage: ResponseUsage = {
      input_tokens: 1_000,
      input_tokens_details: { cached_tokens: 200, cache_write_tokens: 0 },
      output_tokens: 150,
      output_tokens_details: { reasoning_tokens: 40 },
      total_tokens: 1_150,
    };
    upstream.emit({
      type: "response.event",
      event: {
        type: "response.completed",
        response: {
          id: "resp_b1",
          status: "completed",
          model: "gpt-5.4-mini",
          usage: backendUsage,
        },
      },
    });
    upstream.emit({ type: "session.usage.updated", usage: { seconds: 30 } });
    // Cumulative: the last total counts, never the sum of the reports.
    upstream.emit({
      type: "session.closed",
      reason: "remote_hangup",
      session,
      usage: { seconds: 31.25 },
    });
    await observer.flushed();
    const record = (await journal.get(CALL_SID))!.record;
    // 31.25 s at 50 000 µ$ a minute is 31 250 ms × 50 000 / 60 000 µ$;
    // backend: 800 × 0.75 + 200 × 0.075 + 150 × 4.5 = 1 290 µ$ exactly.
    assert.equal(miniCost(backendUsage) % 1_000_000n, 0n);
    const backendMicro = miniCost(backendUsage) / 1_000_000n;
    const sixtyThousandths = 31_250n * 50_000n + backendMicro * 60_000n;
    const expected = Number((sixtyThousandths * 2n + 60_000n) / 120_000n);
    assert.equal(expected, 27_332); // 27 331.67 rounded half up
    assert.equal(record.costMicroUsd, expected);
    assert.equal(record.usage!["gpt-live-1"].seconds, 31.25);
    assert.equal(record.usage!["gpt-5.4-mini"].tokens.cachedText, 200);
    assert.equal(await spend.day(record.startedAt), expected);
    await journal.flushed();
  } finally {
    kv.close();
  }
});
