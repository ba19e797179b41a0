/** The configs of energy models: their types, their checks, and the facts a config fixes. */
import { EbmConfigError } from './errors';
import {
  checkNumber,
  describeValue,
  optionalBoolean,
  optionalDevice,
  optionalNumber,
  optionalOneOf,
  rejectUnknownKeys,
  requireNumber,
  requireObject,
} from './validate';

export type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
export const activations = ['silu', 'softplus', 'leaky_relu', 'elu', 'tanh'] as const;
export type Activation = (typeof activations)[number];

/** Multi-layer perceptron energy E(x) (or E(x, t) when time-conditioned). */
export interface MlpConfig {
  kind: 'mlp';
  inputDim: number;
  hidden: number[];
  /** default 'silu' (smooth: score-based losses need second derivatives) */
  activation?: Activation;
  /** E(x, t) with a sinusoidal time embedding, for DSM on a path and DiffCLF; default false */
  timeConditioned?: boolean;
  /** width of the time embedding (even); default 32 */
  timeEmbedDim?: number;
  /**
   * highest angular frequency of the time embedding, in rad per unit t (default 64; frequencies
   * are log-spaced from 1). Keep it near the number of noise levels trained: far above, energies
   * between the levels are unconstrained. Checkpoints in format 1 (written before this option existed) load with 1000, the top they were trained with.
   */
  timeMaxFrequency?: number;
  /** divide each hidden weight by its largest singular value (one power iteration per call); default false */
  spectralNorm?: boolean;
  /** default 'auto': CUDA when available */
  device?: Device;
  /** seeds the weight initialisation; default 0 */
  seed?: number;
}

/** Convolutional energy for images [N, C, H, W]: per stage a 3×3 conv and a 4×4 stride-2 conv. */
export interface ConvNetConfig {
  kind: 'convnet';
  /** [channels, height, width] */
  inputShape: [number, number, number];
  /** width of each stage, e.g. [32, 64, 128] */
  channels: number[];
  activation?: Activation;
  device?: Device;
  seed?: number;
}

/** Analytic Gaussian: E = ½(x−μ)ᵀΣ⁻¹(x−μ) + ½ log det(2πΣ), exactly −log p. */
export interface GaussianConfig {
  kind: 'gaussian';
  mean: number[];
  /** full covariance (symmetric positive definite); or `std` for σ²I (default 1) */
  cov?: number[][];
  std?: number;
  device?: Device;
}

/** Analytic Gaussian mixture E = −log Σ w_k N(x; μ_k, diag σ_k²); with `path`, E(x, t) = −log p_t. */
export interface GmmConfig {
  kind: 'gmm';
  means: number[][];
  /** one std per component (isotropic) or one row of per-coordinate stds per component */
  stds: number[] | number[][];
  weights: number[];
  /** makes it time-conditioned along this noising path (means α_t μ_k, variances α_t²σ_k² + γ_t²) */
  path?: 'vp' | 've';
  betaMin?: number;
  betaMax?: number;
  sigmaMin?: number;
  sigmaMax?: number;
  tMin?: number;
  device?: Device;
}

/** Double well E = barrier (x₀² − 1)² + ½|x₁:|² (unnormalised). */
export interface DoubleWellConfig {
  kind: 'doublewell';
  dim?: number;
  barrier?: number;
  device?: Device;
}

/** What a composition reports as its config (built by compose(), restored by loadModel()). */
export interface CompositionConfig {
  kind: 'compose';
  parts: ModelConfig[];
  weights: number[];
  device?: Device;
}

/**
 * Small CNN classifier (conv 32, pool, conv 64, pool, linear featureDim, linear classes); also an
 * energy E(x) = −logsumexp_y f(x)[y]. Trained with the 'ce' loss; its features drive frechetDistance.
 */
