/**
 * Checks of the arguments that are not configs (tensors, file readers' and plots' options,
 * metrics), and how a message shows a value; each failure names the field path. The configs
 * themselves are checked by their schemas (lib/schema), which build on the same rules and
 * message tails (numberTail, oneOfTail, unknownKeyTail, DEVICE_PATTERN): a field reads the same
 * whichever checks it.
 */
import { EbmConfigError } from './errors';

export type Obj = Record<string, unknown>;

const listLimit = 6;
const stringLimit = 60;

/**
 * A user value as a message shows it: NaN, Infinity, -0, 2n, 'text', undefined, null, [1, 2],
 * {a: 1}; a class instance as its class ('a Float32Array'). Objects and arrays nest `depth` levels
 * (0: 'an object', 'an array'). Unlike JSON.stringify it shows NaN as NaN and takes a BigInt.
 */
export function describeValue(value: unknown, depth = 2): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'string': {
      const s = value.length > stringLimit ? `${value.slice(0, stringLimit)}…` : value;
      return `'${JSON.stringify(s).slice(1, -1)}'`;
    }
    case 'symbol':
      return value.toString();
    case 'function':
      return 'a function';
    case 'undefined':
    case 'boolean':
      return String(value);
  }
  if (value === null) return 'null';
  const proto: unknown = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'an object';
  }
  if (depth <= 0) return Array.isArray(value) ? 'an array' : 'an object';
  const list = (items: string[], total: number) => items.join(', ') + (total > items.length ? ', …' : '');
  if (Array.isArray(value)) {
    const shown = value.slice(0, listLimit).map((v: unknown) => describeValue(v, depth - 1));
    return `[${list(shown, value.length)}]`;
  }
  const keys = Object.keys(value as object);
  const shown = keys.slice(0, listLimit).map((k) => `${k}: ${describeValue((value as Obj)[k], depth - 1)}`);
  return `{${list(shown, keys.length)}}`;
}

/** ' must be <what>, got <value>': the tail of every message about a value of the wrong kind. */
export function mustBeTail(what: string, input: unknown): string {
  return ` must be ${what}, got ${describeValue(input)}`;
}

/**
 * " must be one of 'a', 'b'; got <value>": the one wording of a choice among fixed values, here,
 * in the schemas and in the native core's messages.
 */
export function oneOfTail(values: readonly unknown[], input: unknown): string {
  return ` must be one of ${values.map((v) => describeValue(v)).join(', ')}; got ${describeValue(input)}`;
}

/** '.<key> is not a known option (known: a, b)' */
export function unknownKeyTail(key: string, known: readonly string[]): string {
  return `.${key} is not a known option (known: ${known.join(', ')})`;
}

/** The devices a config may name: 'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'. */
export const DEVICE_PATTERN = /^(auto|cpu|cuda|cuda:\d{1,3})$/;

export function isDevice(value: unknown): boolean {
  return typeof value === 'string' && DEVICE_PATTERN.test(value);
}

export function deviceTail(input: unknown): string {
  return mustBeTail("'auto', 'cpu', 'cuda' or 'cuda:N'", input);
}

export function requireObject(value: unknown, path: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EbmConfigError(path + mustBeTail('an object', value));
  }
  return value as Obj;
}

/** The onProgress and signal options every long-running job takes. */
export function checkJobHooks(o: Obj, path: string): void {
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new EbmConfigError(`${path}.onProgress${mustBeTail('a function', o.onProgress)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new EbmConfigError(`${path}.signal${mustBeTail('an AbortSignal', o.signal)}`);
  }
}

export interface NumberRange {
  min?: number;
  max?: number;
  /** exclusive lower bound */
  above?: number;
  integer?: boolean;
}

/** The largest float32: a number beyond it overflows where it meets a tensor in the native core. */
export const FLOAT32_MAX = 3.4028234663852886e38;
/** The largest integer the native core reads (its JSON reader refuses larger ones). */
export const MAX_INT = 9e15;

/** The inclusive bounds a range tests: an integer's are narrowed to ±MAX_INT. */
export function rangeBounds(range: NumberRange): { min?: number; max?: number } {
  if (!range.integer) return { min: range.min, max: range.max };
  return { min: Math.max(range.min ?? -MAX_INT, -MAX_INT), max: Math.min(range.max ?? MAX_INT, MAX_INT) };
}

/**
 * Why `value` is not a number in `range` (' must be > 0, got -1'), or undefined when it is: the
 * one rule behind checkNumber and the schemas' num(). Every number must fit a float32
 * (|x| <= FLOAT32_MAX) and every integer lie within ±MAX_INT: beyond them the native core would
 * fail with a message that does not name the field. The first broken rule is reported, in this
 * order: type (finite, integer), float32, above, min, max.
 */
export function numberTail(value: unknown, range: NumberRange = {}): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || (range.integer && !Number.isInteger(value))) {
    return mustBeTail(range.integer ? 'an integer' : 'a finite number', value);
  }
  if (Math.abs(value) > FLOAT32_MAX) return mustBeTail(`within ±${FLOAT32_MAX} (float32)`, value);
  const { min, max } = rangeBounds(range);
  if (range.above !== undefined && !(value > range.above)) return ` must be > ${range.above}, got ${value}`;
  if (min !== undefined && value < min) return ` must be >= ${min}, got ${value}`;
  if (max !== undefined && value > max) return ` must be <= ${max}, got ${value}`;
  return undefined;
}

/** A number in `range` (see numberTail). */
export function checkNumber(value: unknown, path: string, range: NumberRange = {}): number {
  const tail = numberTail(value, range);
  if (tail !== undefined) throw new EbmConfigError(path + tail);
  return value as number;
}

export function optionalNumber(obj: Obj, key: string, path: string, range: NumberRange = {}): void {
  if (obj[key] !== undefined) checkNumber(obj[key], `${path}.${key}`, range);
}

export function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new EbmConfigError(path + oneOfTail(allowed, value));
  }
  return value as T;
}

export function optionalOneOf<T extends string>(obj: Obj, key: string, allowed: readonly T[], path: string): void {
  if (obj[key] !== undefined) checkOneOf(obj[key], allowed, `${path}.${key}`);
}

export function optionalBoolean(obj: Obj, key: string, path: string): void {
  if (obj[key] !== undefined && typeof obj[key] !== 'boolean') {
    throw new EbmConfigError(`${path}.${key}${mustBeTail('true or false', obj[key])}`);
  }
}

/**
 * An array or typed array of numbers (any numbers: finiteness is the caller's rule); `what` names
 * it. A non-number entry would otherwise turn into NaN, or throw, further on.
 */
export function checkSeries(value: unknown, what: string): ArrayLike<number> {
  if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    throw new EbmConfigError(what + mustBeTail('an array or typed array of numbers', value));
  }
  const a = value as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] !== 'number') throw new EbmConfigError(`${what}[${i}]${mustBeTail('a number', a[i])}`);
  }
  return a as ArrayLike<number>;
}

/** Rejects keys the schema does not know: a typo must not silently fall back to a default. */
export function rejectUnknownKeys(obj: Obj, known: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) throw new EbmConfigError(path + unknownKeyTail(key, known));
  }
}

export function optionalDevice(obj: Obj, key: string, path: string): void {
  const v = obj[key];
  if (v !== undefined && !isDevice(v)) throw new EbmConfigError(`${path}.${key}${deviceTail(v)}`);
}
