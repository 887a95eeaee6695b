/**
 * The softphone's AudioWorklet: one processor that turns the microphone into
 * 20 ms µ-law frames and plays the assistant's µ-law audio, reporting played
 * bytes and reached marks. Audio runs on the browser's audio thread, so
 * playback position (and so mark timing and `clear`) is exact to the sample.
 *
 * The worklet file is assembled from the source text of `audio/mulaw.ts`,
 * `dsp.ts` and
 * `installPhoneProcessor`, so Deno's tests run the very code the browser
 * loads (see tests/phone_page_test.ts).
 *
 * @module
 */

import {
  floatsToMuLaw,
  muLawDecode,
  muLawEncode,
  muLawTable,
} from "../audio/mulaw.ts";
import { Downsampler, PlaybackQueue, rms } from "./dsp.ts";

/** The name the page instantiates with `new AudioWorkletNode(ctx, name)`. */
export const PROCESSOR_NAME = "phone-processor";

/** Page → worklet. */
export type ToWorklet =
  | { type: "play"; audio: Uint8Array }
  | { type: "mark"; id: number }
  /** `epoch` numbers the clears, so the page can tell stale `played` reports. */
  | { type: "clear"; epoch: number };

/** Worklet → page. */
export type FromWorklet =
  /** 160 bytes: 20 ms of 8 kHz µ-law from the microphone. */
  | { type: "frame"; frame: Uint8Array }
  /** RMS of the last ~50 ms of microphone signal, 0…1. */
  | { type: "level"; rms: number }
  | { type: "played"; bytes: number; marks: number[]; epoch: number };

/** The parts of AudioWorkletGlobalScope the processor uses. */
interface ProcessorPort {
  postMessage(message: FromWorklet, transfer?: Transferable[]): void;
  onmessage: ((event: { data: ToWorklet }) => void) | null;
}
type ProcessorBase = new () => { readonly port: ProcessorPort };
export interface Processor {
  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean;
}
type RegisterProcessor = (
  name: string,
  processor: new () => Processor,
) => void;

/**
 * Defines and registers the processor. Takes the worklet scope's globals as
 * arguments so Deno can run it with stand-ins. Self-contained apart from the
 * `audio/mulaw.ts` and `dsp.ts` names, which the worklet file declares before it.
 */
function installPhoneProcessor(
  name: string,
  AudioWorkletProcessor: ProcessorBase,
  registerProcessor: RegisterProcessor,
  sampleRate: number,
): void {
  const FRAME_BYTES = 160;
  // Reports at most every ~20 ms: enough for marks, cheap for the main thread.
  const REPORT_BYTES = 160;
  const LEVEL_SAMPLES = Math.round(sampleRate / 20);

  class PhoneProcessor extends AudioWorkletProcessor implements Processor {
    #capture = new Downsampler(sampleRate, 8000);
    #frame = new Uint8Array(FRAME_BYTES);
    #filled = 0;
    #playback = new PlaybackQueue(sampleRate);
    #epoch = 0;
    #playedBytes = 0;
    #reached: number[] = [];
    #levelSquares = 0;
    #levelSamples = 0;

    constructor() {
      super();
      this.port.onmessage = (event) => {
        const message = event.data;
        if (message.type === "play") this.#playback.push(message.audio);
        else if (message.type === "mark") this.#playback.mark(message.id);
        else if (message.type === "clear") {
          // The page has already echoed the dropped marks; just forget them.
          this.#playback.clear();
          this.#epoch = message.epoch;
          this.#playedBytes = 0;
          this.#reached = [];
        }
      };
    }

    process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
      const microphone = inputs[0]?.[0];
      if (microphone) this.#record(microphone);
      const speaker = outputs[0];
      if (speaker?.[0]) {
        this.#playedBytes += this.#playback.render(speaker[0], this.#reached);
        for (let channel = 1; channel < speaker.length; channel++) {
          speaker[channel].set(speaker[0]);
        }
        if (this.#reached.length > 0 || this.#playedBytes >= REPORT_BYTES) {
          this.#report();
        }
      }
      // Keep running while the node exists: the call decides when it ends.
      return true;
    }

    #record(samples: Float32Array): void {
      const level = rms(samples);
      this.#levelSquares += level * level * samples.length;
      this.#levelSamples += samples.length;
      if (this.#levelSamples >= LEVEL_SAMPLES) {
        this.port.postMessage({
          type: "level",
          rms: Math.sqrt(this.#levelSquares / this.#levelSamples),
        });
        this.#levelSquares = 0;
        this.#levelSamples = 0;
      }
      const encoded = floatsToMuLaw(this.#capture.process(samples));
      for (let i = 0; i < encoded.length; i++) {
        this.#frame[this.#filled++] = encoded[i];
        if (this.#filled === FRAME_BYTES) {
          const frame = this.#frame;
          this.port.postMessage({ type: "frame", frame }, [frame.buffer]);
          this.#frame = new Uint8Array(FRAME_BYTES);
          this.#filled = 0;
        }
      }
    }

    #report(): void {
      this.port.postMessage({
        type: "played",
        bytes: this.#playedBytes,
        marks: this.#reached,
        epoch: this.#epoch,
      });
      this.#playedBytes = 0;
      this.#reached = [];
    }
  }

  registerProcessor(name, PhoneProcessor);
}

let source: string | undefined;

/** The worklet file's text: the DSP declarations, then the processor installed. */
export function phoneWorkletSource(): string {
  source ??= [
    `"use strict";`,
    `// Generated from src/audio/mulaw.ts, src/phone/dsp.ts and src/phone/worklet.ts.`,
    ...[
      muLawEncode,
      muLawDecode,
      muLawTable,
      floatsToMuLaw,
      rms,
      Downsampler,
      PlaybackQueue,
    ].map((declaration) => declaration.toString()),
    `(${installPhoneProcessor.toString()})(${
      JSON.stringify(PROCESSOR_NAME)
    }, AudioWorkletProcessor, registerProcessor, sampleRate);`,
    "",
  ].join("\n");
  return source;
}