export interface ClassifierConfig {
  kind: 'classifier';
  inputShape: [number, number, number];
  /** default 10 */
  classes?: number;
  /** width of the feature layer (default 128) */
  featureDim?: number;
  device?: Device;
  seed?: number;
}

/**
 * Your own energy network: a TorchScript module saved from PyTorch (`torch.jit.script(net).save(path)`)
 * whose `forward(x)` (or `forward(x, t)` when time-conditioned) returns one energy per row, [N] or
 * [N, 1]. Its parameters are trained like the built-in kinds'; a checkpoint carries the module too.
 */
export interface TorchScriptConfig {
  kind: 'torchscript';
  /** the .pt file written by torch.jit.save / ScriptModule.save */
  path: string;
  /** shape of one input row, e.g. [2] or [1, 28, 28] */
  inputShape: number[];
  /** forward(x, t) with t of shape [N]; default false */
  timeConditioned?: boolean;
  device?: Device;
}

export type ModelConfig =
  | MlpConfig
  | ConvNetConfig
  | GaussianConfig
  | GmmConfig
  | DoubleWellConfig
  | ClassifierConfig
  | TorchScriptConfig;
export const modelKinds = ['mlp', 'convnet', 'gaussian', 'gmm', 'doublewell', 'classifier', 'torchscript'] as const;

function checkMatrix(value: unknown, path: string, cols?: number): number[][] {
  if (!Array.isArray(value) || value.length === 0)
    throw new EbmConfigError(`${path} must be a non-empty array of rows`);
  const width = cols ?? (Array.isArray(value[0]) ? value[0].length : 0);
  value.forEach((row: unknown, i: number) => {
    if (!Array.isArray(row) || row.length !== width || width === 0) {
      throw new EbmConfigError(`${path}[${i}] must be an array of ${width || 'one or more'} numbers`);
    }
    row.forEach((v: unknown, j: number) => checkNumber(v, `${path}[${i}][${j}]`));
  });
  return value as number[][];
}

/** [channels, height, width]: 1 to 64 channels, sides within [minSide, maxSide]. */
function checkImageShape(shape: unknown, path: string, minSide: number, maxSide: number): void {
  if (!Array.isArray(shape) || shape.length !== 3) {
    throw new EbmConfigError(`${path} must be [channels, height, width]`);
  }
  shape.forEach((v: unknown, i: number) =>
    checkNumber(v, `${path}[${i}]`, { integer: true, min: i === 0 ? 1 : minSide, max: i === 0 ? 64 : maxSide }),
  );
}

