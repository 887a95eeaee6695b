import assert from "node:assert/strict";
import { briefingDue } from "../src/outbound/briefing.ts";
import type { BriefingSettings } from "../src/config/outbound.ts";
import { describeWhen, parseWhen } from "../src/outbound/when.ts";
import { localParts, localToEpoch } from "../src/outbound/zoned_time.ts";

const PARIS = "Europe/Paris";
/** Monday 30 November 2026, 11:00 in Paris (UTC+1). */
const NOW = Date.parse("2026-11-30T10:00:00Z");

function at(text: string, now = NOW, zone = PARIS): string {
  const result = parseWhen(text, now, zone);
  if (!result.ok) throw new Error(`${text}: ${result.error}`);
  return new Date(result.at).toISOString();
}

function refused(text: string, now = NOW, zone = PARIS): string {
  const result = parseWhen(text, now, zone);
  assert.equal(result.ok, false, `${text} was accepted`);
  return result.ok ? "" : result.error;
}

Deno.test("parseWhen() reads relative times from now", () => {
  assert.equal(at("in 20 minutes"), "2026-11-30T10:20:00.000Z");
  assert.equal(at("In 20 min."), "2026-11-30T10:20:00.000Z");
  assert.equal(at("in an hour"), "2026-11-30T11:00:00.000Z");
  assert.equal(at("in half an hour"), "2026-11-30T10:30:00.000Z");
  assert.equal(at("in 1.5 hours"), "2026-11-30T11:30:00.000Z");
});

Deno.test("parseWhen() reads a time of day in the owner's zone: 24-hour, am/pm, noon", () => {
  assert.equal(at("20:00"), "2026-11-30T19:00:00.000Z");
  assert.equal(at("8pm"), "2026-11-30T19:00:00.000Z");
  assert.equal(at("at 8:30 p.m."), "2026-11-30T19:30:00.000Z");
  assert.equal(at("noon"), "2026-11-30T11:00:00.000Z");
  assert.equal(at("tonight at 9"), "2026-11-30T20:00:00.000Z");
  // The same words in another zone are another instant.
  assert.equal(
    at("20:00", NOW, "America/New_York"),
    "2026-12-01T01:00:00.000Z",
  );
});

Deno.test("parseWhen() takes a bare time already past today as tomorrow's", () => {
  assert.equal(at("10:00"), "2026-12-01T09:00:00.000Z");
  assert.equal(at("7am"), "2026-12-01T06:00:00.000Z");
});

Deno.test("parseWhen() reads a day with the time, either way round", () => {
  assert.equal(at("tomorrow 7:30"), "2026-12-01T06:30:00.000Z");
  assert.equal(at("7:30 tomorrow"), "2026-12-01T06:30:00.000Z");
  assert.equal(at("8pm tomorrow"), "2026-12-01T19:00:00.000Z");
  assert.equal(at("tomorrow at 7:30am"), "2026-12-01T06:30:00.000Z");
  assert.equal(at("Friday 9am"), "2026-12-04T08:00:00.000Z");
  assert.equal(at("on fri at 9am"), "2026-12-04T08:00:00.000Z");
  // Monday 9am has passed this Monday: next week's.
  assert.equal(at("monday 9am"), "2026-12-07T08:00:00.000Z");
});

Deno.test("parseWhen() reads ISO 8601: local without an offset, exact with one", () => {
  assert.equal(at("2026-12-01T08:00"), "2026-12-01T07:00:00.000Z");
  assert.equal(at("2026-12-01 08:00:00"), "2026-12-01T07:00:00.000Z");
  assert.equal(at("2026-12-01T08:00:00Z"), "2026-12-01T08:00:00.000Z");
  assert.equal(at("2026-12-01T08:00+05:00"), "2026-12-01T03:00:00.000Z");
});

Deno.test("parseWhen() refuses the past, more than 30 days ahead, ambiguous hours and nonsense", () => {
  assert.match(refused("today 9:00"), /already passed/);
  assert.match(refused("2026-11-30T09:00"), /already passed/);
  assert.match(refused("2026-12-31T08:00"), /more than 30 days/);
  assert.match(refused("in 31 days"), /did not understand/);
  assert.match(refused("in 800 hours"), /more than 30 days/);
  assert.match(refused("at 8"), /morning or evening/);
  assert.match(refused("in 0 minutes"), /did not understand/);
  assert.match(refused("25:00"), /did not understand/);
  assert.match(refused("2026-02-30T08:00"), /did not understand/);
  assert.match(refused("whenever"), /did not understand/);
  assert.match(refused("  "), /No time given/);
});

