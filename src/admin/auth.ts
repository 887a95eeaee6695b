/**
 * The owner's access to /calls, /memory and /phone: `Authorization: Bearer
 * ADMIN_TOKEN` for scripts, or a session cookie set by logging in with the
 * token. A session is a random ID kept in Deno KV (as its SHA-256, so a KV
 * reader cannot sign in) with an expiry; logging out deletes it, so an old
 * cookie stops working everywhere.
 */

import { timingSafeEqual } from "../hmac.ts";

const SESSION_COOKIE = "assistant_admin";
/** How long a sign-in lasts. */
export const SESSION_TTL_MS = 30 * 86_400_000;
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

interface StoredSession {
  expiresAt: number;
}

export class AdminAuth {
  readonly #token: string;
  readonly #kv: Deno.Kv;
  readonly #now: () => number;

  constructor(adminToken: string, kv: Deno.Kv, now: () => number = Date.now) {
    this.#token = adminToken;
    this.#kv = kv;
    this.#now = now;
  }

  /** True when the request carries the token or a live session cookie. */
  async allows(request: Request): Promise<boolean> {
    const authorization = request.headers.get("authorization") ?? "";
    if (authorization.startsWith("Bearer ")) {
      return timingSafeEqual(authorization.slice(7).trim(), this.#token);
    }
    const id = sessionIdOf(request);
    if (id === undefined) return false;
    const session = await this.#kv.get<StoredSession>(await sessionKey(id));
    return session.value !== null && session.value.expiresAt > this.#now();
  }

  /** True when `candidate` is the admin token (the login form). */
  isToken(candidate: string): boolean {
    return timingSafeEqual(candidate, this.#token);
  }

  /** Starts a session; the Set-Cookie value that carries it. */
  async startSession(secure: boolean): Promise<string> {
    const id = crypto.getRandomValues(new Uint8Array(32)).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    });
    const session: StoredSession = { expiresAt: this.#now() + SESSION_TTL_MS };
    await this.#kv.set(await sessionKey(id), session, {
      expireIn: SESSION_TTL_MS,
    });
    return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${
      SESSION_TTL_MS / 1000
    }${secure ? "; Secure" : ""}`;
  }

  /** Deletes the request's session, if it has one. */
  async endSession(request: Request): Promise<void> {
    const id = sessionIdOf(request);
    if (id !== undefined) await this.#kv.delete(await sessionKey(id));
  }
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}

function sessionIdOf(request: Request): string | undefined {
  const id = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
  return id !== undefined && SESSION_ID.test(id) ? id : undefined;
}

async function sessionKey(id: string): Promise<Deno.KvKey> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(id),
  );
  return ["admin_sessions", new Uint8Array(digest).toHex()];
}

function readCookie(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}
