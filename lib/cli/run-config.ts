/**
 * The run config file read by `ebm train` (JSON). Every field is checked, and the data loaded,
 * before anything is created on disk; relative data paths are resolved against the config file's
 * folder.
 *
 *   {
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
 *                                              //   (default: train.loss.tMin, else 0.001)
 *     }
 *   }
 *
 * Rows of the data are reshaped to the model's input shape when the sizes agree (a [N, 784]
 * array feeds a convnet with inputShape [1, 28, 28], Fashion-MNIST's [N, 1, 28, 28] feeds an MLP
 * with inputDim 784).
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import {
  EbmConfigError,
  EbmError,
  EbmIoError,
  SamplerConfig,
  Tensor,
  TrainOptions,
  ModelConfig,
  validateModelConfig,
  validateSamplerConfig,
  validateTrainOptions,
} from '../index';
import { checkFinite } from '../tensor';
import { JsonSyntaxError, parseJson } from './json';
import { DataSpec, fitRows, LoadedData, loadData, validateDataSpec } from '../data/spec';
import { modelRowShape, modelTimeConditioned } from '../model-config';
import {
  checkNumber,
  describeValue,
  Obj,
  optionalNumber,
  rejectUnknownKeys,
  relabel,
  requireNumber,
  requireObject,
} from '../validate';

export interface GridSpec {
  lo: number;
  hi: number;
  resolution: number;
}

export interface SamplesSpec {
  n: number;
  sampler: SamplerConfig;
  seed?: number;
  t?: number;
}

export interface EvalSpec {
  grid?: GridSpec;
  samples?: SamplesSpec;
  t?: number;
}

export interface RunConfig {
  name: string;
  description?: string;
  data: DataSpec;
  model: ModelConfig;
  train: TrainOptions;
  eval?: EvalSpec;
}

export interface PreparedRun {
  /** the config file as given on the command line */
  file: string;
  /** normalised: absolute data paths, --steps applied, eval.grid filled in for 2D data */
  config: RunConfig;
  data: LoadedData;
  rowShape: number[];
  timeConditioned: boolean;
  /** time at which a time-conditioned model is evaluated and plotted */
  evalTime?: number;
}

export const runConfigKeys = ['name', 'description', 'data', 'model', 'train', 'eval'] as const;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

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

function validateGrid(value: unknown, path: string, data: Tensor): GridSpec {
  const fallback = defaultBox(data);
  if (value === undefined) return { ...fallback, resolution: 300 };
  const g = requireObject(value, path);
  rejectUnknownKeys(g, ['lo', 'hi', 'resolution'], path);
  const lo = g.lo === undefined ? fallback.lo : checkNumber(g.lo, `${path}.lo`);
  const hi = g.hi === undefined ? fallback.hi : checkNumber(g.hi, `${path}.hi`);
  if (!(hi > lo)) throw new EbmConfigError(`${path}.hi must be > lo (${lo}), got ${hi}`);
  const resolution =
    g.resolution === undefined
      ? 300
      : checkNumber(g.resolution, `${path}.resolution`, { integer: true, min: 2, max: 4096 });
  return { lo, hi, resolution };
}

function validateEvalShape(value: unknown, path: string): Obj {
  const e = requireObject(value, path);
  rejectUnknownKeys(e, ['grid', 'samples', 't'], path);
  optionalNumber(e, 't', path, { above: 0, max: 1 });
  if (e.samples !== undefined) {
    const s = requireObject(e.samples, `${path}.samples`);
    rejectUnknownKeys(s, ['n', 'sampler', 'seed', 't'], `${path}.samples`);
    requireNumber(s, 'n', `${path}.samples`, { integer: true, min: 1, max: 1e6 });
    if (s.sampler === undefined) {
      throw new EbmConfigError(
        `${path}.samples.sampler is required, e.g. { "kind": "mala", "steps": 500, "stepSize": 0.01 }`,
      );
    }
    validateSamplerConfig(s.sampler, `${path}.samples.sampler`);
    optionalNumber(s, 'seed', `${path}.samples`, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
    optionalNumber(s, 't', `${path}.samples`, { above: 0, max: 1 });
  }
  return e;
}

/**
 * Reads, checks and loads everything a training run needs, in this order: JSON syntax, top-level
 * keys, name, data spec, model, train options, eval section, then the data itself (files read,
 * rows checked against the model). Nothing is written. Errors name the file and the field.
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

/** The checks every run config starts with: an object, known top-level keys, data/model/train given, name. */
export function checkRunHeader(raw: unknown, file: string): { cfg: Obj; name: string; description?: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new EbmConfigError('the config must be a JSON object { "name", "data", "model", "train", "eval"? }');
  }
  const cfg = raw as Obj;
  rejectUnknownKeys(cfg, runConfigKeys, 'config');
  for (const key of ['data', 'model', 'train'] as const) {
    if (cfg[key] === undefined) throw new EbmConfigError(`config.${key} is required`);
  }
  let name: string;
  if (cfg.name === undefined) {
    name = nodePath.basename(file).replace(/\.json$/i, '');
    if (!namePattern.test(name)) name = 'run';
  } else {
    if (typeof cfg.name !== 'string' || !namePattern.test(cfg.name)) {
      throw new EbmConfigError(
        `name must be 1-100 letters, digits, '.', '_' or '-' (it names the run folder), got ${describeValue(cfg.name)}`,
      );
    }
    name = cfg.name;
  }
  if (cfg.description !== undefined && typeof cfg.description !== 'string') {
    throw new EbmConfigError('description must be a string');
  }
  return { cfg, name, ...(cfg.description !== undefined ? { description: cfg.description as string } : {}) };
}

