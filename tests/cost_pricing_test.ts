/**
 * Prices and costs: the built-in table, PRICES_JSON, and exact integer
 * pricing of token and second usage.
 */
import assert from "node:assert/strict";
import { DEFAULT_PRICES, parsePrices, priceOf } from "../src/cost/prices.ts";
import { formatUsd, priceUsage } from "../src/cost/pricing.ts";
import { addUsage, noTokens, type UsageTotals } from "../src/cost/usage.ts";

function tokens(partial: Partial<ReturnType<typeof noTokens>>) {
  return { ...noTokens(), ...partial };
}

Deno.test("the built-in prices are OpenAI's per-1M-token and per-minute figures, as integer micro-dollars", () => {
  assert.deepEqual(DEFAULT_PRICES["gpt-realtime-2.1"], {
    audio: { input: 32_000_000, cachedInput: 400_000, output: 64_000_000 },
    text: { input: 4_000_000, cachedInput: 400_000, output: 24_000_000 },
  });
  assert.deepEqual(DEFAULT_PRICES["gpt-realtime-2.1-mini"], {
    audio: { input: 10_000_000, cachedInput: 300_000, output: 20_000_000 },
    text: { input: 600_000, cachedInput: 60_000, output: 2_400_000 },
  });
  assert.deepEqual(DEFAULT_PRICES["gpt-live-1"], { perMinute: 50_000 });
  assert.deepEqual(DEFAULT_PRICES["gpt-5.4-mini"], {
    text: { input: 750_000, cachedInput: 75_000, output: 4_500_000 },
  });
});

Deno.test("priceUsage() prices each kind of token at its rate, cached input at the cached rate, exactly", () => {
  const usage: UsageTotals = {
    "gpt-realtime-2.1": {
      tokens: tokens({
        inputText: 1_000,
        cachedText: 400,
        inputAudio: 2_000,
        cachedAudio: 1_500,
        outputText: 30,
        outputAudio: 500,
      }),
      seconds: 0,
    },
  };
  // text: 600×4 + 400×0.4 + 30×24 = 2400 + 160 + 720 = 3280 µ$·(1M/1M)
  // audio: 500×32 + 1500×0.4 + 500×64 = 16000 + 600 + 32000 = 48600
  // (tokens × $/1M = µ$, since 1 $/1M tokens is 1 µ$ per token)
  assert.deepEqual(priceUsage(usage, DEFAULT_PRICES), {
    microUsd: 3280 + 48600,
    unpriced: [],
  });
});

Deno.test("priceUsage() sums many small responses with no drift: 10 000 × 1 cached token at $0.06/1M is 600 µ$", () => {
  let usage: UsageTotals = {};
  for (let i = 0; i < 10_000; i++) {
    usage = addUsage(usage, {
      kind: "tokens",
      model: "gpt-realtime-2.1-mini",
      tokens: tokens({ inputText: 1, cachedText: 1 }),
    });
  }
  assert.equal(priceUsage(usage, DEFAULT_PRICES).microUsd, 600);
  // 0.06 added 10 000 times in floating point is not 600.
  let float = 0;
  for (let i = 0; i < 10_000; i++) float += 0.06;
  assert.notEqual(float, 600);
});

Deno.test("priceUsage() bills GPT-Live seconds at $0.05 a minute per second, rounded once to the micro-dollar", () => {
  const usage: UsageTotals = {
    "gpt-live-1": { tokens: noTokens(), seconds: 31.25 },
  };
  // 31.25 s × 50 000 µ$ / 60 s = 26 041.67 µ$
  assert.equal(priceUsage(usage, DEFAULT_PRICES).microUsd, 26_042);
  const minute = { "gpt-live-1": { tokens: noTokens(), seconds: 60 } };
  assert.equal(priceUsage(minute, DEFAULT_PRICES).microUsd, 50_000);
});

Deno.test("addUsage() adds tokens but keeps the largest cumulative seconds (GPT-Live reports totals)", () => {
  let usage: UsageTotals = {};
  for (const seconds of [12, 30, 25]) {
    usage = addUsage(usage, { kind: "seconds", model: "gpt-live-1", seconds });
  }
  assert.equal(usage["gpt-live-1"].seconds, 30);
  usage = addUsage(usage, {
    kind: "tokens",
    model: "gpt-5.4-mini",
    tokens: tokens({ inputText: 10, outputText: 5 }),
  });
  usage = addUsage(usage, {
    kind: "tokens",
    model: "gpt-5.4-mini",
    tokens: tokens({ inputText: 1, outputText: -3 }),
  });
  assert.deepEqual(
    usage["gpt-5.4-mini"].tokens,
    tokens({ inputText: 11, outputText: 5 }),
  );
});

