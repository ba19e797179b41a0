/**
 * Run configs of latent image priors (`"model": { "kind": "latent", ... }`) for `ebm train`.
 * The same file layout as other runs (run-config.ts), checked in the same order and completely
 * before anything is written; relative paths resolve against the config file's folder.
 *
 *   {
 *     "name": "fashion-mnist-latent-ed",
 *     "data": { "fashionMnist": { "limit": 5000 } }          // scale: '-11' by default here ('01', 'none' refused)
 *           | { "imageFolder": { "dir": "pngs", "size": 28, "grayscale": true } }
 *           | { "idx": "images-idx3-ubyte.gz", "scale": "-11" } | { "npy": "images.npy" } | { "csv": ... }
 *                                                          // rows reshaped to model.imageShape, values in [-1, 1]
 *     "model": LatentEbmConfig + "kind": "latent",          // as ebm.latentEbm(), e.g. { "kind": "latent",
 *                                                          //   "imageShape": [1, 28, 28], "latentDim": 64 }
 *     "train": LatentTrainOptions,                         // as ebm.trainLatent(), without onProgress/signal;
 *                                                          //   a relative checkpoint.path lands in the run folder
 *     "eval": {                                            // optional; every field has a default
 *       "samples": { "n": 64, "seed": 0, "prior": { "steps": 500, "stepSize": 0.2 } },  // samples.png
 *       "reconstruct": { "n": 16, "seed": 0 },             // reconstructions.png: inputs over g(posterior z)
 *       "inpaint": { "n": 16, "mask": "centre", "seed": 0 } // inpaintings.png; mask 'centre' | 'half'
 *     }
 *   }
 *
 * Reconstructions and inpaintings use the first training images (capped at their number) and the
 * posterior chain of train.posterior.
 */
import * as nodePath from 'node:path';
import {
  EbmConfigError,
  LatentModelConfig,
  latentDefaults,
  ResolvedLatentTrainOptions,
  Tensor,
  validateLatentConfig,
  validateLatentTrainOptions,
} from '../index';
import { checkFinite } from '../tensor';
import {
  checkNumber,
  checkOneOf,
  Obj,
  optionalNumber,
  optionalOneOf,
  rejectUnknownKeys,
  requireObject,
} from '../validate';
import { requireLayout, STRIP_COLUMNS } from './latent-figures';
import type { MaskKind } from '../metrics/images';
import { DataSpec, fitRows, loadData, validateDataSpec } from '../data/spec';
import { checkRunHeader, namingFile, readJsonFile } from './run-config';

export interface LatentEvalSpec {
  samples: { n: number; seed: number; prior: { steps: number; stepSize: number } };
  reconstruct: { n: number; seed: number };
  inpaint: { n: number; mask: MaskKind; seed: number };
}

/** A latent run's config as run (and saved in the run folder's config.json): every default filled in. */
export interface LatentRunConfig {
  name: string;
  description?: string;
  /** absolute paths; fashionMnist with its scale */
  data: DataSpec;
  /** validateLatentConfig's output */
  model: LatentModelConfig;
  /** validateLatentTrainOptions's output (checkpoint.path still as written in the file) */
  train: ResolvedLatentTrainOptions;
  eval: LatentEvalSpec;
}

export interface PreparedLatentRun {
  /** the config file as given on the command line */
  file: string;
  config: LatentRunConfig;
  /** the training images [N, ...model.imageShape] in [-1, 1] */
  images: Tensor;
}

const seedRange = { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER };
/** data sources that hold images (the toys and mixtures are points) */
const imageSources = ['"fashionMnist"', '"imageFolder"', '"idx"', '"npy"', '"csv"'];

/** True when `file` holds a run config of a latent model; false for any other file, readable or not. */
export function isLatentRunFile(file: string): boolean {
  let raw: unknown;
  try {
    raw = readJsonFile(file, 'config file');
  } catch {
    return false;
  }
  const model = typeof raw === 'object' && raw !== null ? (raw as Obj).model : undefined;
  return typeof model === 'object' && model !== null && (model as Obj).kind === 'latent';
}

/** The latent rules on top of the data spec: image sources only, pixel scales that give [-1, 1]. */
function latentDataSpec(spec: DataSpec): DataSpec {
  if ('toy' in spec || 'mixture' in spec) {
    throw new EbmConfigError(
      `data.${'toy' in spec ? 'toy' : 'mixture'}: a latent model trains on images; use ${imageSources.join(', ')}`,
    );
  }
  if ('fashionMnist' in spec) {
    const scale = spec.fashionMnist.scale;
    if (scale !== undefined && scale !== '-11') {
      throw new EbmConfigError(
        `data.fashionMnist.scale must be '-11' for a latent model (its generator draws images in [-1, 1]), got '${scale}'`,
      );
    }
    return { fashionMnist: { ...spec.fashionMnist, scale: '-11' } };
  }
  if ('idx' in spec && spec.scale === '01') {
    throw new EbmConfigError(
      `data.scale must be '-11' (pixels 0..255) or 'none' (values already in [-1, 1]) for a latent model, got '01'`,
    );
  }
  return spec;
}

