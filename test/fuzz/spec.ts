/**
 * Field specs for the fuzz suite: what a field accepts, and the bad values generated for it.
 *
 * A spec says which values are valid (independently of the library's own validators), so every
 * generated value is judged by the spec: the ones it calls invalid must be rejected with an
 * EbmError naming the field; the ones it calls valid (a zero that is allowed, an extra key that is
 * ignored) are skipped, or, for pure validators, must be accepted. Generation is deterministic.
 */

/** Every number must fit a float32, every integer lie within ±MAX_INT (as lib/validate.ts has it; kept apart here, as the oracle). */
export const FLOAT32_MAX = 3.4028234663852886e38;
export const MAX_INT = 9e15;

/** A field left out (the key deleted); as the library reads it, the same as undefined. */
export const MISSING: unique symbol = Symbol('missing');

interface Common {
  optional?: boolean;
  /** sibling fields a rejection of this one may name instead (a rule across fields, e.g. a length that must match) */
  also?: string[];
  /** a rejection may name the field by its value (a file path in an I/O error) */
  namedByValue?: boolean;
  /** valid values are quick to run (a seed): entry points run them too, and must accept them */
  cheap?: boolean;
  /** a valid value to build on when the base value does not set this field (objects, arrays) */
  example?: () => unknown;
}

export type Spec =
  | (Common & {
      type: 'number';
      integer?: boolean;
      min?: number;
      max?: number;
      /** exclusive lower bound */
      above?: number;
      /** exclusive upper bound */
      below?: number;
      /** any number, NaN and ±Infinity included */
      anyNumber?: boolean;
      /** any finite double (JS-only arithmetic): no float32 bound */
      double?: boolean;
      /** a further rule on a number within the bounds (e.g. even, or below a sibling field) */
      rule?: (v: number) => boolean;
    })
  | (Common & { type: 'boolean' })
  | (Common & { type: 'enum'; values: readonly unknown[] })
  | (Common & { type: 'string'; allowEmpty?: boolean; maxLength?: number })
  | (Common & { type: 'object'; fields: Record<string, Spec>; open?: boolean })
  | (Common & {
      type: 'array';
      of: Spec;
      minLength?: number;
      maxLength?: number;
      /** also accepts these typed arrays */
      typed?: ReadonlyArray<new (n: number) => ArrayLike<number>>;
      /** a rule on the whole array once every element is valid */
      rule?: (v: readonly unknown[]) => boolean;
    })
  | (Common & { type: 'tuple'; items: Spec[] })
  | (Common & { type: 'function' })
  | (Common & { type: 'signal' })
  | (Common & { type: 'union'; of: Spec[] })
  | (Common & {
      type: 'tensor';
      /** trailing dimensions [N, ...rowShape]; any shape when absent */
      rowShape?: readonly number[];
      /** rank when rowShape is absent */
      rank?: number;
      /** values per row (any row shape) when rowShape is absent */
      width?: number;
      /** NaN and ±Inf are invalid */
      finite?: boolean;
      /** the row count N must satisfy this */
      rows?: (n: number) => boolean;
    })
  | (Common & { type: 'custom'; valid: (v: unknown) => boolean; samples: () => unknown[] });

type Of<T extends Spec['type']> = Extract<Spec, { type: T }>;
type NumberOptions = Omit<Of<'number'>, 'type'>;

// ---------------------------------------------------------------- spec builders

