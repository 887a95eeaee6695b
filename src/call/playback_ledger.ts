/**
 * What the caller has heard of the assistant's audio. Every chunk sent to
 * Twilio is followed by a mark; Twilio echoes a mark once the audio before it
 * has played. Between acknowledgements the playhead advances at real time
 * (µ-law: 8 bytes per ms), but never past the first unacknowledged mark, so
 * a truncate never claims more than was sent.
 */

export const MULAW_BYTES_PER_MS = 8;

interface Segment {
  mark: string;
  itemId: string;
  /** Bytes of this item sent up to the end of this segment. */
  itemEnd: number;
  bytes: number;
  sentAt: number;
}

export interface HeardPosition {
  itemId: string;
  audioEndMs: number;
}

export class PlaybackLedger {
  #pending: Segment[] = [];
  #head = 0;
  #lastAckAt = -Infinity;
  #itemId = "";
  #itemBytes = 0;
  #markCounter = 0;

  /** Records `bytes` of `itemId` sent at `now`; returns the mark name to send after them. */
  sent(itemId: string, bytes: number, now: number): string {
    if (itemId !== this.#itemId) {
      this.#itemId = itemId;
      this.#itemBytes = 0;
    }
    this.#itemBytes += bytes;
    const mark = String(++this.#markCounter);
    this.#pending.push({
      mark,
      itemId,
      itemEnd: this.#itemBytes,
      bytes,
      sentAt: now,
    });
    return mark;
  }

  /** A mark came back: everything up to it has played. False for a mark this ledger no longer tracks. */
  acknowledged(mark: string, now: number): boolean {
    const index = this.#pending.findIndex((s, i) =>
      i >= this.#head && s.mark === mark
    );
    if (index < 0) return false;
    this.#head = index + 1;
    this.#lastAckAt = now;
    if (this.#head === this.#pending.length) {
      this.#pending = [];
      this.#head = 0;
    }
    return true;
  }

  /** True while sent audio has not finished playing. */
  get playing(): boolean {
    return this.#head < this.#pending.length;
  }

  /** The item playing now and how far into it the caller has heard; undefined when nothing plays. */
  heard(now: number): HeardPosition | undefined {
    const segment = this.#pending[this.#head];
    if (segment === undefined) return undefined;
    const startedAt = Math.max(this.#lastAckAt, segment.sentAt);
    const played = Math.min(
      segment.bytes,
      Math.max(0, Math.floor((now - startedAt) * MULAW_BYTES_PER_MS)),
    );
    const position = segment.itemEnd - segment.bytes + played;
    return {
      itemId: segment.itemId,
      audioEndMs: Math.floor(position / MULAW_BYTES_PER_MS),
    };
  }

  /** Twilio's buffer was cleared: nothing sent before now will play. */
  clear(): void {
    this.#pending = [];
    this.#head = 0;
  }
}
