/** The one check for "a JSON object": wire input is parsed as `unknown` and narrowed with it. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A text frame parsed as a JSON object with a string `type`, as both voice APIs send their events. */
export type TypedEvent = Record<string, unknown> & { type: string };

export function parseTypedEvent(
  data: unknown,
): { ok: true; raw: TypedEvent } | { ok: false; reason: string } {
  if (typeof data !== "string") return { ok: false, reason: "binary frame" };
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, reason: "event is not JSON" };
  }
  if (!isRecord(raw) || typeof raw.type !== "string") {
    return { ok: false, reason: "event has no type" };
  }
  return { ok: true, raw: raw as TypedEvent };
}

/** A string field, or "" for anything else. */
export function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}
