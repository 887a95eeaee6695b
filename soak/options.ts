/**
 * The soak's command line.
 *
 * @module
 */

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
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [name, inline] = arg.split("=", 2);
    const value = () => inline ?? args[++i];
    const count = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) {
        throw new Error(`${name} needs a whole number`);
      }
      return n;
    };
    switch (name) {
      case "--calls":
        options.calls = count();
        break;
      case "--warmup":
        options.warmup = count();
        break;
      case "--flood":
        options.flood = count();
        break;
      case "--out":
        options.out = value();
        break;
      case "--no-time-limit":
        options.timeLimit = false;
        break;
      case "--no-inspect":
        options.inspect = false;
        break;
      case "--server-root":
        options.serverRoot = value();
        break;
      case "--help":
      case "-h":
        return "help";
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  return options;
}
