/**
 * Validation at the boundary: a schema's first issue as today's one-line EbmConfigError message,
 * the field path in front of the issue's tail (see fields.ts).
 */
import { z } from 'zod';
import { EbmConfigError } from '../errors';
import { describeValue, oneOfTail } from '../validate';
import { relativePath, typeTail } from './fields';

/** Tails for issues whose schema has no message of its own (kept generic; the fields set theirs). */
function fallbackTail(iss: z.core.$ZodRawIssue): string {
  switch (iss.code) {
    case 'invalid_type':
      return typeTail(iss.input, iss.expected === 'object' ? 'an object' : `a ${iss.expected}`);
    case 'invalid_value':
      return oneOfTail(iss.values, iss.input);
    case 'unrecognized_keys':
      return `.${iss.keys[0]} is not a known option`;
    case 'too_small':
      return ` must be >= ${String(iss.minimum)}, got ${describeValue(iss.input)}`;
    case 'too_big':
      return ` must be <= ${String(iss.maximum)}, got ${describeValue(iss.input)}`;
    default:
      return ` is not valid, got ${describeValue(iss.input)}`;
  }
}

/** `root` + the issue's path + its tail: 'config' + ['loss', 't'] + ' must be > 0, got -1'. */
export function issueMessage(issue: { path: readonly PropertyKey[]; message: string }, root: string): string {
  const text = `${root}${relativePath(issue.path)}${issue.message}`;
  // a root of '' (a run-config file names its sections bare: 'train.loss.t')
  return text.replace(/^[.\s]/, '');
}

/** How a boundary names the value it checks: a root name, or a function of the first issue. */
export type Naming = string | ((issue: z.core.$ZodIssue) => string);

/** The schema's parse of `value` (defaults filled in), or an EbmConfigError naming the first bad field. */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, naming: Naming): z.output<S> {
  const result = schema.safeParse(value, { error: fallbackTail });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new EbmConfigError(typeof naming === 'string' ? issueMessage(issue, naming) : naming(issue));
}
