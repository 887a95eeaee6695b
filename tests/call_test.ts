/**
 * Whole calls over real sockets: a simulated Twilio edge, the real server,
 * and a fake OpenAI Realtime peer.
 */
import assert from "node:assert/strict";
import { isObject } from "../peers/realtime/mod.ts";
import { END_CALL_TOOL } from "../src/realtime/session.ts";
import { FORGET_TOOL } from "../src/tools/forget.ts";
import { REMEMBER_TOOL } from "../src/tools/remember.ts";
import { TEST_API_KEY } from "./helpers/config.ts";
import { CALL_PARAMS } from "../peers/twilio_requests.ts";
import { assertCallerGapFilled } from "./helpers/caller_gap.ts";
import { delay, randomAudio, startTestServer } from "./helpers/test_server.ts";

Deno.test("a call relays caller audio to OpenAI bit-exact and in order", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    const audio = randomAudio(160 * 40);
    await edge.sendAudio(audio);
    while (session.inputAudio().length < audio.length) await delay(10);
    assert.deepEqual(session.inputAudio(), audio);
    assert.deepEqual(edge.protocolErrors, []);
  } finally {
    await server.close();
  }
});

Deno.test("a call relays assistant audio to Twilio bit-exact, with a mark after each chunk", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    const audio = randomAudio(8 * 400);
    const spoken = session.speak(audio, { chunkBytes: 800 });
    assert.equal(await spoken.done, "completed");
    await edge.waitForPlayed(audio.length, 3000);
    assert.deepEqual(edge.receivedAudio(), audio);
    assert.deepEqual(edge.playedAudio(), audio);
    const marks = edge.received.filter((m) => m.event === "mark");
    assert.equal(marks.length, 4);
    assert.equal(edge.marksAcked.length, 4);
    assert.deepEqual(edge.protocolErrors, []);
  } finally {
    await server.close();
  }
});

Deno.test("the session is configured with the GA protocol: bearer key, no OpenAI-Beta, pcmu both ways", async () => {
  const server = await startTestServer({
    ZAPIER_MCP_PASSWORD: "zap-secret-pw",
    VOICE: "marin",
  });
  try {
    await server.call();
    const session = await server.realtime.nextSession();
    const update = await session.waitFor("session.update");
    await delay(50);
    assert.equal(
      session.headers.get("authorization"),
      `Bearer ${TEST_API_KEY}`,
    );
    assert.equal(session.headers.get("openai-beta"), null);
    assert.deepEqual(session.errorsSent, []);
    const sent = update.session;
    assert.ok(isObject(sent));
    assert.equal(sent.type, "realtime");
    assert.deepEqual(sent.output_modalities, ["audio"]);
    const audio = sent.audio as Record<string, Record<string, unknown>>;
    assert.deepEqual(audio.input.format, { type: "audio/pcmu" });
    assert.deepEqual(audio.output.format, { type: "audio/pcmu" });
    assert.equal(audio.output.voice, "marin");
    assert.deepEqual(audio.input.turn_detection, { type: "server_vad" });
    assert.ok(isObject(audio.input.transcription));
    assert.match(
      String(sent.instructions),
      new RegExp(String(new Date().getUTCFullYear())),
    );
    // MEMORY is on by default: the note tools come with end_call.
    assert.deepEqual(sent.tools, [END_CALL_TOOL, REMEMBER_TOOL, FORGET_TOOL, {
      type: "mcp",
      server_label: "zapier",
      server_url: "https://mcp.zapier.com/api/mcp/mcp",
      headers: { Authorization: "Bearer zap-secret-pw" },
      require_approval: "never",
    }]);
    assert.ok(!("temperature" in sent));
    assert.ok(!server.logs.lines.join("\n").includes("zap-secret-pw"));
  } finally {
    await server.close();
  }
});

Deno.test("the Realtime session is pre-warmed at the webhook and handed to the stream", async () => {
  const server = await startTestServer();
  try {
    const streamUrl = await server.answer();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    assert.equal(server.realtime.handshakes, 1);
    const edge = await server.connect(streamUrl);
    await edge.sendAudio(randomAudio(160 * 3));
    await session.waitFor("input_audio_buffer.append");
    assert.equal(
      server.realtime.handshakes,
      1,
      "one upstream session per call",
    );
    const started = server.logs.events().find((e) =>
      e.event === "call.started"
    );
    assert.equal(started?.prewarmed, true);
    assert.equal(started?.upstreamReady, true);
  } finally {
    await server.close();
  }
});

