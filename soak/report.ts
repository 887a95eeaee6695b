/**
 * The soak's figures: each with the requirement it is held to and a verdict,
 * printed as a table and written as JSON.
 *
 * @module
 */

export interface Figure {
  name: string;
  value: string;
  requirement: string;
  /** undefined: informational only. */
  pass: boolean | undefined;
}

export interface KindRow {
  kind: string;
  group: string;
  description: string;
  expected: string;
  injected: number;
  clean: number;
  maxSilenceMs: number | undefined;
  silenceBoundMs: number | undefined;
  pass: boolean;
  problems: string[];
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

function verdict(pass: boolean | undefined): string {
  return pass === undefined ? "info" : pass ? "PASS" : "FAIL";
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))
  );
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => pad(c, widths[i])).join(" | ") + " |";
  return [
    line(headers),
    "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|",
    ...rows.map(line),
  ].join("\n");
}

export function figuresTable(figures: Figure[]): string {
  return table(
    ["Figure", "Value", "Requirement", "Result"],
    figures.map((f) => [f.name, f.value, f.requirement, verdict(f.pass)]),
  );
}

export function kindsTable(rows: KindRow[]): string {
  return table(
    ["Fault kind", "Injected", "Ended as defined", "Max silence", "Result"],
    rows.map((r) => [
      r.kind,
      String(r.injected),
      `${r.clean}/${r.injected}`,
      r.maxSilenceMs === undefined
        ? "-"
        : `${r.maxSilenceMs} ms (≤ ${r.silenceBoundMs} ms)`,
      r.pass ? "PASS" : "FAIL",
    ]),
  );
}

export function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}
