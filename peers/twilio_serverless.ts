/**
 * A local stand-in for Twilio's Serverless API (Functions and their
 * deployment), on two hosts as Twilio has them:
 *
 * - `serverless.twilio.com/v1`: Services, Environments (with `domain_name`
 *   `….twil.io`), Variables, Functions, Function Versions (read, and their
 *   Content), Builds (with their Status) and Deployments. Form-encoded
 *   writes; paged lists `{<key>: [...], meta: {next_page_url, key, …}}`.
 * - `serverless-upload.twilio.com/v1`: creating a Function Version, the one
 *   write that carries code, as `multipart/form-data` with `Path`,
 *   `Visibility` and the file in `Content`. The main host does not take it.
 *
 * Every request needs Basic auth (401 `20003` otherwise); an unknown SID is
 * a 404 `20404`; errors are Twilio's JSON `{code, message, more_info,
 * status}`. A Build starts `building` and is `completed` once its status has
 * been polled `buildPolls` times; a Deployment of a completed Build becomes
 * its Environment's `build_sid`. Variables take effect at once, as Twilio
 * documents, with no new deployment.
 *
 * @module
 */
import {
  authenticated,
  type Credentials,
  iso8601,
  notFound,
  type RecordedRequest,
  recordRequest,
  sid,
  twilioError,
  unauthenticated,
} from "./twilio_api.ts";

export interface ServerlessOptions extends Credentials {
  /** Items per page of a list when the client asks for no PageSize (Twilio: 50). */
  pageSize?: number;
  /** Status polls a Build answers `building` before `completed`. */
  buildPolls?: number;
}

export interface SimVariable {
  sid: string;
  key: string;
  value: string;
}

export interface SimFunctionVersion {
  sid: string;
  functionSid: string;
  path: string;
  visibility: string;
  content: string;
  filename: string;
  contentType: string;
  created: number;
}

export interface SimFunction {
  sid: string;
  friendlyName: string;
  versions: SimFunctionVersion[];
  created: number;
}

export interface SimBuild {
  sid: string;
  functionVersions: string[];
  dependencies: { name: string; version: string }[];
  runtime: string;
  status: "building" | "completed" | "failed";
  polls: number;
  /** The test asked this build to fail. */
  fails: boolean;
  created: number;
}

export interface SimEnvironment {
  sid: string;
  uniqueName: string;
  domainSuffix: string | null;
  domainName: string;
  buildSid: string | null;
  variables: SimVariable[];
  deployments: { sid: string; buildSid: string; created: number }[];
  created: number;
}

export interface SimService {
  sid: string;
  accountSid: string;
  uniqueName: string;
  friendlyName: string;
  includeCredentials: boolean;
  uiEditable: boolean;
  domainBase: string;
  environments: SimEnvironment[];
  functions: SimFunction[];
  builds: SimBuild[];
  created: number;
}

const VISIBILITIES = new Set(["public", "protected", "private"]);
/** The default dependencies every Build carries (Twilio's docs). */
const DEFAULT_DEPENDENCIES = [
  { name: "twilio", version: "5.0.3" },
  { name: "@twilio/runtime-handler", version: "2.0.1" },
];
const DEFAULT_RUNTIME = "node22";
const VARIABLE_VALUE_BYTES = 450;

type Handler = (
  request: Request,
  record: RecordedRequest,
  match: Record<string, string>,
) => Response;

export class TwilioServerless {
  /** `https://serverless.twilio.com` stands for this origin. */
  readonly url: string;
  /** `https://serverless-upload.twilio.com` stands for this origin. */
  readonly uploadUrl: string;
  readonly services: SimService[] = [];
  readonly #options: ServerlessOptions;
  readonly #requests: RecordedRequest[];
  readonly #servers: Deno.HttpServer<Deno.NetAddr>[];
  readonly #failures: { status: number; code: number; message: string }[] = [];
  #failNextBuild = false;
  readonly #routes: [URLPattern, Record<string, Handler>][];

