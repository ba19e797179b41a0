/**
 * The configs of energy models: one schema per kind (the public types are their inputs), their
 * check, and the facts a config fixes.
 */
import { z } from 'zod';
import { EbmConfigError } from '../errors';
import { optionDefaults as D } from './defaults';
import {
  arr,
  bool,
  byKind,
  device,
  fail,
  int,
  kindOf,
  num,
  obj,
  oneOf,
  pick,
  positive,
  seed,
  text,
  typeTail,
} from './fields';
import { noisePathKinds, pathRanges, refineRanges } from './noise-path';
import { parseConfig } from './parse';
import { describeValue } from '../validate';

import type { Device } from './fields';

export type { Device };
export const activations = ['silu', 'softplus', 'leaky_relu', 'elu', 'tanh'] as const;
export type Activation = (typeof activations)[number];

const activation = (defaults: () => Activation) =>
  oneOf(activations)
    .default(defaults)
    .describe('smooth activations suit score-based losses (they need second derivatives)');

/** [channels, height, width]: 1 to 64 channels, sides within [minSide, maxSide]. */
const imageShape = (minSide: number, maxSide: number) =>
  z
    .tuple([int(1, 64), int(minSide, maxSide), int(minSide, maxSide)], {
      error: () => ' must be [channels, height, width]',
    })
    .describe('[channels, height, width]');

const MlpSchema = obj({
  kind: z.literal('mlp'),
  inputDim: int(1, 1 << 24).describe('width of one input row'),
  hidden: arr(int(1, 65536), {
    min: 1,
    message: ' must be a non-empty array of layer widths, e.g. [128, 128]',
  }).describe('hidden layer widths, e.g. [128, 128]'),
  activation: activation(() => D().model.mlp.activation),
  timeConditioned: bool()
    .default(() => D().model.mlp.timeConditioned)
    .describe('E(x, t) with a sinusoidal time embedding, for DSM on a path and DiffCLF'),
  timeEmbedDim: int(2, 4096)
    .refine((v) => v % 2 === 0, { error: (iss) => ` must be even, got ${String(iss.input)}` })
    .default(() => D().model.mlp.timeEmbedDim)
    .describe('width of the time embedding (even)'),
  timeMaxFrequency: num({ min: 1, max: 1e4 })
    .default(() => D().model.mlp.timeMaxFrequency)
    .describe(
      'highest angular frequency of the time embedding, in rad per unit t (frequencies are log-spaced from 1); ' +
        'keep it near the number of noise levels trained',
    ),
  timeInjection: oneOf(['input', 'every'])
    .default(() => D().model.mlp.timeInjection)
    .describe(
      "where the time embedding enters: 'input' (concatenated to x only) or 'every' (also a bias-free linear map " +
        'of it into every later hidden layer)',
    ),
  spectralNorm: bool()
    .default(() => D().model.mlp.spectralNorm)
    .describe('divide each hidden weight by its largest singular value (one power iteration per call)'),
  fusedPasses: bool()
    .default(() => D().model.mlp.fusedPasses)
    .describe(
      'compute energies and gradients in hand-written passes where they apply (CPU, float32, no spectral norm, ' +
        "an activation other than softplus); false: LibTorch's autograd throughout, the reference path",
    ),
  device: device()
    .default(() => D().model.mlp.device as Device)
    .describe("'auto': CUDA when available"),
  seed: seed()
    .default(() => D().model.mlp.seed)
    .describe('seeds the weight initialisation'),
});

const ConvNetSchema = obj({
  kind: z.literal('convnet'),
  inputShape: imageShape(2, 4096),
  channels: arr(int(1, 4096), {
    min: 1,
    max: 8,
    message: ' must list 1 to 8 stage widths, e.g. [32, 64]',
  }).describe('width of each stage, e.g. [32, 64, 128]'),
  activation: activation(() => D().model.convnet.activation),
  device: device().default(() => D().model.convnet.device as Device),
  seed: seed().default(() => D().model.convnet.seed),
});

const ClassifierSchema = obj({
  kind: z.literal('classifier'),
  inputShape: imageShape(4, 1024),
  classes: int(2, 100000)
    .default(() => D().model.classifier.classes)
    .describe('number of classes'),
  featureDim: int(1, 65536)
    .default(() => D().model.classifier.featureDim)
    .describe('width of the feature layer'),
  device: device().default(() => D().model.classifier.device as Device),
  seed: seed().default(() => D().model.classifier.seed),
});

const numbers = (message: string) => arr(num(), { min: 1, message });

/** A matrix of rows: each row an array of numbers (their widths are checked by the model's refinement). */
const rows = (message: string) =>
  arr(arr(num(), { message: (input) => typeTail(input, 'an array of numbers') }), { min: 1, message });

