/** Typed, validated configuration for losses, samplers, optimisers and training runs. */
import { DistributedSetting, validateDistributed } from './distributed';
import { EbmConfigError } from './errors';
import {
  checkJobHooks,
  checkNumber,
  checkOneOf,
  describeValue,
  Obj,
  optionalBoolean,
  optionalNumber,
  optionalOneOf,
  rejectUnknownKeys,
  requireNumber,
  requireObject,
} from './validate';

export const samplerKinds = ['langevin', 'mala', 'hmc', 'annealed', 'wgf'] as const;
export type SamplerKind = (typeof samplerKinds)[number];

/** Unadjusted Langevin: x ← x − η∇E + √(2ηT) ξ. */
export interface LangevinConfig {
  kind: 'langevin';
  steps: number;
  /** η */
  stepSize: number;
  /** T (default 1); step and noise stay tied */
  temperature?: number;
  /** replaces √(2ηT) when given: decoupled noise, the short-run CD recipe */
  noiseScale?: number;
}
/** Step-size adaptation during the first adaptSteps steps (per chain, towards targetAccept). */
export interface AdaptOptions {
  /** steps of adaptation (default 0: fixed step); acceptRate counts the steps after them */
  adaptSteps?: number;
  /** default 0.574 (MALA), 0.65 (HMC) */
  targetAccept?: number;
  /** Robbins–Monro rate on log step size (default 0.05) */
  adaptRate?: number;
}
/** Metropolis-adjusted Langevin, per-chain accept. */
export interface MalaConfig extends AdaptOptions {
  kind: 'mala';
  steps: number;
  stepSize: number;
}
/** Hamiltonian Monte Carlo with leapfrogSteps (default 10) steps of size stepSize. */
export interface HmcConfig extends AdaptOptions {
  kind: 'hmc';
  steps: number;
  stepSize: number;
  leapfrogSteps?: number;
  /** each iteration's step is stepSize × U(1 − jitter, 1 + jitter) per chain (default 0.2), against periodic orbits */
  jitter?: number;
}
/**
 * Annealed Langevin over the levels of a time-conditioned model, t from 1 to tMin; `steps` per
 * level; `stepSize` is the step at the last level, level t uses stepSize·γ_t²/γ_tMin².
 */
export interface AnnealedConfig {
  kind: 'annealed';
  steps: number;
  stepSize: number;
  /** number of levels (default 10) */
  levels?: number;
  path?: NoisePathKind;
  betaMin?: number;
  betaMax?: number;
  sigmaMin?: number;
  sigmaMax?: number;
  tMin?: number;
}
/**
 * Wasserstein gradient-flow particle sampler (blob Fokker–Planck velocity, Heun steps of size
 * stepSize). bandwidth 'auto' (default) = bandwidthScale (2.5) × median nearest-neighbour distance.
 */
export interface WgfConfig {
  kind: 'wgf';
  steps: number;
  stepSize: number;
  bandwidth?: number | 'auto';
  bandwidthScale?: number;
  /** the blob correction term (default true) */
  blob?: boolean;
  /** the kernel repulsion terms (default true; false = plain gradient descent, which collapses) */
  repulsion?: boolean;
  integrator?: 'heun' | 'euler';
}
export type SamplerConfig = LangevinConfig | MalaConfig | HmcConfig | AnnealedConfig | WgfConfig;

export type NoisePathKind = 'vp' | 've';
/** Parameters of the noising path shared by DSM (on a path) and DiffCLF. */
export interface PathOptions {
  path: NoisePathKind;
  /** VP β range (default 0.1, 20) */
  betaMin?: number;
  betaMax?: number;
  /** VE σ range (default 0.01, 10) */
  sigmaMin?: number;
  sigmaMax?: number;
  /** smallest time (default 1e-3); time runs over [tMin, 1] */
  tMin?: number;
  /** 'noise' (default): ‖ε + γ s‖²/d; 'edm': λ(σ)‖D − x₀‖²/d with σ_data = sigmaData */
  weighting?: 'noise' | 'edm';
  sigmaData?: number;
}

