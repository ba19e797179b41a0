/**
 * Command-line parsing shared by every `ebm` command: node:util parseArgs in strict mode, with
 * one-line messages for the mistakes people make (unknown flag, missing value, stray argument)
 * and strict number parsing ("12abc" is not 12).
 */
import * as nodePath from 'node:path';
import { parseArgs } from 'node:util';
import { FLOAT32_MAX, MAX_INT } from '../validate';

/** A mistake on the command line: reported as one line, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** True when the arguments ask for help (`--help` or `-h` before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

function flagName(raw: string): string {
  return raw.startsWith('-') ? raw : `--${raw}`;
}

/**
 * Parses `argv` for `command` (e.g. 'ebm train'). `positionals` names the expected positional
 * arguments in order; all are required.
 */
export function parseCommand(
  command: string,
  argv: readonly string[],
  flags: Record<string, FlagSpec>,
  positionals: readonly string[],
): ParsedArgs {
  const see = `(see '${command} --help')`;
  let parsed: {
    values: Record<string, string | boolean | (string | boolean)[] | undefined>;
    positionals: string[];
    tokens?: Array<{ kind: string; name?: string }>;
  };
  // `--grid -4,4,300`: a value that starts with a minus sign and a digit belongs to the option
  // before it (parseArgs would take it for an option and report a missing value).
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && flags[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else {
      args.push(a);
    }
  }
  try {
    parsed = parseArgs({
      args,
      options: { ...flags, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    const quoted = /'([^']+)'/.exec(e.message)?.[1] ?? '';
    switch (e.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown option ${quoted} for '${command}' ${see}`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
        const name = quoted.split(' ')[0];
        if (/does not take an argument/.test(e.message)) {
          throw new UsageError(`option ${name} does not take a value ${see}`);
        }
        throw new UsageError(`option ${name} needs a value ${see}`);
      }
      default:
        throw new UsageError(`${e.message.split('\n')[0]} ${see}`);
    }
  }
  // parseArgs keeps the last of a repeated option; a repeat is almost always a mistake
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option' || t.name === undefined) continue;
    if (seen.has(t.name)) throw new UsageError(`option --${t.name} was given more than once ${see}`);
    seen.add(t.name);
  }
  // no option is declared `multiple`, so every value is a string or a boolean
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const pos = parsed.positionals;
  if (pos.length < positionals.length) {
    throw new UsageError(`'${command}' needs ${positionals.map((p) => `<${p}>`).join(' ')} ${see}`);
  }
  if (pos.length > positionals.length) {
    throw new UsageError(`unexpected argument '${pos[positionals.length]}' for '${command}' ${see}`);
  }
  for (const [name, spec] of Object.entries(flags)) {
    const v = values[name];
    if (spec.type === 'string' && typeof v === 'string' && v.length === 0) {
      throw new UsageError(`option ${flagName(name)} needs a non-empty value ${see}`);
    }
  }
  return { values, positionals: pos };
}

const numberPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export interface NumberBounds {
  integer?: boolean;
  min?: number;
  max?: number;
  /** exclusive lower bound */
  above?: number;
}

/** Parses a number written on the command line; `what` names it in the message ("--steps"). */
export function parseNumber(text: string, what: string, bounds: NumberBounds = {}): number {
  const kind = bounds.integer ? 'an integer' : 'a number';
  const v = numberPattern.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isFinite(v) || (bounds.integer && !Number.isInteger(v))) {
    throw new UsageError(`${what} must be ${kind}, got '${text}'`);
  }
  // the library's limits (see checkNumber): a float32, an integer the native core reads
  if (Math.abs(v) > FLOAT32_MAX) throw new UsageError(`${what} must be within ±${FLOAT32_MAX} (float32), got ${text}`);
  if (bounds.integer) {
    bounds = {
      ...bounds,
      max: Math.min(bounds.max ?? MAX_INT, MAX_INT),
      min: Math.max(bounds.min ?? -MAX_INT, -MAX_INT),
    };
  }
  if (bounds.above !== undefined && !(v > bounds.above)) {
    throw new UsageError(`${what} must be > ${bounds.above}, got ${text}`);
  }
  if (bounds.min !== undefined && v < bounds.min) throw new UsageError(`${what} must be >= ${bounds.min}, got ${text}`);
  if (bounds.max !== undefined && v > bounds.max) throw new UsageError(`${what} must be <= ${bounds.max}, got ${text}`);
  return v;
}

/** A numeric flag's value, or undefined when it was not given. */
export function numberFlag(args: ParsedArgs, name: string, bounds: NumberBounds = {}): number | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? parseNumber(v, `--${name}`, bounds) : undefined;
}

/** A string flag's value, or undefined when it was not given. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A string flag that must be given. */
export function requiredFlag(args: ParsedArgs, command: string, name: string, hint: string): string {
  const v = stringFlag(args, name);
  if (v === undefined) throw new UsageError(`'${command}' needs --${name} ${hint} (see '${command} --help')`);
  return v;
}

/** Parses "lo,hi,resolution" (the --grid flag). */
export function parseGrid(text: string, what = '--grid'): { lo: number; hi: number; resolution: number } {
  const parts = text.split(',');
  if (parts.length !== 3) throw new UsageError(`${what} must be lo,hi,resolution (e.g. -4,4,300), got '${text}'`);
  const lo = parseNumber(parts[0], `${what} lo`);
  const hi = parseNumber(parts[1], `${what} hi`);
  const resolution = parseNumber(parts[2], `${what} resolution`, { integer: true, min: 2, max: 4096 });
  if (!(hi > lo)) throw new UsageError(`${what} needs lo < hi, got ${lo},${hi}`);
  return { lo, hi, resolution };
}

/** A path as the user would like to read it: relative when it is inside the current directory. */
export function displayPath(p: string): string {
  const rel = nodePath.relative(process.cwd(), p);
  return rel !== '' && !rel.startsWith('..') && !nodePath.isAbsolute(rel) ? rel : p;
}
