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
} from "./config/reference.ts";
import { TWILIO_HOST_VARIABLES } from "./setup/twilio_account.ts";

const root = new URL("../", import.meta.url);

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
// The doctor reads what the server reads, and where setup's Twilio hosts are.
const doctorNames = [...names, ...Object.values(TWILIO_HOST_VARIABLES)]
  .filter((name, index, all) => all.indexOf(name) === index);
await update("deno.json", (text) =>
  withAllowEnv(
    withAllowEnv(
      withAllowEnv(text ?? "", names, "dev"),
      names,
      "start",
    ),
    doctorNames,
    "doctor",
  ));
await update("Dockerfile", (text) => withAllowEnv(text ?? "", names));
