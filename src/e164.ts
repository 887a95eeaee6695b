/** Phone numbers in E.164, the form Twilio dials and the owner's list uses. */

/** "+" then 2 to 15 digits, no leading zero: ITU-T E.164 as Twilio wants it. */
const E164 = /^\+[1-9]\d{1,14}$/;

/**
 * "+1 (415) 555-0123" → "+14155550123"; undefined when what is left is not
 * E.164. Spaces, dashes, dots and parentheses are ignored, as the Twilio
 * Function's allowlist does, so one list can be pasted in both places.
 */
export function normalizeE164(raw: string): string | undefined {
  const compact = raw.replace(/[\s\-.()]/g, "");
  return E164.test(compact) ? compact : undefined;
}