/** Energy Discrepancy. `t` is a variance (noise std √t). */
export interface EdLossConfig {
  kind: 'ed';
  t: number;
  m: number;
  w: number;
  perturbation?: 'gaussian' | 'bernoulli';
  /** bit-flip probability for the Bernoulli perturbation (default 0.1) */
  epsilon?: number;
}
/** Single-level DSM: ½ mean ‖σ s(x + σε) + ε‖². */
export interface DsmSigmaLossConfig {
  kind: 'dsm';
  sigma: number;
}
/** DSM on a noising path, for time-conditioned models; `levels` picks a discrete grid. */
export interface DsmPathLossConfig extends PathOptions {
  kind: 'dsm';
  levels?: number;
}
/** Diffusive classification + DSM. k = 2 is the bi-level form. */
export interface DiffClfLossConfig extends PathOptions {
  kind: 'diffclf';
  levels: number;
  k: number;
  clfWeight: number;
  dsmWeight?: number;
  /** DSM-only steps before the classification term is switched on (default 0) */
  warmupSteps?: number;
  /** learning rate of the per-level offsets' own optimiser group (default: the optimiser's lr) */
  offsetLr?: number;
  /** starting per-level offsets, one per level (e.g. run.lossParameters['diffclf.offsets'] of an earlier run); default 0 */
  offsets?: readonly number[] | Float32Array;
}
/** Contrastive divergence with sampler negatives. */
export interface CdLossConfig {
  kind: 'cd';
  sampler: SamplerConfig;
  /** energy-magnitude regulariser α (default 0.1) */
  alpha?: number;
  /** persistent replay buffer; `reinit` is the fraction restarted from noise each step (default 0.05) */
  buffer?: { size: number; reinit?: number };
  /** chain start without a buffer: 'data' (CD-k, default) or 'noise' */
  init?: 'data' | 'noise';
}
/** Sliced score matching (variance-reduced). */
export interface SsmLossConfig {
  kind: 'ssm';
  /** random projections per point (default 1) */
  projections?: number;
}
/** Cross-entropy of a 'classifier' model on labelled data (train(..., { labels })). */
export interface CeLossConfig {
  kind: 'ce';
}
export type LossConfig =
  | CeLossConfig
  | EdLossConfig
  | DsmSigmaLossConfig
  | DsmPathLossConfig
  | DiffClfLossConfig
  | CdLossConfig
  | SsmLossConfig;
export const lossKinds = ['ed', 'dsm', 'diffclf', 'cd', 'ssm', 'ce'] as const;

export type OptimizerConfig =
  | { kind: 'adam' | 'adamw'; lr: number; betas?: [number, number]; eps?: number; weightDecay?: number }
  | { kind: 'sgd'; lr: number; momentum?: number; weightDecay?: number };

export interface ScheduleConfig {
  kind: 'constant' | 'cosine';
  /** linear warm-up over the first steps (default 0) */
  warmupSteps?: number;
  /** cosine floor (default 0) */
  minLr?: number;
}

