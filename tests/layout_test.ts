/**
 * The layout's rules, read from the import statements: the test peers do not
 * import the code they test, and no two folders of src/ import each other,
 * even through others.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(join(root, dir))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* tsFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** The relative specifiers a file imports (static, dynamic, type, re-export). */
export function importedPaths(file: string, text: string): string[] {
  const specifiers = [
    ...text.matchAll(/\b(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g),
  ].map((match) => match[1]);
  return specifiers.map((specifier) => join(dirname(file), specifier));
}

async function imports(dir: string): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for await (const file of tsFiles(dir)) {
    graph.set(
      file,
      importedPaths(file, await Deno.readTextFile(join(root, file))),
    );
  }
  return graph;
}

Deno.test("importedPaths() finds static, type, re-exported and dynamic imports", () => {
  const text = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b/b.ts";',
    'export { c } from "./c/c.ts";',
    'const d = await import("../d.ts");',
    'import "./e.ts";',
    'import twilio from "twilio";',
  ].join("\n");
  assert.deepEqual(importedPaths("src/x/y.ts", text), [
    "src/x/a.ts",
    "src/b/b.ts",
    "src/x/c/c.ts",
    "src/d.ts",
    "src/x/e.ts",
  ]);
});

Deno.test("no file in peers/ imports from src/", async () => {
  for (const [file, targets] of await imports("peers")) {
    for (const target of targets) {
      assert.ok(!target.startsWith("src/"), `${file} imports ${target}`);
    }
  }
});
