/**
 * The owner's read-only pages, rendered on the server: no build step, no
 * script, readable on a phone.
 */

import { maskCaller } from "../caller_number.ts";
import { escapeHtml } from "../http/html.ts";
import type { CallRecord, JournalLine } from "../journal/journal.ts";
import { type ModelStatus, replacementFor } from "../realtime/model_record.ts";

const STYLE = `
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:46rem;padding:1rem;color:#1b1b1b;background:#fafafa}
h1{font-size:1.4rem}a{color:#0b57d0}table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:.45rem .3rem;border-bottom:1px solid #ddd;vertical-align:top}
.muted{color:#666;font-size:.9rem}.line{margin:.5rem 0;padding:.5rem .7rem;border-radius:.6rem}
.caller{background:#e8f0fe}.assistant{background:#fff;border:1px solid #e3e3e3}.tool{background:#fef7e0;font-size:.9rem}
form{display:flex;gap:.5rem;flex-wrap:wrap}input{font:inherit;padding:.5rem;flex:1;min-width:12rem}button{font:inherit;padding:.5rem 1rem}
.error{color:#b3261e}.banner{background:#fce8e6;border:1px solid #f4c7c3;border-radius:.6rem;padding:.6rem .8rem}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="robots" content="noindex"><title>${
      escapeHtml(title)
    }</title>` +
    `<style>${STYLE}</style></head><body>${body}</body></html>`;
}

export function loginPage(next: string, error?: string): string {
  return page(
    "Sign in",
    `<h1>Sign in</h1><p>Enter the assistant's <code>ADMIN_TOKEN</code>.</p>` +
      (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : "") +
      `<form method="post" action="/login"><input type="hidden" name="next" value="${
        escapeHtml(next)
      }"><input type="password" name="token" autocomplete="current-password" ` +
      `aria-label="Admin token" required><button type="submit">Sign in</button></form>`,
  );
}

function when(epochMs: number): string {
  return new Date(epochMs).toISOString().replace("T", " ").slice(0, 16) +
    " UTC";
}

function duration(ms: number | null): string {
  if (ms === null) return "live";
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

const OUTCOME_LABELS: Record<string, string> = {
  caller_hung_up: "caller hung up",
  assistant_ended: "assistant ended it",
  limit: "time limit",
  error: "error",
  shutdown: "server restart",
};

function outcomeLabel(record: CallRecord): string {
  return record.outcome ? OUTCOME_LABELS[record.outcome] : "in progress";
}

/**
 * The owner must act before the shutdown date or every call fails at the
 * handshake: say so at the top of the page they look at.
 */
function retirementBanner(model: ModelStatus | undefined): string {
  if (!model?.shutdownDate) return "";
  const replacement = replacementFor(model.id);
  const action = replacement
    ? `set <code>OPENAI_REALTIME_MODEL=${escapeHtml(replacement)}</code>`
    : `set <code>OPENAI_REALTIME_MODEL</code> to a current Realtime model (see OpenAI's deprecations page)`;
  return `<p class="banner" role="alert"><b>Model ${
    escapeHtml(model.id)
  } shuts down on ${escapeHtml(model.shutdownDate)}</b>: ${action}.</p>`;
}

export function callsPage(
  records: CallRecord[],
  model?: ModelStatus,
): string {
  const rows = records.map((r) =>
    `<tr><td><a href="/calls/${encodeURIComponent(r.callSid)}">${
      escapeHtml(when(r.startedAt))
    }</a></td><td>${
      r.source === "browser" ? "Browser" : escapeHtml(maskCaller(r.caller))
    }</td><td>${duration(r.durationMs)}</td><td>${
      escapeHtml(outcomeLabel(r))
    }</td></tr>`
  ).join("");
  return page(
    "Calls",
    `<h1>Calls</h1>` + retirementBanner(model) +
      (records.length === 0
        ? `<p>No calls yet.</p>`
        : `<table><thead><tr><th>Started</th><th>Caller</th><th>Length</th><th>Ended</th></tr></thead><tbody>${rows}</tbody></table>`) +
      `<form method="post" action="/logout"><button type="submit">Sign out</button></form>`,
  );
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function transcriptLine(line: JournalLine): string {
  switch (line.kind) {
    case "tool":
      return `<div class="line tool">Tool <b>${escapeHtml(line.name)}</b>${
        line.server ? ` (${escapeHtml(line.server)})` : ""
      }: ${
        line.failed
          ? `failed${line.errorType ? ` (${escapeHtml(line.errorType)})` : ""}`
          : "done"
      }</div>`;
    case "notice":
      return `<div class="line tool">${escapeHtml(line.text)}</div>`;
    default:
      return `<div class="line ${line.kind}"><span class="muted">${
        line.kind === "caller" ? "Caller" : "Assistant"
      }</span><br>${escapeHtml(line.text)}</div>`;
  }
}

export function callPage(record: CallRecord, lines: JournalLine[]): string {
  const latency = median(record.turnLatenciesMs);
  const transcript = lines.map(transcriptLine).join("");
  const unavailable = (record.toolsUnavailable ?? []).map((server) =>
    `<p class="banner" role="alert">The ${
      escapeHtml(server)
    } tools could not be listed on this call, so the assistant had none of them. Check the MCP key (ZAPIER_MCP_PASSWORD) and URL.</p>`
  ).join("");
  return page(
    `Call ${when(record.startedAt)}`,
    `<p><a href="/calls">← All calls</a></p><h1>Call ${
      escapeHtml(when(record.startedAt))
    }</h1><p class="muted">${
      record.source === "browser"
        ? "From the browser"
        : `Caller ${escapeHtml(record.caller || "unknown")}`
    } · ${duration(record.durationMs)} · ${escapeHtml(outcomeLabel(record))}${
      latency === undefined ? "" : ` · median answer ${latency} ms`
    } · ${record.toolCalls} tool call${record.toolCalls === 1 ? "" : "s"}</p>` +
      unavailable +
      (transcript || `<p>No transcript.</p>`),
  );
}
