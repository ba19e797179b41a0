/**
 * The run config file read by `ebm train` (JSON). The whole file is checked once, against its
 * schema (every field and the rules across sections), and the data loaded, before anything is
 * created on disk; relative data paths are resolved against the config file's folder. `ebm schema`
 * prints the file's JSON Schema (schema/run-config.schema.json), which `"$schema"` points editors at.
 *
 *   {
 *     "$schema": "../schema/run-config.schema.json",  // optional, ignored: for editors
 *     "name": "8gaussians-ed",                 // optional; default: the file name without .json.
 *                                              //   Letters, digits, '.', '_', '-'. Output: runs/<name>
 *     "description": "free text",              // optional, ignored
 *     "data": one of
 *       { "toy": "8gaussians", "n": 20000, "seed": 0 }       // 8gaussians 25gaussians 2spirals checkerboard
 *                                                           //   rings pinwheel swissroll moons circles
 *       { "npy": "file.npy" }                               // float32/float64 .npy, [N, ...]
 *       { "csv": "file.csv", "header": true, "delimiter": ",", "columns": [0, 1] }  // header: default auto
 *       { "idx": "file-idx3-ubyte.gz", "scale": "01", "labels": "file-idx1-ubyte.gz" }
 *                                                            // IDX; scale: '01' | '-11' | 'none' (default);
 *                                                            // labels (uint8 or int32 IDX, one per row) for 'ce'
 *       { "fashionMnist": { "split": "train", "limit": 2000, "scale": "-11", "dir": "..." } }
 *       { "imageFolder": { "dir": "pngs", "size": 28, "grayscale": true, "limit": 5000, "recursive": false } }
 *                                                            // PNGs as [N, C, H, W] in [-1, 1]; size: n | [h, w]
 *       { "mixture": { "means": [[0, 0], [3, 3]], "stds": [0.5, 0.5], "weights": [0.5, 0.5],
 *                      "n": 10000, "seed": 0 } }             // diagonal Gaussian mixture, any dimension
 *     "model": ModelConfig,                    // as energyModel(), e.g. { "kind": "mlp", "inputDim": 2, "hidden": [128, 128] }
 *                                              //   (kind 'latent': a latent image prior, see latent-run.ts)
 *     "train": TrainOptions,                   // as train(), without onProgress/signal, e.g.
 *                                              //   { "loss": { "kind": "ed", "t": 1, "m": 16, "w": 1 },
 *                                              //     "batchSize": 128, "steps": 2000, "logEvery": 100 }
 *                                              //   a relative checkpoint.path lands in the run folder
 *     "eval": {                                // optional
 *       "grid": { "lo": -4, "hi": 4, "resolution": 300 },   // 2D data only; default: a box holding the data
 *       "samples": { "n": 2000, "sampler": SamplerConfig, "seed": 0, "t": 0.01 },  // draw samples after training
 *       "t": 0.001                             // time-conditioned models: evaluate E(x, t) here
 *                                              //   (default: train.loss.tMin)
 *     }
 *   }
 *
 * Rows of the data are reshaped to the model's input shape when the sizes agree (a [N, 784]
 * array feeds a convnet with inputShape [1, 28, 28], Fashion-MNIST's [N, 1, 28, 28] feeds an MLP
 * with inputDim 784).
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { z } from 'zod';
import { batchSizeTail, ResolvedTrainOptions, TrainOptionsSchema } from '../config';
import { DataSpec, DataSpecSchema, dataHasLabels, fitRows, LoadedData, loadData, resolveDataPaths } from '../data/spec';
import { EbmConfigError, EbmError, EbmIoError } from '../errors';
import { modelRowShape, ModelSchema, modelTimeConditioned, ResolvedModelConfig } from '../schema/models';
import { optionDefaults as D } from '../schema/defaults';
import { fail, int, num, obj, relativePath, seed } from '../schema/fields';
import { lossModelTail } from '../schema/losses';
import { parseConfig } from '../schema/parse';
import { samplerSchema } from '../schema/samplers';
import { lossTraits, samplerTraits } from '../schema/traits';
import { checkFinite, Tensor } from '../tensor';
import { describeValue } from '../validate';
import { JsonSyntaxError, parseJson } from './json';

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The fields every run-config file starts with. */
export const runHeaderShape = {
  $schema: z
    .string({ error: (iss) => ` must be a string (the JSON Schema of this file), got ${describeValue(iss.input)}` })
    .optional()
    .describe('the JSON Schema of this file, for editors (e.g. "../schema/run-config.schema.json"); ignored'),
  name: z
    .string({ error: (iss) => nameTail(iss.input) })
    .regex(namePattern, { error: (iss) => nameTail(iss.input) })
    .optional()
    .describe("the run's name: letters, digits, '.', '_', '-'; output runs/<name> (default: the file name)"),
  description: z
    .string({ error: () => ' must be a string' })
    .optional()
    .describe('free text, ignored'),
};

function nameTail(input: unknown): string {
  return ` must be 1-100 letters, digits, '.', '_' or '-' (it names the run folder), got ${describeValue(input)}`;
}

