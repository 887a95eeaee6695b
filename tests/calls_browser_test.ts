/**
 * The owner's /calls pages in a real headless Chromium at a phone's viewport:
 * sign-in (wrong token, then the right one), the list, one call's transcript.
 */
import assert from "node:assert/strict";
import {
  artifactsDir,
  assertReadableOnPhone,
  Chromium,
  missingTools,
  type Page,
  PHONE,
} from "./helpers/chromium.ts";
import { delay, randomAudio, startTestServer } from "./helpers/test_server.ts";
import {
  CALL_PARAMS,
  signedWebhook,
  streamUrlOf,
} from "../peers/twilio_requests.ts";

const ADMIN_TOKEN = "calls-pages-admin-token-0123";
const CALLER_SAID = "What is on my calendar tomorrow?";
const ASSISTANT_SAID = "You have a dentist appointment at three.";

const skip = missingTools();
if (skip) console.warn(`calls_browser_test skipped: ${skip}`);

function text(page: Page, selector: string): Promise<string> {
  return page.evaluate<string>(
    `document.querySelector(${JSON.stringify(selector)})?.textContent ?? ""`,
  );
}

Deno.test({
  name:
    "the /calls pages in a browser: sign-in refuses a wrong token, then list and transcript",
  ignore: skip !== undefined,
  async fn() {
    const artifacts = await artifactsDir("calls-browser");
    const shot = (name: string) => `${artifacts.path}/${name}.png`;
    // No PUBLIC_URL: the server's origin is the one the browser uses.
    const server = await startTestServer({ ADMIN_TOKEN, PUBLIC_URL: "" });
    let browser: Chromium | undefined;
    try {
      // A Twilio call with a transcript on both sides, then the caller hangs up.
      const webhook = signedWebhook(
        `${server.origin}/incoming-call`,
        CALL_PARAMS,
      );
      const answer = await fetch(`${server.origin}/incoming-call`, {
        method: "POST",
        headers: webhook.headers,
        body: await webhook.text(),
      });
      assert.equal(answer.status, 200);
      const twiml = await answer.text();
      // Twilio hands the TwiML's <Parameter>s to the stream's `start`.
      const caller = /<Parameter name="caller" value="([^"]*)"/.exec(twiml);
      assert.ok(caller, twiml);
      const edge = await server.connect(streamUrlOf(twiml), {
        customParameters: { caller: caller[1] },
      });
      const session = await server.realtime.nextSession();
      await session.waitFor("session.update");
      await edge.sendAudio(randomAudio(160 * 5));
      session.callerSaid(CALLER_SAID);
      const spoken = session.speak(randomAudio(8 * 300), {
        transcript: ASSISTANT_SAID,
      });
      assert.equal(await spoken.done, "completed");
      await edge.waitForPlayed(8 * 300, 3000);
      edge.sendStop();
      await session.closed;
      for (let i = 0; i < 40; i++) {
        const call = await server.app.journal.get(CALL_PARAMS.CallSid);
        if (call?.record.outcome && call.lines.length >= 2) break;
        await delay(50);
      }

      browser = await Chromium.launch();
      const page = await browser.newPage(PHONE);

      // Signed out: the login form, with a 401.
      await page.goto(`${server.origin}/calls`);
      assert.equal(await page.status(), 401);
      assert.equal(
        await page.evaluate("!!document.querySelector('input[name=token]')"),
        true,
      );
      assert.doesNotMatch(await text(page, "body"), /0123|dentist/);
      await assertReadableOnPhone(page, "sign-in page");
      await page.screenshot(shot("1-sign-in"));

      // A wrong token: an error, and still signed out.
      await page.type("input[name=token]", "not-the-admin-token-at-all");
      await page.navigation(() => page.click("button[type=submit]"));
      assert.equal(await page.status(), 401);
      assert.match(await text(page, "[role=alert]"), /not right/);
      assert.doesNotMatch(await text(page, "body"), /dentist/);
      await assertReadableOnPhone(page, "wrong-token page");
      await page.screenshot(shot("2-wrong-token"));
      await page.goto(`${server.origin}/calls`);
      assert.equal(await page.status(), 401, "a wrong token signs nobody in");

      // The right token: back to /calls, with the call and its masked caller.
      await page.type("input[name=token]", ADMIN_TOKEN);
      await page.navigation(() => page.click("button[type=submit]"));
      assert.equal(await page.status(), 200);
      assert.equal(await page.evaluate("location.pathname"), "/calls");
      const row = await text(page, "tbody tr");
      assert.match(row, /•••0123/);
      assert.ok(!row.includes(CALL_PARAMS.From), "the number is masked");
      assert.match(row, /caller hung up/);
      await assertReadableOnPhone(page, "call list");
      await page.screenshot(shot("3-calls"));

      // One call: both sides of the transcript.
      await page.navigation(() => page.click("tbody tr a"));
      assert.equal(await page.status(), 200);
      assert.equal(
        await page.evaluate("location.pathname"),
        `/calls/${CALL_PARAMS.CallSid}`,
      );
      assert.match(
        await text(page, ".line.caller"),
        new RegExp(CALLER_SAID.replace("?", "\\?")),
      );
      assert.match(
        await text(page, ".line.assistant"),
        new RegExp(ASSISTANT_SAID),
      );
      await assertReadableOnPhone(page, "call page");
      await page.screenshot(shot("4-call"));
      assert.deepEqual(page.errors, []);
    } finally {
      await browser?.close();
      await server.close();
      await artifacts.remove();
    }
  },
});
