/**
 * Structured logs: one JSON line per notable event. Secrets handed to the
 * logger are scrubbed from every line as a last line of defence.
 */

export type LogLevel = "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
  /** The same logger, with `fields` added to every line (e.g. the CallSid). */
  with(fields: LogFields): Logger;
}

export type LogSink = (line: string) => void;

export function createLogger(
  sink: LogSink,
  secrets: readonly (string | undefined)[] = [],
  context: LogFields = {},
): Logger {
  const scrub = secrets.filter((s): s is string => !!s && s.length >= 4);
  return {
    log(level, event, fields = {}) {
      let line = JSON.stringify({
        time: new Date().toISOString(),
        level,
        event,
        ...context,
        ...fields,
      });
      for (const secret of scrub) line = line.replaceAll(secret, "[redacted]");
      sink(line);
    },
    with(fields) {
      return createLogger(sink, scrub, { ...context, ...fields });
    },
  };
}

export const consoleSink: LogSink = (line) => console.log(line);
