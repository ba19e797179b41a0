/**
 * The CLI: `ebm train` config files (every field of data, model, train and eval, for the plain and
 * the latent runs), the flags of train, sample, eval and plot, and the top level. The cases run
 * main() in this process (stdout and stderr captured; main() returns the exit status); a few run
 * the real binary too, and must fail the same way.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../../lib';
import { main } from '../../lib/cli/main';
import { loss, sampler, trainOptions } from './config-specs';
import { absent, grid, scratchDir } from './fixtures';
import { Case, Group } from './harness';
import { latentConfigBase, latentConfigSpec, latentTrainSpec } from './group-latent';
import { modelKindsUnderTest } from './group-model';
import {
  applyMutation,
  arr,
  bool,
  custom,
  echoMismatch,
  int,
  MISSING,
  mutations,
  namesField,
  num,
  obj,
  oneOf,
  opt,
  pathText,
  positive,
  show,
  Spec,
  str,
  tuple,
  union,
} from './spec';

const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main(argv) here, with stdout and stderr captured. */
async function runInProcess(argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => (
    out.push(String(chunk)),
    true
  )) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (
    err.push(String(chunk)),
    true
  )) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}

/** Runs the real binary. */
function runBinary(argv: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...argv], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (error as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

/** What a failure must look like: status 1 or 2, one `ebm: ` line naming the field, no stack. */
function judgeCli(r: CliResult, field: string, leaf: unknown, also: string[] = []): string[] {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (r.code === 0) return ['accepted an invalid value (exit status 0)'];
  const problems: string[] = [];
  if (r.code !== 1 && r.code !== 2) problems.push(`exit status ${r.code} (want 1 or 2)`);
  if (lines.length !== 1)
    return [...problems, `${lines.length} lines on stderr (want one): ${JSON.stringify(r.stderr.slice(0, 600))}`];
  const line = lines[0];
  if (!line.startsWith('ebm: ')) problems.push(`the line does not start with 'ebm: ': ${line}`);
  if (line.startsWith('ebm: internal error')) problems.push(`an internal error: ${line}`);
  if (/\n\s+at /.test(r.stderr)) problems.push('a stack trace');
  if (![field, ...also].some((f) => namesField(line, f)))
    problems.push(`the message does not name ${field}: "${line}"`);
  const echo = leaf === undefined ? undefined : echoMismatch(line, leaf);
  if (echo) problems.push(`the message echoes another value (${echo}): "${line}"`);
  return problems;
}

/** JSON text for a config value, or undefined when JSON cannot hold it (NaN, 2n, functions, -0, typed arrays). */
function jsonText(v: unknown): string | undefined {
  const ok = (x: unknown): boolean => {
    if (x === null || typeof x === 'string' || typeof x === 'boolean') return true;
    if (typeof x === 'number') return !Number.isNaN(x) && !Object.is(x, -0);
    if (Array.isArray(x)) return x.every((e) => e !== undefined && ok(e));
    if (typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype)
      return Object.values(x).every((e) => e === undefined || ok(e));
    return false;
  };
  if (!ok(v)) return undefined;
  // ±Infinity as numbers too large for a double: JSON.parse reads them back as ±Infinity
  return JSON.stringify(v, (_k, x: unknown) => (x === Infinity ? 'INF+' : x === -Infinity ? 'INF-' : x)).replace(
    /"INF([+-])"/g,
    (_m, s: string) => (s === '+' ? '1e400' : '-1e400'),
  );
}

/** Cases of a config file: every mutation of `base` under `spec`, written as JSON and run as `ebm <argv>`. */
function configCases(
  name: string,
  spec: Spec,
  base: () => object,
  file: string,
  argv: (file: string) => string[],
  counter: { skipped: number },
): Case[] {
  const cases: Case[] = [];
  const seen = new Set<string>();
  for (const m of mutations(spec, base())) {
    const value = applyMutation(base(), m);
    const text = m.valid ? undefined : jsonText(value);
    if (text === undefined) {
      counter.skipped++;
      continue;
    }
    const field = pathText('', m.field);
    let id = `${name} ${field || '(the config)'} = ${show(m.leaf)}`;
    while (seen.has(id)) id += '+';
    seen.add(id);
    cases.push({
      id,
      run: async () => {
        fs.writeFileSync(file, text);
        const r = await runInProcess(argv(file));
        const also = m.also.map((p) => pathText('', p));
        // a file is named by its path (resolved against the config's folder)
        if (m.namedByValue && typeof m.leaf === 'string' && m.leaf !== '') also.push(m.leaf);
        return judgeCli(r, field, m.leaf, also);
      },
    });
  }
  return cases;
}

/** A flag's values, as the command line gives them (strings); the spec judges the text. */
type FlagSpec =
  | { kind: 'number'; integer?: boolean; min?: number; max?: number; above?: number }
  | { kind: 'text'; valid: (v: string) => boolean; samples: string[]; namedByValue?: boolean };

const numberPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const numberTexts = [
  '',
  ' ',
  'abc',
  '12abc',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e400',
  '-1',
  '0',
  '-0',
  '0.5',
  '1.5',
  '1e12',
  '9007199254740993',
  '0x10',
  '1,2',
  '+1',
  '.5',
  '1e-400',
  '2e9',
  '1e7',
  '10000001',
  '1025',
  '4097',
  '100001',
];

function flagValid(f: FlagSpec, text: string): boolean {
  if (f.kind === 'text') return f.valid(text);
  if (!numberPattern.test(text.trim())) return false;
  const v = Number(text);
  if (
    !Number.isFinite(v) ||
    Math.abs(v) > 3.4028234663852886e38 ||
    (f.integer && (!Number.isInteger(v) || Math.abs(v) > 9e15))
  )
    return false;
  if (f.above !== undefined && !(v > f.above)) return false;
  return !((f.min !== undefined && v < f.min) || (f.max !== undefined && v > f.max));
}

/** Cases of a command's flags: each flag set to each bad text (or left out when required), one at a time. */
function flagCases(
  name: string,
  flags: Record<string, FlagSpec & { required?: boolean }>,
  base: Record<string, string>,
  argv: (flags: Record<string, string>) => string[],
  counter: { skipped: number },
): Case[] {
  const cases: Case[] = [];
  for (const [flag, f] of Object.entries(flags)) {
    const texts =
      f.kind === 'number'
        ? [
            ...numberTexts,
            ...[f.min, f.max, f.above]
              .filter((b) => b !== undefined)
              .flatMap((b) => [String((b as number) - 1), String((b as number) + 1), String((b as number) + 0.5)]),
          ]
        : f.samples;
    const values: Array<string | typeof MISSING> = [...new Set(texts)];
    if (f.required) values.push(MISSING);
    for (const text of values) {
      if (text !== MISSING && flagValid(f, text)) {
        counter.skipped++;
        continue;
      }
      const flagsNow = { ...base };
      if (text === MISSING) delete flagsNow[flag];
      else flagsNow[flag] = text;
      cases.push({
        id: `${name} --${flag} ${text === MISSING ? '(missing)' : JSON.stringify(text)}`,
        run: async () => {
          const byValue = f.kind === 'text' && f.namedByValue && text !== MISSING && text !== '' ? [text] : [];
          return judgeCli(await runInProcess(argv(flagsNow)), `--${flag}`, undefined, byValue);
        },
      });
    }
  }
  return cases;
}

const flagArgs = (flags: Record<string, string>) => Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]);

