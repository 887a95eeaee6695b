/**
 * `deno task doctor`: checks every connection the configuration implies and
 * gives one line each, ok / warning / failed, with what to do. `failed`
 * means calls (or a part of them the owner configured) would fail.
 *
 * It reuses the server's own pieces: the configuration loader, the model
 * record look-up, the Zapier MCP client, the hosts a configuration dials, and
 * setup's Twilio client to find the deployed allowlist.
 */

import {
  type Config,
  ConfigError,
  type ConfigVariable,
  loadConfig,
} from "../config.ts";
import { createLogger } from "../log.ts";
import { zapierToolSource } from "../mcp/zapier_client.ts";
import { ToolListError } from "../mcp/tool_source.ts";
import { dialledHosts } from "../net_permissions.ts";
import { normalizeE164 } from "../e164.ts";
import {
  lookUpModel,
  modelRecordUrl,
  replacementFor,
} from "../upstream/model_record.ts";
import {
  type ConfiguredModel,
  configuredModels,
} from "../realtime/configured_models.ts";
import {
  TwilioApiError,
  TwilioUnreachableError,
} from "../twilio/rest_client.ts";
import {
  ENVIRONMENT_NAME,
  FUNCTION_PATH,
  functionUrl,
  SERVICE_NAME,
} from "../setup/plan.ts";
import {
  type EnvironmentResource,
  type NumberResource,
  TwilioAccount,
  type TwilioHosts,
} from "../setup/twilio_account.ts";

export type Verdict = "ok" | "warning" | "failed";

export interface CheckLine {
  verdict: Verdict;
  subject: string;
  /** What was found, and what to do about it. */
  detail: string;
}

export interface DoctorOptions {
  /** The environment (the server's variables). */
  read: (name: string) => string | undefined;
  /** deno.json's tasks: the flags the server runs with. */
  tasks: Record<string, string>;
  twilioHosts: TwilioHosts;
  /** Whether the doctor may connect to `host:port` (may ask at a terminal). */
  mayReach: (hostAndPort: string) => Promise<boolean>;
  /** YYYY-MM-DD in UTC, for shutdown dates. */
  today: string;
  /** Bound on each request. */
  timeoutMs?: number;
  /** For PUBLIC_URL/healthz; tests route the public origin to a local server. */
  fetch?: typeof fetch;
}

const SERVER_TASKS = ["start", "dev"] as const;

export async function runDoctor(options: DoctorOptions): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const read = (name: string) => options.read(name)?.trim() || undefined;
  let config: Config;
  try {
    config = loadConfig((name: ConfigVariable) => read(name));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [{
      verdict: "failed",
      subject: "configuration",
      detail: `${
        error.problems.join("; ")
      }: fix .env (see .env.example) and run deno task doctor again.`,
    }];
  }
  lines.push({
    verdict: "ok",
    subject: "configuration",
    detail: `valid (voice engine ${config.assistant.engine})`,
  });
  lines.push(...await checkOpenAi(config, options));
  lines.push(await checkZapier(config, options));
  lines.push(...await checkTwilio(config, read, options));
  lines.push(await checkPublicUrl(config, options));
  lines.push(await checkKv(config, read, options));
  lines.push(checkPermissions(config, options));
  return lines;
}

/** The doctor's exit code: 1 when any line failed. */
export function exitCode(lines: readonly CheckLine[]): number {
  return lines.some((line) => line.verdict === "failed") ? 1 : 0;
}

export function formatLines(lines: readonly CheckLine[]): string[] {
  const counts = { ok: 0, warning: 0, failed: 0 };
  for (const line of lines) counts[line.verdict] += 1;
  return [
    ...lines.map((line) =>
      `${line.verdict.padEnd(8)} ${line.subject}: ${line.detail}`
    ),
    `${counts.ok} ok, ${counts.warning} ${
      counts.warning === 1 ? "warning" : "warnings"
    }, ${counts.failed} failed${
      counts.failed > 0
        ? ": calls would fail until the failed lines are fixed."
        : "."
    }`,
  ];
}

// ---------------------------------------------------------------- OpenAI