export const num = (o: NumberOptions = {}): Spec => ({ type: 'number', ...o });
export const int = (min?: number, max?: number, o: NumberOptions = {}): Spec => ({
  type: 'number',
  integer: true,
  ...(min !== undefined ? { min } : {}),
  ...(max !== undefined ? { max } : {}),
  ...o,
});
export const positive = (o: NumberOptions = {}): Spec => ({ type: 'number', above: 0, ...o });
export const bool = (): Spec => ({ type: 'boolean' });
export const oneOf = (...values: unknown[]): Spec => ({ type: 'enum', values });
export const str = (o: { allowEmpty?: boolean; maxLength?: number } = {}): Spec => ({ type: 'string', ...o });
export const obj = (fields: Record<string, Spec>, o: Omit<Of<'object'>, 'type' | 'fields'> = {}): Spec => ({
  type: 'object',
  fields,
  ...o,
});
export const arr = (of: Spec, o: Omit<Of<'array'>, 'type' | 'of'> = {}): Spec => ({ type: 'array', of, ...o });
export const tuple = (...items: Spec[]): Spec => ({ type: 'tuple', items });
export const fn = (): Spec => ({ type: 'function' });
export const signal = (): Spec => ({ type: 'signal' });
export const union = (...of: Spec[]): Spec => ({ type: 'union', of });
export const tensorSpec = (o: Omit<Of<'tensor'>, 'type'> = {}): Spec => ({ type: 'tensor', ...o });
export const custom = (valid: (v: unknown) => boolean, samples: () => unknown[]): Spec => ({
  type: 'custom',
  valid,
  samples,
});
/** The same spec, optional. */
export const opt = (s: Spec, example?: () => unknown): Spec => ({
  ...s,
  optional: true,
  ...(example ? { example } : {}),
});
/** The same spec, with an example to build nested cases on when the base leaves it out. */
export const withExample = (s: Spec, example: () => unknown): Spec => ({ ...s, example });
/** Any seed: an integer 0..MAX_SAFE_INTEGER. */
export const seed = (): Spec => ({ ...opt(int(0, Number.MAX_SAFE_INTEGER)), cheap: true });
/** The job hooks every long-running call takes. */
export const hooks = { onProgress: opt(fn()), signal: opt(signal()) };

// ---------------------------------------------------------------- validity

