/**
 * What setup must change at Twilio, from what is there and what should be:
 * pure, so "nothing changed writes nothing" and "a changed list updates only
 * that variable" are decided in one place and tested without a network.
 */

import type {
  EnvironmentResource,
  FunctionResource,
  NumberResource,
  ServiceResource,
  VariableResource,
} from "./twilio_account.ts";

/** The Twilio Functions service setup owns, found by its unique name. */
export const SERVICE_NAME = "phone-assistant";
export const SERVICE_FRIENDLY_NAME = "Phone assistant caller allowlist";
export const ENVIRONMENT_NAME = "production";
/** The allowlist's path; also the Function's friendly name, as Twilio's tools name it. */
export const FUNCTION_PATH = "/incoming-call";
export const FUNCTION_FILENAME = "allowlist-function.js";

/** What is at Twilio now. */
export interface Observed {
  number: NumberResource;
  service?: ServiceResource;
  environment?: EnvironmentResource;
  variables: VariableResource[];
  function?: FunctionResource;
  /** The allowlist code the environment runs (protected, at FUNCTION_PATH); undefined: none. */
  deployedContent?: string;
}

/** What should be. */
export interface Desired {
  variables: Record<string, string>;
  content: string;
}

export type Step =
  | { kind: "create_service" }
  | { kind: "create_environment" }
  | { kind: "create_variable"; key: string; value: string }
  | { kind: "update_variable"; sid: string; key: string; value: string }
  | { kind: "create_function" }
  | { kind: "deploy_function" }
  | { kind: "point_number"; from: string };

/** The Function's public URL in an environment. */
export function functionUrl(environment: EnvironmentResource): string {
  return `https://${environment.domainName}${FUNCTION_PATH}`;
}

/** The environment variables the allowlist Function reads. */
export function allowlistVariables(
  allowedNumbers: readonly string[],
  publicUrl: string,
  rejectReason: string,
): Record<string, string> {
  return {
    ALLOWED_NUMBERS: allowedNumbers.join(","),
    WEBHOOK_URL: `${publicUrl}/incoming-call`,
    REJECT_REASON: rejectReason,
  };
}

export function planSetup(observed: Observed, desired: Desired): Step[] {
  const steps: Step[] = [];
  if (!observed.service) steps.push({ kind: "create_service" });
  if (!observed.environment) steps.push({ kind: "create_environment" });
  for (const [key, value] of Object.entries(desired.variables)) {
    const existing = observed.variables.find((v) => v.key === key);
    if (!existing) steps.push({ kind: "create_variable", key, value });
    else if (existing.value !== value) {
      steps.push({ kind: "update_variable", sid: existing.sid, key, value });
    }
  }
  if (!observed.function) steps.push({ kind: "create_function" });
  if (observed.deployedContent !== desired.content) {
    steps.push({ kind: "deploy_function" });
  }
  const { number, environment } = observed;
  if (
    !environment || number.voiceUrl !== functionUrl(environment) ||
    number.voiceMethod !== "POST" || number.voiceApplicationSid !== null
  ) {
    steps.push({
      kind: "point_number",
      from: number.voiceApplicationSid ?? number.voiceUrl,
    });
  }
  return steps;
}

/** One line of the plan, in the owner's words (a number list is counted, not printed). */
export function describeStep(step: Step, number: string): string {
  switch (step.kind) {
    case "create_service":
      return `create the Functions service ${SERVICE_NAME}`;
    case "create_environment":
      return `create its ${ENVIRONMENT_NAME} environment`;
    case "create_variable":
      return `set ${step.key} (${shown(step.key, step.value)})`;
    case "update_variable":
      return `update ${step.key} (${shown(step.key, step.value)})`;
    case "create_function":
      return `create the Function ${FUNCTION_PATH}`;
    case "deploy_function":
      return `upload ${FUNCTION_FILENAME} as a protected Function at ${FUNCTION_PATH}, build and deploy it`;
    case "point_number":
      return `point ${number}'s incoming calls (POST) at the allowlist Function${
        step.from ? ` instead of ${step.from}` : ""
      }`;
  }
}

function shown(key: string, value: string): string {
  if (key !== "ALLOWED_NUMBERS") return value;
  const count = value.split(",").length;
  return count === 1 ? "1 number" : `${count} numbers`;
}
