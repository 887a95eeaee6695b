/**
 * Runs on its own thread so it still acts when the soak's main thread is
 * stuck: if no heartbeat arrives for `silentMs`, or one phase runs past
 * `phaseMs`, it says where the soak was, kills the server, then the soak
 * itself (exit status 137), so CI never waits on a hung run.
 *
 * @module
 */

/// <reference lib="deno.worker" />

interface Setup {
  kind: "setup";
  serverPid: number;
  silentMs: number;
  phaseMs: number;
}
interface Beat {
  kind: "beat";
  phase: string;
}

let setup: Setup | undefined;
let phase = "start";
let phaseAt = Date.now();
let beatAt = Date.now();

self.onmessage = (event: MessageEvent<Setup | Beat>) => {
  const message = event.data;
  if (message.kind === "setup") {
    setup = message;
    return;
  }
  beatAt = Date.now();
  if (message.phase !== phase) {
    phase = message.phase;
    phaseAt = Date.now();
  }
};

setInterval(() => {
  if (!setup) return;
  const now = Date.now();
  const silent = now - beatAt > setup.silentMs;
  const long = now - phaseAt > setup.phaseMs;
  if (!silent && !long) return;
  console.error(
    `soak watchdog: ${
      silent ? `no heartbeat for ${Math.round((now - beatAt) / 1000)} s` : ""
    }${silent && long ? ", " : ""}${
      long ? `phase running for ${Math.round((now - phaseAt) / 1000)} s` : ""
    } in phase "${phase}"; killing the server and the soak (FAIL)`,
  );
  try {
    Deno.kill(setup.serverPid, "SIGKILL");
  } catch {
    // already gone
  }
  Deno.kill(Deno.pid, "SIGKILL");
}, 1000);
