/**
 * Floods: thousands of media-stream upgrade attempts with missing, forged,
 * expired or replayed tokens and bad signatures, and of unsigned or forged
 * webhooks. Each must be refused (401/403, 404 for no token at all, 413 for
 * an oversized body) before any upstream session is opened, with the
 * server's memory flat.
 *
 * @module
 */

import twilio from "twilio";
import { importTokenKey, mintStreamToken } from "../src/stream_token.ts";
import {
  type Harness,
  headerText,
  PUBLIC_ORIGIN,
  sleep,
  soakHttp,
} from "./harness.ts";
import { tryUpgrade } from "./raw_ws.ts";

export interface FloodFigures {
  kind: string;
  description: string;
  requests: number;
  /** Status → count. */
  statuses: Record<string, number>;
  allowed: number[];
  refused: number;
  /** Requests answered with something other than an allowed refusal. */
  unexpected: number;
  upstreamOpened: number;
  durationMs: number;
}

export interface MemoryFigure {
  rssKiB: number;
  /** JS heap after a full GC; undefined without the inspector. */
  heapKiB: number | undefined;
}

export interface FloodReport {
  kinds: FloodFigures[];
  before: MemoryFigure;
  after: MemoryFigure;
  rssPeakKiB: number;
  fdsBefore: number;
  fdsAfter: number;
  upstreamOpened: number;
  /** Log lines the server wrote while refusing the replayed webhooks. */
  replayLogLines: number;
}

const CONCURRENCY = 16;

