/** The memory, summary, price and budget variables, validated with the rest. */
import assert from "node:assert/strict";
import {
  ConfigError,
  type ConfigVariable,
  envReader,
  loadConfig,
} from "../src/config.ts";
import { DEFAULT_PRICES } from "../src/cost/prices.ts";

const REQUIRED = { OPENAI_API_KEY: "sk-test-key", TWILIO_AUTH_TOKEN: "tok" };

function load(env: Partial<Record<ConfigVariable, string>>) {
  return loadConfig(
    envReader(new Map(Object.entries({ ...REQUIRED, ...env }))),
  );
}

Deno.test("memory is on by default, 30 days of summaries by gpt-5.4-mini, built-in prices, no budget", () => {
  const config = load({});
  assert.equal(config.memory.enabled, true);
  assert.equal(config.memory.days, 30);
  assert.equal(config.memory.summaryModel, "gpt-5.4-mini");
  assert.equal(config.cost.prices, DEFAULT_PRICES);
  assert.equal(config.cost.dailyBudgetMicroUsd, undefined);
});

Deno.test("MEMORY, MEMORY_DAYS, SUMMARY_MODEL, PRICES_JSON and DAILY_BUDGET_USD are read when set", () => {
  const config = load({
    MEMORY: "false",
    MEMORY_DAYS: "7",
    SUMMARY_MODEL: "gpt-5.4-nano",
    PRICES_JSON: '{"gpt-5.4-nano":{"text":{"input":0.2,"output":1.25}}}',
    DAILY_BUDGET_USD: "2.50",
  });
  assert.equal(config.memory.enabled, false);
  assert.equal(config.memory.days, 7);
  assert.equal(config.memory.summaryModel, "gpt-5.4-nano");
  assert.deepEqual(config.cost.prices["gpt-5.4-nano"], {
    text: { input: 200_000, cachedInput: 200_000, output: 1_250_000 },
  });
  assert.equal(config.cost.dailyBudgetMicroUsd, 2_500_000);
});

Deno.test("bad memory, price and budget variables are refused at start-up, all in one error", () => {
  try {
    load({
      MEMORY: "maybe",
      MEMORY_DAYS: "0",
      SUMMARY_MODEL: "gpt 5",
      PRICES_JSON: '{"gpt-live-1":{"per_minute":"cheap"}}',
      DAILY_BUDGET_USD: "-1",
    });
    assert.fail("accepted");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const text = error.problems.join("\n");
    assert.equal(error.problems.length, 5, text);
    assert.match(text, /MEMORY must be true or false/);
    assert.match(text, /MEMORY_DAYS must be a whole number from 1 to 3650/);
    assert.match(text, /SUMMARY_MODEL must be a model name/);
    assert.match(
      text,
      /PRICES_JSON\["gpt-live-1"\]\.per_minute must be a number/,
    );
    assert.match(text, /DAILY_BUDGET_USD must be a number from 0\.01/);
  }
});
