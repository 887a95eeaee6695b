/**
 * The owner's read-only pages, rendered on the server: no build step, no
 * script, readable on a phone.
 */

import { maskCaller } from "../caller_number.ts";
import { formatSpend, formatUsd } from "../cost/pricing.ts";
import { escapeHtml } from "../http/html.ts";
import type { CallRecord, JournalLine } from "../journal/journal.ts";
import type { CallOutcome } from "../call_vocabulary.ts";
import {
  type ConfiguredModelStatus,
  replacementFor,
} from "../upstream/model_record.ts";
import { type PinLockout, WRONG_PINS_PER_HOUR } from "../twilio/caller_pin.ts";
import { NAV_STYLE, ownerNav } from "../http/owner_nav.ts";
import { outboundParty, outboundSection } from "./outbound_lines.ts";

const STYLE = `
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:46rem;padding:1rem;color:#1b1b1b;background:#fafafa}
h1{font-size:1.4rem}a{color:#0b57d0}table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:.45rem .3rem;border-bottom:1px solid #ddd;vertical-align:top}
.muted{color:#666;font-size:.9rem}.line{margin:.5rem 0;padding:.5rem .7rem;border-radius:.6rem}
.caller{background:#e8f0fe}.assistant{background:#fff;border:1px solid #e3e3e3}.tool{background:#fef7e0;font-size:.9rem}
form{display:flex;gap:.5rem;flex-wrap:wrap}input{font:inherit;padding:.5rem;flex:1;min-width:12rem}button{font:inherit;padding:.5rem 1rem}
.error{color:#b3261e}.banner{background:#fce8e6;border:1px solid #f4c7c3;border-radius:.6rem;padding:.6rem .8rem}
.summary{background:#fff;border:1px solid #e3e3e3;border-radius:.6rem;padding:.2rem .9rem;margin:.8rem 0}
h2{font-size:1.1rem;margin:.7rem 0 .3rem}ul{margin:.2rem 0 .6rem;padding-left:1.3rem}
.num{text-align:right;white-space:nowrap}td form{display:inline}td button{padding:.3rem .7rem}
${NAV_STYLE}`;

