/**
 * Every fault kind the soak injects, in the order it runs them, with how
 * many calls of each.
 *
 * @module
 */

import { callerNotReading } from "./caller_not_reading.ts";
import type { KindSpec } from "./calls.ts";
import { concurrencyLimit } from "./limits.ts";
import {
  abruptClose,
  badFrameFlood,
  badFrames,
  callSidMismatch,
  hangupInHandshake,
  hugeFrame,
  mediaBeforeStart,
  noStart,
  unclaimedPrewarm,
} from "./twilio_faults.ts";
import {
  closedMidCall,
  droppedMidCall,
  expiredError,
  handshakeTimeout,
  nonFatalError,
  refused,
  serverError,
  sessionExpired,
  truncateRejected,
} from "./upstream_faults.ts";

export const KINDS: { spec: KindSpec; count: number }[] = [
  { spec: concurrencyLimit, count: 10 },
  { spec: refused("refuse401", 401), count: 5 },
  { spec: refused("refuse429", 429), count: 5 },
  { spec: refused("refuse500", 500), count: 5 },
  { spec: handshakeTimeout, count: 3 },
  { spec: droppedMidCall, count: 5 },
  { spec: closedMidCall, count: 3 },
  { spec: expiredError, count: 5 },
  { spec: serverError, count: 5 },
  { spec: sessionExpired, count: 3 },
  { spec: nonFatalError, count: 5 },
  { spec: truncateRejected, count: 5 },
  { spec: hangupInHandshake(true), count: 5 },
  { spec: hangupInHandshake(false), count: 5 },
  { spec: abruptClose, count: 5 },
  { spec: noStart, count: 3 },
  { spec: callSidMismatch, count: 3 },
  { spec: mediaBeforeStart, count: 3 },
  { spec: badFrames, count: 5 },
  { spec: badFrameFlood, count: 2 },
  { spec: hugeFrame(false), count: 3 },
  { spec: hugeFrame(true), count: 2 },
  { spec: callerNotReading, count: 1 },
  { spec: unclaimedPrewarm, count: 3 },
];
