/**
 * Type-level checks that hold our wire shapes to a vendor's own types:
 * `deno check` is the test. `ExtraKeys<T, Spec>` names every key of `T`, at
 * any depth, that `Spec` does not declare.
 */

/** True exactly when the two types are the same. */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends
  (<T>() => T extends B ? 1 : 2) ? true : false;

/** Compiles only when given `true`. */
export function assertType<T extends true>(_: T): void {}

/** The members of the union `Spec` that `T` fits, or all of them when none does. */
type Matching<T, Spec> = [
  Spec extends unknown ? ([T] extends [Spec] ? Spec : never) : never,
] extends [never] ? Spec
  : Spec extends unknown ? ([T] extends [Spec] ? Spec : never)
  : never;

/** Every key of every object member of `Spec`. */
type KnownKeys<Spec> = Spec extends object ? keyof Spec : never;

/** `Spec[K]` over every object member of `Spec` that has `K`. */
type ValueAt<Spec, K extends PropertyKey> = Spec extends object
  ? K extends keyof Spec ? Spec[K] : never
  : never;

/**
 * The paths (".audio.input.bogus") of keys in `T` that `Spec` does not
 * declare; never when there are none. A spec of `unknown` (openai's
 * `parameters`) or an index signature (`headers`) accepts any key.
 */
export type ExtraKeys<T, Spec, Path extends string = ""> = unknown extends Spec
  ? never
  : ExtraKeysIn<T, Matching<T, NonNullable<Spec>>, Path>;

type ExtraKeysIn<T, Spec, Path extends string> = T extends
  readonly (infer Element)[] ? ExtraKeys<
    Element,
    Spec extends readonly (infer S)[] ? S : never,
    `${Path}[]`
  >
  : T extends object ? {
      [K in keyof T & string]-?: K extends KnownKeys<Spec>
        ? ExtraKeys<T[K], ValueAt<Spec, K>, `${Path}.${K}`>
        : `${Path}.${K}`;
    }[keyof T & string]
  : never;
