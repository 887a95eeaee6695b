/**
 * The softphone's shipped code without a browser: the worklet file exactly as
 * served, run in Deno with stand-ins for the AudioWorklet globals, and the
 * page's inline script parsed.
 */
import assert from "node:assert/strict";
import { muLawDecode } from "../src/audio/mulaw.ts";
import { phonePage, phoneWorklet } from "../src/phone/page.ts";
import {
  type FromWorklet,
  type Processor,
  PROCESSOR_NAME,
  type ToWorklet,
} from "../src/phone/worklet.ts";

interface LoadedWorklet {
  processor: Processor;
  posted: FromWorklet[];
  send(message: ToWorklet): void;
}

/** Evaluates the served worklet text as the browser would, with stand-in globals. */
function loadWorklet(sampleRate: number): LoadedWorklet {
  const posted: FromWorklet[] = [];
  const port = {
    onmessage: null as ((event: { data: ToWorklet }) => void) | null,
    postMessage(message: FromWorklet) {
      posted.push(message);
    },
  };
  class AudioWorkletProcessor {
    readonly port = port;
  }
  const registered = new Map<string, new () => Processor>();
  const registerProcessor = (name: string, processor: new () => Processor) =>
    registered.set(name, processor);
  new Function(
    "AudioWorkletProcessor",
    "registerProcessor",
    "sampleRate",
    phoneWorklet(),
  )(AudioWorkletProcessor, registerProcessor, sampleRate);
  const Registered = registered.get(PROCESSOR_NAME);
  assert.ok(Registered, "the worklet registers its processor");
  const processor = new Registered();
  return {
    processor,
    posted,
    send: (message) => port.onmessage?.({ data: message }),
  };
}

function quanta(
  worklet: LoadedWorklet,
  count: number,
  microphone: (index: number) => number = () => 0,
) {
  const output = new Float32Array(128);
  let index = 0;
  for (let q = 0; q < count; q++) {
    const input = new Float32Array(128).map(() => microphone(index++));
    assert.equal(worklet.processor.process([[input]], [[output]]), true);
  }
  return output;
}

Deno.test("the served worklet turns 48 kHz microphone audio into 160-byte µ-law frames, 50 a second", () => {
  const worklet = loadWorklet(48000);
  // One second of a 1 kHz tone at half scale.
  quanta(worklet, 375, (i) => 0.5 * Math.sin(2 * Math.PI * 1000 * i / 48000));
  const frames = worklet.posted.flatMap((m) =>
    m.type === "frame" ? [m.frame] : []
  );
  assert.equal(frames.length, 50);
  assert.ok(frames.every((f) => f.length === 160));
  const decoded = frames.flatMap((f) => [...f].map(muLawDecode));
  const peak = Math.max(...decoded.slice(800));
  assert.ok(peak > 14000 && peak < 18000, `peak ${peak}`);
  const levels = worklet.posted.flatMap((m) =>
    m.type === "level" ? [m.rms] : []
  );
  assert.ok(levels.length >= 19 && levels.length <= 21, `${levels.length}`);
  assert.ok(Math.abs(levels.at(-1)! - 0.5 / Math.SQRT2) < 0.01);
});

Deno.test("the served worklet plays queued audio, reports marks as reached, and forgets everything on clear", () => {
  const worklet = loadWorklet(48000);
  worklet.send({ type: "play", audio: new Uint8Array(800).fill(0x80) });
  worklet.send({ type: "mark", id: 1 });
  worklet.send({ type: "play", audio: new Uint8Array(800).fill(0x80) });
  worklet.send({ type: "mark", id: 2 });
  const output = quanta(worklet, 40); // 5120 samples ≈ 853 bytes
  assert.ok(output.some((s) => s > 0.9), "plays the audio");
  const played = worklet.posted.flatMap((m) => m.type === "played" ? [m] : []);
  assert.deepEqual(played.flatMap((m) => m.marks), [1]);
  const bytes = played.reduce((n, m) => n + m.bytes, 0);
  assert.ok(bytes >= 800 && bytes <= 860, `${bytes} bytes reported`);

  worklet.send({ type: "clear", epoch: 1 });
  worklet.posted.length = 0;
  const after = quanta(worklet, 40);
  assert.ok(after.every((s) => s === 0), "silent after clear");
  // The page echoed mark 2 itself when it sent clear.
  assert.deepEqual(worklet.posted.filter((m) => m.type === "played"), []);

  worklet.send({ type: "play", audio: new Uint8Array(160).fill(0x80) });
  quanta(worklet, 10);
  const next = worklet.posted.filter((m) => m.type === "played");
  assert.deepEqual(next, [{ type: "played", bytes: 160, marks: [], epoch: 1 }]);
});

Deno.test("the phone page is one self-contained document whose script parses", () => {
  const html = phonePage();
  assert.match(html, /<meta name="viewport"/);
  assert.doesNotMatch(html, /\ssrc=|<link|https?:\/\//, "no external assets");
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1);
  // Parsing is enough: running it needs a DOM.
  new Function(scripts[0][1]);
  assert.match(scripts[0][1], /"\/phone\/worklet\.js"/);
  assert.match(scripts[0][1], new RegExp(`"${PROCESSOR_NAME}"`));
});