  constructor(options: ServerlessOptions, requests: RecordedRequest[]) {
    this.#options = options;
    this.#requests = requests;
    const main = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => this.#handle(request, "serverless"),
    );
    const upload = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => this.#handle(request, "upload"),
    );
    this.#servers = [main, upload];
    this.url = `http://127.0.0.1:${main.addr.port}`;
    this.uploadUrl = `http://127.0.0.1:${upload.addr.port}`;
    const route = (path: string, handlers: Record<string, Handler>) =>
      [new URLPattern({ pathname: `/v1${path}` }), handlers] as [
        URLPattern,
        Record<string, Handler>,
      ];
    this.#routes = [
      route("/Services", {
        GET: (r) => this.#list(r, "services", this.services.map(serviceJson)),
        POST: (_, rec) => this.#createService(rec),
      }),
      route("/Services/:zs", {
        GET: (_, __, m) => Response.json(serviceJson(this.#service(m))),
      }),
      route("/Services/:zs/Environments", {
        GET: (r, _, m) => {
          const service = this.#service(m);
          return this.#list(
            r,
            "environments",
            service.environments.map((e) => environmentJson(service, e)),
          );
        },
        POST: (_, rec, m) => this.#createEnvironment(this.#service(m), rec),
      }),
      route("/Services/:zs/Environments/:ze", {
        GET: (_, __, m) => {
          const service = this.#service(m);
          return Response.json(
            environmentJson(service, this.#environment(service, m)),
          );
        },
      }),
      route("/Services/:zs/Environments/:ze/Variables", {
        GET: (r, _, m) => {
          const service = this.#service(m);
          const environment = this.#environment(service, m);
          return this.#list(
            r,
            "variables",
            environment.variables.map((v) =>
              variableJson(service, environment, v)
            ),
          );
        },
        POST: (_, rec, m) => {
          const service = this.#service(m);
          return this.#createVariable(
            service,
            this.#environment(service, m),
            rec,
          );
        },
      }),
      route("/Services/:zs/Environments/:ze/Variables/:zv", {
        GET: (_, __, m) => {
          const service = this.#service(m);
          const environment = this.#environment(service, m);
          return Response.json(
            variableJson(service, environment, this.#variable(environment, m)),
          );
        },
        POST: (_, rec, m) => {
          const service = this.#service(m);
          const environment = this.#environment(service, m);
          return this.#updateVariable(
            service,
            environment,
            this.#variable(environment, m),
            rec,
          );
        },
      }),
      route("/Services/:zs/Environments/:ze/Deployments", {
        GET: (r, _, m) => {
          const service = this.#service(m);
          const environment = this.#environment(service, m);
          return this.#list(
            r,
            "deployments",
            environment.deployments.map((d) =>
              deploymentJson(service, environment, d)
            ),
          );
        },
        POST: (_, rec, m) => {
          const service = this.#service(m);
          return this.#createDeployment(
            service,
            this.#environment(service, m),
            rec,
          );
        },
      }),
      route("/Services/:zs/Functions", {
        GET: (r, _, m) => {
          const service = this.#service(m);
          return this.#list(
            r,
            "functions",
            service.functions.map((f) => functionJson(service, f)),
          );
        },
        POST: (_, rec, m) => this.#createFunction(this.#service(m), rec),
      }),
      route("/Services/:zs/Functions/:zh", {
        GET: (_, __, m) => {
          const service = this.#service(m);
          return Response.json(
            functionJson(service, this.#function(service, m)),
          );
        },
      }),
      route("/Services/:zs/Functions/:zh/Versions", {
        GET: (r, _, m) => {
          const service = this.#service(m);
          return this.#list(
            r,
            "function_versions",
            this.#function(service, m).versions.map((v) =>
              versionJson(service, v)
            ),
          );
        },
        POST: (r, rec, m) => this.#uploadVersion(r, rec, m),
      }),
      route("/Services/:zs/Functions/:zh/Versions/:zn", {
        GET: (_, __, m) => {
          const service = this.#service(m);
          return Response.json(
            versionJson(service, this.#version(service, m)),
          );
        },
      }),
      route("/Services/:zs/Functions/:zh/Versions/:zn/Content", {
        GET: (_, __, m) => {
          const service = this.#service(m);
          const version = this.#version(service, m);
          return Response.json({
            sid: version.sid,
            account_sid: this.#options.accountSid,
            service_sid: service.sid,
            function_sid: version.functionSid,
            content: version.content,
            url:
              `https://serverless.twilio.com/v1/Services/${service.sid}/Functions/${version.functionSid}/Versions/${version.sid}/Content`,
          });
        },
      }),
      route("/Services/:zs/Builds", {
        GET: (r, _, m) => {
          const service = this.#service(m);
          return this.#list(
            r,
            "builds",
            service.builds.map((b) => this.#buildJson(service, b)),
          );
        },
        POST: (_, rec, m) => this.#createBuild(this.#service(m), rec),
      }),
      route("/Services/:zs/Builds/:zb", {
        GET: (_, __, m) => {
          const service = this.#service(m);
          return Response.json(
            this.#buildJson(service, this.#build(service, m)),
          );
        },
      }),
      route("/Services/:zs/Builds/:zb/Status", {
        GET: (_, __, m) => {
          const service = this.#service(m);
          const build = this.#build(service, m);
          if (build.status === "building") {
            build.polls += 1;
            if (build.polls > (this.#options.buildPolls ?? 1)) {
              build.status = build.fails ? "failed" : "completed";
            }
          }
          return Response.json({
            sid: build.sid,
            account_sid: this.#options.accountSid,
            service_sid: service.sid,
            status: build.status,
            url:
              `https://serverless.twilio.com/v1/Services/${service.sid}/Builds/${build.sid}/Status`,
          });
        },
      }),
    ];
  }

  /** The next request to either host fails with this Twilio error (e.g. a 503). */
  failNext(error: { status: number; code: number; message: string }): void {
    this.#failures.push(error);
  }

  /** The next Build created ends `failed`. */
  failNextBuild(): void {
    this.#failNextBuild = true;
  }

  /** The code live at `path` in the service's environment, as deployed. */
  deployed(
    uniqueName: string,
    path: string,
  ):
    | { environment: SimEnvironment; version: SimFunctionVersion }
    | undefined {
    const service = this.services.find((s) => s.uniqueName === uniqueName);
    for (const environment of service?.environments ?? []) {
      const build = service!.builds.find((b) => b.sid === environment.buildSid);
      for (const versionSid of build?.functionVersions ?? []) {
        const version = service!.functions.flatMap((f) => f.versions).find(
          (v) => v.sid === versionSid,
        );
        if (version?.path === path) return { environment, version };
      }
    }
    return undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.map((server) => server.shutdown()));
  }

  async #handle(
    request: Request,
    host: "serverless" | "upload",
  ): Promise<Response> {
    const record = await recordRequest(request, host);
    this.#requests.push(record);
    const url = new URL(request.url);
    if (!authenticated(request, this.#options)) return unauthenticated();
    const failure = this.#failures.shift();
    if (failure) {
      return twilioError(failure.status, failure.code, failure.message);
    }
    for (const [pattern, handlers] of this.#routes) {
      const match = pattern.exec(url);
      if (!match) continue;
      const isUpload = pattern.pathname.endsWith("/Versions") &&
        request.method === "POST";
      // Code goes to the upload host only, and the upload host takes nothing else.
      if (isUpload !== (host === "upload")) return notFound(url.pathname);
      const handler = handlers[request.method];
      if (!handler) return twilioError(405, 20004, "Method not allowed");
      try {
        return handler(
          request,
          record,
          match.pathname.groups as Record<string, string>,
        );
      } catch (error) {
        if (error instanceof Response) return error;
        throw error;
      }
    }
    return notFound(url.pathname);
  }

  /** A paged list as the Serverless API answers it, honouring PageSize and Page. */
  #list(request: Request, key: string, items: unknown[]): Response {
    const url = new URL(request.url);
    const pageSize = Number(
      url.searchParams.get("PageSize") ?? this.#options.pageSize ?? 50,
    );
    const page = Number(url.searchParams.get("Page") ?? 0);
    const start = page * pageSize;
    const pageUrl = (n: number) =>
      `${url.origin}${url.pathname}?PageSize=${pageSize}&Page=${n}`;
    return Response.json({
      [key]: items.slice(start, start + pageSize),
      meta: {
        page,
        page_size: pageSize,
        first_page_url: pageUrl(0),
        previous_page_url: page > 0 ? pageUrl(page - 1) : null,
        url: pageUrl(page),
        next_page_url: start + pageSize < items.length
          ? pageUrl(page + 1)
          : null,
        key,
      },
    });
  }

  #service(match: Record<string, string>): SimService {
    const service = this.services.find((s) =>
      s.sid === match.zs || s.uniqueName === match.zs
    );
    if (!service) throw notFound(`/Services/${match.zs}`);
    return service;
  }

  #environment(
    service: SimService,
    match: Record<string, string>,
  ): SimEnvironment {
    const environment = service.environments.find((e) =>
      e.sid === match.ze || e.uniqueName === match.ze
    );
    if (!environment) {
      throw notFound(`/Services/${service.sid}/Environments/${match.ze}`);
    }
    return environment;
  }

  #variable(
    environment: SimEnvironment,
    match: Record<string, string>,
  ): SimVariable {
    const variable = environment.variables.find((v) => v.sid === match.zv);
    if (!variable) throw notFound(`/Variables/${match.zv}`);
    return variable;
  }

  #function(service: SimService, match: Record<string, string>): SimFunction {
    const fn = service.functions.find((f) => f.sid === match.zh);
    if (!fn) throw notFound(`/Services/${service.sid}/Functions/${match.zh}`);
    return fn;
  }

  #version(
    service: SimService,
    match: Record<string, string>,
  ): SimFunctionVersion {
    const version = this.#function(service, match).versions.find((v) =>
      v.sid === match.zn
    );
    if (!version) throw notFound(`/Versions/${match.zn}`);
    return version;
  }

  #build(service: SimService, match: Record<string, string>): SimBuild {
    const build = service.builds.find((b) => b.sid === match.zb);
    if (!build) throw notFound(`/Services/${service.sid}/Builds/${match.zb}`);
    return build;
  }

  #createService(record: RecordedRequest): Response {
    const form = new URLSearchParams(record.params);
    const uniqueName = form.get("UniqueName");
    const friendlyName = form.get("FriendlyName");
    if (!uniqueName) return missing("UniqueName");
    if (!friendlyName) return missing("FriendlyName");
    if (!/^[A-Za-z0-9-]{1,50}$/.test(uniqueName)) {
      return twilioError(
        400,
        20001,
        "UniqueName must be at most 50 characters: letters, digits and hyphens",
      );
    }
    if (this.services.some((s) => s.uniqueName === uniqueName)) {
      return twilioError(409, 54301, "Unique name already in use");
    }
    const now = Date.now();
    const service: SimService = {
      sid: sid("ZS"),
      accountSid: this.#options.accountSid,
      uniqueName,
      friendlyName,
      includeCredentials: form.get("IncludeCredentials") !== "false",
      uiEditable: form.get("UiEditable") === "true",
      domainBase: `${uniqueName}-${1000 + Math.floor(Math.random() * 9000)}`,
      environments: [],
      functions: [],
      builds: [],
      created: now,
    };
    this.services.push(service);
    return Response.json(serviceJson(service), { status: 201 });
  }

  #createEnvironment(service: SimService, record: RecordedRequest): Response {
    const form = new URLSearchParams(record.params);
    const uniqueName = form.get("UniqueName");
    if (!uniqueName) return missing("UniqueName");
    if (service.environments.some((e) => e.uniqueName === uniqueName)) {
      return twilioError(409, 54301, "Unique name already in use");
    }
    const suffix = form.get("DomainSuffix") || null;
    const environment: SimEnvironment = {
      sid: sid("ZE"),
      uniqueName,
      domainSuffix: suffix,
      domainName: `${service.domainBase}${suffix ? `-${suffix}` : ""}.twil.io`,
      buildSid: null,
      variables: [],
      deployments: [],
      created: Date.now(),
    };
    service.environments.push(environment);
    return Response.json(environmentJson(service, environment), {
      status: 201,
    });
  }

  #createVariable(
    service: SimService,
    environment: SimEnvironment,
    record: RecordedRequest,
  ): Response {
    const form = new URLSearchParams(record.params);
    const key = form.get("Key");
    const value = form.get("Value");
    if (!key) return missing("Key");
    if (value === null) return missing("Value");
    const problem = checkValue(value);
    if (problem) return problem;
    if (environment.variables.some((v) => v.key === key)) {
      return twilioError(409, 54208, `Variable ${key} already exists`);
    }
    const variable = { sid: sid("ZV"), key, value };
    environment.variables.push(variable);
    return Response.json(variableJson(service, environment, variable), {
      status: 201,
    });
  }

  #updateVariable(
    service: SimService,
    environment: SimEnvironment,
    variable: SimVariable,
    record: RecordedRequest,
  ): Response {
    const form = new URLSearchParams(record.params);
    const value = form.get("Value");
    if (value !== null) {
      const problem = checkValue(value);
      if (problem) return problem;
      variable.value = value;
    }
    variable.key = form.get("Key") ?? variable.key;
    return Response.json(variableJson(service, environment, variable));
  }

  #createFunction(service: SimService, record: RecordedRequest): Response {
    const friendlyName = new URLSearchParams(record.params).get(
      "FriendlyName",
    );
    if (!friendlyName) return missing("FriendlyName");
    const fn: SimFunction = {
      sid: sid("ZH"),
      friendlyName,
      versions: [],
      created: Date.now(),
    };
    service.functions.push(fn);
    return Response.json(functionJson(service, fn), { status: 201 });
  }

  #uploadVersion(
    request: Request,
    record: RecordedRequest,
    match: Record<string, string>,
  ): Response {
    if (
      !/^multipart\/form-data\b/i.test(
        request.headers.get("content-type") ?? "",
      )
    ) {
      return twilioError(
        400,
        20001,
        "Function Versions are uploaded as multipart/form-data",
      );
    }
    const service = this.#service(match);
    const fn = this.#function(service, match);
    const form = new URLSearchParams(record.params);
    const rawPath = form.get("Path");
    const visibility = form.get("Visibility");
    const content = record.files.find((file) => file.field === "Content");
    if (!rawPath) return missing("Path");
    if (!visibility) return missing("Visibility");
    if (!content) return missing("Content");
    if (!VISIBILITIES.has(visibility)) {
      return twilioError(
        400,
        20001,
        `Visibility must be one of public, protected, private`,
      );
    }
    const path = rawPath.startsWith("/") ? rawPath : `/${rawPath}`;
    if (path.length > 255) {
      return twilioError(400, 20001, "Path is longer than 255 characters");
    }
    const version: SimFunctionVersion = {
      sid: sid("ZN"),
      functionSid: fn.sid,
      path,
      visibility,
      content: content.content,
      filename: content.filename,
      contentType: content.type,
      created: Date.now(),
    };
    fn.versions.push(version);
    return Response.json(versionJson(service, version), { status: 201 });
  }

  #createBuild(service: SimService, record: RecordedRequest): Response {
    const form = new URLSearchParams(record.params);
    const versions = form.getAll("FunctionVersions");
    const assets = form.getAll("AssetVersions");
    if (versions.length === 0 && assets.length === 0) {
      return twilioError(
        400,
        20001,
        "At least one function version or asset version is required",
      );
    }
    const known = new Set(
      service.functions.flatMap((f) => f.versions.map((v) => v.sid)),
    );
    const unknown = versions.find((v) => !known.has(v));
    if (unknown) {
      return twilioError(400, 20001, `Function Version ${unknown} not found`);
    }
    let dependencies = DEFAULT_DEPENDENCIES;
    const given = form.get("Dependencies");
    if (given !== null) {
      try {
        const parsed: unknown = JSON.parse(given);
        if (!Array.isArray(parsed)) throw new Error("not a list");
        dependencies = [...DEFAULT_DEPENDENCIES, ...parsed];
      } catch {
        return twilioError(400, 20001, "Dependencies is not a JSON list");
      }
    }
    const build: SimBuild = {
      sid: sid("ZB"),
      functionVersions: versions,
      dependencies,
      runtime: form.get("Runtime") ?? DEFAULT_RUNTIME,
      status: "building",
      polls: 0,
      fails: this.#failNextBuild,
      created: Date.now(),
    };
    this.#failNextBuild = false;
    service.builds.push(build);
    return Response.json(this.#buildJson(service, build), { status: 201 });
  }

  #createDeployment(
    service: SimService,
    environment: SimEnvironment,
    record: RecordedRequest,
  ): Response {
    const buildSid = new URLSearchParams(record.params).get("BuildSid");
    if (!buildSid) return missing("BuildSid");
    const build = service.builds.find((b) => b.sid === buildSid);
    if (!build) return notFound(`/Services/${service.sid}/Builds/${buildSid}`);
    if (build.status !== "completed") {
      return twilioError(
        400,
        20001,
        `Build ${buildSid} is ${build.status}, not completed`,
      );
    }
    const deployment = {
      sid: sid("ZD"),
      buildSid,
      created: Date.now(),
    };
    environment.deployments.push(deployment);
    environment.buildSid = buildSid;
    return Response.json(deploymentJson(service, environment, deployment), {
      status: 201,
    });
  }

  #buildJson(service: SimService, build: SimBuild) {
    const versions = service.functions.flatMap((f) => f.versions);
    return {
      sid: build.sid,
      account_sid: this.#options.accountSid,
      service_sid: service.sid,
      status: build.status,
      asset_versions: [],
      function_versions: build.functionVersions.map((versionSid) => {
        const version = versions.find((v) => v.sid === versionSid)!;
        return {
          sid: version.sid,
          account_sid: this.#options.accountSid,
          service_sid: service.sid,
          function_sid: version.functionSid,
          date_created: iso8601(version.created),
          path: version.path,
          visibility: version.visibility,
        };
      }),
      dependencies: build.dependencies,
      runtime: build.runtime,
      date_created: iso8601(build.created),
      date_updated: iso8601(build.created),
      url:
        `https://serverless.twilio.com/v1/Services/${service.sid}/Builds/${build.sid}`,
      links: {
        build_status:
          `https://serverless.twilio.com/v1/Services/${service.sid}/Builds/${build.sid}/Status`,
      },
    };
  }
}

