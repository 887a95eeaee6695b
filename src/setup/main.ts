/**
 * `deno task setup [--dry-run]`: sets up Twilio for this server from .env
 * (see ./setup.ts). Output is plain lines; a failure is one sentence and
 * exit code 1, with no stack trace and no secret.
 */

import { readSetupSettings, SetupError } from "./settings.ts";
import { runSetup } from "./setup.ts";
import { TwilioAccount, twilioHosts } from "./twilio_account.ts";

const USAGE = `Usage: deno task setup [--dry-run]

Sets up Twilio for this server from .env: a Functions service with the caller
allowlist (twilio/allowlist-function.js), its variables ALLOWED_NUMBERS (else
OWNER_NUMBERS), WEBHOOK_URL (PUBLIC_URL/incoming-call) and REJECT_REASON, and
TWILIO_FROM_NUMBER's voice URL pointed at it. Run it again after a change:
only what changed is written.

  --dry-run   print what would change, change nothing`;

async function main(args: string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== "--dry-run");
  if (unknown.includes("--help") || unknown.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  if (unknown.length > 0) {
    console.error(
      `Unknown argument ${unknown[0]}: the only option is --dry-run.`,
    );
    return 2;
  }
  try {
    const settings = readSetupSettings((name) => Deno.env.get(name));
    const functionSource = await Deno.readTextFile(
      new URL("../../twilio/allowlist-function.js", import.meta.url),
    );
    const hosts = twilioHosts((name) => Deno.env.get(name));
    await runSetup({
      settings,
      account: new TwilioAccount({ ...settings, hosts }),
      functionSource,
      dryRun: args.includes("--dry-run"),
      say: (line) => console.log(line),
    });
    return 0;
  } catch (error) {
    if (!(error instanceof SetupError)) throw error;
    console.error(error.message);
    return 1;
  }
}

Deno.exit(await main(Deno.args));
