import { createLogger, type Logger } from "../../src/log.ts";

/** A logger that keeps its lines, for asserting what was (and was not) logged. */
export function memoryLogger(
  secrets: readonly (string | undefined)[] = [],
): Logger & { lines: string[]; events(): Record<string, unknown>[] } {
  const lines: string[] = [];
  return Object.assign(createLogger((l) => lines.push(l), secrets), {
    lines,
    events: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  });
}
