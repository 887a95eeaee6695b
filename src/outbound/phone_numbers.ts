/**
 * Phone numbers the server may dial: E.164 only. The owner's list
 * (OWNER_NUMBERS) is the complete set of numbers this server may call or
 * text; everything else is refused before any request to Twilio.
 */

import { normalizeE164 } from "../e164.ts";

/** The owner's numbers, the first being the one calls go to by default. */
export class OwnerNumbers {
  readonly #numbers: readonly string[];

  /** `numbers` must be non-empty and already normalized (config validates them). */
  constructor(numbers: readonly string[]) {
    if (numbers.length === 0) throw new Error("no owner numbers");
    this.#numbers = [...numbers];
  }

  get primary(): string {
    return this.#numbers[0];
  }

  get all(): readonly string[] {
    return this.#numbers;
  }

  /** True only for one of the owner's numbers, in any common spelling. */
  allows(number: string): boolean {
    const normalized = normalizeE164(number);
    return normalized !== undefined && this.#numbers.includes(normalized);
  }

  /** The owner's number `number` names, normalized; undefined for anyone else. */
  find(number: string): string | undefined {
    const normalized = normalizeE164(number);
    return normalized !== undefined && this.#numbers.includes(normalized)
      ? normalized
      : undefined;
  }
}
