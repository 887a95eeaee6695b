/**
 * The browser softphone at /phone: one self-contained page (inline style and
 * script, no build step, no external assets) that places a call to this
 * server the way Twilio does. It speaks the Media Streams protocol
 * (`connected`, `start`, 20 ms µ-law `media`, `mark`, `stop`) to
 * /media-stream/<token>, so the call runs through the same bridge as a phone
 * call; the AudioWorklet (`worklet.ts`) does the audio.
 *
 * `window.phoneState` exposes counters for the browser tests.
 *
 * @module
 */

import { NAV_STYLE, ownerNav } from "../http/owner_nav.ts";
import { phoneWorkletSource, PROCESSOR_NAME } from "./worklet.ts";

const STYLE = `
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:34rem;padding:1rem;color:#1b1b1b;background:#fafafa}
h1{font-size:1.4rem;margin:.2rem 0 .6rem}a{color:#0b57d0}.muted{color:#666;font-size:.9rem}
.panel{background:#fff;border:1px solid #e3e3e3;border-radius:1rem;padding:1.2rem;text-align:center}
#call{font:inherit;font-size:1.2rem;font-weight:600;width:100%;max-width:16rem;padding:1rem;border:0;border-radius:2rem;background:#1e8e3e;color:#fff;cursor:pointer}
#call.hangup{background:#c5221f}#call:disabled{background:#9e9e9e;cursor:default}
#status{margin:.8rem 0 .6rem;min-height:1.45em}[data-status=error] #status{color:#b3261e}
.meter{height:.6rem;border-radius:.3rem;background:#e8eaed;overflow:hidden}
#level{height:100%;width:0;background:#1e8e3e;transition:width 50ms linear}
#transcript{margin-top:1rem}.line{margin:.5rem 0;padding:.5rem .7rem;border-radius:.6rem;overflow-wrap:anywhere}
.caller{background:#e8f0fe}.assistant{background:#fff;border:1px solid #e3e3e3}.tool{background:#fef7e0;font-size:.9rem}
.who{display:block;color:#666;font-size:.8rem}
${NAV_STYLE}`;

/**
 * The page's script. Plain browser JavaScript (Deno does not type-check the
 * DOM here); kept in this one string so the page is a single response.
 */
