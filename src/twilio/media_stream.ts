/**
 * Twilio Media Streams codec: the JSON text frames of a bidirectional
 * `<Connect><Stream>`. Incoming frames are parsed once, here; audio payloads
 * stay base64 because they pass straight through to OpenAI.
 */

import { isRecord } from "../json.ts";

export interface StartMessage {
  event: "start";
  streamSid: string;
  callSid: string;
  accountSid: string;
  customParameters: Record<string, string>;
  /** Anything but µ-law 8 kHz mono cannot be passed through untouched. */
  mediaFormat: { encoding: string; sampleRate: number; channels: number };
}

export type TwilioMessage =
  | { event: "connected" }
  | StartMessage
  | { event: "media"; track: string; timestamp: number; payload: string }
  | { event: "mark"; name: string }
  | { event: "dtmf"; digit: string }
  | { event: "stop" };

export type ParseResult =
  | { ok: true; message: TwilioMessage }
  /** `oversized`: the peer is not behaving like Twilio; close the stream. */
  | { ok: false; reason: string; oversized?: boolean };

/**
 * Frames longer than this (in characters, checked before parsing) are
 * refused: real frames are ~300 characters.
 */
export const MAX_TWILIO_FRAME_CHARS = 64 * 1024;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(value)) return out;
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === "string") out[name] = v;
  }
  return out;
}

export function parseTwilioMessage(data: unknown): ParseResult {
  if (typeof data !== "string") {
    // Twilio never sends binary frames; a big one is a peer to hang up on.
    const size = data instanceof ArrayBuffer || ArrayBuffer.isView(data)
      ? data.byteLength
      : data instanceof Blob
      ? data.size
      : 0;
    return size > MAX_TWILIO_FRAME_CHARS
      ? { ok: false, reason: `binary frame of ${size} bytes`, oversized: true }
      : { ok: false, reason: "binary frame" };
  }
  if (data.length > MAX_TWILIO_FRAME_CHARS) {
    return {
      ok: false,
      reason: `frame of ${data.length} characters is too large`,
      oversized: true,
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, reason: "frame is not JSON" };
  }
  if (!isRecord(raw) || typeof raw.event !== "string") {
    return { ok: false, reason: "frame has no event" };
  }
  switch (raw.event) {
    case "connected":
      return { ok: true, message: { event: "connected" } };
    case "start": {
      const start = raw.start;
      if (
        !isRecord(start) || typeof start.streamSid !== "string" ||
        typeof start.callSid !== "string"
      ) {
        return { ok: false, reason: "start without streamSid or callSid" };
      }
      const format = isRecord(start.mediaFormat) ? start.mediaFormat : {};
      return {
        ok: true,
        message: {
          event: "start",
          streamSid: start.streamSid,
          callSid: start.callSid,
          accountSid: typeof start.accountSid === "string"
            ? start.accountSid
            : "",
          customParameters: stringRecord(start.customParameters),
          mediaFormat: {
            encoding: typeof format.encoding === "string"
              ? format.encoding
              : "audio/x-mulaw",
            sampleRate: Number(format.sampleRate ?? 8000),
            channels: Number(format.channels ?? 1),
          },
        },
      };
    }
    case "media": {
      const media = raw.media;
      if (!isRecord(media) || typeof media.payload !== "string") {
        return { ok: false, reason: "media without payload" };
      }
      if (!BASE64.test(media.payload)) {
        return { ok: false, reason: "media payload is not base64" };
      }
      return {
        ok: true,
        message: {
          event: "media",
          track: typeof media.track === "string" ? media.track : "inbound",
          timestamp: Number(media.timestamp ?? 0),
          payload: media.payload,
        },
      };
    }
    case "mark": {
      const mark = raw.mark;
      if (!isRecord(mark) || typeof mark.name !== "string") {
        return { ok: false, reason: "mark without name" };
      }
      return { ok: true, message: { event: "mark", name: mark.name } };
    }
    case "dtmf": {
      const dtmf = raw.dtmf;
      if (!isRecord(dtmf) || typeof dtmf.digit !== "string") {
        return { ok: false, reason: "dtmf without digit" };
      }
      return { ok: true, message: { event: "dtmf", digit: dtmf.digit } };
    }
    case "stop":
      return { ok: true, message: { event: "stop" } };
    default:
      return { ok: false, reason: `unknown event "${raw.event.slice(0, 40)}"` };
  }
}

/**
 * Outgoing frames. Built by concatenation: `streamSid` is JSON-encoded once
 * per call, and base64 audio needs no escaping.
 */
export class TwilioEncoder {
  readonly #prefix: string;

  constructor(streamSid: string) {
    this.#prefix = `{"streamSid":${JSON.stringify(streamSid)},"event":`;
  }

  media(base64Payload: string): string {
    return `${this.#prefix}"media","media":{"payload":"${base64Payload}"}}`;
  }

  mark(name: string): string {
    return `${this.#prefix}"mark","mark":{"name":${JSON.stringify(name)}}}`;
  }

  clear(): string {
    return `${this.#prefix}"clear"}`;
  }
}

/** Bytes of audio in a base64 payload, without decoding it. */
export function base64ByteLength(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}