/** Runs `task(i)` for i in [0, n) with a bounded number in flight. */
async function pool(
  n: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

function base64url(bytes: number): string {
  return crypto.getRandomValues(new Uint8Array(bytes)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

function streamSignature(h: Harness, token: string): string {
  return twilio.getExpectedTwilioSignature(
    h.secrets.twilioAuthToken,
    `${PUBLIC_ORIGIN.replace("https:", "wss:")}/media-stream/${token}`,
    {},
  );
}

export async function runFloods(
  h: Harness,
  perKind: number,
  placeShortCall: (h: Harness, kind: string) => Promise<string | undefined>,
  measure: () => Promise<MemoryFigure>,
): Promise<FloodReport> {
  const kinds: FloodFigures[] = [];
  const label = "flood";
  await sleep(500);
  const before = await measure();
  const fdsBefore = h.server.openFds() ?? 0;
  let peak = before.rssKiB;
  const sampler = setInterval(() => {
    peak = Math.max(peak, h.server.rssKiB() ?? 0);
  }, 50);

  const flood = async (
    kind: string,
    description: string,
    allowed: number[],
    n: number,
    attempt: (i: number) => Promise<number>,
  ) => {
    h.front.mode = "normal";
    h.front.label = label;
    const before = h.front.withLabel(label).length;
    const statuses: Record<string, number> = {};
    const started = performance.now();
    await pool(n, async (i) => {
      let status: number;
      try {
        status = await attempt(i);
      } catch {
        status = 0;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
    await sleep(50);
    const refused = allowed.reduce((sum, s) => sum + (statuses[s] ?? 0), 0);
    kinds.push({
      kind,
      description,
      requests: n,
      statuses,
      allowed,
      refused,
      unexpected: n - refused,
      upstreamOpened: h.front.withLabel(label).length - before,
      durationMs: Math.round(performance.now() - started),
    });
    h.countBad(kind, n);
  };

  const upgrade = async (path: string, headers: Record<string, string>) => {
    const response = await tryUpgrade(h.server.port, path, headers);
    h.scan.push({
      source: `upgrade ${path.slice(0, 14)}…`,
      text: response.text,
    });
    return response.status;
  };

  await flood(
    "upgrade_missing_token",
    "media-stream upgrades with no token in the path",
    [401, 403, 404],
    perKind,
    (i) =>
      upgrade(i % 2 === 0 ? "/media-stream/" : "/media-stream", {
        "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl",
      }),
  );

  const tokenKey = await importTokenKey(h.secrets.twilioAuthToken);
  const otherKey = await importTokenKey("not-the-auth-token");
  const real = h.tokens.at(-1) ?? `${base64url(60)}.${base64url(32)}`;
  await flood(
    "upgrade_forged_token",
    "random tokens, tampered real tokens, tokens signed with another key (valid X-Twilio-Signature)",
    [401],
    perKind,
    async (i) => {
      let token: string;
      if (i % 3 === 0) token = `${base64url(60)}.${base64url(32)}`;
      else if (i % 3 === 1) {
        const [payload, mac] = real.split(".");
        token = `${payload}.${mac.slice(0, 10)}${mac[10] === "A" ? "B" : "A"}${
          mac.slice(11)
        }`;
      } else {
        token = (await mintStreamToken(otherKey, `CA${i}`, 60)).token;
      }
      return upgrade(`/media-stream/${token}`, {
        "X-Twilio-Signature": streamSignature(h, token),
      });
    },
  );

  await flood(
    "upgrade_expired_token",
    "genuine tokens whose lifetime is over (valid X-Twilio-Signature)",
    [401],
    perKind,
    async (i) => {
      const { token } = await mintStreamToken(
        tokenKey,
        `CA${String(i).padStart(32, "0")}`,
        5,
        Date.now() - 60_000,
      );
      return upgrade(`/media-stream/${token}`, {
        "X-Twilio-Signature": streamSignature(h, token),
      });
    },
  );

  // Replays: a real call, then its (still unexpired) token presented again
  // and again with a valid signature, in batches.
  const batches = 20;
  const perBatch = Math.ceil(perKind / batches);
  const replayTokens: string[] = [];
  const replayStatuses: Record<string, number> = {};
  let replayUpstreams = 0;
  const replayStart = performance.now();
  let replayed = 0;
  for (let b = 0; b < batches && replayed < perKind; b++) {
    const token = await placeShortCall(h, "flood_replay_source");
    if (!token) continue;
    replayTokens.push(token);
    h.front.label = label;
    const before = h.front.withLabel(label).length;
    const signature = streamSignature(h, token);
    const n = Math.min(perBatch, perKind - replayed);
    await pool(n, async () => {
      let status: number;
      try {
        status = await upgrade(`/media-stream/${token}`, {
          "X-Twilio-Signature": signature,
        });
      } catch {
        status = 0;
      }
      replayStatuses[status] = (replayStatuses[status] ?? 0) + 1;
    });
    replayed += n;
    await sleep(20);
    replayUpstreams += h.front.withLabel(label).length - before;
  }
  const replayRefused = replayStatuses[401] ?? 0;
  kinds.push({
    kind: "upgrade_replayed_token",
    description:
      "tokens already used by a finished call, presented again within their lifetime",
    requests: replayed,
    statuses: replayStatuses,
    allowed: [401],
    refused: replayRefused,
    unexpected: replayed - replayRefused,
    upstreamOpened: replayUpstreams,
    durationMs: Math.round(performance.now() - replayStart),
  });
  h.countBad("upgrade_replayed_token", replayed);

  await flood(
    "upgrade_bad_signature",
    "well-formed tokens with a forged or missing X-Twilio-Signature",
    [401, 403],
    perKind,
    (i) => {
      const token = replayTokens[i % Math.max(1, replayTokens.length)] ?? real;
      const headers: Record<string, string> = i % 2 === 0
        ? {
          "X-Twilio-Signature": twilio.getExpectedTwilioSignature(
            "not-the-auth-token",
            `wss://assistant.example.com/media-stream/${token}`,
            {},
          ),
        }
        : {};
      return upgrade(`/media-stream/${token}`, headers);
    },
  );

  const webhook = async (
    path: string,
    body: string,
    signature: string | null,
  ) => {
    const headers = new Headers({
      "content-type": "application/x-www-form-urlencoded",
    });
    if (signature !== null) headers.set("x-twilio-signature", signature);
    const response = await fetch(h.server.origin + path, {
      method: "POST",
      headers,
      body,
      client: soakHttp,
    });
    const text = await response.text();
    h.scan.push({
      source: `POST ${path} (flood)`,
      text: `${response.status}\n${headerText(response.headers)}\n${text}`,
    });
    return response.status;
  };
  const params = (i: number) =>
    new URLSearchParams(
      h.webhookParams(`CA${String(i).padStart(32, "0")}`),
    ).toString();

  await flood(
    "webhook_unsigned",
    "POST /incoming-call and /call-ended without X-Twilio-Signature",
    [403],
    perKind,
    (i) =>
      webhook(i % 4 === 3 ? "/call-ended" : "/incoming-call", params(i), null),
  );
  await flood(
    "webhook_forged_signature",
    "POST /incoming-call signed with another token, or with a stale signature",
    [403],
    perKind,
    (i) => {
      const body = params(i);
      const signature = i % 2 === 0
        ? twilio.getExpectedTwilioSignature(
          "not-the-auth-token",
          `${PUBLIC_ORIGIN}/incoming-call`,
          Object.fromEntries(new URLSearchParams(body)),
        )
        : twilio.getExpectedTwilioSignature(
          h.secrets.twilioAuthToken,
          `${PUBLIC_ORIGIN}/incoming-call`,
          Object.fromEntries(new URLSearchParams(params(i + 1))),
        );
      return webhook("/incoming-call", body, signature);
    },
  );
  // One stream per call: finished calls' signed /incoming-call, replayed.
  const finished = h.results.filter((r) => r.kind === "flood_replay_source")
    .map((r) => r.callSid);
  // A fresh second for the refusal log's rate limit, so its bound is what is measured.
  await sleep(1100);
  const linesBefore = h.server.lines.length;
  await flood(
    "webhook_replayed",
    "a finished call's genuine signed POST /incoming-call, replayed (one stream per call)",
    [409],
    finished.length > 0 ? perKind : 0,
    (i) => {
      const body = new URLSearchParams(
        h.webhookParams(finished[i % finished.length]),
      ).toString();
      return webhook(
        "/incoming-call",
        body,
        twilio.getExpectedTwilioSignature(
          h.secrets.twilioAuthToken,
          `${PUBLIC_ORIGIN}/incoming-call`,
          Object.fromEntries(new URLSearchParams(body)),
        ),
      );
    },
  );
  // The server's output is read through a pipe: let it catch up first.
  await sleep(500);
  const replayLogLines = h.server.lines.length - linesBefore;

  await flood(
    "webhook_oversized",
    "POST /incoming-call with a 1 MB body",
    [403, 413],
    Math.min(perKind, 100),
    () => webhook("/incoming-call", "x=" + "a".repeat(1024 * 1024), "sig"),
  );

  clearInterval(sampler);
  h.front.label = "idle";
  await sleep(1000);
  return {
    kinds,
    before,
    after: await measure(),
    rssPeakKiB: peak,
    fdsBefore,
    fdsAfter: h.server.openFds() ?? 0,
    upstreamOpened: kinds.reduce((sum, k) => sum + k.upstreamOpened, 0),
    replayLogLines,
  };
}