async function checkOpenAi(
  config: Config,
  options: DoctorOptions,
): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  let keyChecked = false;
  for (const use of configuredModels(config)) {
    const recordUrl = new URL(modelRecordUrl(use.endpoint, use.id));
    const host = hostAndPort(recordUrl);
    const subject = `model ${use.id} (${use.variable ?? use.role})`;
    if (!await options.mayReach(host)) {
      lines.push(notAllowed(subject, host));
      continue;
    }
    const result = await lookUpModel({
      endpoint: use.endpoint,
      model: use.id,
      apiKey: config.openai.apiKey,
      timeoutMs: options.timeoutMs ?? 10_000,
    });
    if (!result.ok && (result.status === 401 || result.status === 403)) {
      return [{
        verdict: "failed",
        subject: "OpenAI key",
        detail:
          `${recordUrl.host} refused OPENAI_API_KEY (HTTP ${result.status}): set it to a key from platform.openai.com/api-keys.`,
      }];
    }
    if (!result.ok && typeof result.status === "string") {
      return [...lines, {
        verdict: "failed",
        subject: "OpenAI",
        detail: `could not ask ${recordUrl.host} for ${use.id}'s record (${
          result.status.replaceAll("_", " ")
        }): check the network and the endpoint in ${
          use.endpoint === config.live.url
            ? "OPENAI_LIVE_URL"
            : "OPENAI_REALTIME_URL"
        }.`,
      }];
    }
    if (!keyChecked) {
      keyChecked = true;
      lines.push({
        verdict: "ok",
        subject: "OpenAI key",
        detail: `accepted by ${recordUrl.host}`,
      });
    }
    if (!result.ok) {
      lines.push({
        verdict: "failed",
        subject,
        detail: `not available to this key (HTTP ${result.status}): ${
          use.variable === undefined
            ? `this server's ${use.role} model is built in, so use a key (or project) with access to it.`
            : `set ${use.variable} to a model the key can use.`
        }`,
      });
      continue;
    }
    lines.push(
      modelLine(subject, use, result.record.shutdownDate, options.today),
    );
  }
  return lines;
}

function modelLine(
  subject: string,
  use: ConfiguredModel,
  shutdownDate: string | null,
  today: string,
): CheckLine {
  if (shutdownDate === null) {
    return {
      verdict: "ok",
      subject,
      detail: "available, no shutdown announced",
    };
  }
  const replacement = replacementFor(use.id);
  const fix = use.variable === undefined
    ? `this server's ${use.role} model is built in, so update the server`
    : replacement
    ? `set ${use.variable}=${replacement}`
    : `set ${use.variable} to a current model`;
  if (shutdownDate <= today) {
    return {
      verdict: "failed",
      subject,
      detail: `shut down on ${shutdownDate}, so calls fail: ${fix}.`,
    };
  }
  const days = Math.round(
    (Date.parse(shutdownDate) - Date.parse(today)) / 86_400_000,
  );
  return {
    verdict: "warning",
    subject,
    detail:
      `shuts down on ${shutdownDate} (in ${days} days): ${fix} before then.`,
  };
}

// ---------------------------------------------------------------- Zapier

async function checkZapier(
  config: Config,
  options: DoctorOptions,
): Promise<CheckLine> {
  const subject = "Zapier MCP";
  if (config.zapier.password === undefined) {
    return {
      verdict: "warning",
      subject,
      detail:
        "not configured, so the assistant has no Todoist or Gmail tools: set ZAPIER_MCP_PASSWORD to your Zapier MCP key.",
    };
  }
  const host = hostAndPort(new URL(config.zapier.url));
  if (!await options.mayReach(host)) return notAllowed(subject, host);
  const source = zapierToolSource({
    url: config.zapier.url,
    password: config.zapier.password,
    allowedTools: config.zapier.allowedTools,
    timeoutMs: options.timeoutMs ?? 10_000,
    logger: createLogger(() => {}, [config.zapier.password]),
  });
  try {
    const tools = await source.list();
    if (tools.length === 0) {
      return {
        verdict: "warning",
        subject,
        detail: `${new URL(config.zapier.url).host} lists no tools${
          config.zapier.allowedTools
            ? " that ZAPIER_MCP_ALLOWED_TOOLS allows"
            : ""
        }: add actions (Todoist, Gmail) to your Zapier MCP server.`,
      };
    }
    const names = tools.map((tool) => tool.name);
    return {
      verdict: "ok",
      subject,
      detail: `${names.length} ${names.length === 1 ? "tool" : "tools"}: ${
        names.slice(0, 8).join(", ")
      }${names.length > 8 ? ", …" : ""}`,
    };
  } catch (error) {
    const refused = error instanceof ToolListError &&
      (error.status === 401 || error.status === 403);
    return {
      verdict: "failed",
      subject,
      detail: refused
        ? `${
          new URL(config.zapier.url).host
        } refused ZAPIER_MCP_PASSWORD (HTTP ${
          (error as ToolListError).status
        }): copy the key again from your Zapier MCP server's settings.`
        : `could not list the tools at ${new URL(config.zapier.url).host} (${
          error instanceof ToolListError
            ? error.errorType.replaceAll("_", " ")
            : "error"
        }): check ZAPIER_MCP_URL and the network.`,
    };
  } finally {
    await source.close();
  }
}

// ---------------------------------------------------------------- Twilio

async function checkTwilio(
  config: Config,
  read: (name: string) => string | undefined,
  options: DoctorOptions,
): Promise<CheckLine[]> {
  const accountSid = read("TWILIO_ACCOUNT_SID");
  if (accountSid === undefined) {
    return [{
      verdict: "warning",
      subject: "Twilio account",
      detail:
        "TWILIO_ACCOUNT_SID is not set, so the doctor cannot check the credentials or the number (deno task setup and outbound calls need it too).",
    }];
  }
  const apiHost = hostAndPort(new URL(options.twilioHosts.api));
  if (!await options.mayReach(apiHost)) {
    return [notAllowed("Twilio account", apiHost)];
  }
  const account = new TwilioAccount({
    accountSid,
    authToken: config.twilio.authToken,
    hosts: options.twilioHosts,
    timeoutMs: options.timeoutMs ?? 10_000,
  });
  const lines: CheckLine[] = [];
  try {
    const resource = await account.account();
    lines.push(
      resource.status === "active"
        ? {
          verdict: "ok",
          subject: "Twilio account",
          detail: `${accountSid} is active (${resource.type})`,
        }
        : {
          verdict: "failed",
          subject: "Twilio account",
          detail:
            `${accountSid} is ${resource.status}: calls to its numbers are not answered; see the Twilio Console.`,
        },
    );
  } catch (error) {
    return [twilioFailure("Twilio account", error)];
  }
  const rawNumber = read("TWILIO_FROM_NUMBER");
  const number = rawNumber === undefined ? undefined : normalizeE164(rawNumber);
  if (number === undefined) {
    lines.push({
      verdict: "warning",
      subject: "Twilio number",
      detail:
        "TWILIO_FROM_NUMBER is not set to your Twilio number, so the doctor cannot check where its calls go.",
    });
    return lines;
  }
  try {
    const found = (await account.numbers(number)).find((n) =>
      n.phoneNumber === number
    );
    if (!found) {
      lines.push({
        verdict: "failed",
        subject: `Twilio number ${number}`,
        detail:
          "not a number on this account: set TWILIO_FROM_NUMBER to one of its numbers (Twilio Console → Phone Numbers).",
      });
      return lines;
    }
    lines.push(await numberLine(config, found, account, options));
  } catch (error) {
    lines.push(twilioFailure(`Twilio number ${number}`, error));
  }
  return lines;
}

/** Where the number's calls go: the deployed allowlist (and does it send them here?), this server, or elsewhere. */
async function numberLine(
  config: Config,
  number: NumberResource,
  account: TwilioAccount,
  options: DoctorOptions,
): Promise<CheckLine> {
  const subject = `Twilio number ${number.phoneNumber}`;
  const webhook = config.server.publicUrl
    ? `${config.server.publicUrl}/incoming-call`
    : undefined;
  if (number.voiceApplicationSid !== null) {
    return {
      verdict: "failed",
      subject,
      detail:
        `its calls go to the TwiML App ${number.voiceApplicationSid}, not to the allowlist: run deno task setup.`,
    };
  }
  const deployed = await deployedAllowlist(account, options);
  if (deployed && number.voiceUrl === functionUrl(deployed.environment)) {
    const target = deployed.variables.get("WEBHOOK_URL");
    if (webhook !== undefined && target !== webhook) {
      return {
        verdict: "failed",
        subject,
        detail:
          `calls go through the allowlist at ${number.voiceUrl}, which sends them to ${
            target ?? "nowhere (no WEBHOOK_URL)"
          }, not to ${webhook}: run deno task setup.`,
      };
    }
    return {
      verdict: "ok",
      subject,
      detail:
        `calls go through the allowlist at ${number.voiceUrl} to ${target}`,
    };
  }
  if (webhook !== undefined && number.voiceUrl === webhook) {
    return {
      verdict: "warning",
      subject,
      detail:
        `calls come straight to ${webhook}, skipping the caller allowlist: anyone who dials the number reaches OpenAI; run deno task setup.`,
    };
  }
  if (/^https:\/\/[^/]+\.twil\.io\//.test(number.voiceUrl)) {
    return {
      verdict: "warning",
      subject,
      detail:
        `calls go to ${number.voiceUrl}, a Function deno task setup did not deploy, so the doctor cannot check its variables: run deno task setup to manage it.`,
    };
  }
  return {
    verdict: "failed",
    subject,
    detail: `calls go to ${
      number.voiceUrl || "nowhere (no voice URL)"
    }, neither the allowlist nor this server: run deno task setup.`,
  };
}

async function deployedAllowlist(
  account: TwilioAccount,
  options: DoctorOptions,
): Promise<
  | { environment: EnvironmentResource; variables: Map<string, string> }
  | undefined
> {
  if (
    !await options.mayReach(
      hostAndPort(new URL(options.twilioHosts.serverless)),
    )
  ) {
    return undefined;
  }
  try {
    const service = (await account.services()).find((s) =>
      s.uniqueName === SERVICE_NAME
    );
    if (!service) return undefined;
    const environment = (await account.environments(service.sid)).find((e) =>
      e.uniqueName === ENVIRONMENT_NAME
    );
    if (!environment || environment.buildSid === null) return undefined;
    const build = await account.build(service.sid, environment.buildSid);
    if (!build.functionVersions.some((v) => v.path === FUNCTION_PATH)) {
      return undefined;
    }
    const variables = await account.variables(service.sid, environment.sid);
    return {
      environment,
      variables: new Map(variables.map((v) => [v.key, v.value])),
    };
  } catch (error) {
    if (
      error instanceof TwilioApiError || error instanceof TwilioUnreachableError
    ) {
      return undefined;
    }
    throw error;
  }
}

function twilioFailure(subject: string, error: unknown): CheckLine {
  if (
    error instanceof TwilioApiError &&
    (error.status === 401 || error.status === 403)
  ) {
    return {
      verdict: "failed",
      subject,
      detail:
        `Twilio refused TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (HTTP ${error.status}), and every call's signature check needs that token: copy both from the Twilio Console's Account Info.`,
    };
  }
  if (error instanceof TwilioApiError) {
    return {
      verdict: "failed",
      subject,
      detail: `Twilio answered HTTP ${error.status}${
        error.code ? ` (error ${error.code})` : ""
      }: ${error.twilioMessage}.`,
    };
  }
  if (error instanceof TwilioUnreachableError) {
    return {
      verdict: "failed",
      subject,
      detail: `Twilio's REST API could not be reached (${
        error.message.replace(/^Twilio could not be reached: /, "")
      }): check the network.`,
    };
  }
  throw error;
}

// ------------------------------------------------------------ PUBLIC_URL

async function checkPublicUrl(
  config: Config,
  options: DoctorOptions,
): Promise<CheckLine> {
  const subject = "PUBLIC_URL";
  if (config.server.publicUrl === undefined) {
    return {
      verdict: "warning",
      subject,
      detail:
        "not set: the server rebuilds its URL from each request's headers, which fails behind some proxies; deno task setup and outbound calls need it.",
    };
  }
  const url = new URL("/healthz", config.server.publicUrl);
  if (url.protocol !== "https:") {
    return {
      verdict: "failed",
      subject,
      detail:
        `${config.server.publicUrl} is not https, and Twilio streams calls only to wss://: use your tunnel's or host's https origin.`,
    };
  }
  const host = hostAndPort(url);
  if (!await options.mayReach(host)) return notAllowed(subject, host);
  try {
    const response = await (options.fetch ?? fetch)(url, {
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const body: unknown = await response.json().catch(() => undefined);
    const status = typeof body === "object" && body !== null && "status" in body
      ? String(body.status)
      : undefined;
    if (response.ok && status === "ok") {
      return { verdict: "ok", subject, detail: `${url} answers: status ok` };
    }
    if (status === "draining") {
      return {
        verdict: "warning",
        subject,
        detail:
          `${url} answers, but the server is shutting down (draining): new calls hear "restarting".`,
      };
    }
    return {
      verdict: "failed",
      subject,
      detail:
        `${url} answered HTTP ${response.status}, not this server's health: check that the tunnel or host forwards to deno task dev or start.`,
    };
  } catch (error) {
    return {
      verdict: "failed",
      subject,
      detail: `${url} could not be reached (${
        error instanceof Error ? error.name : "error"
      }): start the server (deno task dev) and its tunnel or host (docs/deploying.md).`,
    };
  }
}

// -------------------------------------------------------------------- KV

async function checkKv(
  config: Config,
  read: (name: string) => string | undefined,
  options: DoctorOptions,
): Promise<CheckLine> {
  const subject = "KV_PATH";
  const path = config.server.kvPath;
  if (path === undefined) {
    return {
      verdict: "ok",
      subject,
      detail: "unset: Deno's default local store",
    };
  }
  if (/^https?:\/\//.test(path)) {
    const host = hostAndPort(new URL(path));
    if (read("DENO_KV_ACCESS_TOKEN") === undefined) {
      return {
        verdict: "failed",
        subject,
        detail: `a remote store (${
          new URL(path).host
        }) needs DENO_KV_ACCESS_TOKEN: set it to the store's access token.`,
      };
    }
    const missing = SERVER_TASKS.filter((task) =>
      !grants(options.tasks[task], host)
    );
    return missing.length > 0
      ? {
        verdict: "failed",
        subject,
        detail: `deno task ${
          missing.join(" and ")
        } may not connect to the remote store ${host}: add it to --allow-net in deno.json.`,
      }
      : {
        verdict: "ok",
        subject,
        detail: `remote store at ${host} (not opened by the doctor)`,
      };
  }
  if (path === ":memory:") {
    return {
      verdict: "warning",
      subject,
      detail:
        ":memory: keeps nothing across restarts (stream tokens, the journal, memory, scheduled calls).",
    };
  }
  const relative = path.replace(/^\.\//, "");
  if (!relative.startsWith("data/")) {
    const dir = path.includes("/")
      ? path.slice(0, path.lastIndexOf("/")) || "/"
      : ".";
    return {
      verdict: "failed",
      subject,
      detail:
        `${path} is outside ./data, which is all deno task start and dev may read and write: keep the store in ./data, or add --allow-read=${dir} --allow-write=${dir} to both tasks.`,
    };
  }
  try {
    const kv = await Deno.openKv(path);
    kv.close();
    return { verdict: "ok", subject, detail: `${path} opens` };
  } catch (error) {
    return {
      verdict: "failed",
      subject,
      detail: `${path} does not open (${
        error instanceof Error ? error.name : "error"
      }): check that ./data exists and is writable.`,
    };
  }
}

// ----------------------------------------------------------- permissions

function checkPermissions(config: Config, options: DoctorOptions): CheckLine {
  const hosts = dialledHosts(config);
  const problems = SERVER_TASKS.flatMap((task) => {
    const missing = hosts.filter((host) => !grants(options.tasks[task], host));
    return missing.length > 0
      ? [`deno task ${task} does not grant ${missing.join(", ")}`]
      : [];
  });
  if (problems.length > 0) {
    return {
      verdict: "failed",
      subject: "permissions",
      detail: `${
        problems.join("; ")
      }, so the server refuses to start: add them to --allow-net in deno.json (docs/configuration.md, Permissions).`,
    };
  }
  return {
    verdict: "ok",
    subject: "permissions",
    detail:
      `deno task start and dev grant every host this configuration dials (${
        hosts.join(", ")
      })`,
  };
}

/** Whether a task's --allow-net grants `host:port` (an entry without a port grants every port). */
function grants(task: string | undefined, hostAndPortText: string): boolean {
  const list = /--allow-net(?:=(\S+))?/.exec(task ?? "");
  if (!list) return false;
  if (list[1] === undefined) return true;
  const host = hostAndPortText.slice(0, hostAndPortText.lastIndexOf(":"));
  return list[1].split(",").some((entry) =>
    entry === hostAndPortText || entry === host
  );
}

function hostAndPort(url: URL): string {
  const port = url.port ||
    (url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}

function notAllowed(subject: string, host: string): CheckLine {
  return {
    verdict: "warning",
    subject,
    detail:
      `not checked: the doctor may not connect to ${host}; run deno task doctor at a terminal and allow it when asked.`,
  };
}
