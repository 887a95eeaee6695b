/**
 * The owner's memory and costs in a real headless Chromium at a phone's
 * viewport: /memory after a call (the note it kept, its summary), adding and
 * deleting a note with the forms, the shared navigation, the cost column
 * and month to date on /calls, the summary at the top of the call's page.
 */
import assert from "node:assert/strict";
import { formatSpend, formatUsd } from "../src/cost/pricing.ts";
import {
  artifactsDir,
  assertReadableOnPhone,
  Chromium,
  missingTools,
  type Page,
  PHONE,
} from "./helpers/chromium.ts";
import { waitForSummary } from "./helpers/placed_call.ts";
import { randomAudio, startTestServer } from "./helpers/test_server.ts";
import {
  CALL_PARAMS,
  signedWebhook,
  streamUrlOf,
} from "../peers/twilio_requests.ts";

const ADMIN_TOKEN = "memory-pages-admin-token-0123";
const FACT = "My dentist is Dr. Lee, Tuesdays";
const SUMMARY = {
  summary: "The owner asked the assistant to remember their dentist.",
  open_loops: ["book the next check-up"],
  todos: ["call Dr. Lee about a check-up"],
};

const skip = missingTools();
if (skip) console.warn(`memory_browser_test skipped: ${skip}`);

function text(page: Page, selector: string): Promise<string> {
  return page.evaluate<string>(
    `Array.from(document.querySelectorAll(${
      JSON.stringify(selector)
    })).map((e) => e.textContent).join("\\n")`,
  );
}

function navLinks(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(
    `Array.from(document.querySelectorAll("nav.owner a")).map((a) => a.getAttribute("href"))`,
  );
}

Deno.test({
  name:
    "memory and costs in a browser: /memory shows the call's note and summary, its forms add and delete, /calls shows the cost",
  ignore: skip !== undefined,
  async fn() {
    const artifacts = await artifactsDir("memory-browser");
    const shot = (name: string) => `${artifacts.path}/${name}.png`;
    // No PUBLIC_URL: the server's origin is the one the browser uses.
    const server = await startTestServer({ ADMIN_TOKEN, PUBLIC_URL: "" }, {
      responses: { reply: () => JSON.stringify(SUMMARY) },
    });
    let browser: Chromium | undefined;
    try {
      // A call in which the owner asks the assistant to remember something.
      const webhook = signedWebhook(
        `${server.origin}/incoming-call`,
        CALL_PARAMS,
      );
      const answer = await fetch(`${server.origin}/incoming-call`, {
        method: "POST",
        headers: webhook.headers,
        body: await webhook.text(),
      });
      const edge = await server.connect(streamUrlOf(await answer.text()));
      const session = await server.realtime.nextSession();
      await session.waitFor("session.update");
      await edge.sendAudio(randomAudio(160 * 5));
      session.callerSaid("Remember that my dentist is Dr. Lee, on Tuesdays.");
      const { callIds } = session.functionCall({
        name: "remember",
        arguments: { fact: FACT },
      });
      await session.waitFor(
        "conversation.item.create",
        (e) => (e.item as { call_id?: string }).call_id === callIds[0],
      );
      await session.waitFor("response.create");
      await session.speak(randomAudio(8 * 300), {
        transcript: "Got it, I'll remember Dr. Lee.",
      }).done;
      await edge.waitForPlayed(8 * 300, 3000);
      edge.sendStop();
      await session.closed;
      const record = await waitForSummary(server, CALL_PARAMS.CallSid);

      browser = await Chromium.launch();
      const page = await browser.newPage(PHONE);

      // Signed out: /memory is the login form; signing in comes back to it.
      await page.goto(`${server.origin}/memory`);
      assert.equal(await page.status(), 401);
      await page.type("input[name=token]", ADMIN_TOKEN);
      await page.navigation(() => page.click("button[type=submit]"));
      assert.equal(await page.evaluate("location.pathname"), "/memory");
      assert.equal(await page.status(), 200);
      assert.deepEqual(await navLinks(page), ["/calls", "/phone", "/memory"]);
      assert.equal(
        await text(page, 'nav.owner a[aria-current="page"]'),
        "Memory",
      );
      assert.match(await text(page, "li.note .text"), /Dr\. Lee, Tuesdays/);
      const remembered = await text(page, "article.remembered");
      assert.match(remembered, /remember their dentist/);
      assert.match(remembered, /call Dr\. Lee about a check-up/);
      assert.match(remembered, /book the next check-up/);
      await assertReadableOnPhone(page, "memory page");
      await page.screenshot(shot("1-memory"));

      // Add a note with the form: back on /memory, newest first.
      await page.type("input[name=text]", "Gate code is 4921");
      await page.navigation(() =>
        page.click("form[action='/memory/notes'] button")
      );
      assert.equal(await page.evaluate("location.pathname"), "/memory");
      assert.deepEqual(
        (await text(page, "li.note .text")).split("\n"),
        ["Gate code is 4921", FACT],
      );
      await page.screenshot(shot("2-note-added"));

      // Delete the dentist note with its button.
      const notes = await server.app.memory!.notes.list();
      const dentist = notes.find((n) => n.text === FACT)!;
      await page.navigation(() =>
        page.click(`form[action='/memory/notes/${dentist.id}/delete'] button`)
      );
      assert.equal(await text(page, "li.note .text"), "Gate code is 4921");
      assert.deepEqual(
        (await server.app.memory!.notes.list()).map((n) => n.text),
        ["Gate code is 4921"],
      );
      await page.screenshot(shot("3-note-deleted"));

      // The navigation to /calls: the cost per call and the month to date.
      await page.navigation(() => page.click('nav.owner a[href="/calls"]'));
      assert.equal(await page.evaluate("location.pathname"), "/calls");
      assert.deepEqual(await navLinks(page), ["/calls", "/phone", "/memory"]);
      assert.equal(
        await text(page, "tbody tr td.cost"),
        formatUsd(record.costMicroUsd!),
      );
      assert.ok(record.costMicroUsd! > 0);
      assert.match(
        await text(page, "p.spending"),
        new RegExp(`This month: \\${formatSpend(record.costMicroUsd!)}`),
      );
      await assertReadableOnPhone(page, "call list with costs");
      await page.screenshot(shot("4-calls"));

      // The call's page: the summary, to-dos and tools used at the top.
      await page.navigation(() => page.click("tbody tr a"));
      const top = await text(page, "section.summary");
      assert.match(top, /remember their dentist/);
      assert.match(top, /To-dos\s*call Dr\. Lee about a check-up/);
      assert.match(top, /Still open\s*book the next check-up/);
      assert.match(top, /Tools used: remember/);
      const order = await page.evaluate<boolean>(
        `document.querySelector("section.summary").compareDocumentPosition(document.querySelector(".line")) === Node.DOCUMENT_POSITION_FOLLOWING`,
      );
      assert.ok(order, "the summary comes before the transcript");
      await assertReadableOnPhone(page, "call page with summary");
      await page.screenshot(shot("5-call"));

      // /phone carries the same navigation.
      await page.navigation(() => page.click('nav.owner a[href="/phone"]'));
      assert.deepEqual(await navLinks(page), ["/calls", "/phone", "/memory"]);
      assert.deepEqual(page.errors, []);
    } finally {
      await browser?.close();
      await server.close();
      await artifacts.remove();
    }
  },
});
