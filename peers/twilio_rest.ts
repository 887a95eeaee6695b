/**
 * A local stand-in for Twilio's REST API, on the hosts Twilio serves it from:
 *
 * - `api.twilio.com` (`url`): the Calls and Messages resources
 *   (`POST /2010-04-01/Accounts/{AccountSid}/Calls.json` and `Messages.json`)
 *   and what Twilio does with a call once placed; the Account
 *   (`GET /2010-04-01/Accounts/{AccountSid}.json`); IncomingPhoneNumbers
 *   (`GET …/IncomingPhoneNumbers.json?PhoneNumber=…`, a paged list, and
 *   `POST …/IncomingPhoneNumbers/{PN}.json` with `VoiceUrl`, `VoiceMethod`).
 * - `serverless.twilio.com` and `serverless-upload.twilio.com`
 *   (`serverlessUrl`, `uploadUrl`): Twilio Functions and their deployment,
 *   in ./twilio_serverless.ts.
 *
 * Requests: form-encoded, HTTP Basic auth (account SID : auth token) checked,
 * parameters validated as Twilio does (To, From, Url, MachineDetection,
 * StatusCallbackEvent, Body, VoiceMethod), answers with the resource's JSON
 * (`sid` `CA…`/`SM…`, `status` `queued` and the other fields Twilio returns)
 * or an error JSON `{code, message, more_info, status}`.
 *
 * Calls: nothing happens until a test says what the callee does. `answer()`
 * posts the call progress events the call subscribed to (initiated,
 * ringing, answered), then fetches the TwiML from `Url` (POST, signed with
 * X-Twilio-Signature like any webhook, with `AnsweredBy` as synchronous
 * answering machine detection gives it) and acts on it: `<Connect><Stream>`
 * opens a media stream (a TwilioEdge) and, when the server closes it,
 * follows the `<Redirect>`; `<Say>` is recorded; `<Hangup/>` ends the call.
 * The final status (`completed`, `no-answer`, `busy`, `failed`) goes to
 * `StatusCallback`, signed. Webhooks addressed to the server's public URL
 * are delivered to the local server given to `forward()`.
 *
 * @module
 */
import twilio from "twilio";
import { TwilioEdge } from "./twilio_edge.ts";
import { unescapeXml } from "./twilio_requests.ts";
import {
  authenticated,
  notFound,
  type RecordedRequest,
  recordRequest,
  rfc2822,
  sid,
  twilioError,
  unauthenticated,
} from "./twilio_api.ts";
import { TwilioServerless } from "./twilio_serverless.ts";

export type { RecordedFile, RecordedRequest } from "./twilio_api.ts";

export interface TwilioRestOptions {
  accountSid: string;
  authToken: string;
  /**
   * The account's own numbers: a `From` outside them is refused (21210), and
   * they are the account's IncomingPhoneNumbers. Unset: any `From`, no numbers.
   */
  incomingNumbers?: string[];
  /** Items per page of a list when the client asks for no PageSize (Twilio: 50). */
  pageSize?: number;
  /** Status polls a Serverless Build answers `building` before `completed`. */
  buildPolls?: number;
}

/** One of the account's numbers, as IncomingPhoneNumbers holds it. */
export interface SimNumber {
  sid: string;
  phoneNumber: string;
  voiceUrl: string;
  voiceMethod: string;
  voiceApplicationSid: string | null;
  created: number;
}

export type AnsweredBy =
  | "human"
  | "unknown"
  | "machine_start"
  | "machine_end_beep"
  | "machine_end_silence"
  | "machine_end_other"
  | "fax";

export interface SimCall {
  sid: string;
  to: string;
  from: string;
  url: string;
  method: string;
  statusCallback: string | undefined;
  statusCallbackEvents: string[];
  machineDetection: string | undefined;
  status: string;
  createdAt: number;
  /** The JSON the 201 carried. */
  resource: Record<string, unknown>;
}

export interface SimMessage {
  sid: string;
  to: string;
  from: string;
  body: string;
  createdAt: number;
  resource: Record<string, unknown>;
}

/** A webhook the stand-in sent to the server, and the answer. */
export interface SentWebhook {
  url: string;
  params: Record<string, string>;
  status: number;
  body: string;
}

export interface AnsweredCall {
  /** The TwiML request's HTTP status and body. */
  status: number;
  twiml: string;
  /** The media stream, when the TwiML connected one. */
  stream: TwilioEdge | undefined;
  /** Every <Say> Twilio read out on this call, in order. */
  said: string[];
  /** Resolves once the call is over and its final status callback sent. */
  ended: Promise<void>;
}

