/**
 * `deno task setup`: reads what is at Twilio, plans the difference
 * (./plan.ts) and applies it in an order that never sends a call to a
 * Function that is not there: the service, its environment and variables,
 * the allowlist uploaded, built and deployed, and only then the number.
 */

import {
  TwilioApiError,
  TwilioUnreachableError,
} from "../twilio/rest_client.ts";
import {
  allowlistVariables,
  describeStep,
  ENVIRONMENT_NAME,
  FUNCTION_FILENAME,
  FUNCTION_PATH,
  functionUrl,
  type Observed,
  planSetup,
  SERVICE_FRIENDLY_NAME,
  SERVICE_NAME,
  type Step,
} from "./plan.ts";
import { SetupError, type SetupSettings } from "./settings.ts";
import type {
  EnvironmentResource,
  ServiceResource,
  TwilioAccount,
} from "./twilio_account.ts";

export interface SetupOptions {
  settings: SetupSettings;
  account: TwilioAccount;
  /** The allowlist Function's code (twilio/allowlist-function.js). */
  functionSource: string;
  dryRun: boolean;
  /** One line of output. */
  say: (line: string) => void;
  /** Between build status polls (Twilio suggests a second). */
  pollMs?: number;
  buildTimeoutMs?: number;
}

export interface SetupResult {
  /** Steps applied (or, in a dry run, that would be). */
  steps: Step[];
  /** Where the number's calls go; undefined in a dry run before the environment exists. */
  functionUrl: string | undefined;
}

/** Which of Twilio's APIs a step talks to, for the failure sentence. */
type Api = "REST API" | "Serverless API";

export async function runSetup(options: SetupOptions): Promise<SetupResult> {
  const stage = { doing: "read the phone number", api: "REST API" as Api };
  try {
    return await setUp(options, stage);
  } catch (error) {
    throw failure(error, stage, options.settings);
  }
}

async function setUp(
  options: SetupOptions,
  stage: { doing: string; api: Api },
): Promise<SetupResult> {
  const { account, settings, say } = options;
  const observed = await observe(options, stage);
  const steps = planSetup(observed, {
    variables: allowlistVariables(
      settings.allowedNumbers,
      settings.publicUrl,
      settings.rejectReason,
    ),
    content: options.functionSource,
  });
  const known = observed.environment
    ? functionUrl(observed.environment)
    : undefined;
  if (steps.length === 0) {
    say(
      `Already set up: calls to ${settings.number} go through the allowlist at ${known} to ${settings.publicUrl}/incoming-call. Nothing was changed at Twilio.`,
    );
    return { steps, functionUrl: known };
  }
  if (options.dryRun) {
    say(`Dry run: setup would, at Twilio (account ${settings.accountSid}):`);
    for (const step of steps) say(`  - ${describeStep(step, settings.number)}`);
    say("Nothing was changed.");
    return { steps, functionUrl: known };
  }

  let service = observed.service as ServiceResource;
  let environment = observed.environment as EnvironmentResource;
  let functionSid = observed.function?.sid ?? "";
  const done = (step: Step, detail = "") =>
    say(`  ✓ ${describeStep(step, settings.number)}${detail}`);
  say(`Setting up Twilio (account ${settings.accountSid}):`);
  stage.api = "Serverless API";
  for (const step of steps) {
    stage.doing = describeStep(step, settings.number);
    switch (step.kind) {
      case "create_service":
        service = await account.createService(
          SERVICE_NAME,
          SERVICE_FRIENDLY_NAME,
        );
        done(step, ` (${service.sid})`);
        break;
      case "create_environment":
        environment = await account.createEnvironment(
          service.sid,
          ENVIRONMENT_NAME,
        );
        done(step, ` (${environment.domainName})`);
        break;
      case "create_variable":
        await account.createVariable(
          service.sid,
          environment.sid,
          step.key,
          step.value,
        );
        done(step);
        break;
      case "update_variable":
        await account.updateVariable(
          service.sid,
          environment.sid,
          step.sid,
          step.key,
          step.value,
        );
        done(step);
        break;
      case "create_function":
        functionSid =
          (await account.createFunction(service.sid, FUNCTION_PATH)).sid;
        done(step);
        break;
      case "deploy_function":
        await deploy(options, service.sid, environment.sid, functionSid);
        done(step);
        break;
      case "point_number":
        stage.api = "REST API";
        await account.setVoiceUrl(
          observed.number.sid,
          functionUrl(environment),
          observed.number.voiceApplicationSid !== null,
        );
        done(step);
        break;
    }
  }
  say(
    `Set up: calls to ${settings.number} go through the allowlist at ${
      functionUrl(environment)
    } to ${settings.publicUrl}/incoming-call.`,
  );
  return { steps, functionUrl: functionUrl(environment) };
}