/** Fixed argument lists that must fail: positional arguments, unknown and repeated flags, the top level. */
function argvCases(list: Array<[string, string[], string]>): Case[] {
  return list.map(([id, argv, field]) => ({
    id,
    run: async () => judgeCli(await runInProcess(argv), field, undefined),
  }));
}

export async function cliGroup(): Promise<Group> {
  const dir = scratchDir('cli');
  const counter = { skipped: 0 };
  const f = (name: string) => path.join(dir, name);
  // files the configs and commands point at
  const plain = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
  const tc = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], timeConditioned: true, device: 'cpu' });
  await plain.save(f('plain.safetensors'));
  await tc.save(f('tc.safetensors'));
  const latent = ebm.latentEbm(latentConfigBase() as ebm.LatentEbmConfig);
  await latent.save(f('latent.safetensors'));
  ebm.datasets.writeNpy(f('points.npy'), grid(16, [2]));
  ebm.datasets.writeNpy(f('images.npy'), grid(4, [1, 8, 8]));
  fs.writeFileSync(f('points.csv'), 'x,y\n1,2\n3,4\n5,6\n');
  fs.writeFileSync(f('notes.txt'), 'not data\n');
  fs.mkdirSync(f('empty'));
  const missing = f('missing');
  const badPaths = [missing, f('empty'), f('notes.txt'), ''];
  const filePath = (good: string, also: string[] = []) =>
    ({
      ...custom(
        (v) => v === good || also.includes(v as string),
        () => badPaths.filter((p) => p !== '').concat(['']),
      ),
      namedByValue: true,
    }) as Spec;

  // ---- ebm train: the plain run's config file
  const mlp = modelKindsUnderTest.find((k) => k.name === 'mlp') as (typeof modelKindsUnderTest)[number];
  const samplesSampler = sampler('langevin');
  // t applies only to time-conditioned models: on this E(x) model every t is invalid
  const noT = absent([0.5]);
  const evalSpec = opt(
    obj({
      grid: opt(
        obj({ lo: opt(num({ below: 4 })), hi: opt(num({ above: -4 })), resolution: opt(int(2, 4096)) }),
        () => ({
          lo: -4,
          hi: 4,
          resolution: 8,
        }),
      ),
      samples: opt(obj({ n: int(1, 1e6), sampler: samplesSampler.spec, seed: opt(int(0)), t: noT }), () => ({
        n: 4,
        sampler: samplesSampler.base(),
      })),
      t: noT,
    }),
    () => ({ grid: { resolution: 8 } }),
  );
  const runSpec = (data: Spec, dataBase: () => object) => ({
    spec: obj({
      name: opt(
        custom(
          (v) => typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(v),
          () => ['a/b', '.hidden', 'x'.repeat(101), 'a b'],
        ),
      ),
      description: opt(str({ allowEmpty: true })),
      data,
      model: mlp.spec,
      train: trainOptions({
        loss: loss('ed').spec,
        rows: 16,
        withHooks: false,
        checkpointPath: 'checkpoint.safetensors',
        inFile: true,
      }),
      eval: evalSpec,
    }),
    base: () => ({
      name: 'fz',
      data: dataBase(),
      model: { kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' },
      train: { loss: loss('ed').base(), batchSize: 4, steps: 1 },
    }),
  });
  const trainArgv = (file: string) => ['train', file, '--out', f('run'), '--quiet'];
  const toyData = obj({
    toy: oneOf(...ebm.datasets.toyNames),
    n: int(2, 1e8, { also: ['batchSize'] }),
    seed: opt(int(0, 2 ** 31)),
  });
  const plainRun = runSpec(toyData, () => ({ toy: 'moons', n: 16 }));
  const cases: Case[] = configCases('train', plainRun.spec, plainRun.base, f('run.json'), trainArgv, counter);

  // the other data sources: their fields only
  const dataSources: Array<[string, Spec, () => object]> = [
    ['npy', obj({ npy: filePath(f('points.npy')) }), () => ({ npy: f('points.npy') })],
    [
      'csv',
      obj({
        csv: filePath(f('points.csv')),
        header: opt(bool()),
        delimiter: opt(
          custom(
            (v) => typeof v === 'string' && v.length === 1 && !/["\r\n]/.test(v),
            () => [';;', ''],
          ),
        ),
        // the model takes rows of 2
        columns: opt(arr(int(0, 1), { minLength: 2, maxLength: 2, also: ['data'] })),
      }),
      () => ({ csv: f('points.csv'), header: true }),
    ],
    [
      'mixture',
      obj({
        mixture: obj({
          means: arr(tuple(num(), num()), { minLength: 2, maxLength: 2, also: ['weights', 'stds'] }),
          stds: union(positive(), arr(positive(), { minLength: 2, maxLength: 2 })),
          weights: arr(positive(), {
            minLength: 2,
            maxLength: 2,
            rule: (w) => Math.abs((w as number[])[0] + (w as number[])[1] - 1) <= 1e-6,
          }),
          n: int(2, 1e8, { also: ['batchSize'] }),
          seed: opt(int(0, 2 ** 31)),
        }),
      }),
      () => ({
        mixture: {
          means: [
            [0, 0],
            [2, 2],
          ],
          stds: 0.5,
          weights: [0.5, 0.5],
          n: 16,
        },
      }),
    ],
  ];
  for (const [source, spec, dataBase] of dataSources) {
    // the data fields only: the rest of the config is the plain run's
    const run = runSpec(spec, dataBase);
    const dataOnly = obj({ data: spec }, { open: true });
    const sourceCases = configCases(
      `train(${source})`,
      dataOnly,
      run.base,
      f(`run-${source}.json`),
      trainArgv,
      counter,
    );
    cases.push(...sourceCases.filter((c) => c.id.includes(' data')));
  }

  // the latent run's config file
  const latentRun = obj({
    name: opt(str()),
    data: obj({ npy: filePath(f('images.npy')) }),
    model: {
      ...latentConfigSpec,
      fields: { ...(latentConfigSpec as Extract<Spec, { type: 'object' }>).fields, kind: oneOf('latent') },
    } as Spec,
    train: latentTrainSpec(4, 'checkpoint.safetensors', false),
    eval: opt(
      obj({
        samples: opt(
          obj({
            n: opt(int(1, 4096)),
            seed: opt(int(0)),
            prior: opt(obj({ steps: opt(int(0, 1e6)), stepSize: opt(positive({ max: 10 })) })),
          }),
        ),
        reconstruct: opt(obj({ n: opt(int(1, 1024)), seed: opt(int(0)) })),
        inpaint: opt(obj({ n: opt(int(1, 1024)), mask: opt(oneOf('centre', 'half')), seed: opt(int(0)) })),
      }),
      () => ({ samples: { n: 1 } }),
    ),
  });
  const latentBase = () => ({
    name: 'fzl',
    data: { npy: f('images.npy') },
    model: { kind: 'latent', ...latentConfigBase() },
    train: { batchSize: 2, steps: 1, posterior: { steps: 1 } },
  });
  cases.push(...configCases('train(latent)', latentRun, latentBase, f('latent.json'), trainArgv, counter));

  // ---- flags
  const goodConfig = f('good.json');
  fs.writeFileSync(goodConfig, JSON.stringify(plainRun.base()));
  const folder = (v: string) =>
    v !== '' && fs.existsSync(path.dirname(path.resolve(v))) && !(fs.existsSync(v) && fs.statSync(v).isDirectory());
  // the flag cases of `ebm sample <model>`, around a chain of 2 steps of 4 chains
  const sampleFlags = (
    name: string,
    model: string,
    flags: Parameters<typeof flagCases>[1],
    extra: Record<string, string>,
  ) =>
    flagCases(
      `sample${name}`,
      flags,
      { steps: '2', 'step-size': '0.1', n: '4', out: f('samples.npy'), ...extra },
      (fl) => ['sample', f(model), ...flagArgs(fl)],
      counter,
    );
  cases.push(
    ...flagCases(
      'train',
      {
        steps: { kind: 'number', integer: true, min: 1, max: 1e9 },
        nproc: { kind: 'number', integer: true, min: 1, max: 1024 },
        resume: { kind: 'text', valid: () => false, samples: [missing, f('notes.txt'), f('empty'), ''] },
      },
      { steps: '1' },
      (flags) => ['train', goodConfig, '--quiet', ...flagArgs(flags)],
      counter,
    ),
    ...sampleFlags(
      '',
      'plain.safetensors',
      {
        sampler: {
          kind: 'text',
          valid: (v) => (ebm.samplerKinds as readonly string[]).includes(v),
          samples: ['', 'bogus', 'MALA', 'annealed'],
          required: true,
        },
        steps: { kind: 'number', integer: true, min: 1, max: 1e7, required: true },
        'step-size': { kind: 'number', above: 0, required: true },
        n: { kind: 'number', integer: true, min: 1, max: 1e8 },
        seed: { kind: 'number', integer: true, min: 0 },
        t: { kind: 'text', valid: () => false, samples: ['0.5', '0', 'abc'] },
        leapfrog: { kind: 'text', valid: () => false, samples: ['10'] },
        'adapt-steps': { kind: 'text', valid: () => false, samples: ['1'] },
        levels: { kind: 'text', valid: () => false, samples: ['2'] },
        device: {
          kind: 'text',
          valid: (v) => /^(auto|cpu|cuda|cuda:\d{1,3})$/.test(v) && !v.startsWith('cuda'),
          samples: ['', 'gpu', 'CPU', 'cuda:', 'cuda:-1', 'cuda:1000'],
        },
        out: { kind: 'text', valid: folder, samples: ['', f('empty'), path.join(missing, 'x.npy')] },
        png: { kind: 'text', valid: folder, samples: ['', f('empty'), path.join(missing, 'x.png')] },
      },
      { sampler: 'langevin' },
    ),
    ...sampleFlags(
      '(hmc)',
      'plain.safetensors',
      {
        leapfrog: { kind: 'number', integer: true, min: 1, max: 10000 },
        'adapt-steps': { kind: 'number', integer: true, min: 0, max: 1 },
      },
      { sampler: 'hmc' },
    ),
    ...sampleFlags(
      '(time-conditioned)',
      'tc.safetensors',
      {
        t: { kind: 'number', min: 0, max: 1, required: true },
        levels: { kind: 'text', valid: () => false, samples: ['2'] },
      },
      { sampler: 'langevin', t: '0.5' },
    ),
    ...sampleFlags(
      '(annealed)',
      'tc.safetensors',
      {
        levels: { kind: 'number', integer: true, min: 1, max: 100000 },
        t: { kind: 'text', valid: () => false, samples: ['0.5'] },
      },
      { sampler: 'annealed' },
    ),
    ...sampleFlags(
      '(latent)',
      'latent.safetensors',
      {
        // generate() draws at most 1e7 images
        n: { kind: 'number', integer: true, min: 1, max: 1e7 },
        steps: { kind: 'number', integer: true, min: 0, max: 1e6 },
        'step-size': { kind: 'number', above: 0, max: 10 },
        seed: { kind: 'number', integer: true, min: 0 },
        sampler: { kind: 'text', valid: () => false, samples: ['langevin'] },
      },
      { n: '1', steps: '1', out: f('latent.npy') },
    ),
    ...flagCases(
      'eval',
      {
        data: {
          kind: 'text',
          valid: (v) => v === f('points.npy'),
          samples: [
            '',
            'toy:',
            'toy:bogus',
            'toy:moons:0',
            'toy:moons:abc',
            'toy:moons:10:-1',
            'toy:moons:10:1:x',
            'toy:moons:1e400',
            'points.txt',
            missing + '.npy',
            f('notes.txt'),
            f('empty') + '.csv',
          ],
          namedByValue: true,
          required: true,
        },
        grid: {
          kind: 'text',
          valid: () => false,
          samples: [
            '',
            '-4,4',
            '4,-4,10',
            '-4,4,1',
            '-4,4,1.5',
            'a,b,c',
            '-4,4,5000',
            '-4,NaN,10',
            '-1e400,4,10',
            '-4,4,10,1',
          ],
        },
        t: { kind: 'text', valid: () => false, samples: ['0.5', 'abc'] },
        device: { kind: 'text', valid: (v) => v === 'cpu', samples: ['', 'gpu', 'cuda:', 'cuda:-1'] },
      },
      { data: f('points.npy') },
      (flags) => ['eval', f('plain.safetensors'), ...flagArgs(flags)],
      counter,
    ),
    ...flagCases(
      'eval(time-conditioned)',
      { t: { kind: 'number', min: 0, max: 1 } },
      { data: 'toy:moons:20' },
      (flags) => ['eval', f('tc.safetensors'), ...flagArgs(flags)],
      counter,
    ),
  );

  // ---- positional arguments, unknown and repeated flags, the top level
  const runDir = f('plot-run');
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(runDir, 'metrics.jsonl'), 'not json\n');
  cases.push(
    ...argvCases([
      ['ebm bogus', ['bogus'], 'bogus'],
      ['ebm --bogus', ['--bogus'], '--bogus'],
      ['ebm --version extra', ['--version', 'extra'], '--version'],
      ['ebm help bogus', ['help', 'bogus'], 'bogus'],
      ['train (no config)', ['train'], 'config.json'],
      ['train two configs', ['train', goodConfig, goodConfig], goodConfig],
      ['train --bogus', ['train', goodConfig, '--bogus'], '--bogus'],
      ['train --steps twice', ['train', goodConfig, '--steps', '1', '--steps', '2'], '--steps'],
      ['train --steps (no value)', ['train', goodConfig, '--steps'], '--steps'],
      ['train --quiet=yes', ['train', goodConfig, '--quiet=yes'], '--quiet'],
      ['train --out (empty)', ['train', goodConfig, '--out', ''], '--out'],
      ['train --out a file', ['train', goodConfig, '--out', f('notes.txt')], '--out'],
      ['train config missing', ['train', missing], missing],
      ['train config a folder', ['train', f('empty')], f('empty')],
      ['train config not JSON', ['train', f('notes.txt')], f('notes.txt')],
      ['sample (no model)', ['sample'], 'model.safetensors'],
      [
        'sample model missing',
        ['sample', missing, '--sampler', 'langevin', '--steps', '1', '--step-size', '0.1'],
        missing,
      ],
      [
        'sample model a folder',
        ['sample', f('empty'), '--sampler', 'langevin', '--steps', '1', '--step-size', '0.1'],
        f('empty'),
      ],
      [
        'sample model not a checkpoint',
        ['sample', f('notes.txt'), '--sampler', 'langevin', '--steps', '1', '--step-size', '0.1'],
        f('notes.txt'),
      ],
      ['eval (no model)', ['eval'], 'model.safetensors'],
      ['eval model missing', ['eval', missing, '--data', 'toy:moons:10'], missing],
      ['plot (no folder)', ['plot'], 'runDir'],
      ['plot folder missing', ['plot', missing], missing],
      ['plot a file', ['plot', f('notes.txt')], f('notes.txt')],
      ['plot a folder without metrics', ['plot', f('empty')], f('empty')],
      ['plot unreadable metrics', ['plot', runDir], 'metrics.jsonl'],
      ['plot --bogus', ['plot', runDir, '--bogus'], '--bogus'],
      ['plot two folders', ['plot', runDir, runDir], runDir],
    ]),
  );

  // a few through the real binary: the same status and message as in-process
  const spawned: Array<[string, string[]]> = [
    ['train --steps 0', ['train', goodConfig, '--steps', '0']],
    [
      'sample --n abc',
      ['sample', f('plain.safetensors'), '--sampler', 'mala', '--steps', '1', '--step-size', '0.1', '--n', 'abc'],
    ],
    ['eval --grid 4,-4,10', ['eval', f('plain.safetensors'), '--data', 'toy:moons:10', '--grid', '4,-4,10']],
    ['plot missing', ['plot', missing]],
    ['bogus', ['bogus']],
  ];
  cases.push({
    id: `the real binary agrees with main() (${spawned.map(([n]) => n).join('; ')})`,
    run: async () => {
      const real = await Promise.all(spawned.map(([, argv]) => runBinary(argv)));
      const problems: string[] = [];
      for (let i = 0; i < spawned.length; i++) {
        const here = await runInProcess(spawned[i][1]);
        if (real[i].code !== here.code || real[i].stderr !== here.stderr) {
          problems.push(
            `${spawned[i][0]}: binary ${real[i].code} ${JSON.stringify(real[i].stderr)}, main() ${here.code} ${JSON.stringify(here.stderr)}`,
          );
        }
        problems.push(...judgeCli(real[i], '', undefined).filter((p) => !p.startsWith('the message does not name')));
      }
      return problems;
    },
  });
  return {
    cases,
    skipped: counter.skipped,
    probe: async () =>
      (await runInProcess(['eval', f('plain.safetensors'), '--data', 'toy:moons:50', '--grid', '-4,4,64'])).stdout,
  };
}
