import assert from "node:assert/strict";
import { dialledHosts } from "../src/net_permissions.ts";
import { testConfig } from "./helpers/config.ts";

Deno.test("dialledHosts() is OpenAI's Realtime host on the Realtime engine (Zapier is called by OpenAI)", () => {
  assert.deepEqual(
    dialledHosts(testConfig({ ZAPIER_MCP_PASSWORD: "zap-key" })),
    ["api.openai.com:443"],
  );
});

Deno.test("dialledHosts() adds the Zapier MCP host, derived from ZAPIER_MCP_URL, on GPT-Live", () => {
  assert.deepEqual(
    dialledHosts(
      testConfig({ VOICE_ENGINE: "live", ZAPIER_MCP_PASSWORD: "zap-key" }),
    ),
    ["api.openai.com:443", "mcp.zapier.com:443"],
  );
  assert.deepEqual(
    dialledHosts(testConfig({
      VOICE_ENGINE: "live",
      ZAPIER_MCP_PASSWORD: "zap-key",
      ZAPIER_MCP_URL: "https://mcp.example.net:8443/api/mcp",
      OPENAI_LIVE_URL: "ws://127.0.0.1:9000/v1/live/sessions",
    })),
    // MEMORY is on: summaries go to the Responses API on the Realtime host.
    ["127.0.0.1:9000", "mcp.example.net:8443", "api.openai.com:443"],
  );
});

Deno.test("dialledHosts() adds the Realtime endpoint's host for call summaries unless MEMORY=false", () => {
  const live = {
    VOICE_ENGINE: "live",
    OPENAI_LIVE_URL: "wss://live.example.net/v1/live/sessions",
    OPENAI_REALTIME_URL: "wss://realtime.example.net:8443/v1/realtime",
  };
  assert.deepEqual(dialledHosts(testConfig(live)), [
    "live.example.net:443",
    "realtime.example.net:8443",
  ]);
  assert.deepEqual(dialledHosts(testConfig({ ...live, MEMORY: "false" })), [
    "live.example.net:443",
  ]);
});

Deno.test("dialledHosts() leaves Zapier out on GPT-Live without a Zapier key", () => {
  assert.deepEqual(dialledHosts(testConfig({ VOICE_ENGINE: "live" })), [
    "api.openai.com:443",
  ]);
});

Deno.test("dialledHosts() adds Twilio's REST API host when outbound calls are on", () => {
  assert.deepEqual(
    dialledHosts(testConfig({
      OWNER_NUMBERS: "+14155550123",
      TWILIO_ACCOUNT_SID: "AC0123456789abcdef0123456789abcdef",
      TWILIO_FROM_NUMBER: "+18005550199",
    })),
    ["api.openai.com:443", "api.twilio.com:443"],
  );
});

Deno.test("dropListenGrant(): under --allow-net=0.0.0.0 the server keeps serving but can no longer connect to a local port", async () => {
  // A local service the server must not reach.
  const local = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const script = `
    import { dropListenGrant } from ${
    JSON.stringify(new URL("../src/net_permissions.ts", import.meta.url).href)
  };
    const served = Promise.withResolvers();
    const server = Deno.serve({ port: 0, onListen() {} }, () => {
      served.resolve();
      return new Response("served");
    });
    const before = Deno.permissions.querySync({ name: "net", host: "0.0.0.0:${local.addr.port}" }).state;
    const reachable = await dropListenGrant(server.addr.hostname);
    let dialled = "connected";
    try {
      (await Deno.connect({ hostname: "0.0.0.0", port: ${local.addr.port} })).close();
    } catch (error) {
      dialled = error.constructor.name;
    }
    console.log(JSON.stringify({ port: server.addr.port, before, reachable, dialled }));
    await served.promise;
    await server.shutdown();
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=0.0.0.0", "--allow-read", file],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  try {
    const { port, ...result } = JSON.parse(text);
    assert.deepEqual(result, {
      before: "granted",
      reachable: false,
      dialled: "NotCapable",
    });
    const answer = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await answer.text(), "served");
  } finally {
    local.close();
    await lines.cancel();
    await child.stderr.cancel();
    await child.status;
    await Deno.remove(file);
  }
});
