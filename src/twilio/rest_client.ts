/**
 * A small client for the two Twilio REST resources this server uses: Calls
 * (place a call) and Messages (send a text). Form-encoded POSTs with HTTP
 * Basic auth (account SID : auth token), as Twilio's own `twilio` npm client
 * sends them (tests/twilio_rest_client_test.ts compares the two on the wire).
 *
 * Only numbers `recipients` allows are ever sent: anything else is refused
 * here, before any request leaves the server. The auth token and the
 * Authorization header never appear in an error or a log line.
 */

import { isRecord } from "../json.ts";
import { readLimitedText } from "../http/responses.ts";

export interface TwilioRestOptions {
  accountSid: string;
  authToken: string;
  /** "https://api.twilio.com", or a local stand-in. */
  baseUrl: string;
  /**
   * The last check before Twilio: only these numbers are ever dialled or
   * texted. `find` gives the number as Twilio wants it (E.164), or undefined.
   */
  recipients: { find(number: string): string | undefined };
  timeoutMs?: number;
}

/** Call progress events Twilio may post to StatusCallback. */
export type CallEvent = "initiated" | "ringing" | "answered" | "completed";

export interface CallRequest {
  to: string;
  from: string;
  /** TwiML is fetched from here (POST, signed) once the call is answered. */
  url: string;
  statusCallback: string;
  statusCallbackEvents: readonly CallEvent[];
  machineDetection: "Enable" | "DetectMessageEnd";
  /**
   * Asynchronous AMD (`AsyncAmd=true`): the answered call runs its TwiML at
   * once, and the verdict (AnsweredBy) is posted here later. Without it
   * Twilio holds the answered call in silence until detection ends.
   */
  asyncAmdStatusCallback?: string;
}

export interface MessageRequest {
  to: string;
  from: string;
  body: string;
}

/** The fields of Twilio's answer this server reads. */
export interface CallResource {
  sid: string;
  status: string;
}

export interface MessageResource {
  sid: string;
  status: string;
}

/** Twilio answered with an error: its JSON `{code, message, more_info, status}`. */
export class TwilioApiError extends Error {
  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** Twilio's error code (https://www.twilio.com/docs/api/errors), when it gave one. */
    readonly code: number | undefined,
    readonly twilioMessage: string,
    readonly moreInfo: string | undefined,
  ) {
    super(
      `Twilio refused the request: HTTP ${status}${
        code === undefined ? "" : `, error ${code}`
      }: ${twilioMessage}${moreInfo ? ` (${moreInfo})` : ""}`,
    );
    this.name = "TwilioApiError";
  }

  /** A server error or rate limit may pass; a refused request will not. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 429;
  }
}

/** The request never got an answer (network, timeout): it may or may not have been placed. */
export class TwilioUnreachableError extends Error {
  constructor(cause: string) {
    super(`Twilio could not be reached: ${cause}`);
    this.name = "TwilioUnreachableError";
  }
}

/** A number that is not the owner's: nothing was sent to Twilio. */
export class RecipientRefusedError extends Error {
  constructor() {
    super("refused: only the owner's numbers (OWNER_NUMBERS) may be called");
    this.name = "RecipientRefusedError";
  }
}

const CALL_SID = /^CA[0-9a-f]{32}$/;
const MESSAGE_SID = /^(SM|MM)[0-9a-f]{32}$/;
/** Twilio's answers are a few KB; an error page could be larger. */
const MAX_ANSWER_BYTES = 64 * 1024;

export class TwilioRestClient {
  readonly #options: TwilioRestOptions;
  readonly #authorization: string;

  constructor(options: TwilioRestOptions) {
    this.#options = options;
    this.#authorization = basicAuthorization(
      options.accountSid,
      options.authToken,
    );
  }

  /** `POST /2010-04-01/Accounts/{sid}/Calls.json`: 201 with the call's `sid`. */
  async createCall(call: CallRequest): Promise<CallResource> {
    const to = this.#recipient(call.to);
    const form = new URLSearchParams();
    form.append("To", to);
    form.append("From", call.from);
    form.append("StatusCallback", call.statusCallback);
    // Repeated, as twilio-node sends a list (qs arrayFormat "repeat").
    for (const event of call.statusCallbackEvents) {
      form.append("StatusCallbackEvent", event);
    }
    form.append("MachineDetection", call.machineDetection);
    if (call.asyncAmdStatusCallback !== undefined) {
      form.append("AsyncAmd", "true");
      form.append("AsyncAmdStatusCallback", call.asyncAmdStatusCallback);
      form.append("AsyncAmdStatusCallbackMethod", "POST");
    }
    form.append("Url", call.url);
    const body = await this.#post("Calls.json", form);
    return resource(body, CALL_SID, "call");
  }

  /** `POST /2010-04-01/Accounts/{sid}/Messages.json`: 201 with the message's `sid`. */
  async sendMessage(message: MessageRequest): Promise<MessageResource> {
    const to = this.#recipient(message.to);
    const form = new URLSearchParams();
    form.append("To", to);
    form.append("From", message.from);
    form.append("Body", message.body);
    const body = await this.#post("Messages.json", form);
    return resource(body, MESSAGE_SID, "message");
  }

  #recipient(number: string): string {
    const to = this.#options.recipients.find(number);
    if (to === undefined) throw new RecipientRefusedError();
    return to;
  }

  async #post(resourceFile: string, form: URLSearchParams): Promise<unknown> {
    const { baseUrl, accountSid } = this.#options;
    const url = `${baseUrl}/2010-04-01/Accounts/${
      encodeURIComponent(accountSid)
    }/${resourceFile}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: {
          authorization: this.#authorization,
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: form.toString(),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      // The error's name only: a message could quote the request.
      throw new TwilioUnreachableError(
        error instanceof Error ? error.name : "unknown error",
      );
    }
    const text = await readLimitedText(response, MAX_ANSWER_BYTES) ?? "";
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) throw apiError(response.status, body);
    return body;
  }
}

/** HTTP Basic auth with the account SID and auth token, as Twilio's REST hosts take it. */
export function basicAuthorization(
  accountSid: string,
  authToken: string,
): string {
  return `Basic ${
    new TextEncoder().encode(`${accountSid}:${authToken}`).toBase64()
  }`;
}

/** Twilio's error answer, read from its JSON body `{code, message, more_info}`. */
export function apiError(status: number, body: unknown): TwilioApiError {
  if (!isRecord(body)) {
    return new TwilioApiError(status, undefined, "no error body", undefined);
  }
  return new TwilioApiError(
    status,
    typeof body.code === "number" ? body.code : undefined,
    typeof body.message === "string" ? body.message : "no message",
    typeof body.more_info === "string" ? body.more_info : undefined,
  );
}

/** Twilio's 201 body, read at the edge: the sid must look like one. */
function resource(
  body: unknown,
  sid: RegExp,
  what: string,
): { sid: string; status: string } {
  if (
    !isRecord(body) || typeof body.sid !== "string" || !sid.test(body.sid) ||
    typeof body.status !== "string"
  ) {
    throw new TwilioApiError(
      201,
      undefined,
      `the ${what} Twilio returned has no valid sid`,
      undefined,
    );
  }
  return { sid: body.sid, status: body.status };
}
