import assert from "node:assert/strict";

const root = new URL("..", import.meta.url);

/** `deno task start` with exactly these variables, as from a clean shell. */
function startTask(env: Record<string, string>) {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value) base[name] = value;
  }
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "start"],
    cwd: root,
    clearEnv: true,
    env: { ...base, ...env },
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("deno task start refuses to start without keys and lists every missing variable", async () => {
  const { code, stderr, stdout } = await startTask({ PORT: "not-a-port" })
    .output();
  const message = new TextDecoder().decode(stderr);
  assert.equal(code, 1);
  assert.match(message, /OPENAI_API_KEY is required/);
  assert.match(message, /TWILIO_AUTH_TOKEN is required/);
  assert.match(message, /PORT must be/);
  assert.equal(new TextDecoder().decode(stdout), "");
});

Deno.test("deno task start names the flags a KV_PATH file needs instead of crashing", async () => {
  const { code, stderr } = await startTask({
    OPENAI_API_KEY: "sk-start-task-test",
    TWILIO_AUTH_TOKEN: "start-task-auth-token",
    PORT: "0",
    KV_PATH: "/srv/assistant/kv.sqlite3",
  }).output();
  const message = new TextDecoder().decode(stderr);
  assert.equal(code, 1);
  assert.match(
    message,
    /KV_PATH=\/srv\/assistant\/kv.sqlite3 needs file access: run with --allow-read=\/srv\/assistant --allow-write=\/srv\/assistant/,
  );
  assert.doesNotMatch(message, /Uncaught|NotCapable/);
});

Deno.test("deno task start serves /healthz with keys in the environment alone and exits 0 on SIGTERM", async () => {
  const child = startTask({
    OPENAI_API_KEY: "sk-start-task-test",
    TWILIO_AUTH_TOKEN: "start-task-auth-token",
    PORT: "0",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  let port = 0;
  while (!port) {
    const { value, done } = await lines.read();
    if (done) break;
    output += value;
    const match = /"event":"server.listening".*"port":(\d+)/.exec(output);
    if (match) port = Number(match[1]);
  }
  assert.ok(port > 0, `server did not start: ${output}`);
  // Listening on 0.0.0.0 does not leave the process able to dial local ports.
  assert.match(output, /"event":"server.listening".*"localPorts":"refused"/);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, "ok");
  child.kill("SIGTERM");
  for (let read = await lines.read(); !read.done; read = await lines.read()) {
    output += read.value;
  }
  const { code } = await child.status;
  await child.stderr.cancel();
  assert.equal(code, 0);
  assert.ok(!output.includes("sk-start-task-test"));
  assert.ok(!output.includes("start-task-auth-token"));
});

Deno.test("deno task start keeps KV_PATH=./data/<file> in the project's data folder with no extra flags and serves /healthz", async () => {
  const name = `start-task-test-${crypto.randomUUID()}.kv`;
  const dataDir = new URL("data/", root);
  const child = startTask({
    OPENAI_API_KEY: "sk-start-task-test",
    TWILIO_AUTH_TOKEN: "start-task-auth-token",
    PORT: "0",
    KV_PATH: `./data/${name}`,
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let output = "";
    let port = 0;
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
    assert.ok((await Deno.stat(new URL(name, dataDir))).isFile);
    child.kill("SIGTERM");
    for (let read = await lines.read(); !read.done; read = await lines.read()) {
      output += read.value;
    }
    const { code } = await child.status;
    assert.equal(code, 0, `exit ${code}: ${await stderr}`);
    assert.match(output, /"event":"server.stopped"/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await lines.cancel().catch(() => {});
    await child.status;
    await stderr;
    // SQLite may leave its -wal and -shm files next to the store.
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(new URL(name + suffix, dataDir)).catch(() => {});
    }
  }
});

Deno.test("deno task start and dev may read and write the ./data folder and no other file", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  );
  for (const task of ["start", "dev"]) {
    const fileFlags = String(config.tasks[task]).split(/\s+/)
      .filter((flag) =>
        flag === "-A" || /^--allow-(read|write|all)\b/.test(flag)
      );
    assert.deepEqual(
      fileFlags.sort(),
      ["--allow-read=./data", "--allow-write=./data"],
      task,
    );
  }
});
