/**
 * The deployment files (Dockerfile, docker-compose.yml, fly.toml, Makefile,
 * the cloudflared sample, docs/deploying.md) agree with the server and with one
 * another. No Docker engine runs here, so the Dockerfile's CMD is run with a
 * local deno, exactly as the image would run it.
 */

import assert from "node:assert/strict";
import { posix } from "node:path";
import { parse as parseYaml } from "yaml";
import { parse as parseToml } from "smol-toml";
import { loadConfig } from "../src/config.ts";

const root = new URL("..", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));

/** The server's own default, as main.ts reads it with no DRAIN_SECONDS set. */
const DEFAULT_DRAIN_SECONDS =
  loadConfig((name) =>
    ({ OPENAI_API_KEY: "sk-x", TWILIO_AUTH_TOKEN: "x" } as Record<
      string,
      string
    >)[
      name
    ]
  ).server.drainSeconds;

// ---------------------------------------------------------------- deno.json

/** The flags of `deno task start`: everything between `deno run` and main.ts. */
async function startTaskFlags(): Promise<string[]> {
  const config = JSON.parse(await read("deno.json"));
  const words = String(config.tasks.start).trim().split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "run"]);
  assert.equal(words.at(-1), "main.ts");
  return words.slice(2, -1);
}

function flagValue(flags: string[], name: string): string | undefined {
  return flags.find((flag) => flag.startsWith(`${name}=`))?.slice(
    name.length + 1,
  );
}

