/** The browser softphone page and its audio worklet (written by the softphone work). */

export function phonePage(): string {
  return "<!doctype html><title>Phone</title>";
}

export function phoneWorklet(): string {
  return "";
}
