import assert from "node:assert/strict";
import { ConfigError, type ConfigVariable, loadConfig } from "../src/config.ts";

const BASE: Partial<Record<ConfigVariable, string>> = {
  OPENAI_API_KEY: "sk-test",
  TWILIO_AUTH_TOKEN: "token",
};

const OUTBOUND: Partial<Record<ConfigVariable, string>> = {
  PUBLIC_URL: "https://assistant.example.com",
  OWNER_NUMBERS: "+1 (415) 555-0123, +44 20 7946 0958",
  TWILIO_ACCOUNT_SID: "AC0123456789abcdef0123456789abcdef",
  TWILIO_FROM_NUMBER: "+18005550199",
};

function load(variables: Partial<Record<ConfigVariable, string>>) {
  const env = { ...BASE, ...variables };
  return loadConfig((name) => env[name] || undefined);
}

function problems(variables: Partial<Record<ConfigVariable, string>>) {
  try {
    load(variables);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail("accepted");
}

Deno.test("outbound is off when none of its variables is set, tuning variables included", () => {
  assert.equal(load({}).outbound, undefined);
  assert.equal(
    load({
      CALLBACK_RETRY_MINUTES: "5",
      BRIEFING_DAYS: "weekdays",
      TWILIO_API_URL: "https://api.twilio.com",
      DIGEST_SMS: "false",
    }).outbound,
    undefined,
  );
});

Deno.test("outbound settings: owner numbers in E.164, Twilio's API by default, a retry after 5 minutes", () => {
  assert.deepEqual(load(OUTBOUND).outbound, {
    accountSid: "AC0123456789abcdef0123456789abcdef",
    fromNumber: "+18005550199",
    ownerNumbers: ["+14155550123", "+442079460958"],
    apiUrl: "https://api.twilio.com",
    publicUrl: "https://assistant.example.com",
    retryMinutes: 5,
    briefing: undefined,
    digestSms: false,
    caps: { maxPending: 10, maxPerDay: 10, minGapMinutes: 10 },
  });
  const briefing = load({
    ...OUTBOUND,
    BRIEFING_AT: "7:30",
    BRIEFING_DAYS: "Daily",
    CALLBACK_RETRY_MINUTES: "2.5",
    DIGEST_SMS: "true",
    TWILIO_API_URL: "http://127.0.0.1:8080/",
  }).outbound;
  assert.deepEqual(briefing?.briefing, {
    at: { hour: 7, minute: 30 },
    days: "daily",
  });
  assert.equal(briefing?.retryMinutes, 2.5);
  assert.equal(briefing?.digestSms, true);
  assert.equal(briefing?.apiUrl, "http://127.0.0.1:8080");
});

Deno.test("any outbound variable switches it on, and every missing one is listed in the one ConfigError", () => {
  assert.deepEqual(
    problems({ OWNER_NUMBERS: "+14155550123" }).filter((p) =>
      p.includes("required for outbound calls")
    ).map((p) => p.split(" ")[0]),
    ["TWILIO_ACCOUNT_SID", "TWILIO_FROM_NUMBER", "PUBLIC_URL"],
  );
  assert.equal(
    problems({ BRIEFING_AT: "07:30", PORT: "x" }).length,
    5,
    "four outbound variables and PORT, together",
  );
  assert.equal(problems({ DIGEST_SMS: "true" }).length, 4);
});

Deno.test("invalid outbound values are refused, the account SID without being echoed", () => {
  const found = problems({
    ...OUTBOUND,
    OWNER_NUMBERS: "+14155550123, 0415 555 0123, call me",
    TWILIO_ACCOUNT_SID: "SK-not-an-account-sid-xyz",
    TWILIO_FROM_NUMBER: "my twilio number",
    TWILIO_API_URL: "https://api.twilio.com/2010-04-01",
    BRIEFING_AT: "7.30am",
    BRIEFING_DAYS: "weekends",
    CALLBACK_RETRY_MINUTES: "0",
    DIGEST_SMS: "maybe",
  });
  const text = found.join("\n");
  assert.equal(found.length, 8, text);
  assert.match(text, /OWNER_NUMBERS must be .*"0415 555 0123", "call me"/);
  assert.match(text, /TWILIO_ACCOUNT_SID must be your account's SID/);
  assert.ok(!text.includes("SK-not-an-account-sid-xyz"));
  assert.match(text, /TWILIO_FROM_NUMBER must be/);
  assert.match(text, /TWILIO_API_URL must be an origin/);
  assert.match(text, /BRIEFING_AT must be a 24-hour time/);
  assert.match(text, /BRIEFING_DAYS must be one of weekdays, daily/);
  assert.match(text, /CALLBACK_RETRY_MINUTES must be a number/);
  assert.match(text, /DIGEST_SMS must be true or false/);
});

Deno.test("outbound settings: SCHEDULED_CALLS_* caps within sane bounds, with clear errors", () => {
  assert.deepEqual(
    load({
      ...OUTBOUND,
      SCHEDULED_CALLS_MAX_PENDING: "3",
      SCHEDULED_CALLS_MAX_PER_DAY: "5",
      SCHEDULED_CALLS_MIN_GAP_MINUTES: "0",
    }).outbound?.caps,
    { maxPending: 3, maxPerDay: 5, minGapMinutes: 0 },
  );
  for (
    const [name, value] of [
      ["SCHEDULED_CALLS_MAX_PENDING", "0"],
      ["SCHEDULED_CALLS_MAX_PENDING", "1000"],
      ["SCHEDULED_CALLS_MAX_PER_DAY", "2.5"],
      ["SCHEDULED_CALLS_MIN_GAP_MINUTES", "-1"],
      ["SCHEDULED_CALLS_MIN_GAP_MINUTES", "many"],
    ]
  ) {
    assert.throws(
      () => load({ ...OUTBOUND, [name]: value }),
      new RegExp(
        `${name} must be a whole number from \\d+ to \\d+ \\(got "${value}"\\)`,
      ),
    );
  }
});
