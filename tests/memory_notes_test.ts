/** The owner's notes in Deno KV: idempotent, bounded, forgotten by description. */
import assert from "node:assert/strict";
import {
  MAX_NOTE_CHARS,
  MAX_NOTES,
  MAX_NOTES_CHARS,
} from "../src/memory/bounds.ts";
import { describes } from "../src/memory/matching.ts";
import { NoteStore } from "../src/memory/notes.ts";
import { forgetTool } from "../src/tools/forget.ts";
import { rememberTool } from "../src/tools/remember.ts";

const OWNER = { by: "owner" } as const;

async function withStore(
  run: (notes: NoteStore, tick: () => void) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  let now = 1_800_000_000_000;
  try {
    await run(new NoteStore(kv, () => now), () => now += 1000);
  } finally {
    kv.close();
  }
}

Deno.test("the same fact stored by parallel remember calls is kept once", async () => {
  await withStore(async (notes) => {
    const tool = rememberTool(notes);
    const outcomes = await Promise.all(
      [
        "My dentist is Dr. Lee, Tuesdays",
        "my dentist is dr. lee,  Tuesdays!",
        "My dentist is Dr. Lee, Tuesdays",
      ].map((fact) => tool.run({ fact }, { callSid: "CA1" })),
    );
    const kept = await notes.list();
    assert.equal(kept.length, 1);
    const fresh = outcomes.filter((o) => o.output.already_known === false);
    assert.equal(fresh.length, 1, "exactly one call stored it");
    // Whichever wording won, every call reports the one note kept.
    for (const { output } of outcomes) {
      assert.equal(output.ok, true);
      assert.equal(output.stored, kept[0].text);
    }
  });
});

Deno.test("remember tells the model what was stored, so it confirms in one sentence; a bad fact is refused", async () => {
  await withStore(async (notes) => {
    const tool = rememberTool(notes);
    const { output } = await tool.run(
      { fact: "  Parking is on level 3  " },
      { callSid: "CA1" },
    );
    assert.equal(output.stored, "Parking is on level 3");
    assert.match(String(output.instruction), /one short sentence/);
    const empty = await tool.run({ fact: " ?! " }, { callSid: "CA1" });
    assert.deepEqual(empty.output, { ok: false, error: "the note is empty" });
    const long = await tool.run(
      { fact: "x".repeat(MAX_NOTE_CHARS + 1) },
      { callSid: "CA1" },
    );
    assert.equal(long.output.ok, false);
    assert.equal((await notes.list()).length, 1);
  });
});

Deno.test(`notes keep the newest ${MAX_NOTES}: the oldest is dropped first and the tool says so`, async () => {
  await withStore(async (notes, tick) => {
    for (let i = 1; i <= MAX_NOTES; i++) {
      await notes.add(`fact number ${i}`, OWNER);
      tick();
    }
    const { output } = await rememberTool(notes).run(
      { fact: "fact number 51" },
      { callSid: "CA1" },
    );
    assert.deepEqual(output.forgot_oldest, ["fact number 1"]);
    const kept = await notes.list();
    assert.equal(kept.length, MAX_NOTES);
    assert.equal(kept[0].text, "fact number 51");
    assert.equal(kept.at(-1)?.text, "fact number 2");
  });
});

Deno.test(`notes keep at most ${MAX_NOTES_CHARS} characters in all, oldest dropped first`, async () => {
  await withStore(async (notes, tick) => {
    // 9 notes of 250 characters: 2 250 characters, over the bound.
    for (let i = 1; i <= 9; i++) {
      await notes.add(`${i} `.padEnd(250, "x"), OWNER);
      tick();
    }
    const kept = await notes.list();
    const total = kept.reduce((n, note) => n + note.text.length, 0);
    assert.equal(kept.length, 8);
    assert.ok(total <= MAX_NOTES_CHARS, `${total} characters`);
    assert.ok(kept.every((note) => !note.text.startsWith("1 ")));
  });
});

Deno.test("forget removes every note the description names, says which, and says so when none matches", async () => {
  await withStore(async (notes, tick) => {
    for (
      const text of [
        "My dentist is Dr. Lee, Tuesdays",
        "The dentist's parking is behind the clinic",
        "Anna's birthday is 3 May",
      ]
    ) {
      await notes.add(text, OWNER);
      tick();
    }
    const tool = forgetTool(notes);
    const { output } = await tool.run(
      { description: "the dentist stuff" },
      { callSid: "CA1" },
    );
    assert.deepEqual(output.forgotten, [
      "The dentist's parking is behind the clinic",
      "My dentist is Dr. Lee, Tuesdays",
    ]);
    assert.deepEqual((await notes.list()).map((n) => n.text), [
      "Anna's birthday is 3 May",
    ]);
    const none = await tool.run({ description: "my gym" }, { callSid: "CA1" });
    assert.deepEqual(none.output.forgotten, []);
    assert.match(String(none.output.instruction), /No kept note matches/);
    assert.equal((await notes.list()).length, 1);
  });
});

Deno.test("describes(): case-insensitive substring or every meaningful word, never filler alone", () => {
  const note = "My dentist is Dr. Lee, Tuesdays";
  assert.ok(describes("DR. LEE", note));
  assert.ok(describes("forget about my dentist", note));
  assert.ok(describes("lee tuesday", note));
  assert.ok(!describes("dentist wednesday", note));
  assert.ok(!describes("the thing about my", note));
  assert.ok(!describes("", note));
});