const SCRIPT = String.raw`
"use strict";
const PROCESSOR = ${JSON.stringify(PROCESSOR_NAME)};
const $ = (id) => document.getElementById(id);
const button = $("call"), statusLine = $("status"), meter = $("level"), transcript = $("transcript");

// Counters for the browser tests (and for curious owners in the console).
const state = window.phoneState = {
  status: "idle", callSid: null, framesSent: 0, bytesReceived: 0, bytesPlayed: 0,
  pendingBytes: 0, clears: 0, marksReceived: 0, marksAcked: 0, level: 0, transcriptLines: 0,
};
let call = null;

function show(status, message) {
  state.status = status;
  document.body.dataset.status = status;
  statusLine.textContent = message;
  const live = status === "connecting" || status === "in-call";
  button.textContent = live ? "Hang up" : "Call";
  button.classList.toggle("hangup", live);
}

function sid(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// btoa/atob work on every browser; the payloads are 160-byte frames.
function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}
function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// Media Streams messages carry their numbers as strings, as Twilio sends them.
function send(c, message) {
  if (c.ws && c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(message));
}
function nextSequence(c) { return String(++c.sequence); }

async function startCall() {
  const c = {
    ws: null, ctx: null, node: null, microphone: null, poll: null, opened: false,
    finished: false, streamSid: sid("MZ"), callSid: null,
    sequence: 0, chunk: 0, epoch: 0, markIds: 0, marks: new Map(),
  };
  call = c;
  Object.assign(state, {
    callSid: null, framesSent: 0, bytesReceived: 0, bytesPlayed: 0, pendingBytes: 0,
    clears: 0, marksReceived: 0, marksAcked: 0, transcriptLines: 0,
  });
  transcript.replaceChildren();
  show("connecting", "Connecting…");
  try {
    // Created inside the click, so autoplay rules let it play.
    c.ctx = new AudioContext({ latencyHint: "interactive" });
    // The microphone first: its permission prompt must not eat the token's lifetime.
    const microphone = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    // Hung up while the permission prompt was open: release the microphone at once.
    if (c.finished) return microphone.getTracks().forEach((track) => track.stop());
    c.microphone = microphone;
    await c.ctx.audioWorklet.addModule("/phone/worklet.js");
    if (c.finished) return;
    c.node = new AudioWorkletNode(c.ctx, PROCESSOR, {
      numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
    });
    c.node.port.onmessage = (event) => fromWorklet(c, event.data);
    c.ctx.createMediaStreamSource(c.microphone).connect(c.node);
    c.node.connect(c.ctx.destination);
    await c.ctx.resume();

    const response = await fetch("/phone/token", { method: "POST" });
    if (response.status === 401) {
      throw new Error("You are signed out: reload the page and sign in.");
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error === "restarting"
        ? "The assistant is restarting. Try again in a minute."
        : body.error === "over budget"
        ? "Today's budget is spent. Try again tomorrow."
        : "The assistant is busy. Try again in a few minutes.");
    }
    const { callSid, streamUrl } = await response.json();
    if (c.finished) return;
    c.callSid = state.callSid = callSid;
    c.ws = new WebSocket(streamUrl);
    c.ws.onopen = () => {
      c.opened = true;
      send(c, { event: "connected", protocol: "Call", version: "1.0.0" });
      send(c, {
        event: "start", sequenceNumber: nextSequence(c), streamSid: c.streamSid,
        start: {
          streamSid: c.streamSid, accountSid: "browser", callSid: c.callSid,
          tracks: ["inbound"], customParameters: { caller: "browser" },
          mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
        },
      });
      show("in-call", "In call: speak whenever you like.");
      pollTranscript(c);
    };
    c.ws.onmessage = (event) => fromServer(c, event.data);
    // Closed by the server: the assistant ended the call (or the server could not take it).
    c.ws.onclose = () => c.opened
      ? finish(c, "Call ended: the assistant hung up.")
      : finish(c, "Could not connect the call.", true);
  } catch (error) {
    const denied = error && error.name === "NotAllowedError";
    finish(c, denied ? "Microphone access was refused." : String(error.message || error), true);
  }
}

function hangUp(c) {
  if (c.opened) {
    send(c, {
      event: "stop", sequenceNumber: nextSequence(c), streamSid: c.streamSid,
      stop: { accountSid: "browser", callSid: c.callSid },
    });
  }
  finish(c, "Call ended. You hung up.");
}

/** Ends the call on this side: socket, microphone, audio. Safe to call twice. */
function finish(c, message, failed = false) {
  if (c.finished) return;
  c.finished = true;
  if (c.ws && c.ws.readyState <= WebSocket.OPEN) c.ws.close(1000, "hung up");
  if (c.microphone) for (const track of c.microphone.getTracks()) track.stop();
  if (c.ctx) c.ctx.close().catch(() => {});
  state.pendingBytes = 0;
  meter.style.width = "0";
  show(failed ? "error" : "ended", message);
  // The journal may still be writing the last lines: keep reading a little.
  if (c.poll !== null) setTimeout(() => clearInterval(c.poll), 5000);
}

function fromWorklet(c, message) {
  if (message.type === "frame") {
    // Stale audio is worse than lost audio on a stalled connection.
    if (c.opened && c.ws.readyState === WebSocket.OPEN && c.ws.bufferedAmount < 64000) {
      const chunk = ++c.chunk;
      send(c, {
        event: "media", sequenceNumber: nextSequence(c), streamSid: c.streamSid,
        media: {
          track: "inbound", chunk: String(chunk), timestamp: String((chunk - 1) * 20),
          payload: toBase64(message.frame),
        },
      });
      state.framesSent++;
    }
  } else if (message.type === "level") {
    state.level = message.rms;
    const db = 20 * Math.log10(message.rms + 1e-9);
    meter.style.width = Math.max(0, Math.min(100, (db + 60) * 100 / 60)) + "%";
  } else if (message.type === "played") {
    state.bytesPlayed += message.bytes;
    // Reports from before a clear concern audio already dropped from the count.
    if (message.epoch === c.epoch) {
      state.pendingBytes = Math.max(0, state.pendingBytes - message.bytes);
    }
    for (const id of message.marks) acknowledge(c, id);
  }
}

/** Echoes a mark, as Twilio does when the audio before it has played (or was cleared). */
function acknowledge(c, id) {
  const name = c.marks.get(id);
  if (name === undefined) return;
  c.marks.delete(id);
  send(c, {
    event: "mark", sequenceNumber: nextSequence(c), streamSid: c.streamSid, mark: { name },
  });
  state.marksAcked++;
}

function fromServer(c, data) {
  let message;
  try { message = JSON.parse(data); } catch { return; }
  if (!message || message.streamSid !== c.streamSid || c.finished) return;
  if (message.event === "media" && message.media && typeof message.media.payload === "string") {
    const audio = fromBase64(message.media.payload);
    state.bytesReceived += audio.length;
    state.pendingBytes += audio.length;
    c.node.port.postMessage({ type: "play", audio }, [audio.buffer]);
  } else if (message.event === "mark" && message.mark) {
    const id = ++c.markIds;
    c.marks.set(id, String(message.mark.name));
    state.marksReceived++;
    c.node.port.postMessage({ type: "mark", id });
  } else if (message.event === "clear") {
    // Barge-in: silence now, and every pending mark is echoed at once.
    state.clears++;
    state.pendingBytes = 0;
    c.node.port.postMessage({ type: "clear", epoch: ++c.epoch });
    for (const id of [...c.marks.keys()]) acknowledge(c, id);
  }
}

/** The protocol carries no words: the transcript comes from the call journal. */
function pollTranscript(c) {
  const read = async () => {
    try {
      const response = await fetch("/api/calls/" + encodeURIComponent(c.callSid));
      if (!response.ok || call !== c) return;
      const { lines } = await response.json();
      if (lines.length !== state.transcriptLines) showTranscript(lines);
    } catch { /* the next poll will try again */ }
  };
  c.poll = setInterval(read, 1000);
  read();
}

function showTranscript(lines) {
  state.transcriptLines = lines.length;
  transcript.replaceChildren(...lines.map((line) => {
    const div = document.createElement("div");
    div.className = "line " + line.kind;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = { caller: "You", assistant: "Assistant" }[line.kind] || "Tool";
    div.append(who, line.kind === "tool"
      ? line.name + (line.failed ? " failed" : " done")
      : line.text);
    return div;
  }));
  if (transcript.lastElementChild) transcript.lastElementChild.scrollIntoView({ block: "nearest" });
}

button.addEventListener("click", () => {
  if (call && !call.finished) hangUp(call);
  else startCall();
});
// Leaving the page hangs up cleanly instead of dropping the stream.
addEventListener("pagehide", () => { if (call && !call.finished) hangUp(call); });

if (!window.isSecureContext || !window.AudioWorkletNode || !navigator.mediaDevices) {
  button.disabled = true;
  show("error", "This page needs HTTPS and a browser with AudioWorklet support.");
}
`;

/** `extraHtml`: more of the owner's controls below the call (the schedule form). */
export function phonePage(extraHtml = ""): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="robots" content="noindex"><title>Phone</title>` +
    `<style>${STYLE}</style></head><body data-status="idle">` +
    ownerNav("/phone") + `<h1>Phone</h1>` +
    `<p class="muted">Talk to your assistant from this browser, as if you had called it. ` +
    `Calls appear in the <a href="/calls">call list</a>.</p>` +
    `<div class="panel"><button id="call" type="button">Call</button>` +
    `<div id="status" role="status" aria-live="polite">Ready</div>` +
    `<div class="meter" title="Microphone level"><div id="level"></div></div></div>` +
    `<section id="transcript" aria-label="Transcript" aria-live="polite">` +
    `<p class="muted">What you and the assistant say appears here.</p></section>` +
    extraHtml +
    `<script>${SCRIPT}</script></body></html>`;
}

export function phoneWorklet(): string {
  return phoneWorkletSource();
}
