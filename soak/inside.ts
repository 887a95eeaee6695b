/**
 * What the server holds, seen from outside and through its V8 inspector:
 * resident memory and JS heap after a forced full GC, WebSocket objects
 * still alive, and timers scheduled and not yet fired.
 *
 * @module
 */

import type { Harness } from "./harness.ts";
import type { PendingTimer } from "./inspector.ts";

export interface MemorySample {
  calls: number;
  rssKiB: number;
  /** JS heap in use after a forced full GC (with the inspector). */
  heapKiB: number | undefined;
}

/** RSS and JS heap, after a full GC when the inspector is attached. */
export async function memory(
  h: Harness,
): Promise<Omit<MemorySample, "calls">> {
  const inspector = h.inspector;
  let heapKiB: number | undefined;
  if (inspector) {
    try {
      await inspector.gc();
      heapKiB = Math.round(await inspector.heapUsed() / 1024);
    } catch {
      heapKiB = undefined;
    }
  }
  return { rssKiB: h.server.rssKiB() ?? 0, heapKiB };
}

export interface Inside {
  /** WebSocket objects alive after a full GC. */
  webSockets: number | undefined;
  /** Timers scheduled and not yet fired or cleared, by duration. */
  timers: PendingTimer[] | undefined;
}

/** What is alive inside the server process (needs the inspector). */
export async function inside(h: Harness): Promise<Inside> {
  const inspector = h.inspector;
  if (!inspector) return { webSockets: undefined, timers: undefined };
  try {
    await inspector.gc();
    return {
      webSockets: await inspector.liveWebSockets(),
      timers: await inspector.pendingTimers(),
    };
  } catch {
    return { webSockets: undefined, timers: undefined };
  }
}

/** Timers pending at the end that an idle server did not have. */
export function timerDifference(
  end: PendingTimer[] | undefined,
  start: PendingTimer[] | undefined,
): PendingTimer[] {
  if (end === undefined) return [];
  const left = [...(start ?? [])];
  return end.filter((timer) => {
    const i = left.findIndex((t) =>
      t.ms === timer.ms && t.repeat === timer.repeat
    );
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

export function describeTimer(timer: PendingTimer): string {
  return `${timer.repeat ? "interval" : "timeout"} ${timer.ms} ms`;
}