Deno.test("a model with no price is named, not guessed; a dated snapshot takes its alias's price", () => {
  const usage: UsageTotals = {
    "gpt-5.4-mini-2026-03-17": {
      tokens: tokens({ inputText: 1_000_000 }),
      seconds: 0,
    },
    "gpt-mystery": { tokens: tokens({ outputText: 10 }), seconds: 0 },
  };
  assert.deepEqual(priceUsage(usage, DEFAULT_PRICES), {
    microUsd: 750_000,
    unpriced: ["gpt-mystery"],
  });
  assert.equal(
    priceOf(DEFAULT_PRICES, "gpt-realtime-2.1-2026-09-01"),
    DEFAULT_PRICES["gpt-realtime-2.1"],
  );
});

Deno.test("PRICES_JSON replaces a model's entry whole and adds new models, in dollars", () => {
  const { table, problems } = parsePrices(JSON.stringify({
    "gpt-realtime-2.1": { audio: { input: 30, cached_input: 0.3, output: 60 } },
    "my-proxy-model": { text: { input: 1.25, output: 10 } },
    "gpt-live-1": { per_minute: 0.04 },
  }));
  assert.deepEqual(problems, []);
  assert.deepEqual(table["gpt-realtime-2.1"], {
    audio: { input: 30_000_000, cachedInput: 300_000, output: 60_000_000 },
  });
  // No cached rate given: cached input costs what input costs.
  assert.deepEqual(table["my-proxy-model"], {
    text: { input: 1_250_000, cachedInput: 1_250_000, output: 10_000_000 },
  });
  assert.deepEqual(table["gpt-live-1"], { perMinute: 40_000 });
  assert.equal(table["gpt-5.4-mini"], DEFAULT_PRICES["gpt-5.4-mini"]);
});

Deno.test("PRICES_JSON that is not JSON, not an object, or has bad entries is refused with every problem", () => {
  assert.deepEqual(parsePrices("{").problems, ["PRICES_JSON is not JSON"]);
  assert.match(parsePrices("[1]").problems[0], /must be an object/);
  const { problems } = parsePrices(JSON.stringify({
    "bad model": { text: { input: 1, output: 1 } },
    "m1": { text: { input: -1, output: 1 } },
    "m2": { text: { input: 1 } },
    "m3": { video: {} },
    "m4": { per_minute: 0.0000001 },
    "m5": { text: { input: 1, output: 1, extra: 2 } },
  }));
  assert.equal(problems.length, 6, problems.join("\n"));
  assert.match(problems.join("\n"), /"bad model".*not a model name/);
  assert.match(problems.join("\n"), /m1"\]\.text\.input must be a number/);
  assert.match(problems.join("\n"), /m2"\]\.text\.output must be a number/);
  assert.match(problems.join("\n"), /m3"\]: unknown key "video"/);
  assert.match(
    problems.join("\n"),
    /m4"\]\.per_minute has more than 6 decimals/,
  );
  assert.match(problems.join("\n"), /m5"\]\.text: unknown key "extra"/);
});

Deno.test("formatUsd() shows micro-dollars with the asked decimals, rounded half up", () => {
  assert.equal(formatUsd(0), "$0.0000");
  assert.equal(formatUsd(51_880), "$0.0519");
  assert.equal(formatUsd(12_345_678, 2), "$12.35");
  assert.equal(formatUsd(1_005_000, 2), "$1.01");
  assert.equal(formatUsd(999_999, 2), "$1.00");
});

Deno.test("addUsage() sums duration usage (input transcription) in whole milliseconds", () => {
  let totals: UsageTotals = {};
  for (const seconds of [0.94, 0.94, 0.94, -1, Number.NaN]) {
    totals = addUsage(totals, {
      kind: "duration",
      model: "gpt-live-transcribe",
      seconds,
    });
  }
  assert.deepEqual(totals, {
    "gpt-live-transcribe": { tokens: noTokens(), seconds: 2.82 },
  });
  assert.equal(
    priceUsage(totals, DEFAULT_PRICES).microUsd,
    Math.round(2.82 * 17_000 / 60),
  );
});
