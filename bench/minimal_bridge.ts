/**
 * A deliberately minimal Twilio ↔ OpenAI Realtime bridge, the shape of
 * Twilio's official sample ported to Deno: no signature checks, no tokens, no
 * pre-warm, no journal, one JSON.parse per message. It exists only as the
 * benchmark's reference point (`bench.ts --server bench/minimal_bridge.ts`):
 * what the same machine, runtime and load cost with next to no application
 * code, so the project's own overhead can be told apart from the floor set by
 * Deno's WebSockets and the kernel.
 *
 * Reads PORT, OPENAI_REALTIME_URL, OPENAI_API_KEY and PUBLIC_URL; logs JSON
 * lines like main.ts (`server.listening`, `call.started`, `call.ended`).
 *
 * @module
 */

const port = Number(Deno.env.get("PORT") ?? 5050);
const realtimeUrl = Deno.env.get("OPENAI_REALTIME_URL") ??
  "wss://api.openai.com/v1/realtime?model=gpt-realtime";
const apiKey = Deno.env.get("OPENAI_API_KEY") ?? "";
const publicUrl = Deno.env.get("PUBLIC_URL") ?? `http://localhost:${port}`;
const wsOrigin = publicUrl.replace(/^http/, "ws");

const SESSION_UPDATE = JSON.stringify({
  type: "session.update",
  session: {
    type: "realtime",
    model: "gpt-realtime",
    output_modalities: ["audio"],
    instructions: "You are a helpful assistant.",
    audio: {
      input: {
        format: { type: "audio/pcmu" },
        turn_detection: { type: "server_vad" },
      },
      output: { format: { type: "audio/pcmu" }, voice: "alloy" },
    },
  },
});

const log = (event: string, fields: Record<string, unknown> = {}) =>
  console.log(
    JSON.stringify({ time: new Date().toISOString(), event, ...fields }),
  );

let live = 0;

/** The few fields read (the sample trusts both peers, and so does this). */
interface UpstreamEvent {
  type: string;
  item_id?: string;
  delta?: string;
}
interface TwilioEvent {
  event: string;
  start?: { streamSid: string };
  media?: { payload: string };
}

function bridge(twilio: WebSocket): void {
  live++;
  const upstream = new WebSocket(realtimeUrl, {
    headers: { Authorization: `Bearer ${apiKey}` },
  });
  let streamSid = "";
  let early: string[] = [];
  let marks = 0;
  let pendingMarks = 0;
  let itemId = "";
  let itemMs = 0;
  let activeResponse = false;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    live--;
    if (upstream.readyState <= WebSocket.OPEN) upstream.close();
    if (twilio.readyState <= WebSocket.OPEN) twilio.close();
    log("call.ended", { reason: "closed" });
  };
  upstream.onopen = () => {
    upstream.send(SESSION_UPDATE);
    for (const payload of early) {
      upstream.send(
        `{"type":"input_audio_buffer.append","audio":"${payload}"}`,
      );
    }
    log("upstream.ready", { earlyFrames: early.length });
    early = [];
  };
  upstream.onmessage = (event) => {
    const message = JSON.parse(event.data) as UpstreamEvent;
    switch (message.type) {
      case "response.created":
        activeResponse = true;
        break;
      case "response.done":
        activeResponse = false;
        break;
      case "response.output_audio.delta":
        if (message.item_id !== itemId) {
          itemId = message.item_id ?? "";
          itemMs = 0;
        }
        itemMs += (message.delta ?? "").length * 3 / 4 / 8;
        twilio.send(JSON.stringify({
          event: "media",
          streamSid,
          media: { payload: message.delta },
        }));
        twilio.send(JSON.stringify({
          event: "mark",
          streamSid,
          mark: { name: String(++marks) },
        }));
        pendingMarks++;
        break;
      case "input_audio_buffer.speech_started":
        if (pendingMarks > 0) {
          twilio.send(JSON.stringify({ event: "clear", streamSid }));
          // Crude: assume one chunk (100 ms) is still unplayed.
          upstream.send(JSON.stringify({
            type: "conversation.item.truncate",
            item_id: itemId,
            content_index: 0,
            audio_end_ms: Math.max(0, Math.floor(itemMs - 100)),
          }));
          pendingMarks = 0;
        }
        if (activeResponse) {
          upstream.send('{"type":"response.cancel"}');
          activeResponse = false;
        }
        break;
    }
  };
  upstream.onclose = end;
  upstream.onerror = () => {};
  twilio.onmessage = (event) => {
    const message = JSON.parse(event.data) as TwilioEvent;
    switch (message.event) {
      case "start":
        streamSid = message.start?.streamSid ?? "";
        log("call.started", {
          upstreamReady: upstream.readyState === WebSocket.OPEN,
        });
        break;
      case "media":
        if (upstream.readyState === WebSocket.OPEN) {
          upstream.send(
            `{"type":"input_audio_buffer.append","audio":"${message.media?.payload}"}`,
          );
        } else {
          early.push(message.media?.payload ?? "");
        }
        break;
      case "mark":
        if (pendingMarks > 0) pendingMarks--;
        break;
      case "stop":
        end();
        break;
    }
  };
  twilio.onclose = end;
  twilio.onerror = () => {};
}

const server = Deno.serve({
  port,
  onListen: ({ port }) => log("server.listening", { port }),
}, (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/healthz") return Response.json({ calls: live });
  if (url.pathname === "/incoming-call") {
    const path = `/media-stream/${crypto.randomUUID()}`;
    return new Response(
      `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${wsOrigin}${path}"/></Connect></Response>`,
      { headers: { "content-type": "text/xml" } },
    );
  }
  if (url.pathname.startsWith("/media-stream/")) {
    const { socket, response } = Deno.upgradeWebSocket(request);
    bridge(socket);
    return response;
  }
  return new Response("not found", { status: 404 });
});

Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  Deno.exit(0);
});
