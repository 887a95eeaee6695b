import assert from "node:assert/strict";
import {
  base64ByteLength,
  MAX_TWILIO_FRAME_CHARS,
  parseTwilioMessage,
  TwilioEncoder,
  type TwilioMessage,
} from "../src/twilio/media_stream.ts";

const STREAM_SID = "MZ18ad3ab5a668481ce02b83e7395059f0";
const CALL_SID = "CA0123456789abcdef0123456789abcdef";
const ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef";

/** Parses a frame that must be accepted and returns its message. */
function accept(frame: unknown): TwilioMessage {
  const result = parseTwilioMessage(frame);
  if (!result.ok) assert.fail(`refused: ${result.reason}`);
  return result.message;
}

/** Parses a frame that must be refused and returns the reason. */
function refuse(frame: unknown): string {
  const result = parseTwilioMessage(frame);
  if (result.ok) assert.fail(`accepted: ${JSON.stringify(result.message)}`);
  assert.equal(typeof result.reason, "string");
  assert.ok(result.reason.length > 0);
  return result.reason;
}

// ---- Incoming frames, in the shapes Twilio sends ----

Deno.test("parseTwilioMessage() parses connected", () => {
  assert.deepEqual(
    accept('{"event":"connected","protocol":"Call","version":"1.0.0"}'),
    { event: "connected" },
  );
});

Deno.test("parseTwilioMessage() parses start with customParameters and mediaFormat", () => {
  const frame = JSON.stringify({
    event: "start",
    sequenceNumber: "1",
    streamSid: STREAM_SID,
    start: {
      streamSid: STREAM_SID,
      accountSid: ACCOUNT_SID,
      callSid: CALL_SID,
      tracks: ["inbound"],
      customParameters: { token: "abc.def", caller: "+14158675309" },
      mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
    },
  });
  assert.deepEqual(accept(frame), {
    event: "start",
    streamSid: STREAM_SID,
    callSid: CALL_SID,
    accountSid: ACCOUNT_SID,
    customParameters: { token: "abc.def", caller: "+14158675309" },
    mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
  });
});

Deno.test("parseTwilioMessage() reports a non-µ-law mediaFormat as sent", () => {
  const frame = JSON.stringify({
    event: "start",
    streamSid: STREAM_SID,
    start: {
      streamSid: STREAM_SID,
      callSid: CALL_SID,
      mediaFormat: { encoding: "audio/l16", sampleRate: "16000", channels: 2 },
    },
  });
  const message = accept(frame);
  assert.equal(message.event, "start");
  if (message.event !== "start") return;
  assert.deepEqual(message.mediaFormat, {
    encoding: "audio/l16",
    sampleRate: 16000,
    channels: 2,
  });
});

Deno.test("parseTwilioMessage() fills start defaults and keeps only string customParameters", () => {
  const frame = JSON.stringify({
    event: "start",
    start: {
      streamSid: STREAM_SID,
      callSid: CALL_SID,
      customParameters: { a: "1", n: 2, o: { x: "y" }, nul: null, e: "" },
    },
  });
  assert.deepEqual(accept(frame), {
    event: "start",
    streamSid: STREAM_SID,
    callSid: CALL_SID,
    accountSid: "",
    customParameters: { a: "1", e: "" },
    mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
  });
});

Deno.test("parseTwilioMessage() parses media, turning string numbers into numbers", () => {
  const frame = JSON.stringify({
    event: "media",
    sequenceNumber: "2",
    streamSid: STREAM_SID,
    media: {
      track: "inbound",
      chunk: "1",
      timestamp: "5",
      payload: "/v7+/f39/A==",
    },
  });
  assert.deepEqual(accept(frame), {
    event: "media",
    track: "inbound",
    timestamp: 5,
    payload: "/v7+/f39/A==",
  });
});

Deno.test("parseTwilioMessage() parses mark", () => {
  const frame = JSON.stringify({
    event: "mark",
    sequenceNumber: "4",
    streamSid: STREAM_SID,
    mark: { name: "17" },
  });
  assert.deepEqual(accept(frame), { event: "mark", name: "17" });
});

