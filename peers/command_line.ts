/**
 * The command line of the load tools (bench/, soak/): `--flag value` or
 * `--flag=value`, one handler per flag, `--help` / `-h`, and an unknown
 * flag refused with the help text.
 *
 * @module
 */

/** The flag's value: the text after `=`, else the next argument. */
export type FlagValue = () => string | undefined;

export type FlagHandlers = Record<
  string,
  (value: FlagValue, flag: string) => void
>;

/** Runs the handler of each flag in `args`; the flags given, or "help". */
export function readFlags(
  args: readonly string[],
  handlers: FlagHandlers,
  help: string,
): Set<string> | "help" {
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2) as [string, string?];
    if (flag === "--help" || flag === "-h") return "help";
    if (!Object.hasOwn(handlers, flag)) {
      throw new Error(`unknown option ${args[i]}\n\n${help}`);
    }
    given.add(flag);
    handlers[flag](() => inline ?? args[++i], flag);
  }
  return given;
}

/** A number ≥ 0. */
export function nonNegative(flag: string, raw: string | undefined): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`${flag} needs a non-negative number (got ${raw})`);
  }
  return value;
}

/** A whole number ≥ 0. */
export function wholeNumber(flag: string, raw: string | undefined): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${flag} needs a whole number`);
  }
  return value;
}
