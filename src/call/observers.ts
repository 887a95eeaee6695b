/**
 * Several listeners on one call (the journal, the budget): the bridge
 * reports to one observer, which passes every report to each, in order.
 */

import type { CallObserver } from "../call_vocabulary.ts";

export function combineObservers(
  observers: readonly CallObserver[],
): CallObserver {
  if (observers.length === 1) return observers[0];
  return {
    started: (call) => observers.forEach((o) => o.started?.(call)),
    transcript: (role, text) =>
      observers.forEach((o) => o.transcript?.(role, text)),
    transcriptDelta: (itemId, delta) =>
      observers.forEach((o) => o.transcriptDelta?.(itemId, delta)),
    toolCall: (call) => observers.forEach((o) => o.toolCall?.(call)),
    mcpToolsUnavailable: (server) =>
      observers.forEach((o) => o.mcpToolsUnavailable?.(server)),
    turnLatency: (ms) => observers.forEach((o) => o.turnLatency?.(ms)),
    usage: (report) => observers.forEach((o) => o.usage?.(report)),
    speaking: (who) => observers.forEach((o) => o.speaking?.(who)),
    ended: (summary) => observers.forEach((o) => o.ended?.(summary)),
  };
}