Deno.test("caller audio that arrives before the upstream socket opens is buffered and sent in order", async () => {
  const server = await startTestServer({}, { handshakeDelayMs: 400 });
  try {
    const edge = await server.call();
    const audio = randomAudio(160 * 15);
    await edge.sendAudio(audio, { intervalMs: 0 });
    const session = await server.realtime.nextSession(3000);
    while (session.inputAudio().length < audio.length) await delay(10);
    assert.deepEqual(session.inputAudio(), audio);
    const started = server.logs.events().find((e) =>
      e.event === "call.started"
    );
    assert.equal(started?.upstreamReady, false);
    const ready = server.logs.events().find((e) =>
      e.event === "upstream.ready"
    );
    assert.ok(Number(ready?.earlyFrames) > 0);
  } finally {
    await server.close();
  }
});

Deno.test("barge-in clears Twilio, truncates at what the caller heard, cancels the response and drops its late deltas", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    session.interruptResponse = false; // so only the bridge's cancel stops it
    // 4 s of speech generated in ~1 s: playback lags far behind generation.
    const speech = session.speak(randomAudio(8 * 4000), {
      chunkBytes: 800,
      intervalMs: 25,
    });
    await edge.waitForPlayed(8 * 700, 3000);
    session.speechStarted();
    await edge.waitFor((m) => m.event === "clear");
    const playedAtClear = edge.playedAudio().length;
    const truncate = await session.waitFor("conversation.item.truncate");
    assert.equal(truncate.item_id, speech.itemId);
    assert.equal(truncate.content_index, 0);
    const heardMs = playedAtClear / 8;
    const audioEndMs = Number(truncate.audio_end_ms);
    assert.ok(
      Math.abs(audioEndMs - heardMs) <= 60,
      `audio_end_ms ${audioEndMs} should be close to ${heardMs} ms heard`,
    );
    await session.waitFor("response.cancel");
    assert.equal(await speech.done, "cancelled");
    await delay(100);
    const truncation = session.truncations.at(-1);
    assert.equal(truncation?.accepted, true, "the API accepted the truncate");
    assert.ok(audioEndMs <= (truncation?.sentMs ?? 0));
    assert.deepEqual(session.errorsSent, []);
    const clearIndex = edge.received.findIndex((m) => m.event === "clear");
    assert.ok(
      !edge.received.slice(clearIndex).some((m) => m.event === "media"),
      "no audio of the interrupted response after clear",
    );
    assert.ok(
      edge.playedAudio().length - playedAtClear < 160,
      "playback stopped",
    );
  } finally {
    await server.close();
  }
});

Deno.test("barge-in when the API already cancelled the response survives response_cancel_not_active", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    const speech = session.speak(randomAudio(8 * 3000), {
      chunkBytes: 800,
      intervalMs: 25,
    });
    await edge.waitForPlayed(8 * 300, 3000);
    session.speechStarted();
    await edge.waitFor((m) => m.event === "clear");
    assert.equal(await speech.done, "cancelled");
    await session.waitFor("conversation.item.truncate");
    await delay(100);
    // The call goes on: a new answer still reaches the caller.
    const before = edge.receivedAudio().length;
    const again = randomAudio(800);
    await session.speak(again).done;
    while (edge.receivedAudio().length < before + again.length) await delay(10);
    assert.deepEqual(edge.receivedAudio().slice(before), again);
    assert.equal(edge.protocolErrors.length, 0);
  } finally {
    await server.close();
  }
});

Deno.test("speech while nothing plays sends no clear and no truncate", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    const audio = randomAudio(400);
    await session.speak(audio).done;
    await edge.waitForPlayed(audio.length, 2000);
    await delay(60);
    session.speechStarted();
    await delay(100);
    assert.equal(edge.clears, 0);
    assert.ok(
      !session.received.some((e) => e.type === "conversation.item.truncate"),
    );
    assert.ok(!session.received.some((e) => e.type === "response.cancel"));
  } finally {
    await server.close();
  }
});

Deno.test("Twilio stop closes the OpenAI socket within a second", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    const stoppedAt = performance.now();
    edge.sendStop();
    const closed = await session.closed;
    assert.equal(closed.byClient, true);
    assert.ok(performance.now() - stoppedAt < 1000);
    await edge.closed;
    const ended = server.logs.events().find((e) => e.event === "call.ended");
    assert.equal(ended?.reason, "caller hung up");
    assert.equal(ended?.callSid, CALL_PARAMS.CallSid);
    assert.equal(server.app.calls.live.size, 0);
  } finally {
    await server.close();
  }
});

