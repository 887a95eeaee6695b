/**
 * What the caller has heard of the assistant's audio. Every chunk sent to
 * Twilio is followed by a mark; Twilio echoes a mark once the audio before it
 * has played. Between acknowledgements the playhead advances at real time
 * (µ-law: 8 bytes per ms), but never past the first unacknowledged mark, so
 * a truncate never claims more than was sent.
 */

export const MULAW_BYTES_PER_MS = 8;

/** The item id of audio that is no assistant item (the thinking sound): never truncated. */
export const FILLER = "";

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
    // Filler between two parts of one item does not restart its count.
    if (itemId !== this.#itemId && itemId !== FILLER) {
      this.#itemId = itemId;
      this.#itemBytes = 0;
    }
    if (itemId !== FILLER) this.#itemBytes += bytes;
    const mark = String(++this.#markCounter);
    this.#pending.push({
      mark,
      itemId,
      itemEnd: itemId === FILLER ? bytes : this.#itemBytes,
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
    if (segment === undefined || segment.itemId === FILLER) return undefined;
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

  /**
   * Every assistant item still queued at the caller, for a barge-in: the
   * playing one at what was heard, later ones at 0 ms (never heard at all).
   */
  truncations(now: number): HeardPosition[] {
    const playing = this.heard(now);
    const positions = playing ? [playing] : [];
    const seen = new Set([FILLER, playing?.itemId]);
    for (let i = this.#head; i < this.#pending.length; i++) {
      const { itemId } = this.#pending[i];
      if (seen.has(itemId)) continue;
      seen.add(itemId);
      positions.push({ itemId, audioEndMs: 0 });
    }
    return positions;
  }

  /** True while only the thinking sound is queued (or nothing at all). */
  get onlyFiller(): boolean {
    for (let i = this.#head; i < this.#pending.length; i++) {
      if (this.#pending[i].itemId !== FILLER) return false;
    }
    return true;
  }

  /** Milliseconds of sent audio not yet acknowledged as played. */
  queuedMs(now: number): number {
    let bytes = 0;
    for (let i = this.#head; i < this.#pending.length; i++) {
      bytes += this.#pending[i].bytes;
    }
    const segment = this.#pending[this.#head];
    if (segment) {
      const startedAt = Math.max(this.#lastAckAt, segment.sentAt);
      bytes -= Math.min(
        segment.bytes,
        Math.max(0, Math.floor((now - startedAt) * MULAW_BYTES_PER_MS)),
      );
    }
    return bytes / MULAW_BYTES_PER_MS;
  }

  /** Twilio's buffer was cleared: nothing sent before now will play. */
  clear(): void {
    this.#pending = [];
    this.#head = 0;
  }
}
