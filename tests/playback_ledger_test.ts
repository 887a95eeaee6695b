import assert from "node:assert/strict";
import { prng } from "./helpers/prng.ts";
import {
  MULAW_BYTES_PER_MS,
  PlaybackLedger,
} from "../src/call/playback_ledger.ts";

Deno.test("MULAW_BYTES_PER_MS is 8 (G.711 µ-law at 8 kHz)", () => {
  assert.equal(MULAW_BYTES_PER_MS, 8);
});

Deno.test("PlaybackLedger with nothing sent is not playing and has heard nothing", () => {
  const ledger = new PlaybackLedger();
  assert.equal(ledger.playing, false);
  assert.equal(ledger.heard(0), undefined);
  assert.equal(ledger.heard(1_000_000), undefined);
});

Deno.test("PlaybackLedger.sent() returns a mark and starts playing", () => {
  const ledger = new PlaybackLedger();
  const mark = ledger.sent("item_A", 1600, 0);
  assert.equal(typeof mark, "string");
  assert.ok(mark.length > 0);
  assert.equal(ledger.playing, true);
});

Deno.test("PlaybackLedger.heard() advances at real time from the send", () => {
  const ledger = new PlaybackLedger();
  ledger.sent("item_A", 1600, 0);
  assert.deepEqual(ledger.heard(0), { itemId: "item_A", audioEndMs: 0 });
  assert.deepEqual(ledger.heard(100), { itemId: "item_A", audioEndMs: 100 });
  assert.deepEqual(ledger.heard(150.9), { itemId: "item_A", audioEndMs: 150 });
});

Deno.test("PlaybackLedger.heard() before the send time is 0, not negative", () => {
  const ledger = new PlaybackLedger();
  ledger.sent("item_A", 1600, 1000);
  assert.deepEqual(ledger.heard(900), { itemId: "item_A", audioEndMs: 0 });
});

Deno.test("PlaybackLedger.heard() never exceeds what was sent", () => {
  const ledger = new PlaybackLedger();
  ledger.sent("item_A", 1600, 0);
  assert.deepEqual(ledger.heard(200), { itemId: "item_A", audioEndMs: 200 });
  assert.deepEqual(ledger.heard(5000), { itemId: "item_A", audioEndMs: 200 });
});

Deno.test("PlaybackLedger.heard() is capped at the first unacknowledged segment", () => {
  const ledger = new PlaybackLedger();
  ledger.sent("item_A", 1600, 0); // 0..200 ms
  ledger.sent("item_A", 1600, 0); // 200..400 ms
  // Real time says 500 ms, but the first mark has not come back.
  assert.deepEqual(ledger.heard(500), { itemId: "item_A", audioEndMs: 200 });
});

Deno.test("PlaybackLedger after an ack plays on from that mark's position at the ack time", () => {
  const ledger = new PlaybackLedger();
  const first = ledger.sent("item_A", 1600, 0); // 0..200 ms
  ledger.sent("item_A", 1600, 0); // 200..400 ms
  // Twilio was slow: the first mark comes back at 250 ms.
  assert.equal(ledger.acknowledged(first, 250), true);
  assert.equal(ledger.playing, true);
  assert.deepEqual(ledger.heard(250), { itemId: "item_A", audioEndMs: 200 });
  assert.deepEqual(ledger.heard(300), { itemId: "item_A", audioEndMs: 250 });
  assert.deepEqual(ledger.heard(1000), { itemId: "item_A", audioEndMs: 400 });
});

Deno.test("PlaybackLedger after an ack counts from the next segment's send time when it was sent later", () => {
  const ledger = new PlaybackLedger();
  const first = ledger.sent("item_A", 800, 0); // 0..100 ms
  assert.equal(ledger.acknowledged(first, 100), true);
  assert.equal(ledger.playing, false);
  assert.equal(ledger.heard(150), undefined);
  ledger.sent("item_A", 800, 400); // 100..200 ms of the item
  assert.deepEqual(ledger.heard(400), { itemId: "item_A", audioEndMs: 100 });
  assert.deepEqual(ledger.heard(450), { itemId: "item_A", audioEndMs: 150 });
});