/** A whole page in the owner's style: no script, readable on a phone. */
export function page(title: string, body: string): string {
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

const OUTCOME_LABELS: Record<CallOutcome, string> = {
  caller_hung_up: "caller hung up",
  assistant_ended: "assistant ended it",
  limit: "time limit",
  error: "error",
  shutdown: "server restart",
  handover: "handed over",
  interrupted: "interrupted (server lost)",
  voicemail: "answering machine",
};

/** " · resumed 2× (crash, handover)": the call outlived a server process. */
function resumes(record: CallRecord): string {
  const causes = (record.segments ?? []).slice(1).map((s) => s.cause ?? "?");
  return causes.length === 0
    ? ""
    : ` · resumed ${causes.length}× (${causes.join(", ")})`;
}

function outcomeLabel(record: CallRecord): string {
  if (record.outcome) return OUTCOME_LABELS[record.outcome];
  // A call the server placed that never reached the assistant (voicemail, no answer).
  return record.outbound?.result ??
    (record.endedAt === null ? "in progress" : record.endReason ?? "ended");
}

/**
 * The owner must act before the shutdown date or every call fails at the
 * handshake: say so at the top of the page they look at.
 */
function retirementBanner(models: readonly ConfiguredModelStatus[]): string {
  return models.map((model) => {
    if (!model.shutdownDate) return "";
    const replacement = replacementFor(model.id);
    const variable = model.variable;
    const kind = variable === "OPENAI_REALTIME_MODEL" ? "Realtime " : "";
    const action = variable === undefined
      ? `it is built into this server (${
        escapeHtml(model.role)
      }): update the server`
      : replacement
      ? `set <code>${escapeHtml(variable)}=${escapeHtml(replacement)}</code>`
      : `set <code>${
        escapeHtml(variable)
      }</code> to a current ${kind}model (see OpenAI's deprecations page)`;
    return `<p class="banner" role="alert"><b>Model ${
      escapeHtml(model.id)
    } shuts down on ${escapeHtml(model.shutdownDate)}</b>: ${action}.</p>`;
  }).join("");
}

/** What was spent: the /calls page shows it above the list. */
export interface Spending {
  todayMicroUsd: number;
  monthToDateMicroUsd: number;
  /** DAILY_BUDGET_USD, when set. */
  budgetMicroUsd?: number;
}

/** A call's cost, or "—" before any usage came; "≥" when a model had no price. */
function callCost(record: CallRecord): string {
  if (record.costMicroUsd === undefined) return "—";
  return `${record.unpricedModels?.length ? "≥ " : ""}${
    formatUsd(record.costMicroUsd)
  }`;
}

function spendingLine(spending: Spending | undefined): string {
  if (!spending) return "";
  return `<p class="spending">This month: <b>${
    formatSpend(spending.monthToDateMicroUsd)
  }</b> · today: ${formatSpend(spending.todayMicroUsd)}${
    spending.budgetMicroUsd === undefined
      ? ""
      : ` of a ${formatUsd(spending.budgetMicroUsd, 2)} daily budget`
  }</p>`;
}

/** Hours CALLER_PIN refused every call after too many wrong PINs. */
function lockoutLines(lockouts: PinLockout[]): string {
  if (lockouts.length === 0) return "";
  const items = lockouts.map((lockout) =>
    `<li>${escapeHtml(when(lockout.lockedAt))} until ${
      escapeHtml(when(lockout.hourStart + 3_600_000))
    }</li>`
  ).join("");
  return `<div class="banner pin-lockouts" role="alert"><b>Calls refused after more than ${WRONG_PINS_PER_HOUR} wrong PINs in an hour</b> (someone may be guessing your PIN):<ul>${items}</ul></div>`;
}

export function callsPage(
  records: CallRecord[],
  models: readonly ConfiguredModelStatus[] = [],
  spending?: Spending,
  lockouts: PinLockout[] = [],
): string {
  const rows = records.map((r) =>
    `<tr><td><a href="/calls/${encodeURIComponent(r.callSid)}">${
      escapeHtml(when(r.startedAt))
    }</a></td><td>${
      r.source === "browser"
        ? "Browser"
        : escapeHtml(outboundParty(r) ?? maskCaller(r.caller))
    }</td><td>${duration(r.durationMs)}</td><td>${
      escapeHtml(outcomeLabel(r))
    }</td><td class="num cost">${escapeHtml(callCost(r))}</td></tr>`
  ).join("");
  return page(
    "Calls",
    ownerNav("/calls") + `<h1>Calls</h1>` + retirementBanner(models) +
      lockoutLines(lockouts) + spendingLine(spending) +
      (records.length === 0
        ? `<p>No calls yet.</p>`
        : `<table><thead><tr><th>Started</th><th>Caller</th><th>Length</th><th>Ended</th><th class="num">Cost</th></tr></thead><tbody>${rows}</tbody></table>`) +
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

/** The tools a call used, each once, in the order first used. */
function toolsUsed(lines: JournalLine[]): string[] {
  const names = lines.flatMap((line) =>
    line.kind === "tool"
      ? [line.server ? `${line.name} (${line.server})` : line.name]
      : []
  );
  return [...new Set(names)];
}

function list(items: string[]): string {
  return `<ul>${
    items.map((item) => `<li>${escapeHtml(item)}</li>`).join("")
  }</ul>`;
}

/** The top of a call's page: its summary, to-dos, what is still open, the tools it used. */
function summarySection(record: CallRecord, lines: JournalLine[]): string {
  const summary = record.summary;
  const tools = toolsUsed(lines);
  let body = "";
  if (summary?.status === "done") {
    body += `<p>${escapeHtml(summary.text ?? "")}</p>`;
    if (summary.todos?.length) {
      body += `<h2>To-dos</h2>${list(summary.todos)}`;
    }
    if (summary.openLoops?.length) {
      body += `<h2>Still open</h2>${list(summary.openLoops)}`;
    }
  } else if (summary?.status === "pending" || summary?.status === "retrying") {
    body += `<p class="muted">The summary is being made${
      summary.attempts > 0
        ? ` (attempt ${summary.attempts} failed: ${
          escapeHtml(summary.error ?? "")
        }; trying again)`
        : ""
    }.</p>`;
  } else if (summary?.status === "failed") {
    body += `<p class="error">No summary: ${
      escapeHtml(summary.error ?? "failed")
    } (after ${summary.attempts} attempts).</p>`;
  } else if (summary?.status === "skipped") {
    body += `<p class="muted">No summary: ${
      escapeHtml(summary.error ?? "nothing to summarise")
    }.</p>`;
  }
  body += `<p class="muted tools-used">Tools used: ${
    tools.length > 0 ? escapeHtml(tools.join(", ")) : "none"
  }</p>`;
  return `<section class="summary" aria-label="Summary">${
    summary ? "<h2>Summary</h2>" : ""
  }${body}</section>`;
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
    ownerNav(undefined) +
      `<p><a href="/calls">← All calls</a></p><h1>Call ${
        escapeHtml(when(record.startedAt))
      }</h1>` + outboundSection(record) + summarySection(record, lines) +
      `<p class="muted">${
        record.source === "browser"
          ? "From the browser"
          : record.outbound
          ? `To ${escapeHtml(record.outbound.to)}`
          : `Caller ${escapeHtml(record.caller || "unknown")}`
      } · ${duration(record.durationMs)} · ${escapeHtml(outcomeLabel(record))}${
        latency === undefined ? "" : ` · median answer ${latency} ms`
      } · ${record.toolCalls} tool call${
        record.toolCalls === 1 ? "" : "s"
      } · cost <span class="cost">${escapeHtml(callCost(record))}</span>${
        escapeHtml(resumes(record))
      }</p>` +
      unavailable +
      (transcript || `<p>No transcript.</p>`),
  );
}