// --------------------------------------------------------------- Dockerfile

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Instructions in order, with `\` continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trimEnd();
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    if (pending === "") start = index + 1;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1).trim() + " ";
      return;
    }
    const whole = pending + trimmed;
    pending = "";
    const match = /^(\S+)\s*(.*)$/s.exec(whole)!;
    instructions.push({
      keyword: match[1].toUpperCase(),
      args: match[2].trim(),
      line: start,
    });
  });
  return instructions;
}

interface Dockerfile {
  instructions: Instruction[];
  from: string;
  env: Record<string, string>;
  volumes: string[];
  /** CMD in exec form. */
  cmd: string[];
  /** The shell command after HEALTHCHECK … CMD. */
  healthcheck: string;
}

async function dockerfile(): Promise<Dockerfile> {
  const instructions = parseDockerfile(await read("Dockerfile"));
  const all = (keyword: string) =>
    instructions.filter((instruction) => instruction.keyword === keyword);
  const last = (keyword: string) => {
    const found = all(keyword).at(-1);
    assert.ok(found, `Dockerfile has no ${keyword}`);
    return found;
  };

  const env: Record<string, string> = {};
  for (const { args } of all("ENV")) {
    if (!args.includes("=")) {
      const [name, ...value] = args.split(/\s+/);
      env[name] = value.join(" ");
      continue;
    }
    for (const pair of args.split(/\s+/)) {
      const [name, value] = pair.split("=", 2);
      env[name] = value.replace(/^"(.*)"$/, "$1");
    }
  }

  const volumes = all("VOLUME").flatMap(({ args }) =>
    args.startsWith("[") ? JSON.parse(args) as string[] : args.split(/\s+/)
  );

  const cmdArgs = last("CMD").args;
  assert.ok(cmdArgs.startsWith("["), "CMD must use the exec (JSON) form");
  const cmd = JSON.parse(cmdArgs) as string[];

  const healthcheck = /\bCMD\s+(.*)$/s.exec(last("HEALTHCHECK").args);
  assert.ok(healthcheck, "HEALTHCHECK has no CMD");

  return {
    instructions,
    from: last("FROM").args,
    env,
    volumes,
    cmd,
    healthcheck: healthcheck[1],
  };
}

/** The CMD's arguments after `run` (the image's entrypoint prefixes `deno`). */
function runArgs(cmd: string[]): string[] {
  const args = cmd[0] === "deno" ? cmd.slice(1) : cmd;
  assert.equal(args[0], "run");
  return args.slice(1);
}

Deno.test("Dockerfile starts from the official denoland/deno image pinned to an exact version", async () => {
  const { instructions, from } = await dockerfile();
  assert.equal(
    instructions.filter((instruction) => instruction.keyword === "FROM")
      .length,
    1,
  );
  assert.match(from, /^denoland\/deno:\d+\.\d+\.\d+$/);
  assert.doesNotMatch(from, /latest/);
});

Deno.test("Dockerfile switches to the non-root deno user before CMD and never back", async () => {
  const { instructions } = await dockerfile();
  const users = instructions.filter((instruction) =>
    instruction.keyword === "USER"
  );
  const cmd = instructions.findLast((instruction) =>
    instruction.keyword === "CMD"
  )!;
  assert.ok(users.length > 0, "Dockerfile has no USER");
  assert.equal(users.at(-1)!.args, "deno");
  assert.ok(users.at(-1)!.line < cmd.line);
});

Deno.test("Dockerfile copies deno.json and deno.lock before the source and caches main.ts at build time", async () => {
  const { instructions } = await dockerfile();
  const copies = instructions.filter((instruction) =>
    instruction.keyword === "COPY"
  );
  const manifests = copies.findIndex((copy) =>
    /\bdeno\.json\b/.test(copy.args) && /\bdeno\.lock\b/.test(copy.args)
  );
  const source = copies.findIndex((copy) => /\bsrc\/?\s/.test(copy.args));
  const main = copies.findIndex((copy) => /\bmain\.ts\b/.test(copy.args));
  assert.ok(manifests >= 0, "deno.json and deno.lock are not copied together");
  assert.ok(source > manifests && main > manifests);
  const cache = instructions.find((instruction) =>
    instruction.keyword === "RUN" &&
    /^deno cache\b.*\bmain\.ts$/.test(instruction.args)
  );
  assert.ok(cache, "no RUN deno cache main.ts");
  assert.ok(cache.line > copies[source].line && cache.line > copies[main].line);
});

Deno.test("Dockerfile's CMD grants exactly the start task's --allow-net and --allow-env", async () => {
  const { cmd, env } = await dockerfile();
  const task = await startTaskFlags();
  const args = runArgs(cmd);
  for (const name of ["--allow-net", "--allow-env"]) {
    assert.ok(flagValue(task, name), `start task has no ${name}`);
    assert.equal(flagValue(args, name), flagValue(task, name), name);
  }
  // Whatever flags the start task gains later, the image must carry them
  // too; the project's data folder (./data) is the image's data directory.
  const dataDir = posix.dirname(env.KV_PATH);
  for (const flag of task) {
    const imageFlag = flag.replace(
      /^(--allow-(?:read|write))=\.\/data$/,
      `$1=${dataDir}`,
    );
    assert.ok(args.includes(imageFlag), `CMD lacks ${imageFlag}`);
  }
  assert.equal(args.at(-1), "main.ts");
});

Deno.test("Dockerfile's CMD reads and writes only the KV directory, which is a VOLUME owned by the data path", async () => {
  const { cmd, env, volumes } = await dockerfile();
  const task = await startTaskFlags();
  const args = runArgs(cmd);
  assert.ok(env.KV_PATH, "no ENV KV_PATH");
  assert.ok(posix.isAbsolute(env.KV_PATH));
  const dataDir = posix.dirname(env.KV_PATH);
  assert.equal(flagValue(args, "--allow-read"), dataDir);
  assert.equal(flagValue(args, "--allow-write"), dataDir);
  assert.ok(volumes.includes(dataDir), `${dataDir} is not a VOLUME`);
  // Nothing else, not even the start task's ./data: /app/data is no volume.
  assert.ok(!args.some((flag) => flag.endsWith("=./data")));
  const extra = args.slice(0, -1).filter((flag) => !task.includes(flag));
  assert.deepEqual(extra.sort(), [
    `--allow-read=${dataDir}`,
    `--allow-write=${dataDir}`,
  ]);
  for (const broad of ["-A", "--allow-all", "--allow-read", "--allow-write"]) {
    assert.ok(!args.includes(broad), `CMD has the unscoped ${broad}`);
  }
});

Deno.test("Dockerfile's HEALTHCHECK asks /healthz on the container's PORT without curl", async () => {
  const { healthcheck, env } = await dockerfile();
  assert.match(healthcheck, /\/healthz/);
  assert.match(healthcheck, /^deno eval /);
  assert.match(healthcheck, /PORT/);
  assert.equal(env.PORT, "5050");
});

/** PATH, HOME and DENO_DIR only, as in a clean shell. */
function baseEnv(): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value) base[name] = value;
  }
  return base;
}

async function healthcheckExitCode(
  command: string,
  port: number,
): Promise<number> {
  const { code } = await new Deno.Command("sh", {
    args: ["-c", command],
    cwd: root,
    clearEnv: true,
    env: { ...baseEnv(), PORT: String(port) },
    stdout: "null",
    stderr: "null",
  }).output();
  return code;
}

Deno.test("the Dockerfile's CMD, run locally, serves /healthz, creates the KV store in the data directory, passes the HEALTHCHECK and exits 0 on SIGTERM", async () => {
  const { cmd, env, healthcheck } = await dockerfile();
  const dataDir = posix.dirname(env.KV_PATH);
  const tempDir = await Deno.makeTempDir({ prefix: "assistant-data-" });
  try {
    // The image's command with /data swapped for a fresh directory.
    const args = runArgs(cmd).map((arg) => {
      const match = /^(--allow-(?:read|write))=(.*)$/.exec(arg);
      if (!match) return arg;
      const paths = match[2].split(",").map((path) =>
        path === dataDir ? tempDir : path
      );
      return `${match[1]}=${paths.join(",")}`;
    });
    const kvPath = posix.join(tempDir, posix.basename(env.KV_PATH));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...args],
      cwd: root,
      clearEnv: true,
      env: {
        ...baseEnv(),
        OPENAI_API_KEY: "sk-dockerfile-cmd-test",
        TWILIO_AUTH_TOKEN: "dockerfile-cmd-auth-token",
        PORT: "0",
        KV_PATH: kvPath,
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const lines = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let output = "";
    let port = 0;
    try {
      while (!port) {
        const { value, done } = await lines.read();
        if (done) break;
        output += value;
        const match = /"event":"server.listening".*"port":(\d+)/.exec(output);
        if (match) port = Number(match[1]);
      }
      if (!port) assert.fail(`server did not start: ${output}${await stderr}`);

      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, "ok");
      const kvFile = await Deno.stat(kvPath);
      assert.ok(kvFile.isFile, "the KV store was not created in KV_PATH");
      assert.equal(await healthcheckExitCode(healthcheck, port), 0);

      child.kill("SIGTERM");
      for (let r = await lines.read(); !r.done; r = await lines.read()) {
        output += r.value;
      }
      const { code } = await child.status;
      assert.equal(code, 0, `exit ${code}: ${await stderr}`);
      assert.match(output, /"event":"server.stopped"/);
      assert.ok(!output.includes("sk-dockerfile-cmd-test"));
      assert.notEqual(await healthcheckExitCode(healthcheck, port), 0);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await lines.cancel().catch(() => {});
      await child.status;
      await stderr;
    }
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
});

// ------------------------------------------------------- docker-compose.yml

// deno-lint-ignore no-explicit-any
type Yaml = any;

async function compose(): Promise<Yaml> {
  return parseYaml(await read("docker-compose.yml"));
}

/** Compose durations such as "30s", "1m30s" or "1m", in seconds. */
function composeSeconds(duration: string): number {
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g)];
  assert.ok(parts.length > 0, `not a duration: ${duration}`);
  const unit = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  return parts.reduce(
    (sum, [, value, u]) => sum + Number(value) * unit[u as keyof typeof unit],
    0,
  );
}

function environmentOf(service: Yaml): Record<string, string> {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return env;
  return Object.fromEntries(
    env.map((entry: string) => entry.split("=", 2)),
  );
}

Deno.test("docker-compose.yml runs the assistant from this Dockerfile with .env, port 5050 published on 127.0.0.1 only, and the KV volume at the image's data directory", async () => {
  const { services, volumes } = await compose();
  const { env: imageEnv } = await dockerfile();
  const assistant = services.assistant;
  assert.ok(assistant, "no assistant service");
  assert.equal(assistant.profiles, undefined, "assistant must always run");
  const context = typeof assistant.build === "string"
    ? assistant.build
    : assistant.build?.context;
  assert.equal(context, ".");
  const envFiles = [assistant.env_file].flat().map((file: Yaml) =>
    typeof file === "string" ? file : file.path
  );
  assert.ok(envFiles.includes(".env"));
  assert.equal(environmentOf(assistant).PORT, "5050");
  // Plain HTTP on this machine's loopback only, never on every interface.
  assert.deepEqual(assistant.ports, ["127.0.0.1:${PORT:-5050}:5050"]);
  const dataDir = posix.dirname(imageEnv.KV_PATH);
  assert.ok(assistant.volumes.includes(`kv-data:${dataDir}`));
  assert.ok(volumes && "kv-data" in volumes, "kv-data is not declared");
  assert.equal(assistant.restart, "unless-stopped");
  assert.equal(assistant.healthcheck, undefined, "keep the image's check");
});

Deno.test("docker-compose.yml gives a stopping assistant longer than its drain before SIGKILL", async () => {
  const { services } = await compose();
  const assistant = services.assistant;
  const drain = Number(
    environmentOf(assistant).DRAIN_SECONDS ?? DEFAULT_DRAIN_SECONDS,
  );
  assert.ok(assistant.stop_grace_period, "no stop_grace_period");
  assert.ok(composeSeconds(assistant.stop_grace_period) > drain);
  assert.ok(
    assistant.stop_signal === undefined ||
      ["SIGTERM", "SIGINT"].includes(assistant.stop_signal),
  );
});

Deno.test("docker-compose.yml's dev profile adds a pinned cloudflared quick tunnel to the assistant", async () => {
  const { services } = await compose();
  const tunnel = services.tunnel;
  assert.ok(tunnel, "no tunnel service");
  assert.deepEqual(tunnel.profiles, ["dev"]);
  assert.match(tunnel.image, /^cloudflare\/cloudflared:\d{4}\.\d+\.\d+$/);
  const command = [tunnel.command].flat().join(" ");
  assert.match(command, /^tunnel\b/);
  assert.match(command, /--no-autoupdate/);
  assert.match(command, /--url http:\/\/assistant:5050\b/);
  const dependsOn = Array.isArray(tunnel.depends_on)
    ? tunnel.depends_on
    : Object.keys(tunnel.depends_on ?? {});
  assert.ok(dependsOn.includes("assistant"));
});

// ----------------------------------------------------------------- fly.toml

async function fly(): Promise<Yaml> {
  return parseToml(await read("fly.toml"));
}

/** fly.toml durations: a number of seconds or a string such as "60s". */
function flySeconds(value: number | string): number {
  return typeof value === "number" ? value : composeSeconds(value);
}

Deno.test("fly.toml stops with SIGINT and waits longer than DRAIN_SECONDS, within Fly's 300 s limit", async () => {
  const config = await fly();
  assert.equal(config.kill_signal, "SIGINT");
  const drain = Number(config.env?.DRAIN_SECONDS ?? DEFAULT_DRAIN_SECONDS);
  const timeout = flySeconds(config.kill_timeout);
  assert.ok(timeout > drain, `kill_timeout ${timeout} <= drain ${drain}`);
  assert.ok(timeout <= 300);
});

Deno.test("fly.toml serves the server's PORT over HTTPS and checks GET /healthz", async () => {
  const config = await fly();
  const service = config.http_service;
  assert.ok(config.app);
  assert.ok(config.primary_region);
  assert.equal(service.internal_port, Number(config.env.PORT));
  assert.equal(service.force_https, true);
  const checks = service.checks ?? [];
  assert.ok(
    checks.some((check: Yaml) =>
      check.path === "/healthz" && String(check.method).toUpperCase() === "GET"
    ),
    "no GET /healthz check",
  );
});

Deno.test("fly.toml never stops a Machine carrying a call and keeps one running", async () => {
  const service = (await fly()).http_service;
  assert.ok(["stop", "suspend"].includes(service.auto_stop_machines));
  assert.equal(service.auto_start_machines, true);
  assert.ok(service.min_machines_running >= 1);
  // A call's media stream is one long WebSocket: counted as a connection, a
  // Machine with a live call always has load and is not idle.
  assert.equal(service.concurrency.type, "connections");
});

Deno.test("fly.toml mounts a volume at the directory of KV_PATH", async () => {
  const config = await fly();
  const mounts = [config.mounts].flat();
  assert.equal(mounts.length, 1);
  assert.ok(mounts[0].source);
  assert.equal(mounts[0].destination, posix.dirname(config.env.KV_PATH));
  const { env: imageEnv } = await dockerfile();
  assert.equal(config.env.KV_PATH, imageEnv.KV_PATH);
});

// ---------------------------------------------------------------- Makefile

async function makeDryRun(...args: string[]): Promise<string> {
  const { code, stdout } = await new Deno.Command("make", {
    args: ["-n", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(code, 0, `make -n ${args.join(" ")}`);
  return new TextDecoder().decode(stdout).trim();
}

Deno.test("Makefile has the dev, test, tunnel-quick and tunnel targets, all phony", async () => {
  const text = await read("Makefile");
  const targets = [...text.matchAll(/^([A-Za-z][\w-]*):/gm)].map((m) => m[1]);
  const phony = /^\.PHONY:(.*)$/m.exec(text)?.[1].trim().split(/\s+/) ?? [];
  for (const target of ["dev", "test", "tunnel-quick", "tunnel"]) {
    assert.ok(targets.includes(target), `no ${target} target`);
    assert.ok(phony.includes(target), `${target} is not .PHONY`);
  }
});

Deno.test("make test and make dev run the deno tasks", async () => {
  assert.equal(await makeDryRun("test"), "deno task test");
  assert.equal(await makeDryRun("dev"), "deno task dev");
});

Deno.test("make tunnel-quick tunnels to the local PORT and make tunnel runs the named tunnel's config", async () => {
  assert.equal(
    await makeDryRun("tunnel-quick"),
    "cloudflared tunnel --url http://localhost:5050",
  );
  assert.equal(
    await makeDryRun("tunnel-quick", "PORT=6123"),
    "cloudflared tunnel --url http://localhost:6123",
  );
  assert.match(
    await makeDryRun("tunnel"),
    /^cloudflared tunnel --config \S*\/\.cloudflared\/assistant\.yml run$/,
  );
});

Deno.test("the named tunnel sample routes one hostname to the local server and 404s the rest", async () => {
  const config = parseYaml(await read("cloudflared/assistant.example.yml"));
  assert.ok(config.tunnel);
  assert.match(config["credentials-file"], /\.json$/);
  const rules = config.ingress;
  assert.ok(rules.length >= 2);
  assert.ok(rules[0].hostname);
  assert.equal(rules[0].service, "http://localhost:5050");
  assert.deepEqual(rules.at(-1), { service: "http_status:404" });
});

// ------------------------------------------------------------ docs/deploying.md

Deno.test("docs/deploying.md ends every deploy path with the WEBHOOK_URL it gives", async () => {
  const text = await read("docs/deploying.md");
  const sections = text.split(/^## /m).slice(1);
  const titles = sections.map((section) => section.split("\n")[0]);
  for (
    const expected of [
      /cloudflared/i,
      /^Docker$/,
      /Docker Compose/,
      /Fly\.io/,
      /Deno Deploy/,
    ]
  ) {
    assert.ok(titles.some((title) => expected.test(title)), `${expected}`);
  }
  for (const section of sections) {
    assert.match(
      section,
      /Your WEBHOOK_URL: `https:\/\/[^`\s]+\/incoming-call`/,
      `section "${section.split("\n")[0]}" gives no WEBHOOK_URL`,
    );
  }
});