Deno.test("PlaybackLedger acknowledging the last mark stops playing", () => {
  const ledger = new PlaybackLedger();
  const a = ledger.sent("item_A", 160, 0);
  const b = ledger.sent("item_A", 160, 0);
  assert.equal(ledger.acknowledged(a, 20), true);
  assert.equal(ledger.acknowledged(b, 40), true);
  assert.equal(ledger.playing, false);
  assert.equal(ledger.heard(40), undefined);
});

Deno.test("PlaybackLedger acknowledging a later mark also covers the earlier ones", () => {
  const ledger = new PlaybackLedger();
  const a = ledger.sent("item_A", 800, 0);
  const b = ledger.sent("item_A", 800, 0);
  ledger.sent("item_A", 800, 0);
  assert.equal(ledger.acknowledged(b, 200), true);
  assert.deepEqual(ledger.heard(200), { itemId: "item_A", audioEndMs: 200 });
  // The skipped mark is no longer tracked.
  assert.equal(ledger.acknowledged(a, 210), false);
  assert.deepEqual(ledger.heard(210), { itemId: "item_A", audioEndMs: 210 });
});

Deno.test("PlaybackLedger tracks positions per item", () => {
  const ledger = new PlaybackLedger();
  const a = ledger.sent("item_A", 800, 0); // A: 0..100 ms
  ledger.sent("item_B", 1600, 0); // B: 0..200 ms
  assert.deepEqual(ledger.heard(50), { itemId: "item_A", audioEndMs: 50 });
  assert.equal(ledger.acknowledged(a, 100), true);
  // B's position counts from B's own start, not from A's bytes.
  assert.deepEqual(ledger.heard(100), { itemId: "item_B", audioEndMs: 0 });
  assert.deepEqual(ledger.heard(175), { itemId: "item_B", audioEndMs: 75 });
  assert.deepEqual(ledger.heard(900), { itemId: "item_B", audioEndMs: 200 });
});

Deno.test("PlaybackLedger accumulates bytes across segments of one item", () => {
  const ledger = new PlaybackLedger();
  const marks = [0, 1, 2, 3].map(() => ledger.sent("item_A", 160, 0));
  for (const [i, mark] of marks.slice(0, 3).entries()) {
    assert.equal(ledger.acknowledged(mark, 20 * (i + 1)), true);
  }
  assert.deepEqual(ledger.heard(60), { itemId: "item_A", audioEndMs: 60 });
  assert.deepEqual(ledger.heard(70), { itemId: "item_A", audioEndMs: 70 });
  assert.deepEqual(ledger.heard(99), { itemId: "item_A", audioEndMs: 80 });
});

Deno.test("PlaybackLedger gives every segment a distinct mark", () => {
  const ledger = new PlaybackLedger();
  const marks = new Set<string>();
  for (let i = 0; i < 500; i++) {
    marks.add(ledger.sent(i % 3 === 0 ? "item_A" : "item_B", 160, i));
    if (i % 50 === 0) ledger.clear();
  }
  assert.equal(marks.size, 500);
});

Deno.test("PlaybackLedger audioEndMs is floor(bytes / 8)", () => {
  for (
    const [bytes, ms] of [[0, 0], [7, 0], [8, 1], [15, 1], [1601, 200], [
      1607,
      200,
    ], [1608, 201]]
  ) {
    const ledger = new PlaybackLedger();
    ledger.sent("item_A", bytes, 0);
    assert.deepEqual(
      ledger.heard(10_000),
      { itemId: "item_A", audioEndMs: ms },
      `${bytes} bytes`,
    );
  }
});

