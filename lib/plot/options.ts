/** The checks of chart options every chart shares; each failure names the option. */
import type { Rgb } from './canvas';
import { EbmConfigError } from '../errors';
import { checkNumber, describeValue, Obj, rejectUnknownKeys, requireObject } from '../validate';

/** longest title, label or series name drawn */
export const MAX_TEXT = 200;

/** The options argument: {} when left out, else an object with known keys only. */
export function optionsObject(value: unknown, known: readonly string[]): Obj {
  if (value === undefined) return {};
  const o = requireObject(value, 'options');
  rejectUnknownKeys(o, known, 'options');
  return o;
}

/** An integer option in [min, max], `fallback` when unset. */
export function intOption(o: Obj, key: string, fallback: number, min: number, max: number): number {
  return o[key] === undefined ? fallback : checkNumber(o[key], `options.${key}`, { integer: true, min, max });
}

/** A string option of at most MAX_TEXT characters. */
export function textOption(o: Obj, key: string, path = 'options'): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new EbmConfigError(`${path}.${key} must be a string, got ${describeValue(v)}`);
  if (v.length > MAX_TEXT) throw new EbmConfigError(`${path}.${key} must be at most ${MAX_TEXT} characters`);
  return v;
}

/** An [r, g, b] option, integers 0..255. */
export function colorOption(v: unknown, path: string): Rgb | undefined {
  if (v === undefined) return undefined;
  const ok =
    Array.isArray(v) &&
    v.length === 3 &&
    v.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 255);
  if (!ok) throw new EbmConfigError(`${path} must be [r, g, b] with integers 0..255, got ${describeValue(v)}`);
  return [v[0], v[1], v[2]];
}

/** An array or typed array (the values are checked where they are read). */
export function isArrayLike(v: unknown): v is ArrayLike<number> {
  if (typeof v !== 'object' || v === null) return false;
  const n = (v as { length?: unknown }).length;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}
