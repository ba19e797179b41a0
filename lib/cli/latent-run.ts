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
import { z } from 'zod';
import { DataSpec, DataSpecSchema, fitRows, loadData, resolveDataPaths } from '../data/spec';
import { EbmConfigError } from '../errors';
import {
  chainFields,
  LatentModelFileSchema,
  latentDefaults,
  LatentModelConfig,
  LatentTrainFileSchema,
  resolveLatentTrain,
  ResolvedLatentTrainOptions,
} from '../schema/latent';
import { fail, int, obj, oneOf, seed } from '../schema/fields';
import { parseConfig } from '../schema/parse';
import { checkFinite, Tensor } from '../tensor';
import { requireLayout, STRIP_COLUMNS } from './latent-figures';
import {
  namingFile,
  notRunConfig,
  readJsonFile,
  runConfigNaming,
  runHeaderShape,
  runName,
  withSteps,
} from './run-config';

const evalSeed = () => seed().default(latentDefaults.seed).describe('fixes the chains');

const LatentEvalSchema = obj({
  samples: obj({
    n: int(1, 4096).default(64).describe('images drawn from the prior (samples.png)'),
    seed: evalSeed(),
    prior: obj(chainFields(latentDefaults.prior)).prefault({}).describe('the prior chain'),
  }).prefault({}),
  reconstruct: obj({
    n: int(1, 1024).default(16).describe('training images over g(posterior z) (reconstructions.png)'),
    seed: evalSeed(),
  }).prefault({}),
  inpaint: obj({
    n: int(1, 1024).default(16).describe('training images inpainted (inpaintings.png)'),
    mask: oneOf(['centre', 'half']).default('centre').describe('the missing part'),
    seed: evalSeed(),
  }).prefault({}),
});

export type LatentEvalSpec = z.output<typeof LatentEvalSchema>;

/** data sources that hold images (the toys and mixtures are points) */
const imageSources = ['"fashionMnist"', '"imageFolder"', '"idx"', '"npy"', '"csv"'];

/** A run-config file of a latent image prior (`"model": { "kind": "latent", ... }`). */
export const LatentRunFileSchema = obj(
  {
    ...runHeaderShape,
    data: DataSpecSchema,
    model: LatentModelFileSchema.describe('the latent model, as ebm.latentEbm() takes it, with "kind": "latent"'),
    train: LatentTrainFileSchema.describe('the options of ebm.trainLatent(), without onProgress and signal'),
    eval: LatentEvalSchema.prefault({}).describe('what to draw after training'),
  },
  { notObject: notRunConfig },
).superRefine((c, ctx) => {
  // the latent rules on top of the data spec: image sources only, pixel scales that give [-1, 1]
  const d = c.data;
  if ('toy' in d || 'mixture' in d) {
    const source = 'toy' in d ? 'toy' : 'mixture';
    fail(ctx, ['data', source], `: a latent model trains on images; use ${imageSources.join(', ')}`);
  }
  if ('fashionMnist' in d && d.fashionMnist.scale !== undefined && d.fashionMnist.scale !== '-11') {
    fail(
      ctx,
      ['data', 'fashionMnist', 'scale'],
      ` must be '-11' for a latent model (its generator draws images in [-1, 1]), got '${d.fashionMnist.scale}'`,
    );
  }
  if ('idx' in d && d.scale === '01') {
    fail(
      ctx,
      ['data', 'scale'],
      " must be '-11' (pixels 0..255) or 'none' (values already in [-1, 1]) for a latent model, got '01'",
    );
  }
});

/** A latent run's config as run (and saved in the run folder's config.json): every default filled in. */
export interface LatentRunConfig {
  name: string;
  description?: string;
  /** absolute paths; fashionMnist with its scale */
  data: DataSpec;
  model: LatentModelConfig;
  /** checkpoint.path still as written in the file */
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

/** True when `file` holds a run config of a latent model; false for any other file, readable or not. */
export function isLatentRunFile(file: string): boolean {
  let raw: unknown;
  try {
    raw = readJsonFile(file, 'config file');
  } catch {
    return false;
  }
  return isLatentRun(raw);
}

/** True when a run config's model is a latent one (`"kind": "latent"`). */
export function isLatentRun(raw: unknown): boolean {
  const model = typeof raw === 'object' && raw !== null ? (raw as { model?: unknown }).model : undefined;
  return typeof model === 'object' && model !== null && (model as { kind?: unknown }).kind === 'latent';
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
  const c = parseConfig(LatentRunFileSchema, withSteps(raw, overrides.steps), runConfigNaming);
  const resolved = resolveDataPaths(c.data, dir);
  const data: DataSpec =
    'fashionMnist' in resolved ? { fashionMnist: { ...resolved.fashionMnist, scale: '-11' } } : resolved;
  const model = c.model;

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
  const train = resolveLatentTrain(c.train, { config: model }, rows, 'train');

  // what is shown: at most the training images, and pictures that fit
  const evalSpec: LatentEvalSpec = {
    ...c.eval,
    reconstruct: { ...c.eval.reconstruct, n: Math.min(c.eval.reconstruct.n, rows) },
    inpaint: { ...c.eval.inpaint, n: Math.min(c.eval.inpaint.n, rows) },
  };
  const shape = model.imageShape;
  requireLayout(evalSpec.samples.n, 1, shape, Math.ceil(Math.sqrt(evalSpec.samples.n)), 'eval.samples.n');
  requireLayout(evalSpec.reconstruct.n, 2, shape, STRIP_COLUMNS, 'eval.reconstruct.n');
  requireLayout(evalSpec.inpaint.n, 3, shape, STRIP_COLUMNS, 'eval.inpaint.n');

  return {
    file,
    config: {
      name: runName(c.name, file),
      ...(c.description !== undefined ? { description: c.description } : {}),
      data,
      model,
      train,
      eval: evalSpec,
    },
    images: loaded,
  };
}
