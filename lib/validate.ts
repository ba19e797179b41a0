/**
 * Checks of the arguments that are not configs (tensors, file readers' and plots' options,
 * metrics), and how a message shows a value; each failure names the field path. The configs
 * themselves are checked by their schemas (lib/schema).
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

export function requireObject(value: unknown, path: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EbmConfigError(`${path} must be an object, got ${describeValue(value)}`);
  }
  return value as Obj;
}

/** The onProgress and signal options every long-running job takes. */
export function checkJobHooks(o: Obj, path: string): void {
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new EbmConfigError(`${path}.onProgress must be a function, got ${describeValue(o.onProgress)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new EbmConfigError(`${path}.signal must be an AbortSignal, got ${describeValue(o.signal)}`);
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

/**
 * A number in `range`. Every number must fit a float32 (|x| <= FLOAT32_MAX) and every integer lie
 * within ±MAX_INT (a wider `range` is narrowed to it): beyond them the native core would fail with
 * a message that does not name the field.
 */
export function checkNumber(value: unknown, path: string, range: NumberRange = {}): number {
  const kind = range.integer ? 'an integer' : 'a finite number';
  if (typeof value !== 'number' || !Number.isFinite(value) || (range.integer && !Number.isInteger(value))) {
    throw new EbmConfigError(`${path} must be ${kind}, got ${describeValue(value)}`);
  }
  if (Math.abs(value) > FLOAT32_MAX) {
    throw new EbmConfigError(`${path} must be within ±${FLOAT32_MAX} (float32), got ${describeValue(value)}`);
  }
  if (range.integer) {
    range = { ...range, max: Math.min(range.max ?? MAX_INT, MAX_INT), min: Math.max(range.min ?? -MAX_INT, -MAX_INT) };
  }
  if (range.above !== undefined && !(value > range.above)) {
    throw new EbmConfigError(`${path} must be > ${range.above}, got ${value}`);
  }
  if (range.min !== undefined && value < range.min) {
    throw new EbmConfigError(`${path} must be >= ${range.min}, got ${value}`);
  }
  if (range.max !== undefined && value > range.max) {
    throw new EbmConfigError(`${path} must be <= ${range.max}, got ${value}`);
  }
  return value;
}

export function optionalNumber(obj: Obj, key: string, path: string, range: NumberRange = {}): void {
  if (obj[key] !== undefined) checkNumber(obj[key], `${path}.${key}`, range);
}

export function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new EbmConfigError(
      `${path} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got ${describeValue(value)}`,
    );
  }
  return value as T;
}

export function optionalOneOf<T extends string>(obj: Obj, key: string, allowed: readonly T[], path: string): void {
  if (obj[key] !== undefined) checkOneOf(obj[key], allowed, `${path}.${key}`);
}

export function optionalBoolean(obj: Obj, key: string, path: string): void {
  if (obj[key] !== undefined && typeof obj[key] !== 'boolean') {
    throw new EbmConfigError(`${path}.${key} must be true or false, got ${describeValue(obj[key])}`);
  }
}

/**
 * An array or typed array of numbers (any numbers: finiteness is the caller's rule); `what` names
 * it. A non-number entry would otherwise turn into NaN, or throw, further on.
 */
export function checkSeries(value: unknown, what: string): ArrayLike<number> {
  if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    throw new EbmConfigError(`${what} must be an array or typed array of numbers, got ${describeValue(value)}`);
  }
  const a = value as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] !== 'number')
      throw new EbmConfigError(`${what}[${i}] must be a number, got ${describeValue(a[i])}`);
  }
  return a as ArrayLike<number>;
}

/** Rejects keys the schema does not know: a typo must not silently fall back to a default. */
export function rejectUnknownKeys(obj: Obj, known: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw new EbmConfigError(`${path}.${key} is not a known option (known: ${known.join(', ')})`);
    }
  }
}

const devicePattern = /^(auto|cpu|cuda|cuda:\d{1,3})$/;

export function optionalDevice(obj: Obj, key: string, path: string): void {
  const v = obj[key];
  if (v !== undefined && (typeof v !== 'string' || !devicePattern.test(v))) {
    throw new EbmConfigError(`${path}.${key} must be 'auto', 'cpu', 'cuda' or 'cuda:N', got ${describeValue(v)}`);
  }
}
