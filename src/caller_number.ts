/** How a caller's number is shown wherever the whole number is not needed. */

/**
 * "+14155550123" → "•••0123": enough for the owner to recognise, not to
 * dial. Used by the /calls listing and by the logs.
 */
export function maskCaller(caller: string): string {
  return caller.length > 4 ? `•••${caller.slice(-4)}` : caller || "unknown";
}
