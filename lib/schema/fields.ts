/**
 * Building blocks of the config schemas: numbers, enums, objects, arrays and unions whose issues
 * carry today's one-line messages.
 *
 * The schemas use zod 4 (https://zod.dev): it is widely used and actively maintained, has no
 * dependencies, infers static types from a schema (`z.input` is what a user may write and is the
 * public config type; `z.output` is the effective config with every default filled in), fills
 * defaults while it validates, and writes JSON Schema (draft 2020-12, with descriptions and
 * defaults) with the built-in `z.toJSONSchema`, which `ebm schema` prints for run-config files.
 * Valibot needs a separate package for JSON Schema; TypeBox starts from JSON Schema and has no
 * defaults-filling transform of its own.
 *
 * Messages: the message of every issue is its *tail*, the text that follows the field's path
 * (' must be > 0, got -1', ' is required', '.bogus is not a known option (known: ...)',
 * ': this loss needs ...'). parse.ts puts the path in front, so a message names the field
 * wherever the schema is used: 'config.loss.t must be > 0, got -1' from train(),
 * 'train.loss.t must be > 0, got -1' from a run-config file.
 */
import { z } from 'zod';
import {
  DEVICE_PATTERN,
  deviceTail,
  FLOAT32_MAX,
  isDevice,
  mustBeTail,
  NumberRange as Bounds,
  numberTail,
  oneOfTail,
  rangeBounds,
  unknownKeyTail,
} from '../validate';

export { oneOfTail };

/** The path below a parent, as text: ['loss', 't'] → '.loss.t', [0, 'x'] → '[0].x'. */
export function relativePath(path: readonly PropertyKey[] = []): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += `.${String(p)}`;
  }
  return s;
}

/** A finished issue of a branch or a child as one tail: its relative path, then its message. */
export function tailOf(issue: { path?: readonly PropertyKey[]; message: string }): string {
  return relativePath(issue.path) + issue.message;
}

/** ' is required' for a missing value, else ' must be <what>, got <value>'. */
export function typeTail(input: unknown, what: string): string {
  return input === undefined ? ' is required' : mustBeTail(what, input);
}

export interface NumberRange extends Bounds {
  /** a missing value gets the type's message (' must be a finite number, got undefined'), not ' is required' */
  typeWhenMissing?: boolean;
}

/**
 * A number in `range`, by validate.ts's numberTail: every check below reports numberTail's tail,
 * so a field reads the same here and in checkNumber. The checks are zod's own (not one refine)
 * so that JSON Schema shows the bounds.
 */
export function num(range: NumberRange = {}) {
  const { min: lo, max: hi } = rangeBounds(range);
  const tail = (iss: { input?: unknown }) => numberTail(iss.input, range);
  const typeError = (iss: { input?: unknown }) =>
    iss.input === undefined && !range.typeWhenMissing ? ' is required' : tail(iss);
  let s = z.number({ error: typeError }).refine((v) => Math.abs(v) <= FLOAT32_MAX, { error: tail });
  if (range.integer) s = s.int({ error: tail });
  if (range.above !== undefined) s = s.gt(range.above, { error: tail });
  if (lo !== undefined) s = s.gte(lo, { error: tail });
  if (hi !== undefined) s = s.lte(hi, { error: tail });
  return s;
}

/** An integer in [min, max] (narrowed to ±MAX_INT). */
export const int = (min?: number, max?: number) => num({ integer: true, min, max });
/** A number > 0. */
export const positive = (max?: number) => num({ above: 0, max });
/** A seed: an integer in [0, MAX_SAFE_INTEGER]. */
export const seed = () => int(0, Number.MAX_SAFE_INTEGER);

export const bool = () => z.boolean({ error: (iss) => typeTail(iss.input, 'true or false') });

/** One of a fixed set of strings. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (iss) => oneOfTail(values, iss.input) });
}

/** A string that is not empty; `what` completes ' must be <what>, got <value>'. */
export function text(what = 'a non-empty string') {
  return z.string({ error: (iss) => mustBeTail(what, iss.input) }).min(1, { error: (iss) => mustBeTail(what, iss.input) });
}

/** A value of a type JSON cannot hold (a function, an AbortSignal, a typed array), checked by `test`. */
export function instance<T>(test: (v: unknown) => boolean, what: string) {
  return z.custom<T>(test, { error: (iss) => typeTail(iss.input, what) });
}

export type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

/** 'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'. */
export const device = () =>
  z
    .custom<Device>(isDevice, { error: (iss) => deviceTail(iss.input) })
    .meta({ type: 'string', pattern: DEVICE_PATTERN.source });

export interface ObjectOptions {
  /** the tail for an unknown key (default: '.<key> is not a known option (known: ...)') */
  unknownKey?: (key: string, known: readonly string[]) => string;
  /** the tail for a value that is not an object */
  notObject?: (input: unknown) => string;
}

