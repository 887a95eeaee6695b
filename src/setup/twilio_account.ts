/**
 * The Twilio REST resources `deno task setup` and `deno task doctor` use:
 * the Account and IncomingPhoneNumbers on api.twilio.com, and Twilio
 * Functions through the Serverless API (serverless.twilio.com, with function
 * code uploaded to serverless-upload.twilio.com as multipart). Requests are
 * shaped as twilio-node's serverless resources and Twilio's serverless-api
 * client send them (tests/setup_test.ts holds them to twilio-node on the
 * wire). Answers are read at the edge into the few fields used.
 *
 * The auth token never appears in an error: errors carry Twilio's status,
 * code and message only.
 */

import { isRecord } from "../json.ts";
import { readLimitedText } from "../http/responses.ts";
import {
  apiError,
  basicAuthorization,
  TwilioApiError,
  TwilioUnreachableError,
} from "../twilio/rest_client.ts";

/** The origins of Twilio's three REST hosts (local stand-ins in tests). */
export interface TwilioHosts {
  api: string;
  serverless: string;
  upload: string;
}

export const TWILIO_HOSTS: TwilioHosts = {
  api: "https://api.twilio.com",
  serverless: "https://serverless.twilio.com",
  upload: "https://serverless-upload.twilio.com",
};

/** Variables naming stand-ins for Twilio's hosts (tests); Twilio's own when unset. */
export const TWILIO_HOST_VARIABLES = {
  api: "TWILIO_API_URL",
  serverless: "TWILIO_SERVERLESS_URL",
  upload: "TWILIO_SERVERLESS_UPLOAD_URL",
} as const;

export function twilioHosts(
  read: (name: string) => string | undefined,
): TwilioHosts {
  return {
    api: read(TWILIO_HOST_VARIABLES.api) || TWILIO_HOSTS.api,
    serverless: read(TWILIO_HOST_VARIABLES.serverless) ||
      TWILIO_HOSTS.serverless,
    upload: read(TWILIO_HOST_VARIABLES.upload) || TWILIO_HOSTS.upload,
  };
}

export interface TwilioAccountOptions {
  accountSid: string;
  authToken: string;
  hosts: TwilioHosts;
  /** Bound on one request. */
  timeoutMs?: number;
}

export interface AccountResource {
  sid: string;
  status: string;
  type: string;
}

export interface NumberResource {
  sid: string;
  phoneNumber: string;
  voiceUrl: string;
  voiceMethod: string;
  voiceApplicationSid: string | null;
}

export interface ServiceResource {
  sid: string;
  uniqueName: string;
}

export interface EnvironmentResource {
  sid: string;
  uniqueName: string;
  domainName: string;
  buildSid: string | null;
}

export interface VariableResource {
  sid: string;
  key: string;
  value: string;
}

export interface FunctionResource {
  sid: string;
  friendlyName: string;
}

export interface BuildResource {
  sid: string;
  status: string;
  functionVersions: {
    sid: string;
    functionSid: string;
    path: string;
    visibility: string;
  }[];
}

export type Visibility = "public" | "protected" | "private";

/** Twilio's answers are a few KB; a function's content is small too. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** A runaway next-page link must not loop forever. */
const MAX_PAGES = 50;

export class TwilioAccount {
  readonly #options: TwilioAccountOptions;
  readonly #authorization: string;