/** Checks a model config before anything native runs. */
export function validateModelConfig(value: unknown, path = 'model'): ModelConfig {
  const cfg = requireObject(value, path);
  switch (cfg.kind) {
    case 'mlp': {
      rejectUnknownKeys(
        cfg,
        [
          'kind',
          'inputDim',
          'hidden',
          'activation',
          'timeConditioned',
          'timeEmbedDim',
          'timeMaxFrequency',
          'spectralNorm',
          'device',
          'seed',
        ],
        path,
      );
      requireNumber(cfg, 'inputDim', path, { integer: true, min: 1, max: 1 << 24 });
      if (!Array.isArray(cfg.hidden) || cfg.hidden.length === 0) {
        throw new EbmConfigError(`${path}.hidden must be a non-empty array of layer widths, e.g. [128, 128]`);
      }
      cfg.hidden.forEach((w: unknown, i: number) =>
        checkNumber(w, `${path}.hidden[${i}]`, { integer: true, min: 1, max: 65536 }),
      );
      optionalOneOf(cfg, 'activation', activations, path);
      optionalBoolean(cfg, 'timeConditioned', path);
      optionalBoolean(cfg, 'spectralNorm', path);
      optionalNumber(cfg, 'timeEmbedDim', path, { integer: true, min: 2, max: 4096 });
      if (typeof cfg.timeEmbedDim === 'number' && cfg.timeEmbedDim % 2 !== 0) {
        throw new EbmConfigError(`${path}.timeEmbedDim must be even, got ${cfg.timeEmbedDim}`);
      }
      optionalNumber(cfg, 'timeMaxFrequency', path, { min: 1, max: 1e4 });
      optionalDevice(cfg, 'device', path);
      optionalNumber(cfg, 'seed', path, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
      return cfg as unknown as MlpConfig;
    }
    case 'convnet': {
      rejectUnknownKeys(cfg, ['kind', 'inputShape', 'channels', 'activation', 'device', 'seed'], path);
      checkImageShape(cfg.inputShape, `${path}.inputShape`, 2, 4096);
      if (!Array.isArray(cfg.channels) || cfg.channels.length === 0 || cfg.channels.length > 8) {
        throw new EbmConfigError(`${path}.channels must list 1 to 8 stage widths, e.g. [32, 64]`);
      }
      cfg.channels.forEach((w: unknown, i: number) =>
        checkNumber(w, `${path}.channels[${i}]`, { integer: true, min: 1, max: 4096 }),
      );
      optionalOneOf(cfg, 'activation', activations, path);
      optionalDevice(cfg, 'device', path);
      optionalNumber(cfg, 'seed', path, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
      return cfg as unknown as ConvNetConfig;
    }
    case 'classifier': {
      rejectUnknownKeys(cfg, ['kind', 'inputShape', 'classes', 'featureDim', 'device', 'seed'], path);
      checkImageShape(cfg.inputShape, `${path}.inputShape`, 4, 1024);
      optionalNumber(cfg, 'classes', path, { integer: true, min: 2, max: 100000 });
      optionalNumber(cfg, 'featureDim', path, { integer: true, min: 1, max: 65536 });
      optionalDevice(cfg, 'device', path);
      optionalNumber(cfg, 'seed', path, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
      return cfg as unknown as ClassifierConfig;
    }
    case 'gaussian': {
      rejectUnknownKeys(cfg, ['kind', 'mean', 'cov', 'std', 'device'], path);
      if (!Array.isArray(cfg.mean) || cfg.mean.length === 0)
        throw new EbmConfigError(`${path}.mean must be a non-empty array`);
      cfg.mean.forEach((v: unknown, i: number) => checkNumber(v, `${path}.mean[${i}]`));
      if (cfg.cov !== undefined) {
        const cov = checkMatrix(cfg.cov, `${path}.cov`, cfg.mean.length);
        if (cov.length !== cfg.mean.length)
          throw new EbmConfigError(`${path}.cov must be ${cfg.mean.length} x ${cfg.mean.length}`);
      }
      optionalNumber(cfg, 'std', path, { above: 0 });
      optionalDevice(cfg, 'device', path);
      return cfg as unknown as GaussianConfig;
    }
    case 'gmm': {
      rejectUnknownKeys(
        cfg,
        ['kind', 'means', 'stds', 'weights', 'path', 'betaMin', 'betaMax', 'sigmaMin', 'sigmaMax', 'tMin', 'device'],
        path,
      );
      const means = checkMatrix(cfg.means, `${path}.means`);
      const k = means.length;
      if (!Array.isArray(cfg.weights) || cfg.weights.length !== k) {
        throw new EbmConfigError(`${path}.weights must have one entry per component (${k})`);
      }
      const total = cfg.weights.reduce(
        (sum: number, w: unknown, i: number) => sum + checkNumber(w, `${path}.weights[${i}]`, { above: 0 }),
        0,
      );
      if (Math.abs(total - 1) > 1e-6) throw new EbmConfigError(`${path}.weights must sum to 1, got ${total}`);
      if (!Array.isArray(cfg.stds) || cfg.stds.length !== k) {
        throw new EbmConfigError(`${path}.stds must have one entry per component (${k})`);
      }
      if (Array.isArray(cfg.stds[0])) {
        checkMatrix(cfg.stds, `${path}.stds`, means[0].length).forEach((row, i) =>
          row.forEach((v, j) => checkNumber(v, `${path}.stds[${i}][${j}]`, { above: 0 })),
        );
      } else {
        cfg.stds.forEach((v: unknown, i: number) => checkNumber(v, `${path}.stds[${i}]`, { above: 0 }));
      }
      optionalOneOf(cfg, 'path', ['vp', 've'] as const, path);
      for (const key of ['betaMin', 'betaMax', 'sigmaMin', 'sigmaMax']) optionalNumber(cfg, key, path, { above: 0 });
      if (cfg.path !== undefined) {
        // the ranges of the path, as the losses' paths check them (defaults 0.1..20 and 0.01..10)
        for (const [lo, hi, dLo, dHi] of [
          ['betaMin', 'betaMax', 0.1, 20],
          ['sigmaMin', 'sigmaMax', 0.01, 10],
        ] as const) {
          const min = (cfg[lo] as number | undefined) ?? dLo;
          const max = (cfg[hi] as number | undefined) ?? dHi;
          if (!(max > min)) throw new EbmConfigError(`${path}.${hi} must be > ${lo} (${min}), got ${max}`);
        }
      }
      optionalNumber(cfg, 'tMin', path, { above: 0, max: 0.999 });
      optionalDevice(cfg, 'device', path);
      return cfg as unknown as GmmConfig;
    }
    case 'doublewell': {
      rejectUnknownKeys(cfg, ['kind', 'dim', 'barrier', 'device'], path);
      optionalNumber(cfg, 'dim', path, { integer: true, min: 1, max: 65536 });
      optionalNumber(cfg, 'barrier', path, { above: 0 });
      optionalDevice(cfg, 'device', path);
      return cfg as unknown as DoubleWellConfig;
    }
    case 'torchscript': {
      rejectUnknownKeys(cfg, ['kind', 'path', 'inputShape', 'timeConditioned', 'device'], path);
      if (typeof cfg.path !== 'string' || cfg.path.length === 0) {
        throw new EbmConfigError(
          `${path}.path must be the path of a TorchScript module (.pt), got ${describeValue(cfg.path)}`,
        );
      }
      if (!Array.isArray(cfg.inputShape) || cfg.inputShape.length === 0 || cfg.inputShape.length > 8) {
        throw new EbmConfigError(`${path}.inputShape must list the 1 to 8 dimensions of one input row, e.g. [2]`);
      }
      cfg.inputShape.forEach((v: unknown, i: number) =>
        checkNumber(v, `${path}.inputShape[${i}]`, { integer: true, min: 1, max: 1 << 24 }),
      );
      optionalBoolean(cfg, 'timeConditioned', path);
      optionalDevice(cfg, 'device', path);
      return cfg as unknown as TorchScriptConfig;
    }
    case 'latent':
      throw new EbmConfigError(`${path}.kind 'latent' is built by ebm.latentEbm(config), not energyModel()`);
    default:
      throw new EbmConfigError(
        `${path}.kind must be one of ${modelKinds.map((k) => `'${k}'`).join(', ')}; got ${describeValue(cfg.kind)}`,
      );
  }
}

/**
 * @internal The shape of one input row of a model config, without creating the model: what the
 * built model reports as EnergyModel.inputShape. `ebm train` checks its data against it before
 * any model is built, so that every config error comes before native work.
 */
export function modelRowShape(model: ModelConfig): number[] {
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
      return [model.dim ?? 1];
    default:
      throw new EbmConfigError(`model.kind ${describeValue((model as { kind: unknown }).kind)} is not known`);
  }
}

/** @internal Whether a model config makes E(x, t) (EnergyModel.timeConditioned), without creating the model. */
export function modelTimeConditioned(model: ModelConfig): boolean {
  return (
    ((model.kind === 'mlp' || model.kind === 'torchscript') && model.timeConditioned === true) ||
    (model.kind === 'gmm' && model.path !== undefined)
  );
}
