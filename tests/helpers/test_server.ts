/**
 * The real app on a real socket (port 0), wired to a fake Realtime server,
 * plus a way to place a whole call through it as Twilio would.
 */
import { type App, type AppOptions, createApp } from "../../src/server.ts";
import { within } from "../../src/http/deadline.ts";
import type { ConfigVariable } from "../../src/config.ts";
import {
  FakeRealtime,
  type FakeRealtimeOptions,
} from "../../peers/realtime/mod.ts";
import { FakeLive, type FakeLiveOptions } from "../../peers/live/mod.ts";
import { TwilioEdge, type TwilioEdgeOptions } from "../../peers/twilio_edge.ts";
import { TEST_AUTH_TOKEN, testConfig } from "./config.ts";
import { memoryLogger } from "./logs.ts";
import {
  CALL_PARAMS,
  streamParametersOf,
  streamUrlOf,
  webhookTwiml,
} from "../../peers/twilio_requests.ts";

export const PUBLIC_ORIGIN = "https://assistant.example.com";

export interface TestServer {
  app: App;
  realtime: FakeRealtime;
  /** The GPT-Live simulator, when started with `live` options. */
  live: FakeLive | undefined;
  logs: ReturnType<typeof memoryLogger>;
  /** http://127.0.0.1:PORT */
  origin: string;
  /** POSTs a signed webhook over the socket; returns the public stream URL from the TwiML. */
  answer(params?: Record<string, string>): Promise<string>;
  /** Connects a simulated Twilio edge to a public stream URL, as Twilio would. */
  connect(
    streamUrl: string,
    options?: Partial<TwilioEdgeOptions>,
  ): Promise<TwilioEdge>;
  /** answer() then connect(). */
  call(options?: Partial<TwilioEdgeOptions>): Promise<TwilioEdge>;
  close(): Promise<void>;
}

/**
 * `liveOptions` starts the GPT-Live simulator too and points
 * OPENAI_LIVE_URL at it (set VOICE_ENGINE=live to use it).
 */
export async function startTestServer(
  variables: Partial<Record<ConfigVariable, string>> = {},
  realtimeOptions: FakeRealtimeOptions = {},
  liveOptions?: FakeLiveOptions,
  /** The summary job's timing, shortened for tests. */
  summary?: AppOptions["summary"],
  /** Other app options (e.g. a short body deadline). */
  appOptions: Pick<AppOptions, "bodyDeadlineMs"> = {},
): Promise<TestServer> {
  const realtime = await FakeRealtime.start({
    apiKey: "sk-test-openai-key",
    ...realtimeOptions,
  });
  const live = liveOptions === undefined
    ? undefined
    : await FakeLive.start({ apiKey: "sk-test-openai-key", ...liveOptions });
  const config = testConfig({
    PUBLIC_URL: PUBLIC_ORIGIN,
    OPENAI_REALTIME_URL: realtime.url,
    ...(live ? { OPENAI_LIVE_URL: live.url } : {}),
    ...variables,
  });
  const logs = memoryLogger([
    config.openai.apiKey,
    config.twilio.authToken,
    config.zapier.password,
  ]);
  const kv = await Deno.openKv(":memory:");
  const app = await createApp({
    config,
    logger: logs,
    kv,
    upstreamConnectTimeoutMs: 3000,
    summary,
    ...appOptions,
  });
  // The start-up model look-up is done before a test places its first call.
  await app.modelCheck;
  // Background jobs (call summaries) run as in main.ts; the listener ends with KV.
  const jobsListening = app.jobs.listen();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    app.handler,
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const edges: TwilioEdge[] = [];
  // Twilio hands the TwiML's <Parameter>s to the stream as customParameters.
  const parametersByStream = new Map<string, Record<string, string>>();

  const answer = async (params: Record<string, string> = CALL_PARAMS) => {
    const twiml = await webhookTwiml(
      origin,
      `${PUBLIC_ORIGIN}/incoming-call`,
      params,
    );
    const streamUrl = streamUrlOf(twiml);
    parametersByStream.set(streamUrl, streamParametersOf(twiml));
    return streamUrl;
  };

  const connect = async (
    streamUrl: string,
    options: Partial<TwilioEdgeOptions> = {},
  ) => {
    const path = new URL(streamUrl).pathname;
    const edge = await TwilioEdge.connect({
      url: `ws://127.0.0.1:${server.addr.port}${path}`,
      signedUrl: streamUrl,
      authToken: TEST_AUTH_TOKEN,
      callSid: CALL_PARAMS.CallSid,
      accountSid: CALL_PARAMS.AccountSid,
      customParameters: parametersByStream.get(streamUrl) ?? {},
      ...options,
    });
    edges.push(edge);
    return edge;
  };

  return {
    app,
    realtime,
    live,
    logs,
    origin,
    answer,
    connect,
    call: async (options) => connect(await answer(), options),
    async close() {
      for (const edge of edges) edge.close();
      const edgesClosed = await within(
        Promise.all(edges.map((edge) => edge.closed)),
        10_000,
      );
      await app.close();
      await server.shutdown();
      await realtime.close();
      await live?.close();
      kv.close();
      await jobsListening;
      if (!edgesClosed) {
        throw new Error(
          "a stream was still open 10 s after the edge closed it",
        );
      }
    },
  };
}

/** Random µ-law bytes: any byte sequence is valid audio, and a random one shows any reordering or loss. */
export function randomAudio(bytes: number): Uint8Array {
  const audio = new Uint8Array(bytes);
  for (let offset = 0; offset < bytes; offset += 65536) {
    crypto.getRandomValues(audio.subarray(offset, offset + 65536));
  }
  return audio;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