  constructor(options: TwilioAccountOptions) {
    this.#options = options;
    this.#authorization = basicAuthorization(
      options.accountSid,
      options.authToken,
    );
  }

  // ---- api.twilio.com ----

  /** `GET /2010-04-01/Accounts/{AC}.json`: proves the credentials. */
  async account(): Promise<AccountResource> {
    const body = await this.#request("GET", this.#accountUrl(".json"));
    return {
      sid: text(body, "sid"),
      status: text(body, "status"),
      type: text(body, "type"),
    };
  }

  /** The account's numbers matching `phoneNumber` (E.164), every page. */
  async numbers(phoneNumber: string): Promise<NumberResource[]> {
    const query = new URLSearchParams({ PhoneNumber: phoneNumber });
    const first = this.#accountUrl(`/IncomingPhoneNumbers.json?${query}`);
    const numbers: NumberResource[] = [];
    let url: string | undefined = first;
    for (let page = 0; url !== undefined && page < MAX_PAGES; page++) {
      const body = await this.#request("GET", url);
      numbers.push(...list(body, "incoming_phone_numbers").map(numberOf));
      const next = body.next_page_uri;
      url = typeof next === "string" && next !== ""
        ? `${this.#options.hosts.api}${next}`
        : undefined;
    }
    return numbers;
  }

  /** `POST …/IncomingPhoneNumbers/{PN}.json`: where the number's calls go. */
  async setVoiceUrl(
    numberSid: string,
    voiceUrl: string,
    clearApplication: boolean,
  ): Promise<NumberResource> {
    const form = new URLSearchParams();
    // A voice application on the number would win over VoiceUrl.
    if (clearApplication) form.append("VoiceApplicationSid", "");
    form.append("VoiceMethod", "POST");
    form.append("VoiceUrl", voiceUrl);
    const body = await this.#request(
      "POST",
      this.#accountUrl(`/IncomingPhoneNumbers/${path(numberSid)}.json`),
      form,
    );
    return numberOf(body);
  }

  // ---- serverless.twilio.com ----

  async services(): Promise<ServiceResource[]> {
    return (await this.#list("/Services", "services")).map((body) => ({
      sid: text(body, "sid"),
      uniqueName: text(body, "unique_name"),
    }));
  }

  async createService(
    uniqueName: string,
    friendlyName: string,
  ): Promise<ServiceResource> {
    const form = new URLSearchParams();
    // The allowlist needs no credentials in its context.
    form.append("IncludeCredentials", "false");
    form.append("FriendlyName", friendlyName);
    form.append("UniqueName", uniqueName);
    // Visible (and editable) in the Console's Functions editor.
    form.append("UiEditable", "true");
    const body = await this.#serverless("POST", "/Services", form);
    return { sid: text(body, "sid"), uniqueName: text(body, "unique_name") };
  }

  async environments(serviceSid: string): Promise<EnvironmentResource[]> {
    return (await this.#list(
      `/Services/${path(serviceSid)}/Environments`,
      "environments",
    ))
      .map(environmentOf);
  }

  async createEnvironment(
    serviceSid: string,
    uniqueName: string,
  ): Promise<EnvironmentResource> {
    const form = new URLSearchParams({ UniqueName: uniqueName });
    return environmentOf(
      await this.#serverless(
        "POST",
        `/Services/${path(serviceSid)}/Environments`,
        form,
      ),
    );
  }

  async variables(
    serviceSid: string,
    environmentSid: string,
  ): Promise<VariableResource[]> {
    return (await this.#list(
      this.#variablesPath(serviceSid, environmentSid),
      "variables",
    ))
      .map(variableOf);
  }

  async createVariable(
    serviceSid: string,
    environmentSid: string,
    key: string,
    value: string,
  ): Promise<VariableResource> {
    const form = new URLSearchParams({ Key: key, Value: value });
    return variableOf(
      await this.#serverless(
        "POST",
        this.#variablesPath(serviceSid, environmentSid),
        form,
      ),
    );
  }

  async updateVariable(
    serviceSid: string,
    environmentSid: string,
    variableSid: string,
    key: string,
    value: string,
  ): Promise<VariableResource> {
    const form = new URLSearchParams({ Key: key, Value: value });
    return variableOf(
      await this.#serverless(
        "POST",
        `${this.#variablesPath(serviceSid, environmentSid)}/${
          path(variableSid)
        }`,
        form,
      ),
    );
  }

  async functions(serviceSid: string): Promise<FunctionResource[]> {
    return (await this.#list(
      `/Services/${path(serviceSid)}/Functions`,
      "functions",
    ))
      .map((body) => ({
        sid: text(body, "sid"),
        friendlyName: text(body, "friendly_name"),
      }));
  }

  async createFunction(
    serviceSid: string,
    friendlyName: string,
  ): Promise<FunctionResource> {
    const form = new URLSearchParams({ FriendlyName: friendlyName });
    const body = await this.#serverless(
      "POST",
      `/Services/${path(serviceSid)}/Functions`,
      form,
    );
    return {
      sid: text(body, "sid"),
      friendlyName: text(body, "friendly_name"),
    };
  }

  /** The code of one function version, as deployed. */
  async functionContent(
    serviceSid: string,
    functionSid: string,
    versionSid: string,
  ): Promise<string> {
    const body = await this.#serverless(
      "GET",
      `/Services/${path(serviceSid)}/Functions/${path(functionSid)}/Versions/${
        path(versionSid)
      }/Content`,
    );
    return text(body, "content");
  }

  /**
   * A new function version: multipart to the upload host, as Twilio's
   * serverless-api client sends it (`Path`, `Visibility`, the file as `Content`).
   */
  async uploadFunction(
    serviceSid: string,
    functionSid: string,
    version: {
      path: string;
      visibility: Visibility;
      content: string;
      filename: string;
    },
  ): Promise<{ sid: string; path: string }> {
    const form = new FormData();
    form.append("Path", version.path);
    form.append("Visibility", version.visibility);
    form.append(
      "Content",
      new Blob([version.content], { type: "application/javascript" }),
      version.filename,
    );
    const body = await this.#request(
      "POST",
      `${this.#options.hosts.upload}/v1/Services/${
        path(serviceSid)
      }/Functions/${path(functionSid)}/Versions`,
      form,
    );
    return { sid: text(body, "sid"), path: text(body, "path") };
  }

  async build(serviceSid: string, buildSid: string): Promise<BuildResource> {
    return buildOf(
      await this.#serverless(
        "GET",
        `/Services/${path(serviceSid)}/Builds/${path(buildSid)}`,
      ),
    );
  }

  async buildStatus(serviceSid: string, buildSid: string): Promise<string> {
    const body = await this.#serverless(
      "GET",
      `/Services/${path(serviceSid)}/Builds/${path(buildSid)}/Status`,
    );
    return text(body, "status");
  }

  /** A build of these function versions, with Twilio's default dependencies. */
  async createBuild(
    serviceSid: string,
    functionVersions: string[],
  ): Promise<BuildResource> {
    const form = new URLSearchParams();
    // Repeated, as twilio-node sends a list.
    for (const version of functionVersions) {
      form.append("FunctionVersions", version);
    }
    return buildOf(
      await this.#serverless(
        "POST",
        `/Services/${path(serviceSid)}/Builds`,
        form,
      ),
    );
  }

  async createDeployment(
    serviceSid: string,
    environmentSid: string,
    buildSid: string,
  ): Promise<{ sid: string; buildSid: string }> {
    const form = new URLSearchParams({ BuildSid: buildSid });
    const body = await this.#serverless(
      "POST",
      `/Services/${path(serviceSid)}/Environments/${
        path(environmentSid)
      }/Deployments`,
      form,
    );
    return { sid: text(body, "sid"), buildSid: text(body, "build_sid") };
  }

  // ---- the wire ----

  #accountUrl(rest: string): string {
    return `${this.#options.hosts.api}/2010-04-01/Accounts/${
      path(this.#options.accountSid)
    }${rest}`;
  }

  #variablesPath(serviceSid: string, environmentSid: string): string {
    return `/Services/${path(serviceSid)}/Environments/${
      path(environmentSid)
    }/Variables`;
  }

  #serverless(
    method: "GET" | "POST",
    resourcePath: string,
    form?: URLSearchParams,
  ): Promise<Record<string, unknown>> {
    return this.#request(
      method,
      `${this.#options.hosts.serverless}/v1${resourcePath}`,
      form,
    );
  }

  /** Every page of a Serverless list, following `meta.next_page_url`. */
  async #list(
    resourcePath: string,
    key: string,
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let url: string | undefined =
      `${this.#options.hosts.serverless}/v1${resourcePath}`;
    for (let page = 0; url !== undefined && page < MAX_PAGES; page++) {
      const body = await this.#request("GET", url);
      items.push(...list(body, key));
      const next = isRecord(body.meta) ? body.meta.next_page_url : undefined;
      url = typeof next === "string" && next !== ""
        ? this.#sameHost(next)
        : undefined;
    }
    return items;
  }

  /** Twilio's next-page links name its public host: keep to the configured one. */
  #sameHost(link: string): string {
    const next = new URL(link);
    return `${this.#options.hosts.serverless}${next.pathname}${next.search}`;
  }

  async #request(
    method: "GET" | "POST",
    url: string,
    body?: URLSearchParams | FormData,
  ): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = {
      authorization: this.#authorization,
      accept: "application/json",
    };
    // FormData sets its own multipart type with the boundary.
    if (body instanceof URLSearchParams) {
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body instanceof URLSearchParams ? body.toString() : body,
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      // The error's name only: a message could quote the request.
      throw new TwilioUnreachableError(
        error instanceof Deno.errors.NotCapable
          ? "not allowed by --allow-net"
          : error instanceof Error
          ? error.name
          : "unknown error",
      );
    }
    const answer = await readLimitedText(response, MAX_ANSWER_BYTES) ?? "";
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) throw apiError(response.status, parsed);
    if (!isRecord(parsed)) {
      throw new TwilioApiError(
        response.status,
        undefined,
        "the answer is not a JSON object",
        undefined,
      );
    }
    return parsed;
  }
}

