/**
 * What a simulated response reports in `response.done.response.usage`
 * (openai-node `RealtimeResponseUsage`), from a simple, documented model of
 * how the API counts: every response reads the whole conversation (the
 * instructions and every item) as input, of which what the previous
 * response read is cached; text is about 4 characters a token; caller audio
 * about 1 token per 100 ms and assistant audio 1 per 50 ms (OpenAI's
 * figures, see /work/shared/notes/protocols.md). The figures are not
 * OpenAI's exact ones, but they have the API's shape and grow as a real
 * call does, so a test can price them.
 *
 * @module
 */
import type { RealtimeResponseUsage } from "openai/resources/realtime/realtime";
import { isObject } from "./common.ts";
import type { Conversation, ItemRecord } from "./conversation.ts";

export interface TokenSplit {
  text: number;
  audio: number;
}

export function textTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function callerAudioTokens(ms: number): number {
  return Math.ceil(ms / 100);
}

export function assistantAudioTokens(ms: number): number {
  return Math.ceil(ms / 50);
}

/** Every string an item's content carries (text, transcripts, arguments, outputs). */
function itemText(record: ItemRecord): string {
  const item: Record<string, unknown> = { ...record.item };
  let text = "";
  for (const key of ["arguments", "output"]) {
    if (typeof item[key] === "string") text += item[key];
  }
  for (const part of Array.isArray(item.content) ? item.content : []) {
    if (!isObject(part)) continue;
    for (const key of ["text", "transcript"]) {
      if (typeof part[key] === "string") text += part[key];
    }
  }
  return text;
}

/** One item's tokens as input to a later response (or as a response's output). */
export function itemTokens(record: ItemRecord): TokenSplit {
  return {
    text: textTokens(itemText(record)),
    audio: record.assistantAudio
      ? assistantAudioTokens(record.audioBytes / record.bytesPerMs)
      : 0,
  };
}

/** What a response starting now reads: the instructions, the conversation, the caller's audio. */
export function contextTokens(
  instructions: string,
  conversation: Conversation,
  callerAudioMs: number,
): TokenSplit {
  const context = {
    text: textTokens(instructions),
    audio: callerAudioTokens(callerAudioMs),
  };
  for (const record of conversation.items.values()) {
    const tokens = itemTokens(record);
    context.text += tokens.text;
    context.audio += tokens.audio;
  }
  return context;
}

export function responseUsage(
  input: TokenSplit,
  cached: TokenSplit,
  output: TokenSplit,
): RealtimeResponseUsage {
  const cachedText = Math.min(cached.text, input.text);
  const cachedAudio = Math.min(cached.audio, input.audio);
  const inputTokens = input.text + input.audio;
  const outputTokens = output.text + output.audio;
  return {
    total_tokens: inputTokens + outputTokens,
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    input_token_details: {
      text_tokens: input.text,
      audio_tokens: input.audio,
      image_tokens: 0,
      cached_tokens: cachedText + cachedAudio,
      cached_tokens_details: {
        text_tokens: cachedText,
        audio_tokens: cachedAudio,
        image_tokens: 0,
      },
    },
    output_token_details: {
      text_tokens: output.text,
      audio_tokens: output.audio,
    },
  };
}