function isPlainObjectLike(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function tensorValid(s: Of<'tensor'>, v: unknown): boolean {
  if (!isPlainObjectLike(v)) return false;
  const { data, shape } = v as { data?: unknown; shape?: unknown };
  if (!(data instanceof Float32Array) || !Array.isArray(shape) || shape.length === 0) return false;
  if (!shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) return false;
  if (shape.reduce((a: number, b: number) => a * b, 1) !== data.length) return false;
  if (s.rowShape) {
    if (shape.length !== s.rowShape.length + 1 || s.rowShape.some((d, i) => shape[i + 1] !== d)) return false;
  } else if (s.rank !== undefined && shape.length !== s.rank) return false;
  if (s.width !== undefined && data.length !== shape[0] * s.width) return false;
  if (s.rows && !s.rows(shape[0])) return false;
  return !s.finite || data.every(Number.isFinite);
}

/** True when the spec accepts `v` (MISSING: the field left out). */
export function accepts(s: Spec, v: unknown): boolean {
  if (v === MISSING || v === undefined) return s.optional === true;
  switch (s.type) {
    case 'number': {
      if (typeof v !== 'number') return false;
      if (s.anyNumber) return true;
      if (!Number.isFinite(v) || (s.integer && !Number.isInteger(v))) return false;
      if (!s.double && Math.abs(v) > FLOAT32_MAX) return false;
      if (s.integer && (v > Math.min(s.max ?? Infinity, MAX_INT) || v < Math.max(s.min ?? -Infinity, -MAX_INT))) {
        return false;
      }
      if (s.min !== undefined && v < s.min) return false;
      if (s.max !== undefined && v > s.max) return false;
      if (s.above !== undefined && !(v > s.above)) return false;
      if (s.below !== undefined && !(v < s.below)) return false;
      return !s.rule || s.rule(v);
    }
    case 'boolean':
      return typeof v === 'boolean';
    case 'enum':
      return s.values.some((a) => Object.is(a, v));
    case 'string':
      return typeof v === 'string' && (s.allowEmpty || v.length > 0) && v.length <= (s.maxLength ?? Infinity);
    case 'object': {
      if (!isPlainObjectLike(v)) return false;
      if (!s.open && Object.keys(v).some((k) => !(k in s.fields))) return false;
      return Object.entries(s.fields).every(([k, f]) => accepts(f, v[k] === undefined ? MISSING : v[k]));
    }
    case 'array': {
      const typed = s.typed?.some((T) => v instanceof T) ?? false;
      if (!Array.isArray(v) && !typed) return false;
      const a = Array.from(v as ArrayLike<unknown>);
      if (a.length < (s.minLength ?? 0) || a.length > (s.maxLength ?? Infinity)) return false;
      return a.every((e) => accepts(s.of, e)) && (!s.rule || s.rule(a));
    }
    case 'tuple':
      return Array.isArray(v) && v.length === s.items.length && s.items.every((it, i) => accepts(it, v[i]));
    case 'function':
      return typeof v === 'function';
    case 'signal':
      return v instanceof AbortSignal;
    case 'union':
      return s.of.some((o) => accepts(o, v));
    case 'tensor':
      return tensorValid(s, v);
    case 'custom':
      return s.valid(v);
  }
}

// ---------------------------------------------------------------- generated values

/** Wrong types, empty things and special numbers: tried on every field. */
export function commonValues(): unknown[] {
  return [
    MISSING,
    null,
    true,
    'text',
    '',
    '2',
    2n,
    {},
    [],
    [1],
    () => 0,
    NaN,
    Infinity,
    -Infinity,
    -1,
    0,
    -0,
    0.5,
    1e308,
    2 ** 53 + 2,
  ];
}

/** Values at and around a number spec's bounds, plus fractions and huge values. */
function numberValues(s: Of<'number'>): unknown[] {
  const out: number[] = [1.5, -1e12, 1e12, 1e-300, 1e38, 1e39, -1e39];
  if (s.integer) out.push(MAX_INT, MAX_INT + 2, Number.MAX_SAFE_INTEGER);
  for (const b of [s.min, s.max, s.above, s.below]) {
    if (b === undefined || !Number.isFinite(b)) continue;
    out.push(b, b - 1, b + 1, b - 0.5, b + 0.5, b * 2 + 1);
  }
  return out;
}

function enumValues(s: Of<'enum'>): unknown[] {
  const first = s.values.find((v) => typeof v === 'string') as string | undefined;
  return first === undefined ? ['bogus'] : ['bogus', first.toUpperCase(), ` ${first}`, `${first}x`];
}

/** Tensors that are malformed, of the wrong row shape, or hold NaN/Inf. */
function tensorValues(s: Of<'tensor'>): unknown[] {
  const row = s.rowShape ?? [2];
  const per = row.reduce((a, b) => a * b, 1);
  const good = (n: number, fill = 0.5) => ({ data: new Float32Array(n * per).fill(fill), shape: [n, ...row] });
  const bad = good(2);
  bad.data[per] = NaN;
  const inf = good(2);
  inf.data[0] = -Infinity;
  return [
    { data: [0.5, 0.5], shape: [1, 2] },
    { data: new Float64Array(2 * per), shape: [2, ...row] },
    { data: new Float32Array(2 * per) },
    { shape: [2, ...row] },
    { data: new Float32Array(2 * per), shape: [] },
    { data: new Float32Array(2 * per), shape: [2 * per + 1] },
    { data: new Float32Array(0), shape: [0, ...row] },
    { data: new Float32Array(2 * per), shape: [-2, ...row.map((d) => -d)] },
    { data: new Float32Array(2 * per), shape: [2.5, ...row] },
    { data: new Float32Array(2 * per), shape: ['2', ...row] },
    { data: new Float32Array(2 * per), shape: [NaN, ...row] },
    { data: new Float32Array(2 * per), shape: [2, ...row, 1] },
    { data: new Float32Array(2 * (per + 1)), shape: [2, per + 1] },
    { data: new Float32Array(2 * per + 2), shape: [2, per, 1] },
    { data: new Float32Array(2), shape: [2] },
    bad,
    inf,
    good(1),
  ];
}

/** The values tried directly on a field (before descending into its parts). */
export function valuesFor(s: Spec): unknown[] {
  const out = commonValues();
  switch (s.type) {
    case 'number':
      out.push(...numberValues(s));
      break;
    case 'enum':
      out.push(...enumValues(s));
      break;
    case 'string':
      out.push(' ', 'x'.repeat(10_000));
      break;
    case 'object':
      out.push(new Float32Array(2), Object.create(null) as object);
      break;
    case 'array':
    case 'tuple':
      out.push([[]], new Float32Array(0), [null, null]);
      break;
    case 'tensor':
      out.push(...tensorValues(s));
      break;
    case 'custom':
      out.push(...s.samples());
      break;
    case 'union':
      for (const o of s.of) if (o.type === 'number') out.push(...numberValues(o));
      break;
  }
  return dedupe(out);
}

function dedupe(values: unknown[]): unknown[] {
  return values.filter((v, i) => values.findIndex((w) => Object.is(v, w)) === i);
}

type Path = Array<string | number>;

/** One generated case. */
export interface Mutation {
  /** the field the case is about, below the argument, e.g. ['loss', 't'] or ['hidden', 0] */
  field: Path;
  /** where `value` is set: the field, or a parent set whole when the base leaves the parent out */
  path: Path;
  value: unknown;
  /** the value tried on the field */
  leaf: unknown;
  valid: boolean;
  /** other fields (paths below the argument) the rejection may name instead */
  also: Path[];
  /** a valid value here is quick to run */
  cheap?: boolean;
  namedByValue?: boolean;
}

/**
 * Every mutation of `base` under `s`: each field (depth first) set to each generated value, one
 * at a time, plus an unknown key on every closed object. Array elements are fuzzed at index 0.
 * A field whose parent the base leaves out is tried inside the parent's example.
 */
export function mutations(s: Spec, base: unknown, path: Path = []): Mutation[] {
  const out: Mutation[] = [];
  // a sibling of the field or of any of its parents
  const also = (s.also ?? []).flatMap((name) => path.map((_, k) => [...path.slice(0, k), name]));
  for (const value of valuesFor(s)) {
    out.push({
      field: path,
      path,
      value,
      leaf: value,
      valid: accepts(s, value),
      also,
      cheap: s.cheap,
      namedByValue: s.namedByValue,
    });
  }
  const fromExample = base === MISSING || base === undefined;
  const here = fromExample ? s.example?.() : base;
  if (here === undefined) return out;
  const nested = (m: Mutation): Mutation => {
    const copy = cloneValue(here) as Record<string | number, unknown>;
    setIn(copy, m.path.slice(path.length), m.value);
    // judged whole: a union may take the parent in another form (a std per component instead of a row)
    const valid = accepts(s, copy);
    return fromExample ? { ...m, path, value: copy, valid } : { ...m, valid };
  };
  // a union descends into the member that takes the value (e.g. an options object, or 'gaussian')
  const shape = s.type === 'union' ? (s.of.find((o) => accepts(o, here)) ?? s) : s;
  if (shape.type === 'object' && isPlainObjectLike(here)) {
    const extra = { ...here, bogusKey: 1 };
    out.push({ field: [...path, 'bogusKey'], path, value: extra, leaf: 1, valid: accepts(s, extra), also: [] });
    for (const [key, f] of Object.entries(shape.fields)) {
      for (const m of mutations(f, here[key] ?? MISSING, [...path, key])) out.push(nested(m));
    }
  } else if ((shape.type === 'array' || shape.type === 'tuple') && Array.isArray(here) && here.length > 0) {
    const items = shape.type === 'array' ? [shape.of] : shape.items;
    items.forEach((item, i) => {
      for (const m of mutations(item, here[i], [...path, i])) out.push(nested(m));
    });
    if (shape.type === 'array' && shape.maxLength !== undefined && shape.maxLength < 100) {
      const long = Array.from({ length: shape.maxLength + 1 }, () => here[0]);
      out.push({ field: path, path, value: long, leaf: long, valid: accepts(s, long), also });
    }
  }
  return out;
}

// ---------------------------------------------------------------- applying a mutation

/** A deep copy of plain data (objects, arrays, typed arrays); functions, signals and class instances are shared. */
export function cloneValue<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneValue) as T;
  if (ArrayBuffer.isView(v)) return (v as unknown as Float32Array).slice() as T;
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, w]) => [k, cloneValue(w)])) as T;
  }
  return v;
}

