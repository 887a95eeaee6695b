/**
 * The browser softphone in a real headless Chromium: its fake microphone
 * plays a WAV of real speech (espeak-ng + sox), the page calls the real
 * server over the Media Streams protocol, and the fake Realtime peer checks
 * what arrives and plays the assistant's side.
 */
import assert from "node:assert/strict";
import { muLawDecode } from "../src/audio/mulaw.ts";
import {
  artifactsDir,
  Chromium,
  CHROMIUM_PATH,
  missingTools,
} from "./helpers/chromium.ts";
import { delay, startTestServer } from "./helpers/test_server.ts";

const ADMIN_TOKEN = "browser-softphone-admin-token";
const PHRASE = "Book a table for two, tomorrow at seven.";
/** Silence around the phrase, so the fake microphone's loop has clear edges. */
const LEAD_SECONDS = 0.3;
const TRAIL_SECONDS = 0.7;
/** 20 ms envelope windows at 8 kHz. */
const WINDOW = 160;

const skip = missingTools([
  CHROMIUM_PATH,
  "/usr/bin/espeak-ng",
  "/usr/bin/sox",
]);
if (skip) console.warn(`phone_browser_test skipped: ${skip}`);

async function run(command: string, args: string[]): Promise<Uint8Array> {
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`${command} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return stdout;
}

interface Speech {
  /** 48 kHz 16-bit mono WAV for Chromium's fake microphone. */
  wav: string;
  /** The same, resampled by sox to 8 kHz 16-bit: the reference. */
  reference: Int16Array;
  seconds: number;
}

async function makeSpeech(dir: string): Promise<Speech> {
  await run("espeak-ng", ["-w", `${dir}/voice.wav`, PHRASE]);
  const wav = `${dir}/microphone.wav`;
  await run("sox", [
    `${dir}/voice.wav`,
    ...["-r", "48000", "-b", "16", "-c", "1", "-e", "signed", wav],
    ...["pad", String(LEAD_SECONDS), String(TRAIL_SECONDS)],
  ]);
  const raw = await run("sox", [
    wav,
    ...["-r", "8000", "-b", "16", "-c", "1", "-e", "signed", "-L"],
    ...["-t", "raw", "-"],
  ]);
  const reference = new Int16Array(raw.buffer, raw.byteOffset, raw.length >> 1);
  return { wav, reference, seconds: reference.length / 8000 };
}

/** Energy envelope in dB, one value per 20 ms window. */
function envelope(samples: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let start = 0; start + WINDOW <= samples.length; start += WINDOW) {
    let energy = 0;
    for (let i = start; i < start + WINDOW; i++) {
      energy += samples[i] * samples[i];
    }
    out.push(10 * Math.log10(energy / WINDOW + 1));
  }
  return out;
}

function normalisedCorrelation(a: number[], b: number[]): number {
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(a);
  const mb = mean(b);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Best match of `template` inside `signal`: offset (in windows) and correlation. */
function bestMatch(template: number[], signal: number[]) {
  let best = { offset: -1, correlation: -1 };
  for (let offset = 0; offset + template.length <= signal.length; offset++) {
    const correlation = normalisedCorrelation(
      template,
      signal.slice(offset, offset + template.length),
    );
    if (correlation > best.correlation) best = { offset, correlation };
  }
  return best;
}

/** Windows louder than 25 dB below the signal's loud end count as speech. */
function speechMask(env: number[]): boolean[] {
  const sorted = [...env].sort((a, b) => a - b);
  const loud = sorted[Math.floor(sorted.length * 0.95)];
  return env.map((db) => db > loud - 25);
}

/** A tone as µ-law, encoded by sox (not by our codec). */
async function toneMuLaw(
  seconds: number,
  frequency: number,
): Promise<Uint8Array> {
  return await run("sox", [
    ...["-n", "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", "-"],
    ...["synth", String(seconds), "sine", String(frequency), "vol", "0.5"],
  ]);
}

interface PhoneState {
  status: string;
  callSid: string | null;
  framesSent: number;
  bytesReceived: number;
  bytesPlayed: number;
  pendingBytes: number;
  clears: number;
  marksReceived: number;
  marksAcked: number;
  level: number;
  transcriptLines: number;
}

Deno.test({
  name:
    "the browser softphone streams real speech in order, plays the assistant, and honours barge-in",
  ignore: skip !== undefined,
  async fn() {
    const artifacts = await artifactsDir("phone-browser");
    const dir = artifacts.path;
    const speech = await makeSpeech(dir);
    const server = await startTestServer({
      ADMIN_TOKEN,
      PUBLIC_URL: "", // stream URL and origin from the Host header: 127.0.0.1
    });
    const browser = await Chromium.launch({ fakeMicrophoneWav: speech.wav });
    try {
      const page = await browser.newPage({
        width: 390,
        height: 844,
        mobile: true,
      });
      const state = () => page.evaluate<PhoneState>("window.phoneState");

      // Sign in: /phone answers with the login form, which comes back to /phone.
      await page.goto(`${server.origin}/phone`);
      assert.equal(await page.status(), 401);
      await page.type("input[name=token]", ADMIN_TOKEN);
      await page.navigation(() => page.click("button[type=submit]"));
      assert.equal(await page.status(), 200);
      assert.equal(await page.evaluate("location.pathname"), "/phone");
      assert.equal(await page.evaluate("phoneState.status"), "idle");

      // Call: the page gets a token, then the stream reaches the bridge.
      await page.click("#call");
      const session = await server.realtime.nextSession(5000);
      await page.waitFor("phoneState.status === 'in-call'", 5000);
      await session.waitFor("session.update");
      // Only the bridge stops a response, so its cancel is the one that counts.
      session.interruptResponse = false;
      const callSid = (await state()).callSid;
      assert.match(callSid ?? "", /^BR[0-9a-f]{32}$/);
      await session.waitFor("input_audio_buffer.append", () => true, 3000);
      await page.waitFor("phoneState.level > 0.01", 3000);

      // The assistant speaks 1.5 s: every byte reaches the page and plays.
      const greeting = await toneMuLaw(1.5, 440);
      const spoken = session.speak(greeting, {
        chunkBytes: 800,
        transcript: "Hello, how can I help?",
      });
      assert.equal(await spoken.done, "completed");
      await page.waitFor(
        `phoneState.bytesPlayed >= ${greeting.length} && phoneState.marksAcked === 15`,
        4000,
      );
      let now = await state();
      assert.equal(now.bytesReceived, greeting.length);
      assert.equal(now.bytesPlayed, greeting.length);
      assert.equal(now.marksReceived, 15);
      assert.equal(now.pendingBytes, 0);
      // The running transcript comes from the journal.
      await page.waitFor("phoneState.transcriptLines >= 1", 3000);
      assert.match(
        await page.evaluate<string>(
          "document.querySelector('#transcript .assistant').textContent",
        ),
        /Hello, how can I help\?/,
      );
      await page.screenshot(`${dir}/phone-in-call.png`);

      // Barge-in: a 5 s answer generated 5× faster than it plays.
      const answer = await toneMuLaw(5, 330);
      const long = session.speak(answer, { chunkBytes: 800, intervalMs: 20 });
      const playedBefore = greeting.length;
      await page.waitFor(
        `phoneState.bytesPlayed >= ${playedBefore + 8 * 600}`,
        3000,
      );
      session.speechStarted();
      now = await page.waitFor<PhoneState>(
        "phoneState.clears === 1 && { ...phoneState }",
        2000,
      );
      assert.equal(now.pendingBytes, 0, "queued audio dropped at once");
      assert.equal(now.marksAcked, now.marksReceived, "pending marks echoed");
      assert.ok(now.bytesReceived < greeting.length + answer.length);
      const truncate = await session.waitFor("conversation.item.truncate");
      assert.equal(truncate.item_id, long.itemId);
      await session.waitFor("response.cancel");
      assert.equal(await long.done, "cancelled");
      await delay(300);
      const truncation = session.truncations.at(-1);
      assert.equal(truncation?.accepted, true);
      assert.ok(truncation.audioEndMs <= truncation.sentMs);
      // What the page played of the answer, give or take a mark (100 ms).
      const heardMs = (now.bytesPlayed - playedBefore) / 8;
      assert.ok(
        Math.abs(truncation.audioEndMs - heardMs) <= 200,
        `truncated at ${truncation.audioEndMs} ms, page played ${heardMs} ms`,
      );
      const later = await state();
      assert.ok(
        later.bytesPlayed - now.bytesPlayed <= 400,
        "playback stopped at the clear",
      );
      assert.equal(later.marksAcked, later.marksReceived);
      assert.deepEqual(session.errorsSent, []);

      // The microphone: wait for one whole loop of the WAV plus the phrase.
      const needed = Math.ceil((2 * speech.seconds - TRAIL_SECONDS) * 8000);
      const deadline = Date.now() + 10_000;
      while (session.inputAudio().length < needed && Date.now() < deadline) {
        await delay(100);
      }
      const received = Array.from(session.inputAudio(), muLawDecode);
      assert.ok(received.length >= needed, `${received.length} bytes received`);
      assert.equal(received.length % 160, 0, "whole 20 ms frames");
      const heard = envelope(received);
      const reference = envelope(speech.reference);
      // The template: the phrase and 100 ms either side, with its inner pauses.
      const lead = Math.round(LEAD_SECONDS * 50);
      const trail = Math.round(TRAIL_SECONDS * 50);
      const template = reference.slice(lead - 5, reference.length - trail + 5);
      const match = bestMatch(template, heard);
      assert.ok(
        match.correlation >= 0.85,
        `speech envelope correlation ${match.correlation.toFixed(3)}`,
      );
      // Out of order (reversed) audio does not match: the test can tell.
      const reversed = bestMatch([...template].reverse(), heard);
      assert.ok(
        reversed.correlation < match.correlation - 0.1,
        `reversed ${reversed.correlation.toFixed(3)} vs ${
          match.correlation.toFixed(3)
        }`,
      );
      // Pauses and words line up window by window.
      const heardMask = speechMask(heard.slice(
        match.offset,
        match.offset + template.length,
      ));
      const referenceMask = speechMask(template);
      const agree = heardMask.filter((v, i) => v === referenceMask[i]).length;
      assert.ok(
        agree / template.length >= 0.85,
        `speech/silence agree in ${agree} of ${template.length} windows`,
      );
      assert.ok(referenceMask.some((v) => !v), "the phrase has pauses");

      // Hang up: stop, then close; the journal has the browser call.
      await page.click("#call");
      await page.waitFor("phoneState.status === 'ended'", 2000);
      const closed = await session.closed;
      assert.equal(closed.byClient, true);
      const framesSent = (await state()).framesSent;
      assert.ok(framesSent * 160 >= session.inputAudio().length);
      let record: Record<string, unknown> | undefined;
      for (let i = 0; i < 40 && !record?.outcome; i++) {
        const response = await fetch(`${server.origin}/api/calls`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        const { calls } = await response.json() as {
          calls: Record<string, unknown>[];
        };
        record = calls.find((c) => c.callSid === callSid);
        if (!record?.outcome) await delay(50);
      }
      assert.equal(record?.source, "browser");
      assert.equal(record?.outcome, "caller_hung_up");
      assert.equal(record?.caller, "browser");

      // A second call that the server ends: the page says so.
      await page.click("#call");
      const second = await server.realtime.nextSession(5000);
      await page.waitFor("phoneState.status === 'in-call'", 5000);
      second.close(1000, "assistant hung up");
      await page.waitFor("phoneState.status === 'ended'", 3000);
      assert.match(
        await page.evaluate<string>(
          "document.querySelector('#status').textContent",
        ),
        /Call ended: the assistant hung up/,
      );
      await page.screenshot(`${dir}/phone-ended.png`);
      assert.deepEqual(page.errors, []);
    } finally {
      await browser.close();
      await server.close();
      await artifacts.remove();
    }
  },
});
