/** Where a plain (unencrypted) URL may point: this machine only. */

export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

/**
 * Keys travel in headers: ws:// or http:// only to a server on this machine
 * (a local stand-in), never across a network.
 */
export function plainOnlyToLoopback(
  name: string,
  raw: string,
  problems: string[],
): void {
  const url = new URL(raw);
  if (url.protocol !== "ws:" && url.protocol !== "http:") return;
  if (LOOPBACK_HOSTS.includes(url.hostname)) return;
  const secure = url.protocol === "ws:" ? "wss://" : "https://";
  problems.push(
    `${name} must start with ${secure} (${url.protocol}// only for a server on this machine: localhost, 127.0.0.1 or [::1])`,
  );
}
