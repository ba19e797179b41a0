/** Field checks shared by every config schema; each failure names the field path. */
import { EbmConfigError } from './errors';

export type Obj = Record<string, unknown>;

export function requireObject(value: unknown, path: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EbmConfigError(`${path} must be an object`);
  }
  return value as Obj;
}

export interface NumberRange {
  min?: number;
  max?: number;
  /** exclusive lower bound */
  above?: number;
  integer?: boolean;
}

export function checkNumber(value: unknown, path: string, range: NumberRange = {}): number {
  const kind = range.integer ? 'an integer' : 'a finite number';
  if (typeof value !== 'number' || !Number.isFinite(value) || (range.integer && !Number.isInteger(value))) {
    throw new EbmConfigError(`${path} must be ${kind}, got ${JSON.stringify(value)}`);
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

export function requireNumber(obj: Obj, key: string, path: string, range: NumberRange = {}): number {
  if (obj[key] === undefined) throw new EbmConfigError(`${path}.${key} is required`);
  return checkNumber(obj[key], `${path}.${key}`, range);
}

export function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new EbmConfigError(
      `${path} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

export function optionalOneOf<T extends string>(obj: Obj, key: string, allowed: readonly T[], path: string): void {
  if (obj[key] !== undefined) checkOneOf(obj[key], allowed, `${path}.${key}`);
}

export function optionalBoolean(obj: Obj, key: string, path: string): void {
  if (obj[key] !== undefined && typeof obj[key] !== 'boolean') {
    throw new EbmConfigError(`${path}.${key} must be true or false, got ${JSON.stringify(obj[key])}`);
  }
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
    throw new EbmConfigError(`${path}.${key} must be 'auto', 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(v)}`);
  }
}