/** Rows of `width` numbers each (the first row's width when `width` is undefined). */
function refineRows(value: number[][] | undefined, key: string, ctx: z.core.$RefinementCtx, width?: number): void {
  if (value === undefined) return;
  const w = width ?? value[0]?.length ?? 0;
  const i = value.findIndex((row) => row.length !== w || w === 0);
  if (i >= 0) fail(ctx, [key, i], ` must be an array of ${w || 'one or more'} numbers`);
}

const GaussianSchema = obj({
  kind: z.literal('gaussian'),
  mean: numbers(' must be a non-empty array').describe('the mean μ'),
  cov: rows(' must be a non-empty array of rows')
    .optional()
    .describe('full covariance Σ (symmetric positive definite)'),
  std: positive().optional().describe('σ of the covariance σ²I, without cov (left out: the default σ)'),
  device: device().default(() => D().model.gaussian.device as Device),
})
  .superRefine((o, ctx) => {
    refineRows(o.cov, 'cov', ctx, o.mean.length);
    if (o.cov !== undefined && o.cov.length !== o.mean.length) {
      fail(ctx, ['cov'], ` must be ${o.mean.length} x ${o.mean.length}`);
    }
  })
  .transform((o) => (o.cov === undefined ? { ...o, std: o.std ?? D().model.gaussian.std } : o));

const stds = pick(
  [
    arr(positive(), { message: (input) => typeTail(input, 'an array') }),
    arr(arr(positive(), { message: (input) => typeTail(input, 'an array of numbers') })),
  ],
  (v) =>
    !Array.isArray(v) ? ` must have one entry per component, got ${describeValue(v)}` : Array.isArray(v[0]) ? 1 : 0,
);

const GmmSchema = obj({
  kind: z.literal('gmm'),
  means: rows(' must be a non-empty array of rows').describe('the component means μ_k'),
  weights: arr(positive()).describe('the component weights (sum 1)'),
  stds: stds.describe('one std per component (isotropic) or one row of per-coordinate stds per component'),
  path: oneOf(noisePathKinds)
    .optional()
    .describe('makes it time-conditioned along this noising path (means α_t μ_k, variances α_t²σ_k² + γ_t²)'),
  ...pathRanges(() => D().model.gmm),
  device: device().default(() => D().model.gmm.device as Device),
})
  .superRefine((o, ctx) => {
    refineRows(o.means, 'means', ctx);
    const k = o.means.length;
    if (o.weights.length !== k) fail(ctx, ['weights'], ` must have one entry per component (${k})`);
    const total = o.weights.reduce((a, b) => a + b, 0);
    if (o.weights.length === k && Math.abs(total - 1) > 1e-6) fail(ctx, ['weights'], ` must sum to 1, got ${total}`);
    if (o.stds.length !== k) fail(ctx, ['stds'], ` must have one entry per component (${k})`);
    else if (Array.isArray(o.stds[0])) refineRows(o.stds as number[][], 'stds', ctx, o.means[0]?.length);
    if (o.path !== undefined) refineRanges(o, ctx);
  })
  // the path's ranges apply to a mixture on a path only
  .transform(({ betaMin, betaMax, sigmaMin, sigmaMax, tMin, ...rest }) =>
    rest.path === undefined ? rest : { ...rest, betaMin, betaMax, sigmaMin, sigmaMax, tMin },
  );

const DoubleWellSchema = obj({
  kind: z.literal('doublewell'),
  dim: int(1, 65536)
    .default(() => D().model.doublewell.dim)
    .describe('dimension'),
  barrier: positive()
    .default(() => D().model.doublewell.barrier)
    .describe('height of the barrier between the wells'),
  device: device().default(() => D().model.doublewell.device as Device),
});

const TorchScriptSchema = obj({
  kind: z.literal('torchscript'),
  path: text('the path of a TorchScript module (.pt)').describe(
    'the .pt file written by torch.jit.save / ScriptModule.save (a config file: relative to its folder)',
  ),
  inputShape: arr(int(1, 1 << 24), {
    min: 1,
    max: 8,
    message: ' must list the 1 to 8 dimensions of one input row, e.g. [2]',
  }).describe('shape of one input row, e.g. [2] or [1, 28, 28]'),
  timeConditioned: bool()
    .default(() => D().model.torchscript.timeConditioned)
    .describe('forward(x, t) with t of shape [N]'),
  device: device().default(() => D().model.torchscript.device as Device),
});

export const modelKinds = ['mlp', 'convnet', 'gaussian', 'gmm', 'doublewell', 'classifier', 'torchscript'] as const;

