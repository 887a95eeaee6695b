/**
 * The "Schedule a call" part of /phone: a plain form (no script) that asks
 * the assistant to call the owner later, and the calls still to come, each
 * with a cancel button. Server-rendered; the routes are in
 * src/admin/scheduled_calls_routes.ts.
 */

import { escapeHtml } from "../http/html.ts";

export interface ScheduledCallLine {
  id: string;
  /** "today at 8:00 pm", as the assistant would say it. */
  when: string;
  topic: string;
}

const STYLE =
  `#schedule{margin-top:1.5rem}#schedule form{display:flex;gap:.5rem;flex-wrap:wrap}` +
  `#schedule input{font:inherit;padding:.5rem;flex:1;min-width:10rem}#schedule button{font:inherit;padding:.5rem 1rem}` +
  `#schedule li{margin:.4rem 0}#schedule li form{display:inline}.notice{background:#e6f4ea;border-radius:.6rem;padding:.5rem .7rem}` +
  `.problem{background:#fce8e6;border-radius:.6rem;padding:.5rem .7rem}`;

export function scheduleSection(
  upcoming: readonly ScheduledCallLine[],
  message?: { kind: "notice" | "problem"; text: string },
): string {
  const note = message
    ? `<p class="${message.kind}" role="${
      message.kind === "problem" ? "alert" : "status"
    }">${escapeHtml(message.text)}</p>`
    : "";
  const list = upcoming.length === 0
    ? `<p class="muted">No calls scheduled.</p>`
    : `<ul>${
      upcoming.map((call) =>
        `<li><b>${escapeHtml(call.when)}</b>: ${
          escapeHtml(call.topic)
        } <form method="post" action="/phone/calls/${
          encodeURIComponent(call.id)
        }/cancel"><button type="submit">Cancel</button></form></li>`
      ).join("")
    }</ul>`;
  return `<section id="schedule" aria-labelledby="schedule-title"><style>${STYLE}</style>` +
    `<h2 id="schedule-title">Schedule a call</h2>` +
    `<p class="muted">The assistant calls you at this time (your time zone) and opens with the topic.</p>` +
    note +
    `<form method="post" action="/phone/calls">` +
    `<input name="when" required aria-label="When" placeholder="8pm, tomorrow 7:30, in 20 minutes">` +
    `<input name="topic" required aria-label="Topic" maxlength="300" placeholder="What about?">` +
    `<button type="submit">Schedule</button></form>` +
    `<h3>Coming up</h3>${list}</section>`;
}
