/**
 * `deno task config:docs`: writes what the configuration table generates
 * (.env.example, docs/configuration.md's reference, the --allow-env lists of
 * deno.json and the Dockerfile). Run it after changing src/config/table.ts.
 */

import {
  allowedEnv,
  envExample,
  withAllowEnv,
  withReference,
} from "./reference.ts";

const root = new URL("../../", import.meta.url);

async function readIfPresent(path: URL): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function update(
  path: string,
  change: (text: string | undefined) => string,
): Promise<void> {
  const url = new URL(path, root);
  const before = await readIfPresent(url);
  const after = change(before);
  if (after === before) return;
  await Deno.writeTextFile(url, after);
  console.log(`wrote ${path}`);
}

const names = allowedEnv();
await update(".env.example", envExample);
await update("docs/configuration.md", withReference);
for (const path of ["deno.json", "Dockerfile"]) {
  await update(path, (text) => withAllowEnv(text ?? "", names));
}
