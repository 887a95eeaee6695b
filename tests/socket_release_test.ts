import assert from "node:assert/strict";

Deno.test("a stream the server closes in the middle of a frame flood is freed (no WebSocket outlives its call)", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      new URL("./helpers/socket_release_probe.ts", import.meta.url).pathname,
    ],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  const result = JSON.parse(lines.at(-1)!);
  assert.equal(result.sockets, 3);
  assert.equal(result.alive, 0);
});