Deno.test("an abrupt Twilio close without stop closes the OpenAI socket", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    edge.close();
    const closed = await session.closed;
    assert.equal(closed.byClient, true);
  } finally {
    await server.close();
  }
});

Deno.test("OpenAI closing the socket closes the Twilio stream", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    session.close(1011, "server error");
    await edge.closed;
    const ended = server.logs.events().find((e) => e.event === "call.ended");
    assert.equal(ended?.reason, "upstream closed");
  } finally {
    await server.close();
  }
});

Deno.test("a session-ending OpenAI error closes both sockets; a refused client event or a server_error does not", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    session.send({
      type: "error",
      event_id: "event_1",
      error: {
        type: "invalid_request_error",
        code: "invalid_value",
        message: "x",
      },
    });
    session.send({
      type: "error",
      event_id: "event_2",
      error: {
        type: "server_error",
        code: "",
        message: "The server had an error",
      },
    });
    await delay(100);
    assert.equal(
      server.app.calls.live.size,
      1,
      "recoverable errors: the session stays open, as the API documents",
    );
    session.send({
      type: "error",
      event_id: "event_3",
      error: {
        type: "invalid_request_error",
        code: "session_expired",
        message: "Your session hit the maximum duration of 60 minutes.",
      },
    });
    await edge.closed;
    assert.equal((await session.closed).byClient, true);
  } finally {
    await server.close();
  }
});

Deno.test("a refused upstream handshake ends the stream instead of leaving the caller in silence", async () => {
  const server = await startTestServer({}, { handshakeStatus: 401 });
  try {
    const edge = await server.call();
    await edge.sendAudio(randomAudio(160 * 3));
    await edge.closed;
    const ended = server.logs.events().find((e) => e.event === "call.ended");
    assert.equal(ended?.reason, "upstream refused");
  } finally {
    await server.close();
  }
});

Deno.test("a replayed stream token is refused and opens no second upstream session", async () => {
  const server = await startTestServer();
  try {
    const streamUrl = await server.answer();
    await server.connect(streamUrl);
    const handshakes = server.realtime.handshakes;
    await assert.rejects(server.connect(streamUrl));
    await delay(50);
    assert.equal(server.realtime.handshakes, handshakes);
    assert.equal(server.app.calls.live.size, 1);
  } finally {
    await server.close();
  }
});

Deno.test("a forged stream signature is refused and leaves the token usable by Twilio", async () => {
  const server = await startTestServer();
  try {
    const streamUrl = await server.answer();
    await assert.rejects(
      server.connect(streamUrl, { authToken: "not-the-auth-token" }),
    );
    await assert.rejects(
      server.connect(streamUrl, { signature: "", authToken: undefined }),
    );
    assert.equal(server.app.calls.live.size, 0);
    const edge = await server.connect(streamUrl);
    const session = await server.realtime.nextSession();
    await edge.sendAudio(randomAudio(160));
    await session.waitFor("input_audio_buffer.append");
  } finally {
    await server.close();
  }
});

Deno.test("an expired stream token is refused without an upgrade", async () => {
  const { importTokenKey, mintStreamToken } = await import(
    "../src/stream_token.ts"
  );
  const { TEST_AUTH_TOKEN } = await import("./helpers/config.ts");
  const server = await startTestServer();
  try {
    const key = await importTokenKey(TEST_AUTH_TOKEN);
    const { token } = await mintStreamToken(
      key,
      CALL_PARAMS.CallSid,
      5,
      Date.now() - 6000,
    );
    await assert.rejects(
      server.connect(`wss://assistant.example.com/media-stream/${token}`),
    );
    assert.equal(server.realtime.handshakes, 0);
  } finally {
    await server.close();
  }
});

Deno.test("a start with another CallSid than the token's ends the stream and its upstream", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call({
      callSid: "CAffffffffffffffffffffffffffffffff",
    });
    const session = await server.realtime.nextSession();
    await edge.closed;
    assert.equal((await session.closed).byClient, true);
    const mismatch = server.logs.events().find((e) =>
      e.event === "twilio.call_sid_mismatch"
    );
    assert.ok(mismatch);
  } finally {
    await server.close();
  }
});

Deno.test("malformed, binary and unknown frames are logged and survived", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    edge.sendRaw("not json");
    edge.sendRaw(new Uint8Array([1, 2, 3]));
    edge.sendRaw(JSON.stringify({ event: "surprise" }));
    edge.sendRaw(JSON.stringify({ event: "media", media: { payload: "***" } }));
    session.sendText("{broken");
    session.send({ type: "response.output_audio.delta" });
    const audio = randomAudio(160 * 5);
    await edge.sendAudio(audio);
    while (session.inputAudio().length < audio.length) await delay(10);
    assert.deepEqual(session.inputAudio(), audio);
    const bad = server.logs.events().filter((e) =>
      e.event === "twilio.bad_frame"
    );
    assert.equal(bad.length, 4);
    assert.equal(server.app.calls.live.size, 1);
  } finally {
    await server.close();
  }
});