function chainOf(value: unknown, path: string): { steps: number; stepSize: number } {
  const c = value === undefined ? {} : requireObject(value, path);
  rejectUnknownKeys(c, ['steps', 'stepSize'], path);
  optionalNumber(c, 'steps', path, { integer: true, min: 0, max: 1e6 });
  optionalNumber(c, 'stepSize', path, { above: 0, max: 10 });
  return {
    steps: (c.steps as number | undefined) ?? latentDefaults.prior.steps,
    stepSize: (c.stepSize as number | undefined) ?? latentDefaults.prior.stepSize,
  };
}

/** Checks the eval section and fills in its defaults (counts are capped to the data later). */
export function validateLatentEval(value: unknown, path = 'eval'): LatentEvalSpec {
  const e = value === undefined ? {} : requireObject(value, path);
  rejectUnknownKeys(e, ['samples', 'reconstruct', 'inpaint'], path);
  const part = (key: string, keys: string[]): Obj => {
    const o = e[key] === undefined ? {} : requireObject(e[key], `${path}.${key}`);
    rejectUnknownKeys(o, keys, `${path}.${key}`);
    optionalNumber(o, 'seed', `${path}.${key}`, seedRange);
    return o;
  };
  const count = (o: Obj, key: string, fallback: number, max: number): number =>
    o.n === undefined ? fallback : checkNumber(o.n, `${path}.${key}.n`, { integer: true, min: 1, max });
  const s = part('samples', ['n', 'seed', 'prior']);
  const r = part('reconstruct', ['n', 'seed']);
  const i = part('inpaint', ['n', 'mask', 'seed']);
  optionalOneOf(i, 'mask', ['centre', 'half'] as const, `${path}.inpaint`);
  return {
    samples: {
      n: count(s, 'samples', 64, 4096),
      seed: (s.seed as number | undefined) ?? 0,
      prior: chainOf(s.prior, `${path}.samples.prior`),
    },
    reconstruct: { n: count(r, 'reconstruct', 16, 1024), seed: (r.seed as number | undefined) ?? 0 },
    inpaint: {
      n: count(i, 'inpaint', 16, 1024),
      mask: (i.mask as MaskKind | undefined) ?? 'centre',
      seed: (i.seed as number | undefined) ?? 0,
    },
  };
}

/** The smallest and largest value (NaN-free data). */
function extent(t: Tensor): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of t.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * Reads, checks and loads a latent run config, in this order: JSON, top-level keys and name,
 * data spec, model, train options, eval section, then the images (read, reshaped to
 * model.imageShape, checked finite and in [-1, 1]) and the batch size against them. Nothing is
 * written. Errors name the file and the field.
 */
export function prepareLatentRun(file: string, overrides: { steps?: number } = {}): PreparedLatentRun {
  const raw = readJsonFile(file, 'config file');
  return namingFile(file, () => prepareParsed(raw, nodePath.dirname(nodePath.resolve(file)), file, overrides));
}

function prepareParsed(raw: unknown, dir: string, file: string, overrides: { steps?: number }): PreparedLatentRun {
  const { cfg, name, description } = checkRunHeader(raw, file);
  const data = latentDataSpec(validateDataSpec(cfg.data, dir));
  const model = validateLatentConfig(cfg.model, 'model');
  checkOneOf(requireObject(cfg.model, 'model').kind, ['latent'], 'model.kind');

  const t = requireObject(cfg.train, 'train');
  for (const key of ['onProgress', 'signal']) {
    if (t[key] !== undefined) throw new EbmConfigError(`train.${key} cannot be set in a config file`);
  }
  const options: Obj = { ...t, ...(overrides.steps !== undefined ? { steps: overrides.steps } : {}) };
  // field checks first; the batch size against the data comes once the data is loaded
  validateLatentTrainOptions(options, { config: model }, Number.MAX_SAFE_INTEGER, 'train');
  const evalSpec = validateLatentEval(cfg.eval);

  const loaded = fitRows(loadData(data).train, model.imageShape, 'data');
  checkFinite(loaded, 'data');
  const [lo, hi] = extent(loaded);
  if (lo < -1 - 1e-4 || hi > 1 + 1e-4) {
    const hint =
      'idx' in data
        ? '; for pixels 0..255 set data.scale to "-11"'
        : '; rescale them (x / 127.5 - 1 for pixels 0..255)';
    throw new EbmConfigError(
      `data: a latent model trains on images scaled to [-1, 1], got values in [${lo}, ${hi}]${hint}`,
    );
  }
  const rows = loaded.shape[0];
  const train = validateLatentTrainOptions(options, { config: model }, rows, 'train');

  // what is shown: at most the training images, and pictures that fit
  evalSpec.reconstruct.n = Math.min(evalSpec.reconstruct.n, rows);
  evalSpec.inpaint.n = Math.min(evalSpec.inpaint.n, rows);
  const shape = model.imageShape;
  requireLayout(evalSpec.samples.n, 1, shape, Math.ceil(Math.sqrt(evalSpec.samples.n)), 'eval.samples.n');
  requireLayout(evalSpec.reconstruct.n, 2, shape, STRIP_COLUMNS, 'eval.reconstruct.n');
  requireLayout(evalSpec.inpaint.n, 3, shape, STRIP_COLUMNS, 'eval.inpaint.n');

  return {
    file,
    config: { name, ...(description !== undefined ? { description } : {}), data, model, train, eval: evalSpec },
    images: loaded,
  };
}
