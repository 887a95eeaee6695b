/**
 * The one validation style of both OpenAI simulators (Realtime and GPT-Live):
 * a small strict JSON schema language and its validator, answering like
 * OpenAI does: `unknown_parameter`, `missing_required_parameter`,
 * `invalid_type` and `invalid_value`, each with a `param` path such as
 * `session.delegation.responses.tools[0].name`.
 *
 * `obj<T>()` takes one field spec per key of the official TypeScript type T
 * (required keys need `req`, optional keys `opt`), so a field added to or
 * removed from the openai package's types fails `deno check` here until the
 * simulator follows.
 *
 * @module
 */
import {
  invalidType,
  invalidValue,
  isObject,
  missingParameter,
  type ParamProblem as Problem,
  unknownParameter,
} from "./common.ts";

export type Schema =
  | { kind: "string" }
  | { kind: "number"; integer?: boolean; min?: number; max?: number }
  | { kind: "boolean" }
  | { kind: "enum"; values: readonly (string | number | boolean)[] }
  | { kind: "nullable"; of: Schema }
  | { kind: "array"; of: Schema; minItems?: number; maxItems?: number }
  | { kind: "object"; fields: Record<string, Field> }
  /** Free-form JSON object (JSON Schema parameters, opaque data). */
  | { kind: "json_object" }
  /** Object variants chosen by a tag key, e.g. `type` or `role`. */
  | {
    kind: "tagged";
    tag: string;
    variants: Record<string, Schema>;
    /** Variant used when the tag is absent (where the tag is optional). */
    fallback?: string;
  }
  /** The first option whose JSON kind matches (string vs object vs array). */
  | { kind: "any_of"; options: Schema[] }
  /**
   * A feature the simulator does not model because the server never uses
   * it: any value given is refused (`unmodelled_feature`), so a server that
   * starts sending it fails loudly instead of passing against a pretence.
   * (Inside `anyOf` it stands for an object option.)
   */
  | { kind: "unmodelled"; feature: string };

// --- type-level guards (a check that fails `deno check` when T is not true) ---

/** True only when A and B are the same type (not merely assignable). */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends
  (<T>() => T extends B ? 1 : 2) ? true : false;
/** True when each of A and B is assignable to the other. */
export type MutuallyAssignable<A, B> = [A] extends [B]
  ? [B] extends [A] ? true : false
  : false;
/** Compiles only when T is `true`. */
export type Assert<T extends true> = T;

export interface Field {
  schema: Schema;
  required: boolean;
}

type RequiredField = { schema: Schema; required: true };
type OptionalField = { schema: Schema; required: false };

type IsOptional<T, K extends keyof T> = Record<never, never> extends Pick<T, K>
  ? true
  : false;

/** One spec per key of T, optional exactly where T's key is optional. */
export type FieldsOf<T> = {
  [K in keyof T]-?: IsOptional<T, K> extends true ? OptionalField
    : RequiredField;
};

export const req = (schema: Schema): RequiredField => ({
  schema,
  required: true,
});
export const opt = (schema: Schema): OptionalField => ({
  schema,
  required: false,
});

export function obj<T>(fields: FieldsOf<T>): Schema {
  return { kind: "object", fields: fields as Record<string, Field> };
}

export const str: Schema = { kind: "string" };
export const bool: Schema = { kind: "boolean" };
export const num: Schema = { kind: "number" };
export const int = (min?: number, max?: number): Schema => ({
  kind: "number",
  integer: true,
  min,
  max,
});
export const jsonObject: Schema = { kind: "json_object" };
export const nullable = (of: Schema): Schema => ({ kind: "nullable", of });
export const arr = (
  of: Schema,
  limits: { minItems?: number; maxItems?: number } = {},
): Schema => ({ kind: "array", of, ...limits });
export const anyOf = (...options: Schema[]): Schema => ({
  kind: "any_of",
  options,
});
export const unmodelled = (feature: string): Schema => ({
  kind: "unmodelled",
  feature,
});
export const tagged = (
  tag: string,
  variants: Record<string, Schema>,
  fallback?: string,
): Schema => ({ kind: "tagged", tag, variants, fallback });

/**
 * An enum that must list every member of the union U (and nothing else), so
 * a value added to the official types fails `deno check`.
 */
export function literals<U extends string | number | boolean>() {
  return <const V extends readonly U[]>(
    ...values: V & ([U] extends [V[number]] ? unknown : { missing: U })
  ): Schema => ({ kind: "enum", values });
}

/** A single literal value (for `type` fields). */
export const lit = (value: string): Schema => ({
  kind: "enum",
  values: [value],
});