Deno.test("PlaybackLedger.acknowledged() is false for an unknown mark and moves nothing", () => {
  const ledger = new PlaybackLedger();
  ledger.sent("item_A", 1600, 0);
  const before = ledger.heard(50);
  assert.equal(ledger.acknowledged("no-such-mark", 40), false);
  assert.deepEqual(ledger.heard(50), before);
  assert.equal(ledger.playing, true);
});

Deno.test("PlaybackLedger.acknowledged() is false the second time for the same mark", () => {
  const ledger = new PlaybackLedger();
  const a = ledger.sent("item_A", 800, 0);
  ledger.sent("item_A", 800, 0);
  assert.equal(ledger.acknowledged(a, 100), true);
  assert.equal(ledger.acknowledged(a, 150), false);
  // The repeat did not restart the playhead at 150.
  assert.deepEqual(ledger.heard(160), { itemId: "item_A", audioEndMs: 160 });
});

Deno.test("PlaybackLedger.clear() stops playing and forgets what was sent", () => {
  const ledger = new PlaybackLedger();
  ledger.sent("item_A", 1600, 0);
  ledger.sent("item_A", 1600, 0);
  ledger.clear();
  assert.equal(ledger.playing, false);
  assert.equal(ledger.heard(100), undefined);
});

Deno.test("PlaybackLedger ignores marks that come back late after clear()", () => {
  const ledger = new PlaybackLedger();
  const old1 = ledger.sent("item_A", 1600, 0);
  const old2 = ledger.sent("item_A", 1600, 0);
  ledger.clear();
  // Twilio echoes the flushed marks right after the clear.
  assert.equal(ledger.acknowledged(old1, 10), false);
  assert.equal(ledger.playing, false);
  assert.equal(ledger.heard(10), undefined);

  const fresh = ledger.sent("item_B", 1600, 1000);
  assert.ok(fresh !== old1 && fresh !== old2);
  assert.equal(ledger.acknowledged(old2, 1050), false);
  // The stray mark neither acknowledged the new segment nor moved its playhead.
  assert.equal(ledger.playing, true);
  assert.deepEqual(ledger.heard(1050), { itemId: "item_B", audioEndMs: 50 });
  assert.deepEqual(ledger.heard(5000), { itemId: "item_B", audioEndMs: 200 });
  assert.equal(ledger.acknowledged(fresh, 1200), true);
  assert.equal(ledger.playing, false);
});

// ---- Property-style test ----

Deno.test("PlaybackLedger never reports more than was sent, nor goes backwards within an item", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const random = prng(seed);
    const int = (n: number) => Math.floor(random() * n);
    const ledger = new PlaybackLedger();
    const bytesSent = new Map<string, number>();
    const lastHeard = new Map<string, number>();
    const outstanding: string[] = [];
    let item = "item_0";
    let items = 0;
    let now = 0;
    const steps: string[] = [];

    for (let step = 0; step < 200; step++) {
      const op = random();
      if (op < 0.4) {
        if (random() < 0.1) item = `item_${++items}`;
        const bytes = int(2400);
        outstanding.push(ledger.sent(item, bytes, now));
        bytesSent.set(item, (bytesSent.get(item) ?? 0) + bytes);
        steps.push(`sent(${item},${bytes},${now})`);
      } else if (op < 0.7) {
        // Twilio echoes marks in order; sometimes a stray one arrives.
        const mark = random() < 0.1 ? `stray${int(1000)}` : outstanding.shift();
        if (mark !== undefined) {
          ledger.acknowledged(mark, now);
          steps.push(`ack(${mark},${now})`);
        }
      } else if (op < 0.75) {
        ledger.clear();
        outstanding.length = 0;
        steps.push("clear()");
      } else {
        now += int(300);
      }

      const heard = ledger.heard(now);
      assert.equal(
        heard === undefined,
        !ledger.playing,
        `seed ${seed}: ${steps.join(" ")}`,
      );
      if (heard === undefined) continue;
      const label = `seed ${seed}: ${steps.join(" ")} -> ${
        JSON.stringify(heard)
      }`;
      assert.ok(Number.isInteger(heard.audioEndMs), label);
      assert.ok(heard.audioEndMs >= 0, label);
      assert.ok(
        heard.audioEndMs * MULAW_BYTES_PER_MS <= bytesSent.get(heard.itemId)!,
        label,
      );
      const previous = lastHeard.get(heard.itemId) ?? 0;
      assert.ok(heard.audioEndMs >= previous, label);
      lastHeard.set(heard.itemId, heard.audioEndMs);
    }
  }
});

