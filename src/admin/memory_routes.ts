/**
 * The owner's view of the assistant's memory (behind ADMIN_TOKEN, like
 * /calls): /memory with its forms, and the JSON API beside it.
 */

import type { Config } from "../config.ts";
import {
  privateHtml,
  privateJson,
  readLimitedText,
} from "../http/responses.ts";
import type { Handler } from "../http/router.ts";
import { isRecord } from "../json.ts";
import type { Logger } from "../log.ts";
import type { Memory } from "../memory/memory.ts";
import { memoryPage } from "./memory_page.ts";

export interface MemoryRouteOptions {
  config: Config;
  logger: Logger;
  memory: Memory | undefined;
}

/** A note is at most a few hundred characters; a form or body far larger is refused. */
const MAX_BODY_BYTES = 4096;

const MEMORY_OFF = "memory is off (MEMORY=false)";

export function memoryHandlers(options: MemoryRouteOptions) {
  const { config, logger, memory } = options;

  const view = async (error?: string) =>
    memoryPage({
      enabled: memory !== undefined,
      memoryDays: config.memory.days,
      notes: memory ? await memory.notes.list() : [],
      calls: memory ? await memory.summaries.recent() : [],
      error,
      timeZone: config.assistant.timeZone,
    });

  /**
   * The memory to change, or the refusal shared by every change: memory off
   * (the owner guard has refused other sites already).
   */
  const changeable = (kind: "html" | "json"): Memory | Response => {
    if (!memory) {
      return kind === "json"
        ? privateJson({ error: MEMORY_OFF }, 409)
        : privateHtml("<!doctype html><p>Memory is off.</p>", 409);
    }
    return memory;
  };

  /** Back to /memory after a form: a reload does not post it again. */
  const backToMemory = () =>
    new Response(null, {
      status: 303,
      headers: { location: "/memory", "cache-control": "no-store" },
    });

  const memoryPageHandler: Handler = async () => privateHtml(await view());

  const addNoteForm: Handler = async (request) => {
    const target = changeable("html");
    if (target instanceof Response) return target;
    const body = await readLimitedText(request, MAX_BODY_BYTES);
    const text = new URLSearchParams(body ?? "").get("text") ?? "";
    const result = body === undefined
      ? { ok: false as const, error: "That note is too long." }
      : await target.notes.add(text, { by: "owner" });
    if (!result.ok) {
      return privateHtml(await view(capitalise(result.error)), 400);
    }
    logger.log("info", "memory.note_added", { via: "page" });
    return backToMemory();
  };

  const deleteNoteForm: Handler = async (request, match) => {
    const target = changeable("html");
    if (target instanceof Response) return target;
    await request.body?.cancel();
    await target.notes.remove(match.pathname.groups.id ?? "");
    logger.log("info", "memory.note_deleted", { via: "page" });
    return backToMemory();
  };

  const deleteSummaryForm: Handler = async (request, match) => {
    const target = changeable("html");
    if (target instanceof Response) return target;
    await request.body?.cancel();
    await target.summaries.remove(match.pathname.groups.id ?? "");
    logger.log("info", "memory.summary_deleted", { via: "page" });
    return backToMemory();
  };

  const memoryJson: Handler = async () =>
    privateJson({
      enabled: memory !== undefined,
      memoryDays: config.memory.days,
      notes: memory ? await memory.notes.list() : [],
      summaries: memory ? await memory.summaries.recent() : [],
    });

  const addNoteJson: Handler = async (request) => {
    const target = changeable("json");
    if (target instanceof Response) return target;
    const body = await readLimitedText(request, MAX_BODY_BYTES);
    if (body === undefined) {
      return privateJson({ error: "body too large" }, 413);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return privateJson({ error: "body is not JSON" }, 400);
    }
    if (!isRecord(parsed) || typeof parsed.text !== "string") {
      return privateJson({ error: 'expected {"text": "..."}' }, 400);
    }
    const result = await target.notes.add(parsed.text, { by: "owner" });
    if (!result.ok) return privateJson({ error: result.error }, 400);
    logger.log("info", "memory.note_added", { via: "api" });
    return privateJson(
      {
        note: result.note,
        added: result.added,
        dropped: result.dropped,
      },
      result.added ? 201 : 200,
    );
  };

  const deleteNoteJson: Handler = async (_request, match) => {
    const target = changeable("json");
    if (target instanceof Response) return target;
    const note = await target.notes.remove(match.pathname.groups.id ?? "");
    if (!note) return privateJson({ error: "not found" }, 404);
    logger.log("info", "memory.note_deleted", { via: "api" });
    return privateJson({ deleted: note });
  };

  const deleteSummaryJson: Handler = async (_request, match) => {
    const target = changeable("json");
    if (target instanceof Response) return target;
    const removed = await target.summaries.remove(
      match.pathname.groups.id ?? "",
    );
    if (!removed) return privateJson({ error: "not found" }, 404);
    logger.log("info", "memory.summary_deleted", { via: "api" });
    return privateJson({ deleted: match.pathname.groups.id });
  };

  return {
    memoryPage: memoryPageHandler,
    addNoteForm,
    deleteNoteForm,
    deleteSummaryForm,
    memoryJson,
    addNoteJson,
    deleteNoteJson,
    deleteSummaryJson,
  };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1) + ".";
}
