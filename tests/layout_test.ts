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

/** A file's node in the folder graph: its folder below src/, or the file itself at the top. */
export function folderOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 2 ? parts.slice(0, 2).join("/") + "/" : file;
}

/** The cycles of a graph: its strongly connected parts of two nodes or more (Tarjan). */
export function cycles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (stack.includes(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const part: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        part.push(member);
      } while (member !== node);
      if (part.length > 1) found.push(part.sort());
    }
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return found;
}

Deno.test("cycles() finds a loop through several nodes and nothing in a tree", () => {
  const graph = (pairs: [string, string][]) => {
    const edges = new Map<string, Set<string>>();
    for (const [from, to] of pairs) {
      edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
    return edges;
  };
  assert.deepEqual(cycles(graph([["a", "b"], ["b", "c"], ["a", "c"]])), []);
  assert.deepEqual(
    cycles(graph([["a", "b"], ["b", "c"], ["c", "a"], ["c", "d"]])),
    [["a", "b", "c"]],
  );
});

async function folderGraph(): Promise<Map<string, Set<string>>> {
  const edges = new Map<string, Set<string>>();
  for (const [file, targets] of await imports("src")) {
    const from = folderOf(file);
    const out = edges.get(from) ?? new Set<string>();
    edges.set(from, out);
    for (const target of targets) {
      const to = folderOf(target);
      if (to !== from) out.add(to);
    }
  }
  return edges;
}

Deno.test("no two folders of src/ import each other, directly or through others", async () => {
  assert.deepEqual(cycles(await folderGraph()), []);
});
