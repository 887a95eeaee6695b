/**
 * The real app on a real socket with outbound calls on: Twilio's REST API is
 * the local stand-in (peers/twilio_rest.ts), which calls the app back on its
 * public URL as Twilio would, and OpenAI is the Realtime simulator. The job
 * queue listens as main.ts makes it; the briefing's cron is fired by hand.
 */
import { type App, createApp } from "../../src/server.ts";
import type { ConfigVariable } from "../../src/config.ts";
import {
  FakeRealtime,
  type FakeRealtimeOptions,
} from "../../peers/realtime/mod.ts";
import { TEST_API_KEY, TEST_AUTH_TOKEN, testConfig } from "./config.ts";
import { memoryLogger } from "./logs.ts";
import { TwilioRest } from "../../peers/twilio_rest.ts";

export const PUBLIC_ORIGIN = "https://assistant.example.com";
export const ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef";
export const TWILIO_NUMBER = "+18005550199";
export const OWNER_NUMBER = "+14155550123";
export const ADMIN_TOKEN = "owner-admin-token-0123456789";

export interface OutboundServer {
  app: App;
  rest: TwilioRest;
  realtime: FakeRealtime;
  logs: ReturnType<typeof memoryLogger>;
  kv: Deno.Kv;
  origin: string;
  /** The owner's API: `POST /api/calls/scheduled`. */
  schedule(body: Record<string, unknown>): Promise<Response>;
  /** Runs the briefing cron's handler once, as Deno.cron would. */
  fireCron(): Promise<void>;
  /** Stops this instance (app, socket, queue, KV); the peers stay up. */
  close(): Promise<void>;
}

export interface OutboundServerOptions {
  variables?: Partial<Record<ConfigVariable, string>>;
  realtimeOptions?: FakeRealtimeOptions;
  /** A KV file shared with other instances; default: a fresh in-memory one. */
  kvPath?: string;
  /** Shared peers (several instances); default: started here and closed with it. */
  rest?: TwilioRest;
  realtime?: FakeRealtime;
  digestCheckEveryMs?: number;
}

export function outboundVariables(
  rest: TwilioRest,
  realtime: FakeRealtime,
): Partial<Record<ConfigVariable, string>> {
  return {
    PUBLIC_URL: PUBLIC_ORIGIN,
    OPENAI_REALTIME_URL: realtime.url,
    OWNER_NUMBERS: OWNER_NUMBER,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_FROM_NUMBER: TWILIO_NUMBER,
    TWILIO_API_URL: rest.url,
    ADMIN_TOKEN,
    MEMORY: "false",
  };
}

export function startTwilioRest(): Promise<TwilioRest> {
  return TwilioRest.start({
    accountSid: ACCOUNT_SID,
    authToken: TEST_AUTH_TOKEN,
    incomingNumbers: [TWILIO_NUMBER],
  });
}

export async function startOutboundServer(
  options: OutboundServerOptions = {},
): Promise<OutboundServer> {
  const rest = options.rest ?? await startTwilioRest();
  const realtime = options.realtime ??
    await FakeRealtime.start({
      apiKey: TEST_API_KEY,
      ...options.realtimeOptions,
    });
  const config = testConfig({
    ...outboundVariables(rest, realtime),
    ...options.variables,
  });
  const logs = memoryLogger([config.openai.apiKey, config.twilio.authToken]);
  const kv = await Deno.openKv(options.kvPath ?? ":memory:");
  let cronHandler: (() => Promise<void>) | undefined;
  const app = await createApp({
    config,
    logger: logs,
    kv,
    upstreamConnectTimeoutMs: 3000,
    cron: (_name, _schedule, { signal }, handler) => {
      cronHandler = handler;
      return new Promise((resolve) =>
        signal.addEventListener("abort", () => resolve(), { once: true })
      );
    },
    digestCheckEveryMs: options.digestCheckEveryMs,
  });
  await app.modelCheck;
  const listening = app.jobs.listen();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    app.handler,
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  rest.forward(PUBLIC_ORIGIN, origin);
  return {
    app,
    rest,
    realtime,
    logs,
    kv,
    origin,
    schedule: (body) =>
      fetch(`${origin}/api/calls/scheduled`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      }),
    async fireCron() {
      if (!cronHandler) throw new Error("no briefing cron registered");
      await cronHandler();
    },
    async close() {
      await app.close();
      await server.shutdown();
      kv.close();
      await listening;
      if (!options.rest) await rest.close();
      if (!options.realtime) await realtime.close();
    },
  };
}

/** An ISO instant `ms` from now: the API takes it as an exact time. */
export function isoIn(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}