/** Sets (or, for MISSING, deletes) the value at `path` inside `root`, creating plain objects on the way. */
export function setIn(root: Record<string | number, unknown>, path: Path, value: unknown): void {
  let o = root;
  for (const key of path.slice(0, -1)) {
    if (o[key] === undefined || o[key] === null || typeof o[key] !== 'object') o[key] = {};
    o = o[key] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (value === MISSING && !Array.isArray(o)) delete o[last];
  else o[last] = value === MISSING ? undefined : value;
}

/** `base` with the mutation applied (path [] replaces it whole). */
export function applyMutation(base: unknown, m: Mutation): unknown {
  if (m.path.length === 0) return m.value === MISSING ? undefined : m.value;
  const root = cloneValue(base) as Record<string | number, unknown>;
  setIn(root, m.path, m.value);
  return root;
}

/** 'config' + ['loss', 't'] → 'config.loss.t'; ['hidden', 0] → 'model.hidden[0]'. */
export function pathText(prefix: string, path: Readonly<Path>): string {
  let s = prefix;
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (!/^[A-Za-z_$][\w$]*$/.test(p)) s += `['${p}']`;
    else s += s === '' ? p : `.${p}`;
  }
  return s;
}

// ---------------------------------------------------------------- judging a message

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * True when `message` names the field: its whole path as a word, or (a rule across fields, e.g.
 * "betaMax must be > betaMin") its parent's path and its own name.
 */