/** Options of a training run that cross into the native trainer. */
export interface TrainOptions {
  loss: LossConfig;
  /** default { kind: 'adam', lr: 1e-3 } */
  optimizer?: OptimizerConfig;
  schedule?: ScheduleConfig;
  batchSize: number;
  steps: number;
  /** fixes data order and all noise (default 0) */
  seed?: number;
  /** draw batches with replacement (default false: shuffled epochs) */
  replacement?: boolean;
  /** a history entry and a progress event every logEvery steps (default 10) */
  logEvery?: number;
  /** exponential moving average of the weights; copied into the model at the end */
  ema?: { decay: number };
  /** clip the global gradient norm (0 = off; default 0, 1.0 for diffclf) */
  gradClip?: number;
  /**
   * write the model and the whole training state (optimiser, EMA, loss state, random generator,
   * data order) every `every` steps (0: only at the end), at the end, and when the run is aborted
   */
  checkpoint?: { path: string; every?: number };
  /**
   * continue the run a checkpoint written by `checkpoint` holds, up to `steps`: the result equals
   * one uninterrupted run bit for bit. Model, data, loss, optimizer, schedule, batchSize, seed,
   * replacement, ema and gradClip must be those of the run that wrote it (steps, logEvery and
   * checkpoint may change; a cosine schedule follows the new `steps`).
   */
  resumeFrom?: string;
  /**
   * data-parallel training over several processes (c10d: Gloo on CPU, NCCL on CUDA), or 'env' for
   * the torchrun variables. batchSize is per rank; every rank ends each step with the same weights
   * and rank 0 alone writes checkpoints. `ebm train --nproc N` and `ebm launch` start the processes.
   */
  distributed?: DistributedSetting;
}

const pathKeys = ['path', 'betaMin', 'betaMax', 'sigmaMin', 'sigmaMax', 'tMin', 'weighting', 'sigmaData'];

function validatePath(cfg: Obj, path: string): void {
  checkOneOf(cfg.path, ['vp', 've'] as const, `${path}.path`);
  optionalNumber(cfg, 'betaMin', path, { above: 0 });
  optionalNumber(cfg, 'betaMax', path, { above: 0 });
  optionalNumber(cfg, 'sigmaMin', path, { above: 0 });
  optionalNumber(cfg, 'sigmaMax', path, { above: 0 });
  optionalNumber(cfg, 'tMin', path, { above: 0, max: 0.999 });
  optionalOneOf(cfg, 'weighting', ['noise', 'edm'] as const, path);
  optionalNumber(cfg, 'sigmaData', path, { above: 0 });
  const bMin = (cfg.betaMin as number | undefined) ?? 0.1;
  const bMax = (cfg.betaMax as number | undefined) ?? 20;
  if (bMax <= bMin) throw new EbmConfigError(`${path}.betaMax must be > betaMin (${bMin}), got ${bMax}`);
  const sMin = (cfg.sigmaMin as number | undefined) ?? 0.01;
  const sMax = (cfg.sigmaMax as number | undefined) ?? 10;
  if (sMax <= sMin) throw new EbmConfigError(`${path}.sigmaMax must be > sigmaMin (${sMin}), got ${sMax}`);
}