function missing(name: string): Response {
  return twilioError(
    400,
    20001,
    `Missing required parameter ${name} in the post body`,
  );
}

function checkValue(value: string): Response | undefined {
  return new TextEncoder().encode(value).length > VARIABLE_VALUE_BYTES
    ? twilioError(
      400,
      20001,
      `Value must be at most ${VARIABLE_VALUE_BYTES} bytes`,
    )
    : undefined;
}

const BASE = "https://serverless.twilio.com/v1";

function serviceJson(service: SimService) {
  const url = `${BASE}/Services/${service.sid}`;
  return {
    sid: service.sid,
    account_sid: service.accountSid,
    friendly_name: service.friendlyName,
    unique_name: service.uniqueName,
    include_credentials: service.includeCredentials,
    ui_editable: service.uiEditable,
    domain_base: service.domainBase,
    date_created: iso8601(service.created),
    date_updated: iso8601(service.created),
    url,
    links: {
      functions: `${url}/Functions`,
      assets: `${url}/Assets`,
      environments: `${url}/Environments`,
      builds: `${url}/Builds`,
    },
  };
}

function environmentJson(service: SimService, environment: SimEnvironment) {
  const url = `${BASE}/Services/${service.sid}/Environments/${environment.sid}`;
  return {
    sid: environment.sid,
    account_sid: service.accountSid,
    service_sid: service.sid,
    build_sid: environment.buildSid,
    unique_name: environment.uniqueName,
    domain_suffix: environment.domainSuffix,
    domain_name: environment.domainName,
    date_created: iso8601(environment.created),
    date_updated: iso8601(environment.created),
    url,
    links: {
      variables: `${url}/Variables`,
      deployments: `${url}/Deployments`,
      logs: `${url}/Logs`,
    },
  };
}

