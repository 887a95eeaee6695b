/**
 * The owner's access to /calls and /phone: `Authorization: Bearer
 * ADMIN_TOKEN` for scripts, or a session cookie set by logging in with the
 * token. The cookie holds an HMAC derived from the token, never the token.
 */

import { deriveBytes, timingSafeEqual } from "../hmac.ts";

const SESSION_COOKIE = "assistant_admin";

export class AdminAuth {
  readonly #token: string;
  readonly #session: string;

  private constructor(token: string, session: string) {
    this.#token = token;
    this.#session = session;
  }

  static async create(adminToken: string): Promise<AdminAuth> {
    const session = await deriveBytes(adminToken, "admin-session/v1");
    return new AdminAuth(
      adminToken,
      session.toBase64({ alphabet: "base64url", omitPadding: true }),
    );
  }

  /** True when the request carries the token or a valid session cookie. */
  allows(request: Request): boolean {
    const authorization = request.headers.get("authorization") ?? "";
    if (authorization.startsWith("Bearer ")) {
      return timingSafeEqual(authorization.slice(7).trim(), this.#token);
    }
    const cookie = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
    return cookie !== undefined && timingSafeEqual(cookie, this.#session);
  }

  /** True when `candidate` is the admin token (the login form). */
  isToken(candidate: string): boolean {
    return timingSafeEqual(candidate, this.#token);
  }

  sessionCookie(secure: boolean): string {
    return `${SESSION_COOKIE}=${this.#session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000${
      secure ? "; Secure" : ""
    }`;
  }
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}

function readCookie(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}