export function validateSamplerConfig(value: unknown, path = 'sampler'): SamplerConfig {
  const cfg = requireObject(value, path);
  const kind = checkOneOf(cfg.kind, samplerKinds, `${path}.kind`);
  const steps = requireNumber(cfg, 'steps', path, { integer: true, min: 1, max: 1e7 });
  requireNumber(cfg, 'stepSize', path, { above: 0 });
  const adapt = () => {
    optionalNumber(cfg, 'adaptSteps', path, { integer: true, min: 0, max: steps - 1 });
    optionalNumber(cfg, 'targetAccept', path, { above: 0, max: 0.999 });
    optionalNumber(cfg, 'adaptRate', path, { above: 0, max: 1 });
  };
  switch (kind) {
    case 'langevin':
      rejectUnknownKeys(cfg, ['kind', 'steps', 'stepSize', 'temperature', 'noiseScale'], path);
      optionalNumber(cfg, 'temperature', path, { above: 0 });
      optionalNumber(cfg, 'noiseScale', path, { min: 0 });
      break;
    case 'mala':
      rejectUnknownKeys(cfg, ['kind', 'steps', 'stepSize', 'adaptSteps', 'targetAccept', 'adaptRate'], path);
      adapt();
      break;
    case 'hmc':
      rejectUnknownKeys(
        cfg,
        ['kind', 'steps', 'stepSize', 'leapfrogSteps', 'jitter', 'adaptSteps', 'targetAccept', 'adaptRate'],
        path,
      );
      optionalNumber(cfg, 'leapfrogSteps', path, { integer: true, min: 1, max: 10000 });
      optionalNumber(cfg, 'jitter', path, { min: 0, max: 0.99 });
      adapt();
      break;
    case 'annealed':
      rejectUnknownKeys(cfg, ['kind', 'steps', 'stepSize', 'levels', ...pathKeys], path);
      optionalNumber(cfg, 'levels', path, { integer: true, min: 1, max: 100000 });
      // the native sampler reads the path fields with or without `path` (default 'vp')
      validatePath({ ...cfg, path: cfg.path === undefined ? 'vp' : cfg.path }, path);
      break;
    case 'wgf':
      rejectUnknownKeys(
        cfg,
        ['kind', 'steps', 'stepSize', 'bandwidth', 'bandwidthScale', 'blob', 'repulsion', 'integrator'],
        path,
      );
      if (cfg.bandwidth !== undefined && cfg.bandwidth !== 'auto')
        checkNumber(cfg.bandwidth, `${path}.bandwidth`, { above: 0 });
      optionalNumber(cfg, 'bandwidthScale', path, { above: 0 });
      optionalBoolean(cfg, 'blob', path);
      optionalBoolean(cfg, 'repulsion', path);
      optionalOneOf(cfg, 'integrator', ['heun', 'euler'] as const, path);
      break;
  }
  return cfg as unknown as SamplerConfig;
}

/** Checks a loss config; `timeConditioned` says what the model is, so mismatches fail early. */
export function validateLossConfig(value: unknown, timeConditioned: boolean, path = 'loss'): LossConfig {
  const cfg = requireObject(value, path);
  const kind = checkOneOf(cfg.kind, lossKinds, `${path}.kind`);
  const needs = (tc: boolean) => {
    if (tc !== timeConditioned) {
      throw new EbmConfigError(
        `${path}: this loss needs a model with timeConditioned: ${tc}, but the model has timeConditioned: ${timeConditioned}`,
      );
    }
  };
  switch (kind) {
    case 'ed': {
      rejectUnknownKeys(cfg, ['kind', 't', 'm', 'w', 'perturbation', 'epsilon'], path);
      requireNumber(cfg, 't', path, { above: 0 });
      requireNumber(cfg, 'm', path, { integer: true, min: 1, max: 4096 });
      requireNumber(cfg, 'w', path, { min: 0 });
      optionalOneOf(cfg, 'perturbation', ['gaussian', 'bernoulli'] as const, path);
      optionalNumber(cfg, 'epsilon', path, { above: 0, max: 0.999 });
      needs(false);
      break;
    }
    case 'dsm': {
      if (cfg.sigma !== undefined) {
        rejectUnknownKeys(cfg, ['kind', 'sigma'], path);
        requireNumber(cfg, 'sigma', path, { above: 0 });
        needs(false);
      } else {
        if (cfg.path === undefined) {
          throw new EbmConfigError(`${path}: DSM needs sigma (single level) or path: 'vp' | 've' (time-conditioned)`);
        }
        rejectUnknownKeys(cfg, ['kind', 'levels', ...pathKeys], path);
        validatePath(cfg, path);
        optionalNumber(cfg, 'levels', path, { integer: true, min: 2, max: 100000 });
        needs(true);
      }
      break;
    }
    case 'diffclf': {
      rejectUnknownKeys(
        cfg,
        ['kind', 'levels', 'k', 'clfWeight', 'dsmWeight', 'warmupSteps', 'offsetLr', 'offsets', ...pathKeys],
        path,
      );
      validatePath(cfg, path);
      const levels = requireNumber(cfg, 'levels', path, { integer: true, min: 2, max: 100000 });
      const k = requireNumber(cfg, 'k', path, { integer: true, min: 2 });
      if (k > levels) throw new EbmConfigError(`${path}.k must be <= levels (${levels}), got ${k}`);
      requireNumber(cfg, 'clfWeight', path, { min: 0 });
      optionalNumber(cfg, 'dsmWeight', path, { min: 0 });
      optionalNumber(cfg, 'warmupSteps', path, { integer: true, min: 0 });
      optionalNumber(cfg, 'offsetLr', path, { above: 0, max: 10 });
      if (cfg.offsets !== undefined) {
        const f = cfg.offsets;
        if (!(Array.isArray(f) || f instanceof Float32Array) || f.length !== levels) {
          throw new EbmConfigError(`${path}.offsets must be an array of ${levels} numbers (one per level)`);
        }
        Array.from(f as ArrayLike<unknown>).forEach((v, i) => checkNumber(v, `${path}.offsets[${i}]`));
      }
      needs(true);
      break;
    }
    case 'cd': {
      rejectUnknownKeys(cfg, ['kind', 'sampler', 'alpha', 'buffer', 'init'], path);
      const sampler = validateSamplerConfig(cfg.sampler, `${path}.sampler`);
      if (sampler.kind === 'annealed') {
        throw new EbmConfigError(
          `${path}.sampler: the annealed sampler needs a time-conditioned model; CD trains E(x)`,
        );
      }
      optionalNumber(cfg, 'alpha', path, { min: 0 });
      optionalOneOf(cfg, 'init', ['data', 'noise'] as const, path);
      if (cfg.buffer !== undefined) {
        const b = requireObject(cfg.buffer, `${path}.buffer`);
        rejectUnknownKeys(b, ['size', 'reinit'], `${path}.buffer`);
        requireNumber(b, 'size', `${path}.buffer`, { integer: true, min: 1, max: 1e8 });
        optionalNumber(b, 'reinit', `${path}.buffer`, { min: 0, max: 1 });
      }
      needs(false);
      break;
    }
    case 'ce': {
      rejectUnknownKeys(cfg, ['kind'], path);
      break;
    }
    case 'ssm': {
      rejectUnknownKeys(cfg, ['kind', 'projections'], path);
      optionalNumber(cfg, 'projections', path, { integer: true, min: 1, max: 64 });
      needs(false);
      break;
    }
  }
  return cfg as unknown as LossConfig;
}