Deno.test("PlaybackLedger.truncations() gives the playing item at what was heard and every later queued item at 0", () => {
  const ledger = new PlaybackLedger();
  ledger.sent("item_a", 800, 0); // 100 ms
  ledger.sent("item_a", 800, 0);
  ledger.sent("item_b", 1600, 0);
  ledger.sent("item_c", 400, 0);
  assert.deepEqual(ledger.truncations(50), [
    { itemId: "item_a", audioEndMs: 50 },
    { itemId: "item_b", audioEndMs: 0 },
    { itemId: "item_c", audioEndMs: 0 },
  ]);
});

Deno.test("PlaybackLedger.truncations() leaves out items already played and the thinking sound", () => {
  const ledger = new PlaybackLedger();
  const first = ledger.sent("item_a", 800, 0);
  ledger.sent("item_b", 800, 0);
  ledger.sentThinking(1600, 0);
  ledger.acknowledged(first, 100);
  assert.deepEqual(ledger.truncations(150), [
    { itemId: "item_b", audioEndMs: 50 },
  ]);
});

Deno.test("PlaybackLedger.truncations() is empty when nothing plays, and never names the thinking sound", () => {
  const ledger = new PlaybackLedger();
  assert.deepEqual(ledger.truncations(0), []);
  ledger.sentThinking(1600, 0);
  assert.deepEqual(ledger.truncations(10), []);
  assert.equal(ledger.heard(10), undefined);
  assert.ok(ledger.playing);
  assert.ok(ledger.onlyThinking);
  ledger.sent("item_a", 800, 10);
  assert.equal(ledger.onlyThinking, false);
  assert.deepEqual(ledger.truncations(20), [
    { itemId: "item_a", audioEndMs: 0 },
  ]);
});

Deno.test("PlaybackLedger: the thinking sound between two parts of an item does not restart the item's position", () => {
  const ledger = new PlaybackLedger();
  const a1 = ledger.sent("item_a", 800, 0);
  const filler = ledger.sentThinking(800, 0);
  ledger.sent("item_a", 800, 0);
  ledger.acknowledged(a1, 100);
  ledger.acknowledged(filler, 200);
  assert.deepEqual(ledger.heard(250), { itemId: "item_a", audioEndMs: 150 });
});

Deno.test("PlaybackLedger.queuedMs() counts what is sent and not yet played", () => {
  const ledger = new PlaybackLedger();
  assert.equal(ledger.queuedMs(0), 0);
  const first = ledger.sent("item_a", 1600, 0); // 200 ms
  ledger.sent("item_a", 1600, 0);
  assert.equal(ledger.queuedMs(0), 400);
  assert.equal(ledger.queuedMs(50), 350);
  // Never below what the first unacknowledged segment still holds.
  assert.equal(ledger.queuedMs(1000), 200);
  ledger.acknowledged(first, 200);
  assert.equal(ledger.queuedMs(300), 100);
});

Deno.test("PlaybackLedger: speech with an empty item id (GPT-Live) is speech, never the thinking sound", () => {
  const ledger = new PlaybackLedger();
  ledger.sentThinking(800, 0);
  ledger.sent("", 800, 0);
  assert.equal(ledger.onlyThinking, false);
  assert.deepEqual(ledger.truncations(0), [{ itemId: "", audioEndMs: 0 }]);
});
