/**
 * When a GPT-Live goodbye has been said. There is no output "done" event:
 * the goodbye is said once its speech has started arriving and then gone
 * quiet for GOODBYE_QUIET_MS, or, if it never starts, GOODBYE_START_MS after
 * it was asked for. Pure: the engine tells it what happened and when, and
 * wakes it at `wakeAt` (its one timer).
 */

import { muLawDecode } from "../audio/mulaw.ts";

/** After end_call or a goodbye request, how long to wait for the goodbye to start. */
export const GOODBYE_START_MS = 5_000;
/** No speech for this long: the goodbye has been said. */
export const GOODBYE_QUIET_MS = 800;

export class QuietGoodbye {
  /** When the goodbye counts as said, unless more speech arrives first. */
  #saidAt: number | undefined;
  #begun = false;

  /** A goodbye was asked for (it cannot be taken back). */
  get begun(): boolean {
    return this.#begun;
  }

  /** When the engine must call `due()` next; undefined: no timer. */
  get wakeAt(): number | undefined {
    return this.#saidAt;
  }

  /** The goodbye was asked for at `now`. False: one was already under way. */
  begin(now: number): boolean {
    if (this.#begun) return false;
    this.#begun = true;
    this.#saidAt = now + GOODBYE_START_MS;
    return true;
  }

  /**
   * Assistant audio arrived at `now`. The API may stream silence while the
   * model is not speaking: only speech starts or extends the goodbye.
   */
  audio(delta: string, now: number): void {
    if (this.#saidAt === undefined || isSilence(delta)) return;
    this.#saidAt = now + GOODBYE_QUIET_MS;
  }

  /** True once, at the first `now` the goodbye counts as said. */
  due(now: number): boolean {
    if (this.#saidAt === undefined || now < this.#saidAt) return false;
    this.#saidAt = undefined;
    return true;
  }
}

/** Below this µ-law amplitude a sample is silence (comfort noise included). */
const SILENCE_LEVEL = 100;

/** True when a base64 µ-law delta carries no speech. */
export function isSilence(delta: string): boolean {
  const bytes = Uint8Array.fromBase64(delta);
  return bytes.every((byte) => Math.abs(muLawDecode(byte)) < SILENCE_LEVEL);
}