/** The tail of a run-config file that is not an object. */
export const notRunConfig = () => ' must be a JSON object { "name", "data", "model", "train", "eval"? }';

const GridSchema = obj({
  lo: num().optional().describe('left and bottom edge (default: a box holding the data)'),
  hi: num().optional().describe('right and top edge (default: a box holding the data)'),
  resolution: int(2, 4096).default(300).describe('grid points per side'),
})
  .superRefine((g, ctx) => {
    if (g.lo !== undefined && g.hi !== undefined && !(g.hi > g.lo))
      fail(ctx, ['hi'], ` must be > lo (${g.lo}), got ${g.hi}`);
  })
  .describe('the density grid (2D data only)');

const SamplesSchema = obj({
  n: int(1, 1e6).describe('number of chains'),
  sampler: samplerSchema(' is required, e.g. { "kind": "mala", "steps": 500, "stepSize": 0.01 }'),
  seed: seed()
    .default(() => D().sample.seed)
    .describe('fixes the initial draw and all noise'),
  t: num({ above: 0, max: 1 })
    .optional()
    .describe('time-conditioned models with a non-annealed sampler: sample E(x, t) (default: eval.t)'),
}).describe('samples drawn after training');

const EvalSchema = obj({
  grid: GridSchema.optional(),
  samples: SamplesSchema.optional(),
  t: num({ above: 0, max: 1 })
    .optional()
    .describe('time-conditioned models: evaluate E(x, t) here (default: train.loss.tMin)'),
});

/** A run-config file of an energy model (not a latent one: latent-run.ts). */
export const RunFileSchema = obj(
  {
    ...runHeaderShape,
    data: DataSpecSchema,
    model: ModelSchema.describe('the model, as ebm.energyModel() takes it'),
    train: TrainOptionsSchema.describe('the options of ebm.train(), without onProgress and signal'),
    eval: EvalSchema.optional().describe('what to evaluate after training'),
  },
  { notObject: notRunConfig },
).superRefine((c, ctx) => {
  // the rules across sections: the loss and the eval options against the model, labels for 'ce'
  const timeConditioned = modelTimeConditioned(c.model);
  const lossTail = lossModelTail(c.train.loss, timeConditioned, c.model.kind);
  if (lossTail !== undefined) fail(ctx, ['train', 'loss'], lossTail);
  if (lossTraits(c.train.loss.kind).labels && !dataHasLabels(c.data)) {
    fail(
      ctx,
      ['train', 'loss'],
      ` '${c.train.loss.kind}' needs class labels: use data.fashionMnist, or data.idx with "labels" (an IDX file)`,
    );
  }
  const e = c.eval;
  if (e?.t !== undefined && !timeConditioned) fail(ctx, ['eval', 't'], ' applies only to time-conditioned models');
  const sampler = e?.samples?.sampler.kind;
  const time = sampler !== undefined ? samplerTraits(sampler).time : 'fixed';
  const followsLevels = time !== 'fixed';
  if (time === 'levels' && !timeConditioned) {
    fail(ctx, ['eval', 'samples', 'sampler'], `: the ${sampler} sampler needs a time-conditioned model`);
  }
  if (e?.samples?.t !== undefined && (!timeConditioned || followsLevels)) {
    fail(ctx, ['eval', 'samples', 't'], ' applies only to time-conditioned models with a sampler at a fixed time');
  }
});

export interface GridSpec {
  lo: number;
  hi: number;
  resolution: number;
}

export type SamplesSpec = z.output<typeof SamplesSchema>;

export interface EvalSpec {
  grid?: GridSpec;
  samples?: SamplesSpec;
  t?: number;
}

/** A run as it is trained (and saved in the run folder's config.json): every default filled in. */
export interface RunConfig {
  name: string;
  description?: string;
  /** absolute paths */
  data: DataSpec;
  model: ResolvedModelConfig;
  train: ResolvedTrainOptions;
  eval?: EvalSpec;
}

export interface PreparedRun {
  /** the config file as given on the command line */
  file: string;
  /** effective: every default filled in, absolute data paths, --steps applied, eval.grid filled in for 2D data */
  config: RunConfig;
  data: LoadedData;
  rowShape: number[];
  timeConditioned: boolean;
  /** time at which a time-conditioned model is evaluated and plotted */
  evalTime?: number;
}

/**
 * How a run-config file names a field: its sections bare ('train.loss.t', 'name'), the file
 * itself and its missing sections as 'config' ('config.extras is not a known option').
 */
