/**
 * What the configuration table generates: `.env.example`, the reference
 * tables of docs/configuration.md and the `--allow-env` lists of deno.json
 * and the Dockerfile. Pure text functions; src/config_docs.ts writes the
 * files and tests/config_table_test.ts fails when they are stale.
 */

import {
  CONFIG_TABLE,
  DENO_VARIABLES,
  SETUP_VARIABLES,
  tableVariables,
  type Variable,
} from "./table.ts";

/** Every variable `--allow-env` must grant: the server's, then Deno's. */
export function allowedEnv(): string[] {
  return [...tableVariables(), ...DENO_VARIABLES].map(({ name }) => name);
}

/**
 * `text` with its `--allow-env=…` lists replaced by `names`: every list, or
 * only the one in the deno.json task named `task` (the setup task reads its
 * own few variables and keeps its list).
 */
export function withAllowEnv(
  text: string,
  names: readonly string[],
  task?: string,
): string {
  const list = task === undefined
    ? /--allow-env=[A-Z0-9_,]+/g
    : new RegExp(`(?<="${task}": "[^"]*)--allow-env=[A-Z0-9_,]+`, "g");
  return text.replace(list, `--allow-env=${names}`);
}

/** Markdown and code spans dropped, for a comment in .env.example. */
function plainText(markdown: string): string {
  return markdown.replace(/\[([^\]]+)\]\([^)]+\)/g, "$1").replace(
    /\*\*|`/g,
    "",
  );
}

export function envExample(): string {
  const lines = [
    "# Copy to .env for `deno task dev` (`deno task start` reads the environment only).",
    "# A blank value is unset. Generated from src/config/table.ts by",
    "# `deno task config:docs`: edit the table, not this file. Defaults and details:",
    "# docs/configuration.md.",
  ];
  for (const { title, variables } of Object.values(CONFIG_TABLE)) {
    lines.push("", `# ---- ${title} ----`);
    for (const variable of Object.values(variables) as Variable[]) {
      const unset = variable.required || variable.example !== ""
        ? ""
        : ` Default: ${plainText(variable.shown)}.`;
      lines.push(
        `# ${plainText(variable.doc)}.${unset}`,
        `${variable.name}=${variable.example}`,
      );
    }
  }
  lines.push(
    "",
    "# ---- Read only by deno task setup (docs/deploying.md) ----",
  );
  for (const { name, doc } of SETUP_VARIABLES) {
    lines.push(`# ${plainText(doc)}.`, `# ${name}=`);
  }
  lines.push("", "# ---- Read by Deno ----");
  for (const { name, doc } of DENO_VARIABLES) {
    lines.push(`# ${plainText(doc)}.`, `# ${name}=`);
  }
  return lines.join("\n") + "\n";
}

/** A Markdown table with its columns padded, as `deno fmt` writes it. */
function markdownTable(rows: string[][]): string {
  const widths = rows[0].map((_, column) =>
    Math.max(3, ...rows.map((row) => row[column].length))
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
  return [
    line(rows[0]),
    line(widths.map((width) => "-".repeat(width))),
    ...rows.slice(1).map(line),
  ].join("\n");
}

export const REFERENCE_START =
  "<!-- config-table:start: generated from src/config/table.ts by `deno task config:docs` -->";
export const REFERENCE_END = "<!-- config-table:end -->";

/** The reference: one table per area of the configuration. */
export function referenceTables(): string {
  const header = ["Variable", "Default", "Meaning"];
  const sections = Object.values(CONFIG_TABLE).map(({ title, variables }) =>
    `### ${title}\n\n${
      markdownTable([
        header,
        ...(Object.values(variables) as Variable[]).map((variable) => [
          `\`${variable.name}\``,
          variable.shown,
          variable.doc,
        ]),
      ])
    }`
  );
  sections.push(
    `### Read by Deno\n\n${
      markdownTable([
        header,
        ...DENO_VARIABLES.map(({ name, doc }) => [`\`${name}\``, "unset", doc]),
      ])
    }`,
  );
  return sections.join("\n\n");
}

const NEW_PAGE = `# Configuration

Read from the environment once at start-up (\`deno task dev\` also reads \`.env\`).
Every variable is one entry of \`src/config/table.ts\`, which generates this
reference, \`.env.example\` and the \`--allow-env\` flags of \`deno.json\` and the
Dockerfile (\`deno task config:docs\`).

`;

/**
 * docs/configuration.md with its generated part replaced (the rest of the
 * page is written by hand); `page` undefined: a new page.
 */
export function withReference(page: string | undefined): string {
  const generated =
    `${REFERENCE_START}\n\n${referenceTables()}\n\n${REFERENCE_END}`;
  if (page === undefined) return `${NEW_PAGE}${generated}\n`;
  const start = page.indexOf(REFERENCE_START);
  const end = page.indexOf(REFERENCE_END);
  if (start === -1 || end < start) return `${page.trimEnd()}\n\n${generated}\n`;
  return page.slice(0, start) + generated +
    page.slice(end + REFERENCE_END.length);
}