/**
 * An object with exactly these keys: an unknown one is an error (a typo must not silently fall
 * back to a default).
 */
export function obj<S extends z.core.$ZodLooseShape>(shape: S, options: ObjectOptions = {}) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const key = (iss as { keys: string[] }).keys[0];
        return options.unknownKey?.(key, known) ?? unknownKeyTail(key, known);
      }
      if (iss.code === 'invalid_type') {
        return options.notObject?.(iss.input) ?? mustBeTail('an object', iss.input);
      }
      return undefined;
    },
  });
}

export interface ArrayOptions {
  min?: number;
  max?: number;
  /** the tail for a value that is not an array, or one of the wrong length */
  message?: string | ((input: unknown) => string);
}

/** An array of `item`s, `min` to `max` of them. */
export function arr<T extends z.ZodType>(item: T, options: ArrayOptions = {}) {
  const say = (input: unknown) =>
    typeof options.message === 'function' ? options.message(input) : (options.message ?? typeTail(input, 'an array'));
  let s = z.array(item, { error: (iss) => say(iss.input) });
  if (options.min !== undefined) s = s.min(options.min, { error: (iss) => say(iss.input) });
  if (options.max !== undefined) s = s.max(options.max, { error: (iss) => say(iss.input) });
  return s;
}

/**
 * A value of one of several shapes (kinds of a loss, forms of a field), exactly one of which may
 * match. `select` picks the shape a value was meant to have, from the value as given: its index,
 * whose first issue is then reported, or the tail to report when no shape fits (a missing or
 * unknown kind).
 */
export function pick<const T extends readonly z.core.SomeType[]>(
  options: T,
  select: (input: unknown) => number | string,
) {
  return z.xor(options, {
    error: (iss) => {
      if (iss.code !== 'invalid_union') return undefined;
      const choice = select(iss.input);
      if (typeof choice === 'string') return choice;
      const first = (iss as unknown as { errors: Array<Array<{ path: PropertyKey[]; message: string }>> }).errors[
        choice
      ]?.[0];
      return first ? tailOf(first) : undefined;
    },
  });
}

/**
 * Unions whose JSON Schema is their first shape's: the others take values JSON cannot hold (a
 * Float32Array beside an array of numbers), so a file only ever holds the first.
 */
export const jsonFirstBranch = new WeakSet<z.ZodType>();

/** The `kind` of a config object as given (undefined for anything else). */
export function kindOf(input: unknown): unknown {
  return typeof input === 'object' && input !== null ? (input as { kind?: unknown }).kind : undefined;
}

/**
 * The selector of a union keyed by `kind`: the index of the shape for the kind, or the tail for
 * a value that is not an object or has an unknown kind.
 */
export function byKind(kinds: readonly string[], extra: (input: unknown) => string | undefined = () => undefined) {
  return (input: unknown): number | string => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return mustBeTail('an object', input);
    }
    const special = extra(input);
    if (special !== undefined) return special;
    const i = kinds.indexOf(kindOf(input) as string);
    return i >= 0 ? i : `.kind${oneOfTail(kinds, kindOf(input))}`;
  };
}

/** Adds an issue (path below the object being refined, and its tail) from a refinement. */
export function fail(ctx: z.core.$RefinementCtx, path: PropertyKey[], tail: string, input?: unknown): void {
  ctx.addIssue({ code: 'custom', path, message: tail, input, continue: true });
}

/**
 * `checkpoint`: where and how often a training run writes its whole state. In a run-config file
 * (`inFile`) the path may be left out: the run folder's model.safetensors; in the API it is required.
 */
export function checkpointSchema(inFile: boolean, every: () => number, description: string) {
  const path = text().describe(
    inFile
      ? "the checkpoint file, relative to the run folder (default: the run folder's model.safetensors)"
      : 'the checkpoint file',
  );
  return obj({
    path: inFile ? path.optional() : path,
    every: int(0).default(every).describe('steps between checkpoints (a multiple of logEvery; 0: only at the end)'),
  })
    .optional()
    .describe(description);
}

/**
 * checkpoint.every must fall on a report (a multiple of min(steps, logEvery)): the rule of
 * train() and trainLatent(), each wording its message's tail.
 */
export function refineCheckpointEvery(
  o: { steps: number; logEvery: number; checkpoint?: { every: number } },
  ctx: z.core.$RefinementCtx,
  tail: (every: number, logEvery: number) => string,
): void {
  const logEvery = Math.min(o.steps, o.logEvery);
  if (o.checkpoint && o.checkpoint.every % logEvery !== 0) fail(ctx, ['checkpoint', 'every'], tail(o.checkpoint.every, logEvery));
}
