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
