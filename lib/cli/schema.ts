/**
 * `ebm schema [--out FILE]`: the JSON Schema (draft 2020-12) of the run-config files `ebm train`
 * reads, generated from the same zod schemas that check them, with each field's description and
 * default. Editors that read `"$schema"` complete and check a config file with it; the repository
 * holds a copy in schema/run-config.schema.json.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../fsutil';
import { jsonFirstBranch, pick } from '../schema/fields';
import { parseConfig } from '../schema/parse';
import { parseCommand, stringFlag } from './args';
import { isLatentRun, LatentRunFileSchema } from './latent-run';
import { runConfigNaming, RunFileSchema } from './run-config';

export const schemaHelp = `Usage: ebm schema [--out FILE]

Prints the JSON Schema (draft 2020-12) of the run-config files 'ebm train' reads: every field
with its description and default, generated from the schemas that check them. Point a config
file at it with "$schema" (e.g. "$schema": "../schema/run-config.schema.json") and an editor
completes and checks the file.

Options:
  --out FILE   write it to FILE instead of standard output
  -h, --help   show this help`;

/** A run-config file: an energy model's run, or a latent image prior's (`"model": { "kind": "latent" }`). */
export const RunConfigSchema = pick([RunFileSchema, LatentRunFileSchema], (v) => (isLatentRun(v) ? 1 : 0)).meta({
  title: 'ebm-torch run config',
  description: "The config file of 'ebm train <config.json>': data, model, train and eval.",
});

/** Checks a parsed run-config file (either kind) against its schema; returns it with every default filled in. */
export function validateRunConfig(raw: unknown): z.output<typeof RunConfigSchema> {
  return parseConfig(RunConfigSchema, raw, runConfigNaming);
}

/** The JSON Schema of run-config files. */
export function runConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RunConfigSchema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      // a field JavaScript callers may also give as a typed array: a file holds the JSON form
      const json = ctx.jsonSchema as { oneOf?: unknown[] };
      if (jsonFirstBranch.has(ctx.zodSchema as unknown as z.ZodType) && Array.isArray(json.oneOf)) {
        const [first] = json.oneOf;
        delete json.oneOf;
        Object.assign(json, first);
      }
    },
  }) as Record<string, unknown>;
}

/** The JSON Schema as the file holds it: two-space indents, a final newline. */
export function runConfigJsonSchemaText(): string {
  return `${JSON.stringify(runConfigJsonSchema(), null, 2)}\n`;
}

export async function schemaCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand('ebm schema', argv, { out: { type: 'string' } }, []);
  const text = runConfigJsonSchemaText();
  const out = stringFlag(args, 'out');
  if (out === undefined) {
    process.stdout.write(text);
  } else {
    const file = nodePath.resolve(out);
    fs.mkdirSync(nodePath.dirname(file), { recursive: true });
    writeFileAtomic(file, text);
    process.stderr.write(`wrote ${out}\n`);
  }
  return 0;
}
