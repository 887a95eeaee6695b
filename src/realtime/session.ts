/** The GA Realtime session this assistant runs with. */

import type { Config } from "../config.ts";
import { clientEvents } from "./events.ts";

/** The part of the configuration that shapes the session. */
export type SessionSettings = Pick<
  Config,
  | "voice"
  | "assistantInstructions"
  | "zapierMcpUrl"
  | "zapierMcpPassword"
  | "openaiRealtimeUrl"
  | "assistantTimezone"
  | "greeting"
>;

/** The function tool that lets the assistant hang up after saying goodbye. */
export const END_CALL_TOOL = {
  type: "function",
  name: "end_call",
  description:
    "Hang up the phone call. Use it when the caller is done or asks to hang up, " +
    "right after you have said a short goodbye.",
  parameters: { type: "object", properties: {}, required: [] },
} as const;

/** "Tuesday, 24 November 2026, 09:30 UTC": enough for "what's due tomorrow". */
export function describeNow(now: Date, timeZone = "UTC"): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  }).format(now);
}

function instructionsFor(settings: SessionSettings, now: Date): string {
  return `${settings.assistantInstructions}\n\nIt is now ${
    describeNow(now, settings.assistantTimezone)
  } (time zone ${settings.assistantTimezone}).`;
}

/** What the assistant is asked to say first, when a greeting is configured. */
function greetingInstructions(greeting: string): string {
  return `Greet the caller by saying exactly this, and nothing else: "${greeting}"`;
}

/**
 * The `session` of a `session.update`. G.711 µ-law both ways, so Twilio's
 * audio passes through with no transcoding. Never carries fields the GA API
 * refuses (`temperature`, `modalities`, `input_audio_format`, ...).
 */
export function sessionConfig(
  settings: SessionSettings,
  now: Date,
): Record<string, unknown> {
  const tools: Record<string, unknown>[] = [{ ...END_CALL_TOOL }];
  if (settings.zapierMcpPassword !== undefined) {
    tools.push({
      type: "mcp",
      server_label: "zapier",
      server_url: settings.zapierMcpUrl,
      headers: { Authorization: `Bearer ${settings.zapierMcpPassword}` },
      require_approval: "never",
    });
  }
  return {
    type: "realtime",
    // The model named in the endpoint URL, so a custom endpoint stays consistent.
    model: new URL(settings.openaiRealtimeUrl).searchParams.get("model") ??
      "gpt-realtime",
    output_modalities: ["audio"],
    instructions: instructionsFor(settings, now),
    audio: {
      input: {
        format: { type: "audio/pcmu" },
        turn_detection: { type: "server_vad" },
        transcription: { model: "gpt-4o-mini-transcribe" },
      },
      output: {
        format: { type: "audio/pcmu" },
        voice: settings.voice,
      },
    },
    tools,
    tool_choice: "auto",
  };
}

/**
 * What a new upstream socket sends on open: the session, then the greeting's
 * response, so the greeting is being generated before the stream even starts.
 */
export function initialEvents(settings: SessionSettings, now: Date): string[] {
  const events = [clientEvents.sessionUpdate(sessionConfig(settings, now))];
  if (settings.greeting !== undefined) {
    events.push(
      clientEvents.createResponse(greetingInstructions(settings.greeting)),
    );
  }
  return events;
}
