/** The load tools' command line (peers/command_line.ts) and the two tools that read theirs with it. */
import assert from "node:assert/strict";
import { parseOptions as benchOptions } from "../bench/options.ts";
import { nonNegative, readFlags, wholeNumber } from "../peers/command_line.ts";
import { parseOptions as soakOptions } from "../soak/options.ts";

Deno.test("readFlags() takes `--flag value` and `--flag=value`, and flags without a value", () => {
  const seen: [string, string | undefined][] = [];
  const given = readFlags(["--a", "1", "--b=2", "--c", "--a=3"], {
    "--a": (value, flag) => seen.push([flag, value()]),
    "--b": (value, flag) => seen.push([flag, value()]),
    "--c": (_value, flag) => seen.push([flag, undefined]),
  }, "usage");
  assert.deepEqual(seen, [
    ["--a", "1"],
    ["--b", "2"],
    ["--c", undefined],
    ["--a", "3"],
  ]);
  assert.deepEqual(given, new Set(["--a", "--b", "--c"]));
});

Deno.test("readFlags() answers help for --help or -h, and refuses an unknown flag with the help text", () => {
  assert.equal(readFlags(["--help"], {}, "usage"), "help");
  assert.equal(readFlags(["-h"], {}, "usage"), "help");
  assert.throws(() => readFlags(["--nope"], {}, "usage: x"), {
    message: "unknown option --nope\n\nusage: x",
  });
  assert.throws(() => readFlags(["--toString"], {}, "usage"), /unknown option/);
});

Deno.test("nonNegative() and wholeNumber() refuse what is not such a number, naming the flag", () => {
  assert.equal(nonNegative("--s", "2.5"), 2.5);
  assert.throws(() => nonNegative("--s", "-1"), /--s needs a non-negative/);
  assert.throws(() => nonNegative("--s", undefined), /--s/);
  assert.equal(wholeNumber("--n", "0"), 0);
  assert.throws(() => wholeNumber("--n", "1.5"), /--n needs a whole number/);
});

Deno.test("the bench and the soak read their options through it", () => {
  const bench = benchOptions([
    "--calls=20",
    "--ramp",
    "none",
    "--no-readme",
    "--engines",
    "live",
  ]);
  assert.ok(bench !== "help");
  assert.equal(bench.calls, 20);
  assert.equal(bench.liveCalls, 20);
  assert.deepEqual(bench.ramp, []);
  assert.equal(bench.readme, false);
  assert.deepEqual(bench.engines, ["live"]);
  assert.equal(benchOptions(["--calls", "5", "-h"]), "help");
  assert.throws(() => benchOptions(["--engines", "phone"]), /--engines/);

  const soak = soakOptions(["--calls", "10", "--no-inspect", "--out=x.json"]);
  assert.ok(soak !== "help");
  assert.equal(soak.calls, 10);
  assert.equal(soak.inspect, false);
  assert.equal(soak.out, "x.json");
  assert.throws(() => soakOptions(["--flood", "-3"]), /--flood/);
});
