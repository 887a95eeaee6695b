/**
 * A caller that stops reading while the assistant streams 16 MiB of audio
 * (a raw TCP client that never reads): the call must end "caller not
 * reading" with the server's memory bounded by its outbound buffer cap.
 *
 * @module
 */

import twilio from "twilio";
import { startMessage } from "../peers/twilio_messages.ts";
import { type KindFigures, type KindSpec, place } from "./calls.ts";
import { randomAudio, sleep } from "./harness.ts";
import { NonReadingClient } from "./raw_ws.ts";

export interface NotReadingFigures {
  rssBeforeKiB: number;
  rssPeakKiB: number;
  rssAfterKiB: number;
  audioOfferedBytes: number;
  /** From the start of the flood of audio to the server's call.ended. */
  endedAfterMs: number;
  /** Sockets of the server before the call, while held after it ended, and after the client left. */
  socketsBefore: number;
  socketsHeld: number;
  socketsAfter: number;
}

export const callerNotReading: KindSpec = {
  kind: "caller_stops_reading",
  description:
    "the Twilio side stops reading while the assistant streams 16 MB of audio (raw TCP client)",
  group: "twilio",
  expected:
    'call ended "caller not reading" (outbound buffer bounded at 4 MiB), upstream closed, RSS bounded',
  async run(h, count): Promise<KindFigures> {
    // The first call's figures are the report's.
    let figures: NotReadingFigures | undefined;
    for (let i = 0; i < count; i++) {
      await place(h, this.kind, "normal", async (run) => {
        if (!await h.answer(run) || !run.streamUrl) return;
        const path = new URL(run.streamUrl).pathname;
        await h.upstreamArrived(run);
        const socketsBefore = h.server.openSockets() ?? 0;
        const rssBefore = h.server.rssKiB() ?? 0;
        const client = await NonReadingClient.connect(h.server.port, path, {
          "X-Twilio-Signature": twilio.getExpectedTwilioSignature(
            h.secrets.twilioAuthToken,
            run.streamUrl,
            {},
          ),
        });
        try {
          h.scan.push({
            source: "stream handshake",
            text: client.responseText,
          });
          if (
            !run.check(
              client.status === 101,
              `handshake answered ${client.status}`,
            )
          ) return;
          const streamSid = `MZ${"a".repeat(32)}`;
          await client.sendText(
            JSON.stringify({
              event: "connected",
              protocol: "Call",
              version: "1.0.0",
            }),
          );
          await client.sendText(JSON.stringify(startMessage({
            sequenceNumber: "1",
            streamSid,
            accountSid: "AC0123456789abcdef0123456789abcdef",
            callSid: run.callSid,
            customParameters: {},
          })));
          const session = await h.session(run);
          if (!session) return;
          await sleep(100);
          run.fault();
          const offered = 16 * 1024 * 1024;
          session.speak(randomAudio(offered), { chunkBytes: 32 * 1024 });
          let peak = rssBefore;
          const sampler = setInterval(() => {
            peak = Math.max(peak, h.server.rssKiB() ?? 0);
          }, 25);
          const ended = await h.server.callEnded(run.callSid, 20_000);
          clearInterval(sampler);
          run.endReason = ended === undefined
            ? undefined
            : String(ended.reason);
          const endedAfterMs = performance.now() - (run.faultAt ?? 0);
          run.check(
            ended?.reason === "caller not reading",
            ended === undefined
              ? "the call never ended while the caller was not reading"
              : `ended with "${ended.reason}", expected "caller not reading"`,
          );
          await h.expectUpstreamClosed(run, 2000);
          await sleep(1000);
          const socketsHeld = h.server.openSockets() ?? 0;
          const rssAfter = h.server.rssKiB() ?? 0;
          client.close();
          await sleep(500);
          const socketsAfter = h.server.openSockets() ?? 0;
          figures ??= {
            rssBeforeKiB: rssBefore,
            rssPeakKiB: peak,
            rssAfterKiB: rssAfter,
            audioOfferedBytes: offered,
            endedAfterMs: Math.round(endedAfterMs),
            socketsBefore,
            socketsHeld,
            socketsAfter,
          };
          run.check(
            peak - rssBefore < 64 * 1024,
            `server RSS grew ${
              Math.round((peak - rssBefore) / 1024)
            } MiB while the caller was not reading (bound 64 MiB)`,
          );
        } finally {
          client.close();
        }
      });
    }
    return { notReading: figures };
  },
};
