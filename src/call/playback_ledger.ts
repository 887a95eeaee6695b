/**
 * What the caller has heard of the assistant's audio. Every chunk sent to
 * Twilio is followed by a mark; Twilio echoes a mark once the audio before it
 * has played. Between acknowledgements the playhead advances at real time
 * (µ-law: 8 bytes per ms), but never past the first unacknowledged mark, so
 * a truncate never claims more than was sent.
 */

export const MULAW_BYTES_PER_MS = 8;

/**
 * What a segment of sent audio is: the assistant's speech (an item id, which
 * GPT-Live leaves empty) or the thinking sound, which is never truncated and
 * may be dropped. A separate kind, so no item id can be taken for the sound.
 */
type Segment =
  & { mark: string; bytes: number; sentAt: number }
  & (
    | {
      kind: "speech";
      itemId: string;
      /** Bytes of this item sent up to the end of this segment. */
      itemEnd: number;
    }
    | { kind: "thinking" }
  );

export interface HeardPosition {
  itemId: string;
  audioEndMs: number;
}

export class PlaybackLedger {
  #pending: Segment[] = [];
  #head = 0;
  #lastAckAt = -Infinity;
  #itemId: string | undefined;
  #itemBytes = 0;
  #markCounter = 0;

  /** Records `bytes` of speech of `itemId` sent at `now`; returns the mark name to send after them. */
  sent(itemId: string, bytes: number, now: number): string {
    // The thinking sound between two parts of one item does not restart its count.
    if (itemId !== this.#itemId) {
      this.#itemId = itemId;
      this.#itemBytes = 0;
    }
    this.#itemBytes += bytes;
    const mark = String(++this.#markCounter);
    this.#pending.push({
      kind: "speech",
      mark,
      itemId,
      itemEnd: this.#itemBytes,
      bytes,
      sentAt: now,
    });
    return mark;
  }

  /** Records `bytes` of the thinking sound sent at `now`; returns the mark name. */
  sentThinking(bytes: number, now: number): string {
    const mark = String(++this.#markCounter);
    this.#pending.push({ kind: "thinking", mark, bytes, sentAt: now });
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
    if (segment === undefined || segment.kind === "thinking") return undefined;
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
    const seen = new Set(playing ? [playing.itemId] : []);
    for (let i = this.#head; i < this.#pending.length; i++) {
      const segment = this.#pending[i];
      if (segment.kind === "thinking") continue;
      const { itemId } = segment;
      if (seen.has(itemId)) continue;
      seen.add(itemId);
      positions.push({ itemId, audioEndMs: 0 });
    }
    return positions;
  }

  /** True while only the thinking sound is queued (or nothing at all). */
  get onlyThinking(): boolean {
    for (let i = this.#head; i < this.#pending.length; i++) {
      if (this.#pending[i].kind === "speech") return false;
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
