/**
 * Every model a configuration uses, each once, with the endpoint whose host
 * serves its record: the server's start-up look-up and `deno task doctor`
 * read the same list, so neither misses one the calls need.
 */

import type { Config } from "../config.ts";

/**
 * The input transcription model. gpt-4o-mini-transcribe shuts down on
 * 2027-02-26; gpt-live-transcribe is its Realtime replacement.
 */
export const TRANSCRIPTION_MODEL = "gpt-live-transcribe";

export interface ConfiguredModel {
  id: string;
  /** OPENAI_REALTIME_MODEL, LIVE_BACKEND_MODEL, ...; absent for a built-in one (input transcription). */
  variable?: string;
  /** What it does: "voice", "input transcription", "delegation backend", "summaries". */
  role: string;
  /** The endpoint that uses it (OPENAI_REALTIME_URL or OPENAI_LIVE_URL): its host serves the record. */
  endpoint: string;
}

/** The voice model first; the summary model only when calls are summarized. */
export function configuredModels(config: Config): ConfiguredModel[] {
  const models: ConfiguredModel[] = config.assistant.engine === "live"
    ? [
      {
        id: config.live.model,
        variable: "LIVE_MODEL",
        role: "voice",
        endpoint: config.live.url,
      },
      {
        id: config.live.backendModel,
        variable: "LIVE_BACKEND_MODEL",
        role: "delegation backend",
        endpoint: config.live.url,
      },
    ]
    : [
      {
        id: config.realtime.model,
        variable: "OPENAI_REALTIME_MODEL",
        role: "voice",
        endpoint: config.realtime.url,
      },
      {
        id: TRANSCRIPTION_MODEL,
        role: "input transcription",
        endpoint: config.realtime.url,
      },
    ];
  // Calls are summarized with MEMORY on and transcripts kept (src/services.ts),
  // through the Responses API beside the Realtime API.
  if (config.memory.enabled && config.journal.transcripts) {
    models.push({
      id: config.memory.summaryModel,
      variable: "SUMMARY_MODEL",
      role: "summaries",
      endpoint: config.realtime.url,
    });
  }
  return models.filter((model, i) =>
    models.findIndex((other) =>
      other.id === model.id &&
      new URL(other.endpoint).host === new URL(model.endpoint).host
    ) === i
  );
}
