/**
 * Whole calls one after another against the test server, as the memory and
 * cost tests need them: each with its own CallSid, from the webhook to the
 * hang-up, and what the journal made of it afterwards.
 */
import type { CallRecord, SummaryState } from "../../src/journal/journal.ts";
import type {
  FakeRealtimeSession,
  JsonObject,
} from "../../peers/realtime/mod.ts";
import { delay, type TestServer } from "./test_server.ts";
import type { TwilioEdge } from "../../peers/twilio_edge.ts";
import { CALL_PARAMS } from "../../peers/twilio_requests.ts";

export interface PlacedCall {
  callSid: string;
  edge: TwilioEdge;
  session: FakeRealtimeSession;
  /** The `session` of the first session.update. */
  sessionUpdate: JsonObject;
  instructions: string;
}

/** "CA" and 32 hex digits, different for each n. */
export function callSidFor(n: number): string {
  return `CA${n.toString(16).padStart(32, "0")}`;
}

/** The webhook, the pre-warmed session's first session.update, then the stream. */
export async function placeCall(
  server: TestServer,
  n: number,
): Promise<PlacedCall> {
  const callSid = callSidFor(n);
  const streamUrl = await server.answer({ ...CALL_PARAMS, CallSid: callSid });
  const session = await server.realtime.nextSession();
  const update = await session.waitFor("session.update");
  const sessionUpdate = update.session as JsonObject;
  const edge = await server.connect(streamUrl, { callSid });
  return {
    callSid,
    edge,
    session,
    sessionUpdate,
    instructions: String(sessionUpdate.instructions),
  };
}

/** Polls the journal until `ready(record)`; fails after `timeoutMs`. */
export async function waitForRecord(
  server: TestServer,
  callSid: string,
  ready: (record: CallRecord) => boolean,
  timeoutMs = 5000,
): Promise<CallRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = (await server.app.journal.get(callSid))?.record;
    if (record && ready(record)) return record;
    if (Date.now() > deadline) {
      throw new Error(
        `call ${callSid} not ready within ${timeoutMs} ms: ${
          JSON.stringify(record)
        }`,
      );
    }
    await delay(20);
  }
}

/** The caller hangs up; resolves with the ended record. */
export async function hangUp(
  server: TestServer,
  call: PlacedCall,
): Promise<CallRecord> {
  call.edge.sendStop();
  await call.session.closed;
  return await waitForRecord(server, call.callSid, (r) => r.outcome !== null);
}

/** Waits until the call's summary is in one of `states` (done by default). */
export function waitForSummary(
  server: TestServer,
  callSid: string,
  states: SummaryState["status"][] = ["done"],
  timeoutMs = 5000,
): Promise<CallRecord> {
  return waitForRecord(
    server,
    callSid,
    (r) => r.summary !== undefined && states.includes(r.summary.status),
    timeoutMs,
  );
}
