/**
 * /memory and its JSON API over plain HTTP: behind ADMIN_TOKEN like /calls,
 * forms that add and delete (same-origin only, redirect after post), and
 * the API beside them.
 */
import assert from "node:assert/strict";
import { MAX_NOTE_CHARS } from "../src/memory/bounds.ts";
import { startTestServer } from "./helpers/test_server.ts";

const ADMIN_TOKEN = "memory-admin-token-0123456789";
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function form(
  url: string,
  fields: Record<string, string>,
  headers: HeadersInit = {},
) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      ...AUTH,
      "content-type": "application/x-www-form-urlencoded",
      ...headers,
    },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
  return { response, body: await response.text() };
}

Deno.test("/memory and /api/memory are the owner's: 404 without ADMIN_TOKEN, a login form or 401 without a session", async () => {
  const off = await startTestServer();
  try {
    for (const path of ["/memory", "/api/memory"]) {
      const response = await fetch(`${off.origin}${path}`, { headers: AUTH });
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
  } finally {
    await off.close();
  }
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const page = await fetch(`${server.origin}/memory`);
    assert.equal(page.status, 401);
    assert.match(await page.text(), /action="\/login"/);
    const api = await fetch(`${server.origin}/api/memory`);
    assert.equal(api.status, 401);
    await api.body?.cancel();
    const add = await fetch(`${server.origin}/api/memory/notes`, {
      method: "POST",
      body: JSON.stringify({ text: "sneaky" }),
    });
    assert.equal(add.status, 401);
    await add.body?.cancel();
    const deleted = await fetch(`${server.origin}/memory/notes/abc/delete`, {
      method: "POST",
    });
    assert.equal(deleted.status, 401);
    await deleted.body?.cancel();
    assert.deepEqual(await server.app.memory?.notes.list(), []);
  } finally {
    await server.close();
  }
});

Deno.test("the /memory forms add and delete notes, redirecting back, and refuse another site's post", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const added = await form(`${server.origin}/memory/notes`, {
      text: "Gate code is 4921",
    }, { origin: "https://assistant.example.com" });
    assert.equal(added.response.status, 303);
    assert.equal(added.response.headers.get("location"), "/memory");
    const [note] = await server.app.memory!.notes.list();
    assert.equal(note.text, "Gate code is 4921");

    const page = await fetch(`${server.origin}/memory`, { headers: AUTH });
    const html = await page.text();
    assert.equal(page.headers.get("cache-control"), "no-store");
    assert.ok(html.includes("Gate code is 4921"));
    assert.ok(html.includes(`action="/memory/notes/${note.id}/delete"`));
    assert.ok(html.includes('<nav class="owner"'));
    assert.ok(html.includes('<a href="/memory" aria-current="page">'));

    const crossSite = await form(`${server.origin}/memory/notes`, {
      text: "Planted by evil.example",
    }, { origin: "https://evil.example" });
    assert.equal(crossSite.response.status, 403);
    const fetchSite = await form(
      `${server.origin}/memory/notes/${note.id}/delete`,
      {},
      { "sec-fetch-site": "cross-site" },
    );
    assert.equal(fetchSite.response.status, 403);
    assert.equal((await server.app.memory!.notes.list()).length, 1);

    const tooLong = await form(`${server.origin}/memory/notes`, {
      text: "x".repeat(MAX_NOTE_CHARS + 1),
    });
    assert.equal(tooLong.response.status, 400);
    assert.match(tooLong.body, /role="alert">A note holds at most 280/);

    const deleted = await form(
      `${server.origin}/memory/notes/${note.id}/delete`,
      {},
    );
    assert.equal(deleted.response.status, 303);
    assert.deepEqual(await server.app.memory!.notes.list(), []);
  } finally {
    await server.close();
  }
});

Deno.test("the memory JSON API lists, adds (idempotently) and deletes notes", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const post = (text: unknown) =>
      fetch(`${server.origin}/api/memory/notes`, {
        method: "POST",
        headers: { ...AUTH, "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
    const created = await post("Anna's birthday is 3 May");
    assert.equal(created.status, 201);
    const { note, added } = await created.json();
    assert.equal(added, true);
    const again = await post("anna's birthday is 3 May.");
    assert.equal(again.status, 200);
    assert.equal((await again.json()).note.id, note.id);
    const bad = await post(42);
    assert.equal(bad.status, 400);
    await bad.body?.cancel();

    const listed = await (await fetch(`${server.origin}/api/memory`, {
      headers: AUTH,
    })).json();
    assert.equal(listed.enabled, true);
    assert.equal(listed.memoryDays, 30);
    assert.deepEqual(listed.notes.map((n: { text: string }) => n.text), [
      "Anna's birthday is 3 May",
    ]);
    assert.deepEqual(listed.summaries, []);

    const url = `${server.origin}/api/memory/notes/${note.id}`;
    const gone = await fetch(url, { method: "DELETE", headers: AUTH });
    assert.equal(gone.status, 200);
    assert.equal((await gone.json()).deleted.text, "Anna's birthday is 3 May");
    const missing = await fetch(url, { method: "DELETE", headers: AUTH });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("with MEMORY=false /memory says memory is off and the API refuses changes", async () => {
  const server = await startTestServer({ ADMIN_TOKEN, MEMORY: "false" });
  try {
    const page = await (await fetch(`${server.origin}/memory`, {
      headers: AUTH,
    })).text();
    assert.match(page, /Memory is off/);
    const listed = await (await fetch(`${server.origin}/api/memory`, {
      headers: AUTH,
    })).json();
    assert.deepEqual(listed, {
      enabled: false,
      memoryDays: 30,
      notes: [],
      summaries: [],
    });
    const add = await fetch(`${server.origin}/api/memory/notes`, {
      method: "POST",
      headers: AUTH,
      body: JSON.stringify({ text: "x" }),
    });
    assert.equal(add.status, 409);
    await add.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("a remembered call is listed on /memory and forgotten by its form or the API", async () => {
  const server = await startTestServer({ ADMIN_TOKEN });
  try {
    const summaries = server.app.memory!.summaries;
    const at = Date.now() - 60_000;
    const recap = {
      summary: "The owner asked to add milk.",
      openLoops: ["oat or dairy?"],
      todos: ["buy milk (done)"],
    };
    await summaries.save("CA1", at, recap);
    await summaries.save("CA2", at + 1, recap);
    const html = await (await fetch(`${server.origin}/memory`, {
      headers: AUTH,
    })).text();
    assert.ok(html.includes("The owner asked to add milk."));
    assert.ok(html.includes("<li>buy milk (done)</li>"));
    assert.ok(html.includes('href="/calls/CA1"'));
    const forgotten = await form(
      `${server.origin}/memory/summaries/${at}-CA1/delete`,
      {},
    );
    assert.equal(forgotten.response.status, 303);
    const api = await fetch(
      `${server.origin}/api/memory/summaries/${at + 1}-CA2`,
      { method: "DELETE", headers: AUTH },
    );
    assert.equal(api.status, 200);
    await api.body?.cancel();
    assert.deepEqual(await summaries.recent(), []);
  } finally {
    await server.close();
  }
});