export function validateOptimizerConfig(value: unknown, path = 'optimizer'): OptimizerConfig {
  const cfg = requireObject(value, path);
  const kind = checkOneOf(cfg.kind, ['adam', 'adamw', 'sgd'] as const, `${path}.kind`);
  requireNumber(cfg, 'lr', path, { above: 0, max: 10 });
  optionalNumber(cfg, 'weightDecay', path, { min: 0 });
  if (kind === 'sgd') {
    rejectUnknownKeys(cfg, ['kind', 'lr', 'momentum', 'weightDecay'], path);
    optionalNumber(cfg, 'momentum', path, { min: 0, max: 0.999999 });
  } else {
    rejectUnknownKeys(cfg, ['kind', 'lr', 'betas', 'eps', 'weightDecay'], path);
    optionalNumber(cfg, 'eps', path, { above: 0 });
    if (cfg.betas !== undefined) {
      if (!Array.isArray(cfg.betas) || cfg.betas.length !== 2) {
        throw new EbmConfigError(`${path}.betas must be [beta1, beta2]`);
      }
      cfg.betas.forEach((b: unknown, i: number) => checkNumber(b, `${path}.betas[${i}]`, { min: 0, max: 0.999999 }));
    }
  }
  return cfg as unknown as OptimizerConfig;
}

/**
 * Checks a whole training config before any native work: every field, the loss against the
 * model, and the batch size against the number of rows.
 */