export function runConfigNaming(issue: { path: readonly PropertyKey[]; message: string }): string {
  const text = relativePath(issue.path) + issue.message;
  const aboutFile = /^(\.[\w$]+ is required| must be a JSON object|\.[^.[\s]+ is not a known option)/.test(text);
  return aboutFile ? `config${text}` : text.replace(/^\./, '');
}

/** The file's raw JSON with `train.steps` replaced (the --steps flag), before it is checked. */
export function withSteps(raw: unknown, steps: number | undefined): unknown {
  if (steps === undefined || typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const train = (raw as { train?: unknown }).train;
  if (typeof train !== 'object' || train === null || Array.isArray(train)) return raw;
  return { ...raw, train: { ...train, steps } };
}

/** The name of a run: the file's `name`, else the file name without .json (or 'run'). */
export function runName(name: string | undefined, file: string): string {
  if (name !== undefined) return name;
  const base = nodePath.basename(file).replace(/\.json$/i, '');
  return namePattern.test(base) ? base : 'run';
}

/** Reads and parses a JSON file; syntax errors name the file, line and column. */
export function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (err as Error).message;
    throw new EbmIoError(`cannot read ${what} ${file}: ${why}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return parseJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new EbmConfigError(`${file}: invalid JSON at ${err.message}`);
    throw err;
  }
}

/** A square box that holds the 2D data: [-b, b] with b the smallest integer >= 1.05 × the 99.5th percentile of |x|, at least 4. */
export function defaultBox(data: Tensor): { lo: number; hi: number } {
  const n = Math.min(data.data.length, 40000);
  const abs = Float64Array.from({ length: n }, (_, i) => Math.abs(data.data[i])).sort();
  const q = abs[Math.min(n - 1, Math.floor(0.995 * n))] ?? 0;
  const b = Math.max(4, Math.ceil(1.05 * q));
  return { lo: -b, hi: b };
}

/** The grid resolution of a run that names none. */
export function defaultGridResolution(): number {
  return GridSchema.shape.resolution.parse(undefined);
}

/** eval.grid with its defaults filled in from the data (a box that holds it), checked against it. */
function fillGrid(grid: z.output<typeof GridSchema> | undefined, data: Tensor): GridSpec {
  const fallback = defaultBox(data);
  const lo = grid?.lo ?? fallback.lo;
  const hi = grid?.hi ?? fallback.hi;
  if (!(hi > lo)) throw new EbmConfigError(`eval.grid.hi must be > lo (${lo}), got ${hi}`);
  return { lo, hi, resolution: grid?.resolution ?? defaultGridResolution() };
}

/**
 * Reads, checks and loads everything a training run needs: the JSON, then the whole config
 * against its schema (every field and the rules across sections), then the data itself (files
 * read, rows checked against the model and the batch size). Nothing is written. Errors name the
 * file and the field.
 */
export function prepareRun(file: string, overrides: { steps?: number } = {}): PreparedRun {
  const raw = readJsonFile(file, 'config file');
  return namingFile(file, () => prepareParsed(raw, nodePath.dirname(nodePath.resolve(file)), file, overrides));
}

/** Runs `fn`; an EbmError it throws gets the config file's name in front of its message. */
export function namingFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof EbmError && !err.message.startsWith(`${file}: `)) err.message = `${file}: ${err.message}`;
    throw err;
  }
}

function prepareParsed(raw: unknown, dir: string, file: string, overrides: { steps?: number }): PreparedRun {
  const c = parseConfig(RunFileSchema, withSteps(raw, overrides.steps), runConfigNaming);
  const data = resolveDataPaths(c.data, dir);
  // a module path is relative to the config file, like data paths
  const model = c.model.kind === 'torchscript' ? { ...c.model, path: nodePath.resolve(dir, c.model.path) } : c.model;
  const timeConditioned = modelTimeConditioned(model);
  const rowShape = modelRowShape(model);
  const loss = c.train.loss;
  const evalTime = timeConditioned
    ? (c.eval?.t ?? ('tMin' in loss ? loss.tMin : undefined) ?? D().loss.dsm.tMin)
    : undefined;

  // the data: read, check, fit to the model
  const loaded = loadData(data);
  const train = fitRows(loaded.train, rowShape, 'data');
  const test = fitRows(loaded.test, rowShape, 'data');
  checkFinite(train, 'data');
  const rows = train.shape[0];
  const batchTail = batchSizeTail(c.train.batchSize, rows, c.train.replacement);
  if (batchTail !== undefined) throw new EbmConfigError(`train.batchSize${batchTail}`);

  const is2d = rowShape.length === 1 && rowShape[0] === 2;
  if (c.eval?.grid !== undefined && !is2d) {
    throw new EbmConfigError(`eval.grid applies only to 2D data; this model takes [${rowShape.join(', ')}]`);
  }
  const evalSpec: EvalSpec = {};
  if (is2d) evalSpec.grid = fillGrid(c.eval?.grid, train);
  if (c.eval?.samples) evalSpec.samples = c.eval.samples;
  if (c.eval?.t !== undefined) evalSpec.t = c.eval.t;

  const config: RunConfig = {
    name: runName(c.name, file),
    ...(c.description !== undefined ? { description: c.description } : {}),
    data,
    model,
    train: c.train,
    ...(Object.keys(evalSpec).length > 0 ? { eval: evalSpec } : {}),
  };
  return { file, config, data: { ...loaded, train, test }, rowShape, timeConditioned, evalTime };
}