Deno.test("parseWhen() is DST-correct: the offset of the day asked for, not of today", () => {
  // Saturday 27 March 2027, 13:00 in Paris (CET); clocks go forward that night.
  const saturday = Date.parse("2027-03-27T12:00:00Z");
  assert.equal(at("tomorrow 8:00", saturday), "2027-03-28T06:00:00.000Z");
  // 02:30 does not exist that night: it is 03:30 CEST, as Temporal would say.
  assert.equal(at("tomorrow 2:30", saturday), "2027-03-28T01:30:00.000Z");
  // New York falls back on Sunday 1 November 2026: 01:30 happens twice, the first counts.
  const ny = "America/New_York";
  const before = Date.parse("2026-10-31T16:00:00Z");
  assert.equal(at("tomorrow 1:30", before, ny), "2026-11-01T05:30:00.000Z");
  assert.equal(at("tomorrow 9am", before, ny), "2026-11-01T14:00:00.000Z");
  assert.equal(at("in 24 hours", before, ny), "2026-11-01T16:00:00.000Z");
});

Deno.test("localToEpoch() and localParts() agree across a whole year of days in a DST zone", () => {
  const zone = "Europe/London";
  for (let day = 0; day < 366; day++) {
    const date = new Date(Date.UTC(2027, 0, 1 + day));
    const local = {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
    };
    const epoch = localToEpoch(local, { hour: 7, minute: 30 }, zone);
    const back = localParts(epoch, zone);
    assert.deepEqual(
      [back.year, back.month, back.day, back.hour, back.minute],
      [local.year, local.month, local.day, 7, 30],
    );
  }
});

Deno.test("describeWhen() says the time as the assistant should repeat it", () => {
  const say = (iso: string) => describeWhen(Date.parse(iso), NOW, PARIS);
  assert.equal(
    say("2026-11-30T10:20:00Z"),
    "today at 11:20 am (in 20 minutes)",
  );
  assert.equal(say("2026-11-30T19:00:00Z"), "today at 8:00 pm");
  assert.equal(say("2026-12-01T06:30:00Z"), "tomorrow at 7:30 am");
  assert.equal(say("2026-12-04T08:00:00Z"), "on Friday 4 December at 9:00 am");
  assert.equal(say("2026-11-30T23:05:00Z"), "tomorrow at 12:05 am");
});

Deno.test("briefingDue(): at BRIEFING_AT on the owner's clock, for half an hour, on the right days", () => {
  const weekdays: BriefingSettings = {
    at: { hour: 7, minute: 30 },
    days: "weekdays",
  };
  const daily: BriefingSettings = { ...weekdays, days: "daily" };
  const due = (iso: string, briefing = weekdays, zone = PARIS) =>
    briefingDue(Date.parse(iso), briefing, zone);
  // Monday 30 November 2026: 07:30 in Paris is 06:30 UTC.
  assert.equal(due("2026-11-30T06:29:59Z"), undefined);
  assert.equal(due("2026-11-30T06:30:00Z"), "2026-11-30");
  assert.equal(due("2026-11-30T06:59:00Z"), "2026-11-30");
  assert.equal(due("2026-11-30T07:00:00Z"), undefined, "half an hour late");
  // Saturday 5 December: weekdays skip it, daily does not.
  assert.equal(due("2026-12-05T06:30:00Z"), undefined);
  assert.equal(due("2026-12-05T06:30:00Z", daily), "2026-12-05");
  // Summer time moves it an hour in UTC, with no change to BRIEFING_AT.
  assert.equal(due("2027-06-01T05:30:00Z"), "2027-06-01");
  assert.equal(due("2027-06-01T06:30:00Z"), undefined);
});

Deno.test("briefingDue(): a BRIEFING_AT skipped by the spring-forward change happens when the clock resumes", () => {
  const early: BriefingSettings = {
    at: { hour: 2, minute: 30 },
    days: "daily",
  };
  // Sunday 28 March 2027 in Paris: 02:00 CET becomes 03:00 CEST (01:00 UTC).
  assert.equal(
    briefingDue(Date.parse("2027-03-28T00:30:00Z"), early, PARIS),
    undefined,
  );
  assert.equal(
    briefingDue(Date.parse("2027-03-28T01:30:00Z"), early, PARIS),
    "2027-03-28",
  );
});
