/**
 * PIN guessing: a server with CALLER_PIN (its own process: the soak's main
 * server takes calls without a PIN) gets `count` wrong PINs over signed
 * webhooks, three per call as Twilio would send them. Each must be refused
 * cheaply (a <Gather> again or a spoken refusal, never a stream), no upstream
 * session may open, the log must stay bounded, and afterwards the owner
 * (STIR/SHAKEN A, CALLER_PIN_SKIP_VERIFIED) must still get through.
 *
 * @module
 */

import { FakeRealtime } from "../peers/realtime/mod.ts";
import { ServerProcess } from "../peers/server_process.ts";
import { signedWebhook } from "../peers/twilio_requests.ts";
import { hex, newCallSid, PUBLIC_ORIGIN, soakHttp } from "./harness.ts";

export interface PinGuessFigures {
  guesses: number;
  /** Answered 200 with a <Gather> or a spoken refusal, and no <Stream>. */
  refused: number;
  /** Calls refused because the hour's wrong PINs locked calls out. */
  lockedOut: number;
  upstreamOpened: number;
  /** Log lines the server wrote during the guesses. */
  logLines: number;
  p99Ms: number;
  ownerGotThrough: boolean;
  durationMs: number;
}

const PIN_DIGITS = 8;

export async function pinGuesses(
  projectRoot: string,
  count: number,
): Promise<PinGuessFigures> {
  const apiKey = `sk-soak-pin-${hex(12)}`;
  const authToken = hex(16);
  const pin = String(
    crypto.getRandomValues(new Uint32Array(1))[0] % 10 ** PIN_DIGITS,
  ).padStart(PIN_DIGITS, "0");
  const upstream = await FakeRealtime.start({ apiKey });
  const kvDir = await Deno.makeTempDir({ prefix: "soak-pin-kv-" });
  const server = await ServerProcess.start({
    root: projectRoot,
    env: {
      OPENAI_API_KEY: apiKey,
      TWILIO_AUTH_TOKEN: authToken,
      PORT: "0",
      PUBLIC_URL: PUBLIC_ORIGIN,
      OPENAI_REALTIME_URL: upstream.url,
      KV_PATH: `${kvDir}/kv.sqlite3`,
      CALLER_PIN: pin,
      CALLER_PIN_SKIP_VERIFIED: "true",
      MEMORY: "false",
      NO_COLOR: "1",
    },
    permissions: "broad",
  });
  const post = async (path: string, params: Record<string, string>) => {
    const signed = signedWebhook(`${PUBLIC_ORIGIN}${path}`, params, {
      authToken,
    });
    const response = await fetch(`${server.origin}${path}`, {
      method: "POST",
      headers: signed.headers,
      body: await signed.text(),
      client: soakHttp,
    });
    return { status: response.status, twiml: await response.text() };
  };
  const call = (callSid: string, extra: Record<string, string> = {}) => ({
    AccountSid: `AC${hex(16)}`,
    CallSid: callSid,
    From: "+14155550123",
    To: "+18005550199",
    Direction: "inbound",
    ...extra,
  });
  const started = performance.now();
  const linesBefore = server.lines.length + server.errorLines.length;
  const latencies: number[] = [];
  let refused = 0;
  let lockedOut = 0;
  try {
    let callSid = newCallSid();
    for (let guess = 0; guess < count; guess++) {
      if (guess % 3 === 0) {
        callSid = newCallSid();
        const answer = await post("/incoming-call", call(callSid));
        if (!answer.twiml.includes("<Gather")) lockedOut++;
      }
      let wrong = String((Number(pin) + 1 + guess) % 10 ** PIN_DIGITS)
        .padStart(PIN_DIGITS, "0");
      if (wrong === pin) wrong = wrong.split("").reverse().join("");
      const t0 = performance.now();
      const { status, twiml } = await post(
        "/incoming-call/pin",
        { ...call(callSid), Digits: wrong },
      );
      latencies.push(performance.now() - t0);
      const cheap = status === 200 && !twiml.includes("<Stream") &&
        (twiml.includes("<Gather") || twiml.includes("<Hangup/>"));
      if (cheap) refused++;
    }
    const logLines = server.lines.length + server.errorLines.length -
      linesBefore;
    const durationMs = performance.now() - started;
    const upstreamOpened = upstream.handshakes;
    // The owner, vouched for by their carrier, still gets a stream.
    const owner = await post(
      "/incoming-call",
      call(newCallSid(), { StirVerstat: "TN-Validation-Passed-A" }),
    );
    const session = owner.twiml.includes("<Stream")
      ? await upstream.nextSession(5000).then(() => true, () => false)
      : false;
    latencies.sort((a, b) => a - b);
    return {
      guesses: count,
      refused,
      lockedOut,
      upstreamOpened,
      logLines,
      p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
      ownerGotThrough: session,
      durationMs,
    };
  } finally {
    server.kill("SIGTERM");
    await server.exited;
    await upstream.close();
    await Deno.remove(kvDir, { recursive: true });
  }
}