/** Every model config energyModel() builds, chosen by `kind`. */
export const ModelSchema = pick(
  [
    MlpSchema.describe('multi-layer perceptron energy E(x) (or E(x, t) when time-conditioned)'),
    ConvNetSchema.describe('convolutional energy for images [N, C, H, W]'),
    GaussianSchema.describe('analytic Gaussian: exactly −log p'),
    GmmSchema.describe('analytic Gaussian mixture; with `path`, E(x, t) = −log p_t'),
    DoubleWellSchema.describe('double well E = barrier (x₀² − 1)² + ½|x₁:|² (unnormalised)'),
    ClassifierSchema.describe("small CNN classifier, trained with the 'ce' loss"),
    TorchScriptSchema.describe('your own energy network: a TorchScript module saved from PyTorch'),
  ],
  byKind(modelKinds, (v) =>
    kindOf(v) === 'latent' ? ".kind 'latent' is built by ebm.latentEbm(config), not energyModel()" : undefined,
  ),
);

/**
 * Multi-layer perceptron energy E(x) (or E(x, t) when time-conditioned).
 * @interface
 */
export type MlpConfig = z.input<typeof MlpSchema>;
/**
 * Convolutional energy for images [N, C, H, W]: per stage a 3×3 conv and a 4×4 stride-2 conv.
 * @interface
 */
export type ConvNetConfig = z.input<typeof ConvNetSchema>;
/**
 * Analytic Gaussian: E = ½(x−μ)ᵀΣ⁻¹(x−μ) + ½ log det(2πΣ), exactly −log p.
 * @interface
 */
export type GaussianConfig = z.input<typeof GaussianSchema>;
/**
 * Analytic Gaussian mixture E = −log Σ w_k N(x; μ_k, diag σ_k²); with `path`, E(x, t) = −log p_t.
 * @interface
 */
export type GmmConfig = z.input<typeof GmmSchema>;
/**
 * Double well E = barrier (x₀² − 1)² + ½|x₁:|² (unnormalised).
 * @interface
 */
export type DoubleWellConfig = z.input<typeof DoubleWellSchema>;
/**
 * Small CNN classifier (conv 32, pool, conv 64, pool, linear featureDim, linear classes); also an
 * energy E(x) = −logsumexp_y f(x)[y]. Trained with the 'ce' loss; its features drive frechetDistance.
 * @interface
 */
export type ClassifierConfig = z.input<typeof ClassifierSchema>;
/**
 * Your own energy network: a TorchScript module saved from PyTorch (`torch.jit.script(net).save(path)`)
 * whose `forward(x)` (or `forward(x, t)` when time-conditioned) returns one energy per row, [N] or
 * [N, 1]. Its parameters are trained like the built-in kinds'; a checkpoint carries the module too.
 * @interface
 */
export type TorchScriptConfig = z.input<typeof TorchScriptSchema>;
/**
 * Any model config energyModel() takes, by `kind`.
 * @useDeclaredType
 */
export type ModelConfig = z.input<typeof ModelSchema>;
/** A model config with every default filled in. */
export type ResolvedModelConfig = z.output<typeof ModelSchema>;

/** What a composition reports as its config (built by compose(), restored by loadModel()). */
export interface CompositionConfig {
  kind: 'compose';
  parts: ModelConfig[];
  weights: number[];
  device?: Device;
}

/** Checks a model config before anything native runs; returns it with every default filled in. */
export function validateModelConfig(value: unknown, path = 'model'): ResolvedModelConfig {
  return parseConfig(ModelSchema, value, path);
}

/**
 * @internal The shape of one input row of a model config, without creating the model: what the
 * built model reports as EnergyModel.inputShape. `ebm train` checks its data against it before
 * any model is built, so that every config error comes before native work.
 */
export function modelRowShape(model: ResolvedModelConfig): number[] {
  switch (model.kind) {
    case 'mlp':
      return [model.inputDim];
    case 'convnet':
    case 'classifier':
    case 'torchscript':
      return [...model.inputShape];
    case 'gaussian':
      return [model.mean.length];
    case 'gmm':
      return [model.means[0].length];
    case 'doublewell':
      return [model.dim];
    default:
      throw new EbmConfigError(`model.kind ${describeValue((model as { kind: unknown }).kind)} is not known`);
  }
}

/** @internal Whether a model config makes E(x, t) (EnergyModel.timeConditioned), without creating the model. */
export function modelTimeConditioned(model: ResolvedModelConfig): boolean {
  return (
    ((model.kind === 'mlp' || model.kind === 'torchscript') && model.timeConditioned === true) ||
    (model.kind === 'gmm' && model.path !== undefined)
  );
}