export function validateTrainOptions(value: unknown, timeConditioned: boolean, rows: number): TrainOptions {
  const path = 'config';
  const cfg = requireObject(value, path);
  rejectUnknownKeys(
    cfg,
    [
      'loss',
      'optimizer',
      'schedule',
      'batchSize',
      'steps',
      'seed',
      'replacement',
      'logEvery',
      'ema',
      'gradClip',
      'checkpoint',
      'resumeFrom',
      'distributed',
      'onProgress',
      'signal',
      'labels',
    ],
    path,
  );
  if (cfg.loss === undefined)
    throw new EbmConfigError(`${path}.loss is required, e.g. { kind: 'ed', t: 1, m: 16, w: 1 }`);
  validateLossConfig(cfg.loss, timeConditioned, `${path}.loss`);
  if (cfg.optimizer !== undefined) validateOptimizerConfig(cfg.optimizer, `${path}.optimizer`);
  if (cfg.schedule !== undefined) {
    const s = requireObject(cfg.schedule, `${path}.schedule`);
    rejectUnknownKeys(s, ['kind', 'warmupSteps', 'minLr'], `${path}.schedule`);
    checkOneOf(s.kind, ['constant', 'cosine'] as const, `${path}.schedule.kind`);
    optionalNumber(s, 'warmupSteps', `${path}.schedule`, { integer: true, min: 0 });
    optionalNumber(s, 'minLr', `${path}.schedule`, { min: 0 });
  }
  // the bound of options.n in sample() and of a CD buffer; far larger batches only reach the allocator's error
  const batchSize = requireNumber(cfg, 'batchSize', path, { integer: true, min: 1, max: 1e8 });
  requireNumber(cfg, 'steps', path, { integer: true, min: 1, max: 1e9 });
  optionalNumber(cfg, 'seed', path, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  optionalBoolean(cfg, 'replacement', path);
  optionalNumber(cfg, 'logEvery', path, { integer: true, min: 1 });
  optionalNumber(cfg, 'gradClip', path, { min: 0 });
  if (cfg.ema !== undefined) {
    const e = requireObject(cfg.ema, `${path}.ema`);
    rejectUnknownKeys(e, ['decay'], `${path}.ema`);
    requireNumber(e, 'decay', `${path}.ema`, { min: 0, max: 0.999999999 });
  }
  if (cfg.checkpoint !== undefined) {
    const c = requireObject(cfg.checkpoint, `${path}.checkpoint`);
    rejectUnknownKeys(c, ['path', 'every'], `${path}.checkpoint`);
    if (typeof c.path !== 'string' || c.path.length === 0) {
      throw new EbmConfigError(`${path}.checkpoint.path must be a non-empty string`);
    }
    optionalNumber(c, 'every', `${path}.checkpoint`, { integer: true, min: 0 });
    const logEvery = Math.min(cfg.steps as number, (cfg.logEvery as number | undefined) ?? 10);
    if (typeof c.every === 'number' && c.every % logEvery !== 0) {
      throw new EbmConfigError(
        `${path}.checkpoint.every (${c.every}) must be a multiple of logEvery (${logEvery}): checkpoints are written at reports`,
      );
    }
  }
  if (cfg.resumeFrom !== undefined && (typeof cfg.resumeFrom !== 'string' || cfg.resumeFrom.length === 0)) {
    throw new EbmConfigError(
      `${path}.resumeFrom must be a checkpoint path (a non-empty string), got ${describeValue(cfg.resumeFrom)}`,
    );
  }
  if (cfg.distributed !== undefined) validateDistributed(cfg.distributed, `${path}.distributed`);
  checkJobHooks(cfg, path);
  if (cfg.replacement !== true && batchSize > rows) {
    throw new EbmConfigError(
      `${path}.batchSize (${batchSize}) is larger than the dataset (${rows} rows); use a smaller batch or replacement: true`,
    );
  }
  return cfg as unknown as TrainOptions;
}

/** A validated config as the JSON the native side reads (typed arrays become plain arrays). */
export function configJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v));
}