/** Reads only: the number, then the service, its environment, variables, function and deployed code. */
async function observe(
  options: SetupOptions,
  stage: { doing: string; api: Api },
): Promise<Observed> {
  const { account, settings } = options;
  const number = (await account.numbers(settings.number)).find((n) =>
    n.phoneNumber === settings.number
  );
  if (!number) {
    throw new SetupError(
      `${settings.number} is not a phone number on Twilio account ${settings.accountSid}: set TWILIO_FROM_NUMBER to one of its numbers (Twilio Console → Phone Numbers → Active numbers), or buy one there.`,
    );
  }
  stage.doing = "read the Functions service";
  stage.api = "Serverless API";
  const observed: Observed = { number, variables: [] };
  observed.service = (await account.services()).find((s) =>
    s.uniqueName === SERVICE_NAME
  );
  if (!observed.service) return observed;
  const serviceSid = observed.service.sid;
  observed.environment = (await account.environments(serviceSid)).find((e) =>
    e.uniqueName === ENVIRONMENT_NAME
  );
  observed.function = (await account.functions(serviceSid)).find((f) =>
    f.friendlyName === FUNCTION_PATH
  );
  const { environment, function: fn } = observed;
  if (!environment) return observed;
  observed.variables = await account.variables(serviceSid, environment.sid);
  if (environment.buildSid === null || !fn) return observed;
  const build = await account.build(serviceSid, environment.buildSid);
  const version = build.functionVersions.find((v) =>
    v.path === FUNCTION_PATH && v.functionSid === fn.sid &&
    v.visibility === "protected"
  );
  if (version) {
    observed.deployedContent = await account.functionContent(
      serviceSid,
      fn.sid,
      version.sid,
    );
  }
  return observed;
}

/** Upload, build (polling its status), deploy. */
async function deploy(
  options: SetupOptions,
  serviceSid: string,
  environmentSid: string,
  functionSid: string,
): Promise<void> {
  const { account } = options;
  const version = await account.uploadFunction(serviceSid, functionSid, {
    path: FUNCTION_PATH,
    visibility: "protected",
    content: options.functionSource,
    filename: FUNCTION_FILENAME,
  });
  const build = await account.createBuild(serviceSid, [version.sid]);
  const deadline = Date.now() + (options.buildTimeoutMs ?? 5 * 60_000);
  for (let status = build.status; status !== "completed";) {
    if (status === "failed") {
      throw new SetupError(
        `Twilio could not build the allowlist Function (build ${build.sid} failed): see the service ${SERVICE_NAME} in the Twilio Console (Functions and Assets → Services); the number was not changed.`,
      );
    }
    if (Date.now() > deadline) {
      throw new SetupError(
        `Twilio's build ${build.sid} of the allowlist Function did not finish in time: run deno task setup again later; the number was not changed.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
    status = await account.buildStatus(serviceSid, build.sid);
  }
  await account.createDeployment(serviceSid, environmentSid, build.sid);
}

/** Any failure as one sentence with no secret in it. */
function failure(
  error: unknown,
  stage: { doing: string; api: Api },
  settings: SetupSettings,
): SetupError {
  let sentence: string;
  if (error instanceof SetupError) sentence = error.message;
  else if (
    error instanceof TwilioApiError &&
    (error.status === 401 || error.status === 403)
  ) {
    sentence =
      `Twilio refused TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (HTTP ${error.status}${
        error.code ? `, error ${error.code}` : ""
      }): copy both from the Twilio Console's Account Info and run deno task setup again.`;
  } else if (
    error instanceof TwilioApiError &&
    (error.status >= 500 || error.status === 429)
  ) {
    sentence =
      `Twilio's ${stage.api} is unavailable (HTTP ${error.status}) while trying to ${stage.doing}: run deno task setup again later; it goes on from where it stopped.`;
  } else if (error instanceof TwilioApiError) {
    sentence = `Twilio refused to ${stage.doing} (HTTP ${error.status}${
      error.code ? `, error ${error.code}` : ""
    }: ${error.twilioMessage}).`;
  } else if (error instanceof TwilioUnreachableError) {
    sentence =
      `Twilio's ${stage.api} could not be reached while trying to ${stage.doing} (${
        error.message.replace(/^Twilio could not be reached: /, "")
      }): check the network and run deno task setup again.`;
  } else {
    sentence = `Setup stopped while trying to ${stage.doing}: ${
      error instanceof Error ? error.name : "unknown error"
    }.`;
  }
  return new SetupError(
    sentence.replaceAll(settings.authToken, "[auth token]"),
  );
}
