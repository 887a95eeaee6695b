/**
 * `deno task doctor`: one line per connection the configuration implies
 * (see ./doctor.ts); exit code 1 when something would make calls fail.
 */

import { twilioHosts } from "../setup/twilio_account.ts";
import { exitCode, formatLines, runDoctor } from "./doctor.ts";

/** Unlisted variables read as unset: the task lists every one the server reads. */
function read(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return undefined;
    throw error;
  }
}

/**
 * The task grants the network: the hosts to check (PUBLIC_URL, a custom
 * endpoint) are known only from .env. Run with a narrower --allow-net, a host
 * outside it is asked for at a terminal, and is not checked without one.
 */
async function mayReach(host: string): Promise<boolean> {
  const descriptor = { name: "net", host } as const;
  if ((await Deno.permissions.query(descriptor)).state === "granted") {
    return true;
  }
  if (!Deno.stdin.isTerminal()) return false;
  return (await Deno.permissions.request(descriptor)).state === "granted";
}

const tasks = JSON.parse(
  await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
).tasks;
console.log("Doctor: checking every connection this configuration implies.");
const lines = await runDoctor({
  read,
  tasks,
  twilioHosts: twilioHosts(read),
  mayReach,
  today: new Date().toISOString().slice(0, 10),
});
for (const line of formatLines(lines)) console.log(line);
Deno.exit(exitCode(lines));