Deno.test("parseTwilioMessage() parses dtmf", () => {
  const frame = JSON.stringify({
    event: "dtmf",
    streamSid: STREAM_SID,
    sequenceNumber: "5",
    dtmf: { track: "inbound_track", digit: "#" },
  });
  assert.deepEqual(accept(frame), { event: "dtmf", digit: "#" });
});

Deno.test("parseTwilioMessage() parses stop", () => {
  const frame = JSON.stringify({
    event: "stop",
    sequenceNumber: "6",
    streamSid: STREAM_SID,
    stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID },
  });
  assert.deepEqual(accept(frame), { event: "stop" });
});

// ---- Refusals ----

Deno.test("parseTwilioMessage() refuses binary frames", () => {
  refuse(new TextEncoder().encode('{"event":"connected"}'));
  refuse(new ArrayBuffer(4));
  refuse(new Blob(['{"event":"connected"}']));
  refuse(undefined);
  refuse(null);
  refuse(42);
});

Deno.test("parseTwilioMessage() refuses non-JSON text", () => {
  refuse("");
  refuse("hello");
  refuse('{"event":"connected"');
});

Deno.test("parseTwilioMessage() refuses JSON without a string event", () => {
  refuse("{}");
  refuse("[]");
  refuse('["connected"]');
  refuse("null");
  refuse('"connected"');
  refuse('{"event":1}');
  refuse('{"event":null}');
  refuse('{"type":"connected"}');
});

Deno.test("parseTwilioMessage() refuses an unknown event", () => {
  const reason = refuse('{"event":"clear","streamSid":"MZ1"}');
  assert.match(reason, /clear/);
  refuse('{"event":"Media","media":{"payload":""}}');
});

Deno.test("parseTwilioMessage() caps the echoed name of an unknown event", () => {
  const reason = refuse(JSON.stringify({ event: "x".repeat(5000) }));
  assert.ok(reason.length < 200, reason);
});

/** A valid stop frame padded to exactly `length` characters. */
function stopFrameOfLength(length: number): string {
  const bare = '{"event":"stop","pad":""}';
  return `{"event":"stop","pad":"${"x".repeat(length - bare.length)}"}`;
}

Deno.test("parseTwilioMessage() accepts a frame of exactly MAX_TWILIO_FRAME_CHARS", () => {
  const frame = stopFrameOfLength(MAX_TWILIO_FRAME_CHARS);
  assert.equal(frame.length, MAX_TWILIO_FRAME_CHARS);
  assert.deepEqual(accept(frame), { event: "stop" });
});

Deno.test("parseTwilioMessage() refuses a frame larger than MAX_TWILIO_FRAME_CHARS", () => {
  refuse(stopFrameOfLength(MAX_TWILIO_FRAME_CHARS + 1));
  refuse(stopFrameOfLength(MAX_TWILIO_FRAME_CHARS * 4));
});

Deno.test("parseTwilioMessage() marks an oversized frame so the stream can be closed", () => {
  const result = parseTwilioMessage(
    stopFrameOfLength(MAX_TWILIO_FRAME_CHARS + 1),
  );
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.oversized, true);
  const small = parseTwilioMessage("not json");
  assert.equal(!small.ok && small.oversized, undefined);
});

Deno.test("parseTwilioMessage() refuses media whose payload is not base64", () => {
  for (
    const payload of ["not base64!", "abc$", "YWJj\n", "YW=Jj", "YWJj===", "ü"]
  ) {
    refuse(JSON.stringify({ event: "media", media: { payload } }));
  }
});

Deno.test("parseTwilioMessage() refuses media without a string payload", () => {
  refuse('{"event":"media"}');
  refuse('{"event":"media","media":{}}');
  refuse('{"event":"media","media":{"payload":123}}');
  refuse('{"event":"media","media":"AAAA"}');
});

Deno.test("parseTwilioMessage() refuses start without callSid or streamSid", () => {
  refuse(JSON.stringify({ event: "start", start: { streamSid: STREAM_SID } }));
  refuse(JSON.stringify({ event: "start", start: { callSid: CALL_SID } }));
  refuse(
    JSON.stringify({
      event: "start",
      start: { streamSid: STREAM_SID, callSid: 7 },
    }),
  );
  // streamSid/callSid only at the top level, not under `start`.
  refuse(
    JSON.stringify({
      event: "start",
      streamSid: STREAM_SID,
      callSid: CALL_SID,
    }),
  );
  refuse('{"event":"start"}');
});

