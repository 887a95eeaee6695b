/**
 * Micro-benchmarks of the JavaScript the server runs per message, to set
 * against the per-message CPU that bench.ts measures for the whole process
 * (runtime, WebSocket framing and kernel included).
 *
 *   deno bench bench/hot_path_bench.ts
 *
 * @module
 */

import {
  base64ByteLength,
  parseTwilioMessage,
  TwilioEncoder,
} from "../src/twilio/media_stream.ts";
import { clientEvents, parseServerEvent } from "../src/realtime/events.ts";
import { PlaybackLedger } from "../src/call/playback_ledger.ts";
import { createLogger } from "../src/log.ts";
import { DELTA_TAIL, encodeTag, FRAME_TAIL } from "./probe.ts";

const STREAM_SID = "MZ0123456789abcdef0123456789abcdef";
const payload = `${encodeTag(1, 7, 1234)}${FRAME_TAIL}`;
/** A caller frame exactly as the benchmark's Twilio edge sends it. */
const mediaFrame =
  `{"event":"media","sequenceNumber":"1234","streamSid":"${STREAM_SID}","media":{"track":"inbound","chunk":"1233","timestamp":"24660","payload":"${payload}"}}`;
const markFrame =
  `{"event":"mark","sequenceNumber":"1300","streamSid":"${STREAM_SID}","mark":{"name":"42"}}`;
const delta = `${encodeTag(2, 7, 99)}${DELTA_TAIL}`;
/** A 100 ms audio delta as the Realtime API sends it. */
const deltaEvent =
  `{"type":"response.output_audio.delta","event_id":"event_bench000000000123","response_id":"resp_bench000000000042","item_id":"item_bench000000000043","output_index":0,"content_index":0,"delta":"${delta}"}`;
const transcriptDelta =
  `{"type":"response.output_audio_transcript.delta","event_id":"event_bench000000000124","response_id":"resp_bench000000000042","item_id":"item_bench000000000043","output_index":0,"content_index":0,"delta":"Sure, here "}`;

const encoder = new TwilioEncoder(STREAM_SID);
let sink = 0;

Deno.bench("caller frame: JSON.parse only (reference)", {
  group: "caller frame",
  baseline: true,
}, () => {
  sink += (JSON.parse(mediaFrame) as { event: string }).event.length;
});

Deno.bench("caller frame: parseTwilioMessage", {
  group: "caller frame",
}, () => {
  const parsed = parseTwilioMessage(mediaFrame);
  if (parsed.ok) sink += parsed.message.event.length;
});

Deno.bench("caller frame: parse + appendAudio (the bridge's work)", {
  group: "caller frame",
}, () => {
  const parsed = parseTwilioMessage(mediaFrame);
  if (parsed.ok && parsed.message.event === "media") {
    sink += clientEvents.appendAudio(parsed.message.payload).length;
  }
});

Deno.bench("mark ack: parseTwilioMessage", { group: "mark" }, () => {
  const parsed = parseTwilioMessage(markFrame);
  if (parsed.ok) sink += parsed.message.event.length;
});

Deno.bench("audio delta: JSON.parse only (reference)", {
  group: "audio delta",
  baseline: true,
}, () => {
  sink += (JSON.parse(deltaEvent) as { type: string }).type.length;
});

Deno.bench("audio delta: parseServerEvent", { group: "audio delta" }, () => {
  const parsed = parseServerEvent(deltaEvent);
  if (parsed.ok) sink += parsed.event.type.length;
});

Deno.bench("audio delta: parse + media + mark + ledger (the bridge's work)", {
  group: "audio delta",
}, () => {
  const ledger = new PlaybackLedger();
  const parsed = parseServerEvent(deltaEvent);
  if (parsed.ok && parsed.event.type === "response.output_audio.delta") {
    const mark = ledger.sent(
      parsed.event.itemId,
      base64ByteLength(parsed.event.delta),
      1,
    );
    sink += encoder.media(parsed.event.delta).length +
      encoder.mark(mark).length;
  }
});

Deno.bench("transcript delta: parseServerEvent (ignored event)", {
  group: "other events",
}, () => {
  const parsed = parseServerEvent(transcriptDelta);
  if (parsed.ok) sink += parsed.event.type.length;
});

const logger = createLogger(() => {}, ["sk-test-openai-key", "token"])
  .with({ callSid: "CA0123", streamSid: STREAM_SID });
Deno.bench("one log line (JSON + secret scrub, sink excluded)", {
  group: "other events",
}, () => {
  logger.log("info", "barge_in", { itemId: "item_x", audioEndMs: 1234 });
});

addEventListener("unload", () => {
  if (sink === 42) console.log(sink);
});