/** A path segment: SIDs are plain, but a configured value must not change the path. */
function path(segment: string): string {
  return encodeURIComponent(segment);
}

function text(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value !== "string") {
    throw new TwilioApiError(
      200,
      undefined,
      `the answer has no ${key}`,
      undefined,
    );
  }
  return value;
}

function optionalText(
  body: Record<string, unknown>,
  key: string,
): string | null {
  const value = body[key];
  return typeof value === "string" && value !== "" ? value : null;
}

function list(
  body: Record<string, unknown>,
  key: string,
): Record<string, unknown>[] {
  const items = body[key];
  if (!Array.isArray(items)) {
    throw new TwilioApiError(
      200,
      undefined,
      `the answer has no ${key} list`,
      undefined,
    );
  }
  return items.filter(isRecord);
}

function numberOf(body: Record<string, unknown>): NumberResource {
  return {
    sid: text(body, "sid"),
    phoneNumber: text(body, "phone_number"),
    voiceUrl: optionalText(body, "voice_url") ?? "",
    voiceMethod: optionalText(body, "voice_method") ?? "POST",
    voiceApplicationSid: optionalText(body, "voice_application_sid"),
  };
}

function environmentOf(body: Record<string, unknown>): EnvironmentResource {
  return {
    sid: text(body, "sid"),
    uniqueName: text(body, "unique_name"),
    domainName: text(body, "domain_name"),
    buildSid: optionalText(body, "build_sid"),
  };
}

function variableOf(body: Record<string, unknown>): VariableResource {
  return {
    sid: text(body, "sid"),
    key: text(body, "key"),
    value: text(body, "value"),
  };
}

function buildOf(body: Record<string, unknown>): BuildResource {
  const versions = Array.isArray(body.function_versions)
    ? body.function_versions
    : [];
  return {
    sid: text(body, "sid"),
    status: text(body, "status"),
    functionVersions: versions.filter(isRecord).map((version) => ({
      sid: text(version, "sid"),
      functionSid: text(version, "function_sid"),
      path: text(version, "path"),
      visibility: text(version, "visibility"),
    })),
  };
}
