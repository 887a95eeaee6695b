/**
 * The soak's command line.
 *
 * @module
 */

import { readFlags, wholeNumber } from "../peers/command_line.ts";

export const HELP =
  "deno run -A soak/soak.ts [--calls N] [--warmup N] [--flood N] [--out FILE] [--no-time-limit] [--no-inspect] [--server-root DIR]";

export interface Options {
  calls: number;
  warmup: number;
  flood: number;
  out: string;
  timeLimit: boolean;
  inspect: boolean;
  /** Where main.ts is: this checkout unless --server-root names another. */
  serverRoot: string;
}

export function parseOptions(args: string[]): Options | "help" {
  const options: Options = {
    calls: 1000,
    warmup: 100,
    flood: 1000,
    out: "soak/results/latest.json",
    timeLimit: true,
    inspect: true,
    serverRoot: new URL("..", import.meta.url).pathname,
  };
  const given = readFlags(args, {
    "--calls": (value, flag) => options.calls = wholeNumber(flag, value()),
    "--warmup": (value, flag) => options.warmup = wholeNumber(flag, value()),
    "--flood": (value, flag) => options.flood = wholeNumber(flag, value()),
    "--out": (value) => options.out = value() ?? options.out,
    "--no-time-limit": () => options.timeLimit = false,
    "--no-inspect": () => options.inspect = false,
    "--server-root": (value) =>
      options.serverRoot = value() ?? options.serverRoot,
  }, HELP);
  if (given === "help") return "help";
  return options;
}
