/**
 * One request to OpenAI's Responses API (`POST /v1/responses`) for
 * structured JSON text, on the voice endpoint's own host (wss → https), so
 * no other host needs --allow-net. Wire shapes are parsed here, once; the
 * caller gets the text and the usage, or why it failed.
 */

import { responsesUsage, type TokenCounts } from "../cost/usage.ts";
import { type RequestFailure, withDeadline } from "../http/deadline.ts";
import { readLimitedText } from "../http/responses.ts";
import { isRecord } from "../json.ts";

/**
 * The request body, exactly as sent (tests hold it to openai-node's
 * `ResponseCreateParamsNonStreaming`).
 */
export type ResponsesRequest = {
  model: string;
  instructions: string;
  input: string;
  text: {
    format: {
      type: "json_schema";
      name: string;
      schema: Record<string, unknown>;
      strict: true;
    };
  };
  /** Nothing of a call is kept at OpenAI beyond the request. */
  store: false;
  max_output_tokens: number;
};

export type ResponsesResult =
  | { ok: true; text: string; model: string; usage: TokenCounts | undefined }
  | { ok: false; error: string };

export interface ResponsesCall {
  /** The voice endpoint (wss://api.openai.com/v1/realtime...): its host answers. */
  endpoint: string;
  apiKey: string;
  request: ResponsesRequest;
  timeoutMs: number;
  /** Aborting gives up at once (the app is closing). */
  signal?: AbortSignal;
}

/** A summary answer is a few KiB; anything far larger is not one. */
const MAX_BODY_BYTES = 1024 * 1024;

/** `https://host[:port]/v1/responses` for a `wss://` (or test `ws://`) endpoint. */
export function responsesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  const scheme = url.protocol === "ws:" ? "http:" : "https:";
  return `${scheme}//${url.host}/v1/responses`;
}

/** Never throws: a failure comes back with a reason safe to log and show. */
export async function createResponse(
  call: ResponsesCall,
): Promise<ResponsesResult> {
  // One summary per call: no idle keep-alive connection is left behind.
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const result = await withDeadline(
      call.timeoutMs,
      call.signal,
      async (signal): Promise<ResponsesResult> => {
        const response = await fetch(responsesUrl(call.endpoint), {
          client,
          method: "POST",
          headers: {
            authorization: `Bearer ${call.apiKey}`,
            "content-type": "application/json",
          },
          body: JSON.stringify(call.request),
          signal,
        });
        const body = await readLimitedText(response, MAX_BODY_BYTES);
        if (!response.ok) {
          // The status and OpenAI's error code only: error messages may echo input.
          return {
            ok: false,
            error: `HTTP ${response.status}${errorCode(body)}`,
          };
        }
        return parseResponse(body);
      },
    );
    return result.ok
      ? result.value
      : { ok: false, error: FAILURES[result.failure](call.timeoutMs) };
  } finally {
    client.close();
  }
}

const FAILURES: Record<RequestFailure, (timeoutMs: number) => string> = {
  timeout: (ms) => `timed out after ${ms} ms`,
  aborted: () => "aborted",
  not_allowed: () => "host not allowed by --allow-net",
  network_error: () => "network error",
};

function errorCode(body: string | undefined): string {
  try {
    const parsed: unknown = JSON.parse(body ?? "");
    const error = isRecord(parsed) && isRecord(parsed.error)
      ? parsed.error
      : {};
    return typeof error.code === "string" && /^[a-z_]{1,64}$/.test(error.code)
      ? ` ${error.code}`
      : "";
  } catch {
    return "";
  }
}

/**
 * A Responses `Response`: its assistant message's `output_text` parts,
 * joined (reasoning items and the rest are skipped), with its usage. Only a
 * `completed` response counts: an `incomplete` one (out of tokens) holds cut
 * JSON.
 */
export function parseResponse(body: string | undefined): ResponsesResult {
  let raw: unknown;
  try {
    raw = JSON.parse(body ?? "");
  } catch {
    return { ok: false, error: "answer is not JSON" };
  }
  if (!isRecord(raw) || raw.object !== "response") {
    return { ok: false, error: "answer is not a response" };
  }
  if (raw.status !== "completed") {
    return { ok: false, error: `response ${String(raw.status)}` };
  }
  const parts: string[] = [];
  for (const item of Array.isArray(raw.output) ? raw.output : []) {
    if (!isRecord(item) || item.type !== "message") continue;
    for (const part of Array.isArray(item.content) ? item.content : []) {
      if (isRecord(part) && part.type === "output_text") {
        parts.push(typeof part.text === "string" ? part.text : "");
      }
    }
  }
  const text = parts.join("");
  if (!text) return { ok: false, error: "response has no text" };
  return {
    ok: true,
    text,
    model: typeof raw.model === "string" ? raw.model : "",
    usage: responsesUsage(raw.usage),
  };
}
