/**
 * The configuration table is the single source of CONFIG_VARIABLES,
 * .env.example, docs/configuration.md and the --allow-env lists: these
 * fail when a generated file is stale (run `deno task config:docs`).
 */

import assert from "node:assert/strict";
import { CONFIG_VARIABLES, envReader, loadConfig } from "../src/config.ts";
import {
  allowedEnv,
  envExample,
  REFERENCE_END,
  REFERENCE_START,
  withReference,
} from "../src/config/reference.ts";
import { DENO_VARIABLES, tableVariables } from "../src/config/table.ts";

const root = new URL("..", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));
const STALE = "stale: run `deno task config:docs`";

/** The comma-separated value of every `--allow-env=` in `text`. */
function allowEnvLists(text: string): string[][] {
  return [...text.matchAll(/--allow-env=([^\s",]+(?:,[^\s",]+)*)/g)].map((
    match,
  ) => match[1].split(","));
}

Deno.test("the table names every variable once, each with a one-line doc", () => {
  const names = allowedEnv();
  assert.equal(new Set(names).size, names.length, "a name appears twice");
  for (const variable of tableVariables()) {
    assert.match(variable.name, /^[A-Z][A-Z0-9_]*$/);
    assert.ok(variable.doc.length > 0 && !variable.doc.includes("\n"));
  }
  assert.deepEqual(
    names,
    [...CONFIG_VARIABLES, ...DENO_VARIABLES.map(({ name }) => name)],
  );
});

Deno.test("every value in the table's .env.example passes its own parser", () => {
  for (const variable of tableVariables()) {
    if (variable.example === "") continue;
    const parsed = variable.field(variable.example, variable.name);
    assert.ok("value" in parsed, `${variable.name}=${variable.example}`);
  }
});

Deno.test(".env.example is generated from the table", async () => {
  assert.equal(await read(".env.example"), envExample(), STALE);
});

Deno.test(".env.example, with the required values filled in, is a valid configuration with outbound off", async () => {
  const values = new Map<string, string>();
  for (const line of (await read(".env.example")).split("\n")) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) values.set(match[1], match[2]);
  }
  assert.deepEqual([...values.keys()], [...CONFIG_VARIABLES]);
  values.set("TWILIO_AUTH_TOKEN", "token");
  const config = loadConfig(envReader(values));
  assert.equal(config.outbound, undefined);
  assert.equal(config.server.port, 5050);
});

Deno.test("docs/configuration.md's reference is generated from the table", async () => {
  const page = await read("docs/configuration.md");
  assert.ok(page.includes(REFERENCE_START) && page.includes(REFERENCE_END));
  assert.equal(page, withReference(page), STALE);
  for (const name of allowedEnv()) {
    assert.ok(page.includes(`| \`${name}\``), `${name} is not documented`);
  }
});

Deno.test("withReference() replaces only the generated part of a page, or starts a new page", () => {
  const page =
    `# Configuration\n\nBy hand.\n\n${REFERENCE_START}\nold\n${REFERENCE_END}\n\nAlso by hand.\n`;
  const updated = withReference(page);
  assert.ok(updated.startsWith("# Configuration\n\nBy hand.\n\n"));
  assert.ok(updated.endsWith(`${REFERENCE_END}\n\nAlso by hand.\n`));
  assert.ok(!updated.includes("\nold\n"));
  assert.ok(updated.includes("| `OPENAI_API_KEY`"));
  assert.equal(withReference(updated), updated);
  assert.ok(withReference(undefined).startsWith("# Configuration\n"));
  assert.ok(withReference("# Hand page\n").startsWith("# Hand page\n\n"));
});

Deno.test("deno.json's dev and start tasks grant --allow-env for exactly the table's variables", async () => {
  const { tasks } = JSON.parse(await read("deno.json")) as {
    tasks: Record<string, string>;
  };
  for (const task of ["dev", "start"]) {
    assert.deepEqual(allowEnvLists(tasks[task]), [allowedEnv()], STALE);
  }
});

Deno.test("the Dockerfile grants --allow-env for exactly the table's variables", async () => {
  assert.deepEqual(
    allowEnvLists(await read("Dockerfile")),
    [allowedEnv()],
    STALE,
  );
});