Deno.test("an oversized binary frame closes the stream", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    edge.sendRaw(new Uint8Array(1024 * 1024));
    await edge.closed;
    assert.equal((await session.closed).byClient, true);
  } finally {
    await server.close();
  }
});

Deno.test("an oversized frame closes the stream", async () => {
  const server = await startTestServer();
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    edge.sendRaw(
      JSON.stringify({
        event: "media",
        media: { payload: "A".repeat(200_000) },
      }),
    );
    await edge.closed;
    assert.equal((await session.closed).byClient, true);
  } finally {
    await server.close();
  }
});

Deno.test("call logs are structured, tagged with the CallSid, and carry no secret or token", async () => {
  const server = await startTestServer({
    ZAPIER_MCP_PASSWORD: "zap-pw-never-logged",
  });
  try {
    const streamUrl = await server.answer();
    const edge = await server.connect(streamUrl);
    const session = await server.realtime.nextSession();
    await session.speak(randomAudio(800)).done;
    edge.sendStop();
    await session.closed;
    await delay(20);
    const text = server.logs.lines.join("\n");
    const token = streamUrl.split("/").pop()!;
    for (
      const secret of [
        TEST_API_KEY,
        "zap-pw-never-logged",
        token,
        (await import("./helpers/config.ts")).TEST_AUTH_TOKEN,
      ]
    ) {
      assert.ok(
        !text.includes(secret),
        `a log line contains ${secret.slice(0, 6)}…`,
      );
    }
    const callEvents = server.logs.events().filter((e) =>
      String(e.event).startsWith("call.")
    );
    assert.ok(callEvents.length >= 2);
    for (const event of callEvents) {
      assert.equal(event.callSid, CALL_PARAMS.CallSid);
    }
  } finally {
    await server.close();
  }
});

Deno.test("a refused session.update is sent once more without reasoning and transcription; the greeting is asked for again, heard in µ-law", async () => {
  const greeting = randomAudio(8 * 200);
  const server = await startTestServer(
    { GREETING: "Hi" },
    {
      // A model that takes no `reasoning`, though its name says it does.
      modelRecords: { "gpt-realtime-2.1": { reasoning: false } },
      // On the refused session's defaults this would be PCM16 noise.
      onResponseCreate: (session) => {
        session.speak(greeting);
      },
    },
  );
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await edge.waitForPlayed(greeting.length, 5000);
    const updates = session.received.filter((e) => e.type === "session.update");
    assert.equal(updates.length, 2);
    const retry = updates[1].session as Record<string, unknown>;
    assert.ok(!("reasoning" in retry));
    const audio = retry.audio as Record<string, Record<string, unknown>>;
    assert.ok(!("transcription" in audio.input));
    assert.deepEqual(audio.input.format, { type: "audio/pcmu" });
    assert.equal(session.session.audio?.input?.format?.type, "audio/pcmu");
    assert.equal(
      session.received.filter((e) => e.type === "response.create").length,
      2,
    );
    assert.deepEqual(edge.playedAudio(), greeting);
    const refused = server.logs.events().find((e) =>
      e.event === "session.field_refused"
    );
    assert.equal(refused?.field, "session.reasoning");
    assert.equal(refused?.retrying, true);
  } finally {
    await server.close();
  }
});

Deno.test("Twilio leaving 1.5 s of frames out mid-turn: the gap goes upstream as silence, server VAD ends the turn and the answer is heard; nothing is filled twice", async () => {
  const answer = randomAudio(8 * 200);
  const server = await startTestServer({}, {
    detectSpeech: true,
    onTurnEnd: (session) => session.speak(answer),
  });
  try {
    const edge = await server.call();
    const session = await server.realtime.nextSession();
    await session.waitFor("session.update");
    // Loud speech (random µ-law is never quiet), then Twilio sends nothing.
    await assertCallerGapFilled(edge, session, {
      speech: loud,
      answerBytes: answer.length,
    });
  } finally {
    await server.close();
  }
});

/** µ-law audio far above any VAD's speech level. */
function loud(bytes: number): Uint8Array {
  return randomAudio(bytes).map((b) => b & 0x0f);
}