Deno.test("parseTwilioMessage() refuses mark without name and dtmf without digit", () => {
  refuse('{"event":"mark"}');
  refuse('{"event":"mark","mark":{"name":3}}');
  refuse('{"event":"dtmf"}');
  refuse('{"event":"dtmf","dtmf":{"track":"inbound_track"}}');
});

// ---- Outgoing frames ----

Deno.test("TwilioEncoder.media() is exactly Twilio's outbound media message", () => {
  const frame = new TwilioEncoder(STREAM_SID).media("/v7+/f39/A==");
  assert.deepEqual(JSON.parse(frame), {
    event: "media",
    streamSid: STREAM_SID,
    media: { payload: "/v7+/f39/A==" },
  });
});

Deno.test("TwilioEncoder.mark() is exactly Twilio's outbound mark message", () => {
  const encoder = new TwilioEncoder(STREAM_SID);
  assert.deepEqual(JSON.parse(encoder.mark("12")), {
    event: "mark",
    streamSid: STREAM_SID,
    mark: { name: "12" },
  });
  const awkward = `q"uote\\back\nslash 😀`;
  assert.deepEqual(JSON.parse(encoder.mark(awkward)), {
    event: "mark",
    streamSid: STREAM_SID,
    mark: { name: awkward },
  });
});

Deno.test("TwilioEncoder.clear() is exactly Twilio's clear message", () => {
  assert.deepEqual(JSON.parse(new TwilioEncoder(STREAM_SID).clear()), {
    event: "clear",
    streamSid: STREAM_SID,
  });
});

Deno.test("TwilioEncoder escapes a streamSid that needs JSON escaping", () => {
  const sid = `MZ"},"event":"clear\\\n\u2028</script>😀`;
  const encoder = new TwilioEncoder(sid);
  assert.deepEqual(JSON.parse(encoder.media("AAAA")), {
    event: "media",
    streamSid: sid,
    media: { payload: "AAAA" },
  });
  assert.deepEqual(JSON.parse(encoder.mark("1")), {
    event: "mark",
    streamSid: sid,
    mark: { name: "1" },
  });
  assert.deepEqual(JSON.parse(encoder.clear()), {
    event: "clear",
    streamSid: sid,
  });
});

Deno.test("TwilioEncoder.media() carries the audio unchanged and parses back", () => {
  const audio = crypto.getRandomValues(new Uint8Array(160));
  const frame = new TwilioEncoder(STREAM_SID).media(audio.toBase64());
  const message = accept(frame);
  assert.equal(message.event, "media");
  if (message.event !== "media") return;
  assert.deepEqual(Uint8Array.fromBase64(message.payload), audio);
});

// ---- base64ByteLength ----

Deno.test("base64ByteLength() equals the decoded length for 0..50 bytes, padded", () => {
  for (let n = 0; n <= 50; n++) {
    const base64 = crypto.getRandomValues(new Uint8Array(n)).toBase64();
    assert.equal(base64ByteLength(base64), n, base64);
    assert.equal(Uint8Array.fromBase64(base64).length, n);
  }
});

Deno.test("base64ByteLength() equals the decoded length for 0..50 bytes, unpadded", () => {
  for (let n = 0; n <= 50; n++) {
    const base64 = crypto.getRandomValues(new Uint8Array(n)).toBase64({
      omitPadding: true,
    });
    assert.equal(base64ByteLength(base64), n, base64);
    assert.equal(Uint8Array.fromBase64(base64).length, n);
  }
});

Deno.test("parseTwilioMessage() survives a small binary frame and marks a large one oversized", () => {
  const small = parseTwilioMessage(new Uint8Array(10).buffer);
  assert.equal(small.ok, false);
  assert.equal(!small.ok && small.oversized, undefined);
  const large = parseTwilioMessage(new ArrayBuffer(MAX_TWILIO_FRAME_CHARS + 1));
  assert.equal(!large.ok && large.oversized, true);
  const blob = parseTwilioMessage(
    new Blob([new Uint8Array(MAX_TWILIO_FRAME_CHARS + 1)]),
  );
  assert.equal(!blob.ok && blob.oversized, true);
});
