/** The one check for "a JSON object": wire input is parsed as `unknown` and narrowed with it. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