function expected(schema: Schema): string {
  switch (schema.kind) {
    case "string":
      return "a string";
    case "number":
      return schema.integer ? "an integer" : "a number";
    case "boolean":
      return "a boolean";
    case "enum":
      return "one of the supported values";
    case "nullable":
      return `${expected(schema.of)} or null`;
    case "array":
      return "an array";
    case "object":
    case "json_object":
    case "tagged":
    case "unmodelled":
      return "an object";
    case "any_of":
      return schema.options.map(expected).join(" or ");
  }
}

const join = (path: string, key: string) => path ? `${path}.${key}` : key;

export { invalidType, invalidValue, missingParameter, unknownParameter };

function kindMatches(schema: Schema, value: unknown): boolean {
  switch (schema.kind) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "enum":
      return schema.values.includes(value as string);
    case "nullable":
      return value === null || kindMatches(schema.of, value);
    case "array":
      return Array.isArray(value);
    case "object":
    case "json_object":
    case "tagged":
    case "unmodelled":
      return isObject(value);
    case "any_of":
      return schema.options.some((o) => kindMatches(o, value));
  }
}

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value;
}

function jsonTypes(schema: Schema): string[] {
  switch (schema.kind) {
    case "enum":
      return schema.values.map(jsonType);
    case "nullable":
      return ["null", ...jsonTypes(schema.of)];
    case "array":
      return ["array"];
    case "object":
    case "json_object":
    case "tagged":
    case "unmodelled":
      return ["object"];
    case "any_of":
      return schema.options.flatMap(jsonTypes);
    default:
      return [schema.kind];
  }
}

/** The first problem in `value` against `schema`, or null if it is valid. */
export function validate(
  schema: Schema,
  value: unknown,
  path: string,
): Problem | null {
  switch (schema.kind) {
    case "string":
    case "boolean":
      return kindMatches(schema, value)
        ? null
        : invalidType(path, expected(schema), value);
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        return invalidType(path, expected(schema), value);
      }
      if (schema.integer && !Number.isInteger(value)) {
        return invalidType(path, "an integer", value);
      }
      if (schema.min !== undefined && value < schema.min) {
        return invalidValue(path, value);
      }
      if (schema.max !== undefined && value > schema.max) {
        return invalidValue(path, value);
      }
      return null;
    }
    case "enum":
      return schema.values.includes(value as string)
        ? null
        : invalidValue(path, value, schema.values);
    case "nullable":
      return value === null ? null : validate(schema.of, value, path);
    case "json_object":
      return isObject(value) ? null : invalidType(path, "an object", value);
    case "array": {
      if (!Array.isArray(value)) return invalidType(path, "an array", value);
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        return {
          code: "array_below_min_length",
          message:
            `Invalid '${path}': empty or too short array. Expected an array with minimum length ${schema.minItems}, but got an array with length ${value.length} instead.`,
          param: path,
        };
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        return {
          code: "array_above_max_length",
          message:
            `Invalid '${path}': array too long. Expected an array with maximum length ${schema.maxItems}, but got an array with length ${value.length} instead.`,
          param: path,
        };
      }
      for (let i = 0; i < value.length; i++) {
        const problem = validate(schema.of, value[i], `${path}[${i}]`);
        if (problem) return problem;
      }
      return null;
    }
    case "object": {
      if (!isObject(value)) return invalidType(path, "an object", value);
      for (const key of Object.keys(value)) {
        if (!(key in schema.fields)) return unknownParameter(join(path, key));
      }
      for (const [key, field] of Object.entries(schema.fields)) {
        if (!(key in value) || value[key] === undefined) {
          if (field.required) return missingParameter(join(path, key));
          continue;
        }
        const problem = validate(field.schema, value[key], join(path, key));
        if (problem) return problem;
      }
      return null;
    }
    case "tagged": {
      if (!isObject(value)) return invalidType(path, "an object", value);
      const tag = value[schema.tag];
      if (tag === undefined) {
        if (schema.fallback === undefined) {
          return missingParameter(join(path, schema.tag));
        }
        return validate(schema.variants[schema.fallback], value, path);
      }
      const variant = typeof tag === "string"
        ? schema.variants[tag]
        : undefined;
      if (!variant) {
        return invalidValue(
          join(path, schema.tag),
          tag,
          Object.keys(schema.variants),
        );
      }
      return validate(variant, value, path);
    }
    case "unmodelled":
      return {
        code: "unmodelled_feature",
        message:
          `The simulator does not model ${schema.feature} ('${path}'): the server never sends it.`,
        param: path,
      };
    case "any_of": {
      // An exact match first; else an option of the same JSON type (so a
      // wrong enum string reads as invalid_value, not invalid_type).
      const match = schema.options.find((o) => kindMatches(o, value)) ??
        schema.options.find((o) => jsonTypes(o).includes(jsonType(value)));
      return match
        ? validate(match, value, path)
        : invalidType(path, expected(schema), value);
    }
  }
}
