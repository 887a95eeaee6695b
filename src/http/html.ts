/** Escaping for server-rendered HTML. */

const HTML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  // &apos; is not an HTML 4 entity; the numeric form works everywhere.
  "'": "&#39;",
};

/** Safe as HTML text and inside a quoted attribute value (either quote). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);
}