function prepareParsed(raw: unknown, dir: string, file: string, overrides: { steps?: number }): PreparedRun {
  const { cfg, name, description } = checkRunHeader(raw, file);

  const dataSpec = validateDataSpec(cfg.data, dir);
  const checked = validateModelConfig(cfg.model, 'model');
  // a module path is relative to the config file, like data paths
  const model = checked.kind === 'torchscript' ? { ...checked, path: nodePath.resolve(dir, checked.path) } : checked;
  const timeConditioned = modelTimeConditioned(model);
  const rowShape = modelRowShape(model);

  const t = requireObject(cfg.train, 'train');
  for (const key of ['onProgress', 'signal']) {
    if (t[key] !== undefined) throw new EbmConfigError(`train.${key} cannot be set in a config file`);
  }
  const trainOptions = { ...t } as Obj;
  if (overrides.steps !== undefined) trainOptions.steps = overrides.steps;
  if (trainOptions.checkpoint !== undefined && typeof trainOptions.checkpoint === 'object') {
    trainOptions.checkpoint = { ...(trainOptions.checkpoint as Obj) };
  }
  // field checks first (the batch size against the data comes once the data is loaded)
  relabel(/^config\b/, 'train', () => validateTrainOptions(trainOptions, timeConditioned, Number.MAX_SAFE_INTEGER));

  const evalRaw = cfg.eval === undefined ? undefined : validateEvalShape(cfg.eval, 'eval');
  const loss = trainOptions.loss as Obj;
  if (evalRaw?.t !== undefined && !timeConditioned) {
    throw new EbmConfigError('eval.t applies only to time-conditioned models');
  }
  const evalTime = timeConditioned
    ? ((evalRaw?.t as number | undefined) ?? (loss.tMin as number | undefined) ?? 1e-3)
    : undefined;
  const samplesRaw = evalRaw?.samples as Obj | undefined;
  if (samplesRaw) {
    const kind = (samplesRaw.sampler as Obj).kind;
    if (kind === 'annealed' && !timeConditioned) {
      throw new EbmConfigError('eval.samples.sampler: the annealed sampler needs a time-conditioned model');
    }
    if (samplesRaw.t !== undefined && (!timeConditioned || kind === 'annealed')) {
      throw new EbmConfigError('eval.samples.t applies only to time-conditioned models with a non-annealed sampler');
    }
  }

  // the data: read, check, fit to the model
  const loaded = loadData(dataSpec);
  const train = fitRows(loaded.train, rowShape, 'data');
  const test = fitRows(loaded.test, rowShape, 'data');
  checkFinite(train, 'data');
  if (loss.kind === 'ce' && !loaded.labels) {
    throw new EbmConfigError(
      'train.loss \'ce\' needs class labels: use data.fashionMnist, or data.idx with "labels" (an IDX file)',
    );
  }
  relabel(/^config\b/, 'train', () => validateTrainOptions(trainOptions, timeConditioned, train.shape[0]));

  const is2d = rowShape.length === 1 && rowShape[0] === 2;
  if (evalRaw?.grid !== undefined && !is2d) {
    throw new EbmConfigError(`eval.grid applies only to 2D data; this model takes [${rowShape.join(', ')}]`);
  }
  const evalSpec: EvalSpec = {};
  if (is2d) evalSpec.grid = validateGrid(evalRaw?.grid, 'eval.grid', train);
  if (samplesRaw) evalSpec.samples = samplesRaw as unknown as SamplesSpec;
  if (evalRaw?.t !== undefined) evalSpec.t = evalRaw.t as number;

  const config: RunConfig = {
    name,
    ...(description !== undefined ? { description } : {}),
    data: dataSpec,
    model,
    train: trainOptions as unknown as TrainOptions,
    ...(Object.keys(evalSpec).length > 0 ? { eval: evalSpec } : {}),
  };
  return {
    file,
    config,
    data: { ...loaded, train, test },
    rowShape,
    timeConditioned,
    evalTime,
  };
}
