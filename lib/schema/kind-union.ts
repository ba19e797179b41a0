/**
 * Unions keyed by `kind` whose branch is found from each schema's own `kind` literal, so the
 * order of the schemas in the union does not matter (no index arithmetic over a kinds array).
 */
import type { z } from 'zod';
import { kindOf, oneOfTail, pick } from './fields';
import { describeValue } from '../validate';

/** The `kind` literal of an object schema, or undefined. */
function literalKind(schema: z.core.SomeType): string | undefined {
  const def = (schema as unknown as { _zod: { def: { shape?: Record<string, { _zod: { def: { values?: unknown[] } } }> } } })
    ._zod.def;
  const values = def.shape?.kind?._zod.def.values;
  return typeof values?.[0] === 'string' ? values[0] : undefined;
}

/**
 * A union of object schemas chosen by `kind`. A kind with several shapes (DSM: `sigma` or `path`)
 * has a `forms` chooser returning the position among that kind's shapes, or a tail; `missing` is the
 * tail for an absent value.
 */
export function kindUnion<const T extends readonly z.core.SomeType[]>(
  schemas: T,
  options: { forms?: Record<string, (input: object) => number | string>; missing?: string } = {},
) {
  const byKind = new Map<string, number[]>();
  schemas.forEach((s, i) => {
    const kind = literalKind(s);
    if (kind === undefined) throw new Error('internal: kindUnion needs object schemas with a kind literal');
    byKind.set(kind, [...(byKind.get(kind) ?? []), i]);
  });
  const kinds = [...byKind.keys()];
  return pick(schemas, (input) => {
    if (input === undefined && options.missing !== undefined) return options.missing;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return input === undefined ? ' is required' : ` must be an object, got ${describeValue(input)}`;
    }
    const kind = kindOf(input);
    const at = typeof kind === 'string' ? byKind.get(kind) : undefined;
    if (at === undefined) return `.kind${oneOfTail(kinds, kind)}`;
    const form = options.forms?.[kind as string];
    if (form === undefined) return at[0] as number;
    const j = form(input);
    return typeof j === 'string' ? j : (at[j] ?? at[0] as number);
  });
}
