/**
 * Every relative link in README.md and docs/*.md points at a file that exists
 * and, when it names a #fragment in a Markdown page, at a heading that page has
 * (anchors as GitHub renders them).
 */
import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The text outside fenced code blocks, where links and headings count. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (
    const match of prose(markdown).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)
  ) {
    const slug = match[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** The targets of inline links and images that are not absolute URLs. */
export function relativeLinks(markdown: string): string[] {
  const targets: string[] = [];
  for (
    const match of prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)
  ) {
    const target = match[1];
    if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) targets.push(target);
  }
  return targets;
}

async function pages(): Promise<string[]> {
  const files = ["README.md"];
  for await (const entry of Deno.readDir(join(ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      files.push(`docs/${entry.name}`);
    }
  }
  return files.sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("headingAnchors() follows GitHub's rules", () => {
  const anchors = headingAnchors(
    "# Voice engines: Realtime or GPT-Live\n## `KV_PATH` and the store\n## Notes\n## Notes\n```\n# not a heading\n```\n",
  );
  assert.deepEqual(
    [...anchors],
    [
      "voice-engines-realtime-or-gpt-live",
      "kv_path-and-the-store",
      "notes",
      "notes-1",
    ],
  );
});

Deno.test("relativeLinks() skips URLs and code blocks", () => {
  assert.deepEqual(
    relativeLinks(
      "[a](docs/a.md#x) [b](https://x.y) ![c](img.png)\n```\n[d](nope.md)\n```\n[e](#here)",
    ),
    ["docs/a.md#x", "img.png", "#here"],
  );
});

Deno.test("every relative link in README.md and docs/*.md resolves", async () => {
  const files = await pages();
  assert.ok(files.length >= 10, `only ${files.join(", ")}`);
  const broken: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(join(ROOT, file));
    for (const link of relativeLinks(text)) {
      const [pathPart, fragment] = link.split("#", 2);
      const target = pathPart === ""
        ? join(ROOT, file)
        : normalize(join(ROOT, dirname(file), decodeURI(pathPart)));
      if (!target.startsWith(ROOT) || !(await exists(target))) {
        broken.push(`${file}: ${link} (no such file)`);
        continue;
      }
      if (fragment !== undefined && target.endsWith(".md")) {
        const anchors = headingAnchors(await Deno.readTextFile(target));
        if (!anchors.has(fragment)) {
          broken.push(`${file}: ${link} (no such heading)`);
        }
      }
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("README.md stays a front door (at most about 15 KB) and links every docs page", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  assert.ok(
    new TextEncoder().encode(readme).length <= 15_500,
    "README.md is over 15 KB",
  );
  const linked = new Set(
    relativeLinks(readme).map((link) => link.split("#")[0]),
  );
  for (const file of await pages()) {
    if (file !== "README.md") {
      assert.ok(linked.has(file), `README.md does not link ${file}`);
    }
  }
});