export function namesField(message: string, field: string): boolean {
  const word = (w: string) => new RegExp(`(^|[^A-Za-z0-9_$])${escape(w)}($|[^A-Za-z0-9_$])`).test(message);
  if (field === '' || word(field)) return true;
  const m = /^(.*?)(?:\.([A-Za-z_$][\w$]*)|\[(\d+)\]|\['([^']*)'\])$/.exec(field);
  if (!m) return false;
  const [, parent, leaf, , key] = m;
  if (key !== undefined) return message.includes(`'${key}'`);
  if (leaf === undefined) return word(parent);
  return (parent === '' || word(parent) || message.includes(`${parent}.`)) && word(leaf);
}

function containsDeep(v: unknown, pred: (x: unknown) => boolean, depth = 3): boolean {
  if (pred(v)) return true;
  if (depth === 0 || typeof v !== 'object' || v === null) return false;
  return Object.values(v).some((w) => containsDeep(w, pred, depth - 1));
}

/**
 * A reason when the message echoes another value than the one passed (NaN shown as null, the
 * string '2' as 2, 2n as 2), else undefined.
 */
export function echoMismatch(message: string, value: unknown): string | undefined {
  const m = /\bgot (.*)$/.exec(message);
  if (!m) return undefined;
  const echoed = m[1];
  if (/^null\b/.test(echoed) && !containsDeep(value, (x) => x === null)) return `it shows null for ${show(value)}`;
  if (typeof value === 'bigint' && new RegExp(`^${value}(?!n)\\b`).test(echoed)) return `it shows 2n as ${value}`;
  if (typeof value === 'string' && value !== '' && echoed.startsWith(value) && /^[\d-]/.test(value)) {
    return `it shows the string '${value}' as a number`;
  }
  return undefined;
}

/** A short, stable description of a generated value for a case's name. */
export function show(v: unknown): string {
  if (v === MISSING) return '(missing)';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return v.length > 20 ? `'${v.slice(0, 8)}…'(${v.length})` : `'${v}'`;
  if (typeof v === 'function') return 'a function';
  if (v instanceof AbortSignal) return 'an AbortSignal';
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Float32Array).length})`;
  if (Array.isArray(v))
    return v.length > 4 ? `[${v.slice(0, 3).map(show).join(', ')}, …${v.length}]` : `[${v.map(show).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === null) return 'Object.create(null)';
    if (proto !== Object.prototype) return `a ${(v as object).constructor.name}`;
    const keys = Object.keys(v);
    return `{${keys
      .slice(0, 4)
      .map((k) => `${k}: ${show((v as Record<string, unknown>)[k])}`)
      .join(', ')}${keys.length > 4 ? ', …' : ''}}`;
  }
  return String(v);
}

// ---------------------------------------------------------------- comparing states

/** Deep equality for states and arguments: typed arrays bit for bit, NaN equal to NaN, functions by kind. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a === 'function' && typeof b === 'function') return true;
  if (a instanceof AbortSignal && b instanceof AbortSignal) return a.aborted === b.aborted;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
