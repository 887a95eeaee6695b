/**
 * What every Twilio REST host the stand-ins play has in common
 * (api.twilio.com, serverless.twilio.com, serverless-upload.twilio.com):
 * HTTP Basic auth with the account SID and auth token, error bodies
 * `{code, message, more_info, status}`, resource SIDs, and a record of every
 * request as it arrived.
 *
 * @module
 */

export interface Credentials {
  accountSid: string;
  authToken: string;
}

/** A file part of a multipart body. */
export interface RecordedFile {
  field: string;
  filename: string;
  type: string;
  content: string;
}

/** What reached a stand-in, as sent. */
export interface RecordedRequest {
  /** Which Twilio host it was sent to. */
  host: "api" | "serverless" | "upload";
  method: string;
  path: string;
  /** The query string's parameters in order. */
  query: [string, string][];
  /** Lower-cased names. */
  headers: Record<string, string>;
  /** The form body (or multipart text fields) in order, repeated names kept. */
  params: [string, string][];
  /** Multipart file parts. */
  files: RecordedFile[];
  /** The raw body (empty for multipart: see `params` and `files`). */
  body: string;
}

export function twilioError(
  status: number,
  code: number,
  message: string,
): Response {
  return Response.json({
    code,
    message,
    more_info: `https://www.twilio.com/docs/errors/${code}`,
    status,
  }, { status });
}

/** Twilio's answer to a missing or wrong Authorization header. */
export function unauthenticated(): Response {
  return twilioError(401, 20003, "Authenticate");
}

export function notFound(path: string): Response {
  return twilioError(
    404,
    20404,
    `The requested resource ${path} was not found`,
  );
}

/** `prefix` and 32 hex digits, as Twilio's SIDs are. */
export function sid(prefix: string): string {
  return prefix + crypto.randomUUID().replaceAll("-", "");
}

/** True when the request carries Basic auth with exactly these credentials. */
export function authenticated(
  request: Request,
  credentials: Credentials,
): boolean {
  const header = request.headers.get("authorization") ?? "";
  if (!header.startsWith("Basic ")) return false;
  let decoded: string;
  try {
    decoded = new TextDecoder().decode(
      Uint8Array.fromBase64(header.slice(6).trim()),
    );
  } catch {
    return false;
  }
  const colon = decoded.indexOf(":");
  return colon > 0 && decoded.slice(0, colon) === credentials.accountSid &&
    decoded.slice(colon + 1) === credentials.authToken;
}

/** Reads a request once into its record: form fields, or multipart fields and files. */
export async function recordRequest(
  request: Request,
  host: RecordedRequest["host"],
): Promise<RecordedRequest> {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => headers[name] = value);
  const type = request.headers.get("content-type") ?? "";
  const record: RecordedRequest = {
    host,
    method: request.method,
    path: url.pathname,
    query: [...url.searchParams],
    headers,
    params: [],
    files: [],
    body: "",
  };
  if (/^multipart\/form-data\b/i.test(type)) {
    let form: FormData;
    try {
      form = await request.formData();
    } catch {
      return record;
    }
    for (const [field, value] of form) {
      if (typeof value === "string") record.params.push([field, value]);
      else {
        record.files.push({
          field,
          filename: value.name,
          type: value.type,
          content: await value.text(),
        });
      }
    }
    return record;
  }
  record.body = await request.text();
  if (/^application\/x-www-form-urlencoded\b/i.test(type)) {
    record.params = [...new URLSearchParams(record.body)];
  }
  return record;
}

/** ISO 8601 without milliseconds, as the Serverless API writes dates. */
export function iso8601(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** RFC 2822, as the 2010-04-01 API formats `date_created` and `Timestamp`. */
export function rfc2822(epochMs: number): string {
  return new Date(epochMs).toUTCString().replace("GMT", "+0000");
}
