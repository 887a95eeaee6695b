import assert from "node:assert/strict";
import { escapeHtml } from "../src/http/html.ts";

Deno.test("escapeHtml() escapes & < > \" ' for HTML text and attributes", () => {
  assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
  assert.equal(escapeHtml("plain é 😀"), "plain é 😀");
  assert.equal(escapeHtml("&amp;"), "&amp;amp;");
  assert.equal(escapeHtml(""), "");
});

Deno.test("escapeHtml() keeps a value inside a single- or double-quoted attribute", () => {
  const value = `"/><script>alert('x')</script>`;
  for (const quote of [`"`, `'`]) {
    const html = `<input value=${quote}${escapeHtml(value)}${quote}>`;
    assert.ok(!html.includes("<script"), html);
    assert.equal(html.split(quote).length, 3, html);
  }
});