function variableJson(
  service: SimService,
  environment: SimEnvironment,
  variable: SimVariable,
) {
  return {
    sid: variable.sid,
    account_sid: service.accountSid,
    service_sid: service.sid,
    environment_sid: environment.sid,
    key: variable.key,
    value: variable.value,
    date_created: iso8601(environment.created),
    date_updated: iso8601(Date.now()),
    url:
      `${BASE}/Services/${service.sid}/Environments/${environment.sid}/Variables/${variable.sid}`,
  };
}

function deploymentJson(
  service: SimService,
  environment: SimEnvironment,
  deployment: { sid: string; buildSid: string; created: number },
) {
  return {
    sid: deployment.sid,
    account_sid: service.accountSid,
    service_sid: service.sid,
    environment_sid: environment.sid,
    build_sid: deployment.buildSid,
    date_created: iso8601(deployment.created),
    date_updated: iso8601(deployment.created),
    url:
      `${BASE}/Services/${service.sid}/Environments/${environment.sid}/Deployments/${deployment.sid}`,
  };
}

function functionJson(service: SimService, fn: SimFunction) {
  const url = `${BASE}/Services/${service.sid}/Functions/${fn.sid}`;
  return {
    sid: fn.sid,
    account_sid: service.accountSid,
    service_sid: service.sid,
    friendly_name: fn.friendlyName,
    date_created: iso8601(fn.created),
    date_updated: iso8601(fn.created),
    url,
    links: { function_versions: `${url}/Versions` },
  };
}

function versionJson(service: SimService, version: SimFunctionVersion) {
  const url =
    `${BASE}/Services/${service.sid}/Functions/${version.functionSid}/Versions/${version.sid}`;
  return {
    sid: version.sid,
    account_sid: service.accountSid,
    service_sid: service.sid,
    function_sid: version.functionSid,
    path: version.path,
    visibility: version.visibility,
    date_created: iso8601(version.created),
    url,
    links: { function_version_content: `${url}/Content` },
  };
}