const API_VERSION = "2010-04-01";
const E164 = /^\+[1-9]\d{1,14}$/;
const CALL_EVENTS = new Set(["initiated", "ringing", "answered", "completed"]);
const FINAL = new Set(["completed", "busy", "no-answer", "failed", "canceled"]);

export class TwilioRest {
  readonly url: string;
  readonly requests: RecordedRequest[] = [];
  readonly calls: SimCall[] = [];
  readonly messages: SimMessage[] = [];
  readonly webhooks: SentWebhook[] = [];
  /** The account's IncomingPhoneNumbers; tests may change them. */
  readonly numbers: SimNumber[];
  /** Twilio Functions: services, environments, builds, deployments. */
  readonly serverless: TwilioServerless;
  /** `https://serverless.twilio.com` stands for this origin. */
  readonly serverlessUrl: string;
  /** `https://serverless-upload.twilio.com` stands for this origin. */
  readonly uploadUrl: string;
  readonly #options: TwilioRestOptions;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #forwards = new Map<string, string>();
  readonly #failures: {
    resource: "Calls" | "Messages";
    status: number;
    code: number;
    message: string;
  }[] = [];
  readonly #waiters: (() => void)[] = [];
  readonly #edges = new Set<TwilioEdge>();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #sequence = new Map<string, number>();
  /** Calls whose callee hung up: Twilio does not go on with their TwiML. */
  readonly #hungUp = new Set<string>();

  private constructor(options: TwilioRestOptions) {
    this.#options = options;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => this.#handle(request),
    );
    this.url = `http://127.0.0.1:${this.#server.addr.port}`;
    this.numbers = (options.incomingNumbers ?? []).map((phoneNumber) => ({
      sid: sid("PN"),
      phoneNumber,
      voiceUrl: "",
      voiceMethod: "POST",
      voiceApplicationSid: null,
      created: Date.now(),
    }));
    this.serverless = new TwilioServerless(options, this.requests);
    this.serverlessUrl = this.serverless.url;
    this.uploadUrl = this.serverless.uploadUrl;
  }

  static start(options: TwilioRestOptions): Promise<TwilioRest> {
    return Promise.resolve(new TwilioRest(options));
  }

  /** Webhooks addressed to `publicOrigin` are delivered to `localOrigin`. */
  forward(publicOrigin: string, localOrigin: string): void {
    this.#forwards.set(publicOrigin, localOrigin);
  }

  /** The next create on `resource` fails with this Twilio error. */
  failNext(
    resource: "Calls" | "Messages",
    error: { status: number; code: number; message: string },
  ): void {
    this.#failures.push({ resource, ...error });
  }

  /** Resolves with the `n`-th call created (1-based), waiting for it. */
  call(n: number, timeoutMs = 5000): Promise<SimCall> {
    return this.#waitFor(() => this.calls[n - 1], timeoutMs, `call ${n}`);
  }

  /** Resolves with the `n`-th message sent (1-based), waiting for it. */
  message(n: number, timeoutMs = 5000): Promise<SimMessage> {
    return this.#waitFor(
      () => this.messages[n - 1],
      timeoutMs,
      `message ${n}`,
    );
  }

  /**
   * The callee picks up (a person, or a machine by AMD's verdict): progress
   * events, the TwiML request, then what the TwiML says.
   */
  async answer(
    callSid: string,
    answeredBy: AnsweredBy = "human",
  ): Promise<AnsweredCall> {
    const call = this.#find(callSid);
    await this.#progress(call, "initiated");
    await this.#progress(call, "ringing");
    await this.#progress(call, "in-progress", "answered", {
      AnsweredBy: answeredBy,
    });
    const response = await this.#webhook(call.url, {
      ...this.#callParams(call),
      CallStatus: "in-progress",
      AnsweredBy: answeredBy,
      MachineDetectionDuration: "3150",
    });
    const said: string[] = [];
    const answered = Date.now();
    const finish = async () => {
      await this.#final(call, "completed", {
        AnsweredBy: answeredBy,
        CallDuration: String(Math.round((Date.now() - answered) / 1000)),
      });
    };
    if (response.status !== 200) {
      // Twilio reads its "application error" message and hangs up.
      const ended = this.#track(finish());
      const { status, body } = response;
      return { status, twiml: body, stream: undefined, said, ended };
    }
    said.push(...sayings(response.body));
    const stream = streamOf(response.body);
    if (!stream) {
      const ended = this.#track(finish());
      const twiml = response.body;
      return { status: 200, twiml, stream: undefined, said, ended };
    }
    const edge = await TwilioEdge.connect({
      url: this.#local(stream.url).replace(/^http/, "ws"),
      signedUrl: stream.url,
      authToken: this.#options.authToken,
      callSid: call.sid,
      accountSid: this.#options.accountSid,
      customParameters: stream.parameters,
    });
    this.#edges.add(edge);
    const ended = this.#track((async () => {
      await edge.closed;
      this.#edges.delete(edge);
      // The server closed the stream with the call still up: Twilio goes on
      // with the TwiML after </Connect>. A callee who hung up ends it here.
      const redirect = redirectOf(response.body);
      if (redirect && !this.#hungUp.has(call.sid)) {
        const next = await this.#webhook(redirect, {
          ...this.#callParams(call),
          CallStatus: "in-progress",
        });
        said.push(...sayings(next.body));
      }
      await finish();
    })());
    return { status: 200, twiml: response.body, stream: edge, said, ended };
  }

  /** The callee hangs up a connected call: `stop` on the stream, then it ends. */
  hangUp(callSid: string, edge: TwilioEdge): void {
    this.#hungUp.add(callSid);
    edge.sendStop();
  }

  /** Nobody picks up (or the line is busy, or the call fails): the final status only. */
  async unanswered(
    callSid: string,
    status: "no-answer" | "busy" | "failed",
  ): Promise<void> {
    const call = this.#find(callSid);
    await this.#progress(call, "initiated");
    if (status !== "failed") await this.#progress(call, "ringing");
    await this.#final(call, status, { CallDuration: "0" });
  }

  async close(): Promise<void> {
    for (const edge of this.#edges) edge.close();
    await Promise.all([...this.#edges].map((edge) => edge.closed));
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    await this.#server.shutdown();
    await this.serverless.close();
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    promise.finally(() => this.#pending.delete(promise)).catch(() => {});
    return promise;
  }

  #find(callSid: string): SimCall {
    const call = this.calls.find((c) => c.sid === callSid);
    if (!call) throw new Error(`no call ${callSid}`);
    return call;
  }

  async #waitFor<T>(
    get: () => T | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let value = get();; value = get()) {
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.push(done);
      });
    }
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  // ---- webhooks to the server ----

  #local(url: string): string {
    for (const [publicOrigin, local] of this.#forwards) {
      const wsOrigin = publicOrigin.replace(/^http/, "ws");
      if (url.startsWith(publicOrigin)) {
        return local + url.slice(publicOrigin.length);
      }
      if (url.startsWith(wsOrigin)) {
        return local + url.slice(wsOrigin.length);
      }
    }
    return url;
  }

  /** POSTs a form webhook signed as Twilio signs it (npm:twilio is the oracle). */
  async #webhook(
    url: string,
    params: Record<string, string>,
  ): Promise<{ status: number; body: string }> {
    const signature = twilio.getExpectedTwilioSignature(
      this.#options.authToken,
      url,
      params,
    );
    const response = await fetch(this.#local(url), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": signature,
        "user-agent": "TwilioProxy/1.1",
      },
      body: new URLSearchParams(params).toString(),
    });
    const body = await response.text();
    this.webhooks.push({ url, params, status: response.status, body });
    return { status: response.status, body };
  }

  #callParams(call: SimCall): Record<string, string> {
    return {
      AccountSid: this.#options.accountSid,
      ApiVersion: API_VERSION,
      CallSid: call.sid,
      Called: call.to,
      Caller: call.from,
      Direction: "outbound-api",
      From: call.from,
      To: call.to,
    };
  }

  /** A progress event, if the call subscribed to it. */
  async #progress(
    call: SimCall,
    status: string,
    event = status,
    extra: Record<string, string> = {},
  ): Promise<void> {
    call.status = status;
    if (!call.statusCallback || !call.statusCallbackEvents.includes(event)) {
      return;
    }
    await this.#statusCallback(call, status, extra);
  }

  /** The final status: sent whenever there is a StatusCallback. */
  async #final(
    call: SimCall,
    status: string,
    extra: Record<string, string>,
  ): Promise<void> {
    if (FINAL.has(call.status)) return;
    call.status = status;
    if (call.statusCallback) await this.#statusCallback(call, status, extra);
  }

  async #statusCallback(
    call: SimCall,
    status: string,
    extra: Record<string, string>,
  ): Promise<void> {
    const sequence = this.#sequence.get(call.sid) ?? 0;
    this.#sequence.set(call.sid, sequence + 1);
    await this.#webhook(call.statusCallback!, {
      ...this.#callParams(call),
      CallStatus: status,
      CallbackSource: "call-progress-events",
      SequenceNumber: String(sequence),
      Timestamp: rfc2822(Date.now()),
      ...extra,
    });
  }

  // ---- the REST API ----

  async #handle(request: Request): Promise<Response> {
    const record = await recordRequest(request, "api");
    this.requests.push(record);
    const url = new URL(request.url);
    const match =
      /^\/2010-04-01\/Accounts\/([^/.]+)(?:\/(Calls|Messages|IncomingPhoneNumbers)(?:\/(PN[0-9a-f]{32}))?)?\.json$/
        .exec(url.pathname);
    if (!match) return notFound(url.pathname);
    const [, account, resource, numberSid] = match;
    if (!authenticated(request, this.#options)) return unauthenticated();
    if (account !== this.#options.accountSid) return notFound(url.pathname);
    if (resource === undefined) {
      return request.method === "GET"
        ? Response.json(this.#account())
        : twilioError(405, 20004, "Method not allowed");
    }
    if (resource === "IncomingPhoneNumbers") {
      return this.#incomingNumbers(request, url, numberSid, record);
    }
    if (numberSid !== undefined) return notFound(url.pathname);
    if (request.method !== "POST") {
      return twilioError(405, 20004, "Method not allowed");
    }
    const failure = this.#failures.findIndex((f) => f.resource === resource);
    if (failure >= 0) {
      const [f] = this.#failures.splice(failure, 1);
      return twilioError(f.status, f.code, f.message);
    }
    const params = new URLSearchParams(record.params);
    const response = resource === "Calls"
      ? this.#createCall(params)
      : this.#createMessage(params);
    this.#wake();
    return response;
  }

  #account(): Record<string, unknown> {
    const account = this.#options.accountSid;
    return {
      auth_token: "[Redacted]",
      date_created: rfc2822(0),
      date_updated: rfc2822(0),
      friendly_name: "My first Twilio account",
      owner_account_sid: account,
      sid: account,
      status: "active",
      subresource_uris: {
        incoming_phone_numbers:
          `/2010-04-01/Accounts/${account}/IncomingPhoneNumbers.json`,
        calls: `/2010-04-01/Accounts/${account}/Calls.json`,
        messages: `/2010-04-01/Accounts/${account}/Messages.json`,
      },
      type: "Full",
      uri: `/2010-04-01/Accounts/${account}.json`,
    };
  }

  /** The list (filtered by PhoneNumber, `*` any digit), one number, or its update. */
  #incomingNumbers(
    request: Request,
    url: URL,
    numberSid: string | undefined,
    record: RecordedRequest,
  ): Response {
    const base = `/2010-04-01/Accounts/${this.#options.accountSid}`;
    if (numberSid === undefined) {
      if (request.method !== "GET") {
        return twilioError(405, 20004, "Method not allowed");
      }
      const filter = url.searchParams.get("PhoneNumber");
      const pattern = filter === null ? undefined : new RegExp(
        filter.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", "\\d"),
      );
      const matching = this.numbers.filter((n) =>
        pattern === undefined || pattern.test(n.phoneNumber)
      );
      const pageSize = Number(
        url.searchParams.get("PageSize") ?? this.#options.pageSize ?? 50,
      );
      const page = Number(url.searchParams.get("Page") ?? 0);
      const start = page * pageSize;
      const items = matching.slice(start, start + pageSize);
      const pageUri = (n: number) => {
        const query = new URLSearchParams(url.searchParams);
        query.set("PageSize", String(pageSize));
        query.set("Page", String(n));
        return `${base}/IncomingPhoneNumbers.json?${query}`;
      };
      return Response.json({
        end: start + Math.max(items.length - 1, 0),
        first_page_uri: pageUri(0),
        incoming_phone_numbers: items.map((n) => this.#numberJson(n)),
        next_page_uri: start + pageSize < matching.length
          ? pageUri(page + 1)
          : null,
        page,
        page_size: pageSize,
        previous_page_uri: page > 0 ? pageUri(page - 1) : null,
        start,
        uri: pageUri(page),
      });
    }
    const number = this.numbers.find((n) => n.sid === numberSid);
    if (!number) return notFound(url.pathname);
    if (request.method === "GET") {
      return Response.json(this.#numberJson(number));
    }
    if (request.method !== "POST") {
      return twilioError(405, 20004, "Method not allowed");
    }
    const form = new URLSearchParams(record.params);
    const voiceUrl = form.get("VoiceUrl");
    const voiceMethod = form.get("VoiceMethod");
    if (voiceUrl !== null && voiceUrl !== "" && !URL.canParse(voiceUrl)) {
      return twilioError(400, 21502, `VoiceUrl is not valid: ${voiceUrl}`);
    }
    if (voiceMethod !== null && !["GET", "POST"].includes(voiceMethod)) {
      return twilioError(400, 21502, "VoiceMethod must be GET or POST");
    }
    if (voiceUrl !== null) number.voiceUrl = voiceUrl;
    if (voiceMethod !== null) number.voiceMethod = voiceMethod;
    if (form.has("VoiceApplicationSid")) {
      number.voiceApplicationSid = form.get("VoiceApplicationSid") || null;
    }
    return Response.json(this.#numberJson(number));
  }

  #numberJson(number: SimNumber): Record<string, unknown> {
    const account = this.#options.accountSid;
    const uri =
      `/2010-04-01/Accounts/${account}/IncomingPhoneNumbers/${number.sid}.json`;
    return {
      account_sid: account,
      address_requirements: "none",
      api_version: "2010-04-01",
      beta: false,
      capabilities: { fax: false, mms: true, sms: true, voice: true },
      date_created: rfc2822(number.created),
      date_updated: rfc2822(Date.now()),
      emergency_status: "Inactive",
      friendly_name: number.phoneNumber,
      origin: "twilio",
      phone_number: number.phoneNumber,
      sid: number.sid,
      sms_method: "POST",
      sms_url: "",
      status: "in-use",
      status_callback: "",
      status_callback_method: "POST",
      trunk_sid: null,
      uri,
      voice_application_sid: number.voiceApplicationSid,
      voice_caller_id_lookup: false,
      voice_fallback_method: "POST",
      voice_fallback_url: null,
      voice_method: number.voiceMethod,
      voice_receive_mode: "voice",
      voice_url: number.voiceUrl,
    };
  }

  #checkFrom(from: string | null): Response | undefined {
    if (!from) return twilioError(400, 21213, "No 'From' number is specified");
    const owned = this.#options.incomingNumbers;
    if (!E164.test(from) || (owned && !owned.includes(from))) {
      return twilioError(
        400,
        21210,
        `The source phone number provided, ${from}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio.`,
      );
    }
    return undefined;
  }

  #createCall(params: URLSearchParams): Response {
    const to = params.get("To");
    const from = params.get("From");
    const url = params.get("Url");
    if (!to) return twilioError(400, 21201, "No 'To' number is specified");
    if (!E164.test(to)) {
      return twilioError(400, 21211, `Invalid 'To' Phone Number: ${to}`);
    }
    const fromProblem = this.#checkFrom(from);
    if (fromProblem) return fromProblem;
    if (!url && !params.get("Twiml") && !params.get("ApplicationSid")) {
      return twilioError(
        400,
        21205,
        "Url parameter is required. Please provide a Url, Twiml or ApplicationSid.",
      );
    }
    if (url && !/^https?:\/\//.test(url)) {
      return twilioError(400, 21205, `Url is not a valid URL: ${url}`);
    }
    const machineDetection = params.get("MachineDetection") ?? undefined;
    if (
      machineDetection !== undefined &&
      !["Enable", "DetectMessageEnd"].includes(machineDetection)
    ) {
      return twilioError(
        400,
        21626,
        "MachineDetection must be Enable or DetectMessageEnd",
      );
    }
    const events = params.getAll("StatusCallbackEvent").flatMap((e) =>
      e.split(" ")
    ).filter(Boolean);
    if (events.some((event) => !CALL_EVENTS.has(event))) {
      return twilioError(
        400,
        21626,
        `StatusCallbackEvent must be among ${[...CALL_EVENTS].join(", ")}`,
      );
    }
    const callSid = sid("CA");
    const now = Date.now();
    const uri =
      `/2010-04-01/Accounts/${this.#options.accountSid}/Calls/${callSid}.json`;
    const resource: Record<string, unknown> = {
      account_sid: this.#options.accountSid,
      annotation: null,
      answered_by: null,
      api_version: API_VERSION,
      caller_name: null,
      date_created: rfc2822(now),
      date_updated: rfc2822(now),
      direction: "outbound-api",
      duration: null,
      end_time: null,
      forwarded_from: null,
      from: from!,
      from_formatted: from!,
      group_sid: null,
      parent_call_sid: null,
      phone_number_sid: sid("PN"),
      price: null,
      price_unit: "USD",
      queue_time: "0",
      sid: callSid,
      start_time: null,
      status: "queued",
      subresource_uris: {
        notifications: uri.replace(".json", "/Notifications.json"),
        recordings: uri.replace(".json", "/Recordings.json"),
        payments: uri.replace(".json", "/Payments.json"),
        events: uri.replace(".json", "/Events.json"),
        siprec: uri.replace(".json", "/Siprec.json"),
        streams: uri.replace(".json", "/Streams.json"),
        transcriptions: uri.replace(".json", "/Transcriptions.json"),
        user_defined_message_subscriptions: uri.replace(
          ".json",
          "/UserDefinedMessageSubscriptions.json",
        ),
        user_defined_messages: uri.replace(
          ".json",
          "/UserDefinedMessages.json",
        ),
      },
      to,
      to_formatted: to,
      trunk_sid: null,
      uri,
    };
    this.calls.push({
      sid: callSid,
      to,
      from: from!,
      url: url ?? "",
      method: params.get("Method") ?? "POST",
      statusCallback: params.get("StatusCallback") ?? undefined,
      statusCallbackEvents: events.length > 0 ? events : ["completed"],
      machineDetection,
      status: "queued",
      createdAt: now,
      resource,
    });
    return Response.json(resource, { status: 201 });
  }

  #createMessage(params: URLSearchParams): Response {
    const to = params.get("To");
    const from = params.get("From");
    const body = params.get("Body");
    if (!to) {
      return twilioError(400, 21604, "A 'To' phone number is required.");
    }
    if (!E164.test(to)) {
      return twilioError(
        400,
        21211,
        `The 'To' number ${to} is not a valid phone number.`,
      );
    }
    if (!from) {
      return twilioError(400, 21603, "A 'From' phone number is required.");
    }
    const fromProblem = this.#checkFrom(from);
    if (fromProblem) return fromProblem;
    if (!body) return twilioError(400, 21602, "Message body is required.");
    if (body.length > 1600) {
      return twilioError(
        400,
        21617,
        "The concatenated message body exceeds the 1600 character limit.",
      );
    }
    const messageSid = sid("SM");
    const now = Date.now();
    const uri =
      `/2010-04-01/Accounts/${this.#options.accountSid}/Messages/${messageSid}.json`;
    const resource: Record<string, unknown> = {
      account_sid: this.#options.accountSid,
      api_version: API_VERSION,
      body,
      date_created: rfc2822(now),
      date_sent: null,
      date_updated: rfc2822(now),
      direction: "outbound-api",
      error_code: null,
      error_message: null,
      from,
      messaging_service_sid: null,
      num_media: "0",
      num_segments: String(Math.ceil(body.length / 153)),
      price: null,
      price_unit: "USD",
      sid: messageSid,
      status: "queued",
      subresource_uris: {
        media: uri.replace(".json", "/Media.json"),
        feedback: uri.replace(".json", "/Feedback.json"),
      },
      to,
      uri,
    };
    this.messages.push({
      sid: messageSid,
      to,
      from,
      body,
      createdAt: now,
      resource,
    });
    return Response.json(resource, { status: 201 });
  }
}

// ---- reading TwiML as Twilio does (only the verbs this server answers with) ----

function sayings(twiml: string): string[] {
  return [...twiml.matchAll(/<Say(?:\s[^>]*)?>([^<]*)<\/Say>/g)].map((m) =>
    unescapeXml(m[1])
  );
}

function streamOf(
  twiml: string,
): { url: string; parameters: Record<string, string> } | undefined {
  const match = /<Connect><Stream url="([^"]+)">(.*?)<\/Stream><\/Connect>/
    .exec(twiml);
  if (!match) return undefined;
  const parameters: Record<string, string> = {};
  for (
    const [, name, value] of match[2].matchAll(
      /<Parameter name="([^"]*)" value="([^"]*)"\/>/g,
    )
  ) {
    parameters[unescapeXml(name)] = unescapeXml(value);
  }
  return { url: unescapeXml(match[1]), parameters };
}

function redirectOf(twiml: string): string | undefined {
  const match = /<Redirect(?:\s[^>]*)?>([^<]+)<\/Redirect>/.exec(twiml);
  return match ? unescapeXml(match[1]) : undefined;
}
