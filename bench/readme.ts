/**
 * Puts a run's tables into bench/README.md, between its results markers.
 *
 * @module
 */

const README_START = "<!-- bench:results:start -->";
const README_END = "<!-- bench:results:end -->";

/** Replaces the results block of `path` (between its markers); false when it has none. */
export function updateReadme(path: string, block: string): boolean {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return false;
  }
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start < 0 || end < start) return false;
  Deno.writeTextFileSync(
    path,
    `${text.slice(0, start + README_START.length)}\n\n${block}\n\n${
      text.slice(end)
    }`,
  );
  // Keep `deno fmt --check` clean whatever the figures look like.
  new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
    stdout: "null",
    stderr: "null",
  }).outputSync();
  return true;
}
