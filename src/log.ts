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

/** `Logger.log` on its own, e.g. behind a rate limit. */
export type LogLine = (
  level: LogLevel,
  event: string,
  fields?: LogFields,
) => void;

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

/**
 * Logs at most `perSecond` lines a second through `log`, then one line
 * counting what it held back: floods of refused requests must not flood
 * the log.
 */
export function rateLimited(logger: Logger, perSecond: number): LogLine {
  let second = 0;
  let count = 0;
  return (level, event, fields) => {
    const now = Math.floor(Date.now() / 1000);
    if (now !== second) {
      if (count > perSecond) {
        logger.log("warn", "log.suppressed", { lines: count - perSecond });
      }
      second = now;
      count = 0;
    }
    if (++count <= perSecond) logger.log(level, event, fields);
  };
}
