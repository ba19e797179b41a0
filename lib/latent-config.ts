/**
 * The options of latent EBMs (latent.ts): the model config, the Langevin chains and trainLatent's
 * options, each checked with its defaults filled in. The defaults of every option live in this
 * file, once.
 */
import { DistributedSetting, validateDistributed } from './distributed';
import { CdLossConfig, EdLossConfig, validateLossConfig } from './config';
import { EbmConfigError } from './errors';
import { Activation, activations, Device } from './model-config';
import type { TrainProgress } from './train';
import {
  checkJobHooks,
  checkNumber,
  describeValue,
  optionalBoolean,
  optionalDevice,
  optionalNumber,
  optionalOneOf,
  rejectUnknownKeys,
  requireObject,
} from './validate';

/** What ebm.latentEbm() takes; every field but imageShape has a default. */
export interface LatentEbmConfig {
  /** [channels, height, width]; height and width even (28×28 grows from 7×7, 32×32 from 4×4) */
  imageShape: [number, number, number];
  /** default 64 */
  latentDim?: number;
  generator?: {
    /** channels of the last hidden layer; they double towards the base (default 64) */
    channels?: number;
    /** BatchNorm after each hidden transposed convolution (default false) */
    batchNorm?: boolean;
  };
  /** the energy E(z): an MLP latentDim → hidden… → 1 */
  prior?: {
    /** default [200, 200, 200] */
    hidden?: number[];
    /** default 'leaky_relu' (slope 0.2) */
    activation?: Activation;
  };
  /** std σ of the Gaussian likelihood p(x | z) = N(g(z), σ²I) (default 0.3) */
  likelihoodSigma?: number;
  /** default 'auto': CUDA when available */
  device?: Device;
  /** seeds the weight initialisation (default 0) */
  seed?: number;
}

/** The config a latent model holds, with every default filled in (as saved in its checkpoint). */
export interface LatentModelConfig {
  kind: 'latent';
  imageShape: [number, number, number];
  latentDim: number;
  generator: { channels: number; batchNorm: boolean };
  prior: { hidden: number[]; activation: Activation };
  likelihoodSigma: number;
  device: Device;
  seed: number;
}

/** A short-run Langevin chain z ← z − (s²/2)∇U(z) + s ξ (Pang et al.'s step size s). */
export interface LatentChain {
  steps?: number;
  stepSize?: number;
}

/** Defaults (METHODS.md, "Latent image prior"). */
export const latentDefaults = {
  latentDim: 64,
  generatorChannels: 64,
  priorHidden: [200, 200, 200],
  priorActivation: 'leaky_relu' as Activation,
  likelihoodSigma: 0.3,
  /** posterior chains, in training and inference */
  posterior: { steps: 20, stepSize: 0.1 },
  /** prior chains of generate() */
  prior: { steps: 500, stepSize: 0.2 },
  priorLoss: { kind: 'ed', t: 0.25, m: 16, w: 1 } as EdLossConfig,
  generatorLr: 1e-4,
  priorLr: 5e-5,
  betas: [0.5, 0.999] as [number, number],
  logEvery: 10,
} as const;

/** @internal the range of every seed option */
export const seedRange = { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER };

/** Checks a latent model config and fills in its defaults. */
export function validateLatentConfig(value: unknown, path = 'config'): LatentModelConfig {
  const cfg = requireObject(value, path);
  rejectUnknownKeys(
    cfg,
    ['kind', 'imageShape', 'latentDim', 'generator', 'prior', 'likelihoodSigma', 'device', 'seed'],
    path,
  );
  if (cfg.kind !== undefined && cfg.kind !== 'latent') {
    throw new EbmConfigError(`${path}.kind must be 'latent' (or left out), got ${describeValue(cfg.kind)}`);
  }
  const shape = cfg.imageShape;
  if (!Array.isArray(shape) || shape.length !== 3) {
    throw new EbmConfigError(`${path}.imageShape must be [channels, height, width], e.g. [1, 28, 28]`);
  }
  shape.forEach((v: unknown, i: number) =>
    checkNumber(v, `${path}.imageShape[${i}]`, { integer: true, min: i === 0 ? 1 : 6, max: i === 0 ? 64 : 4096 }),
  );
  const [, h, w] = shape as number[];
  if (h % 2 !== 0 || w % 2 !== 0) {
    throw new EbmConfigError(
      `${path}.imageShape: height and width must be even (the generator doubles a base of at least 3×3 pixels), got ${h} × ${w}`,
    );
  }
  optionalNumber(cfg, 'latentDim', path, { integer: true, min: 1, max: 4096 });
  const generator = cfg.generator === undefined ? {} : requireObject(cfg.generator, `${path}.generator`);
  rejectUnknownKeys(generator, ['channels', 'batchNorm'], `${path}.generator`);
  optionalNumber(generator, 'channels', `${path}.generator`, { integer: true, min: 1, max: 4096 });
  optionalBoolean(generator, 'batchNorm', `${path}.generator`);
  const prior = cfg.prior === undefined ? {} : requireObject(cfg.prior, `${path}.prior`);
  rejectUnknownKeys(prior, ['hidden', 'activation'], `${path}.prior`);
  if (prior.hidden !== undefined) {
    if (!Array.isArray(prior.hidden) || prior.hidden.length === 0 || prior.hidden.length > 16) {
      throw new EbmConfigError(`${path}.prior.hidden must list 1 to 16 layer widths, e.g. [200, 200, 200]`);
    }
    prior.hidden.forEach((v: unknown, i: number) =>
      checkNumber(v, `${path}.prior.hidden[${i}]`, { integer: true, min: 1, max: 65536 }),
    );
  }
  optionalOneOf(prior, 'activation', activations, `${path}.prior`);
  optionalNumber(cfg, 'likelihoodSigma', path, { above: 0, max: 100 });
  optionalDevice(cfg, 'device', path);
  optionalNumber(cfg, 'seed', path, seedRange);
  return {
    kind: 'latent',
    imageShape: [...(shape as number[])] as [number, number, number],
    latentDim: (cfg.latentDim as number | undefined) ?? latentDefaults.latentDim,
    generator: {
      channels: (generator.channels as number | undefined) ?? latentDefaults.generatorChannels,
      batchNorm: (generator.batchNorm as boolean | undefined) ?? false,
    },
    prior: {
      hidden: [...((prior.hidden as number[] | undefined) ?? latentDefaults.priorHidden)],
      activation: (prior.activation as Activation | undefined) ?? latentDefaults.priorActivation,
    },
    likelihoodSigma: (cfg.likelihoodSigma as number | undefined) ?? latentDefaults.likelihoodSigma,
    device: (cfg.device as Device | undefined) ?? 'auto',
    seed: (cfg.seed as number | undefined) ?? 0,
  };
}

/** @internal A chain option with its defaults filled in. */
export function checkChain(value: unknown, path: string, defaults: { steps: number; stepSize: number }) {
  const c = value === undefined ? {} : requireObject(value, path);
  rejectUnknownKeys(c, ['steps', 'stepSize'], path);
  optionalNumber(c, 'steps', path, { integer: true, min: 0, max: 1e6 });
  optionalNumber(c, 'stepSize', path, { above: 0, max: 10 });
  return {
    steps: (c.steps as number | undefined) ?? defaults.steps,
    stepSize: (c.stepSize as number | undefined) ?? defaults.stepSize,
  };
}

/** The prior's training: a loss on the posterior latents, or 'gaussian' (no EBM: N(0, I)). */
export type LatentPriorOptions =
  | 'gaussian'
  | {
      /** 'ed' (default { kind: 'ed', t: 0.25, m: 16, w: 1 }) or 'cd' (short-run prior Langevin negatives) */
      loss?: EdLossConfig | CdLossConfig;
      /** Adam learning rate of the energy (default 5e-5) */
      lr?: number;
      /** clip the energy's gradient norm (default 0: off) */
      gradClip?: number;
    };

export interface LatentTrainOptions {
  batchSize: number;
  steps: number;
  /** default { loss: { kind: 'ed', t: 0.25, m: 16, w: 1 } } */
  prior?: LatentPriorOptions;
  posterior?: LatentChain & {
    /** likelihood std (default: the model's likelihoodSigma) */
    sigma?: number;
    /** each image's chain continues from its previous latents (default false: from N(0, I)) */
    persistent?: boolean;
  };
  /** Adam learning rate of the generator (default 1e-4) */
  generatorLr?: number;
  /** Adam betas of both networks (default [0.5, 0.999]) */
  betas?: [number, number];
  seed?: number;
  logEvery?: number;
  /** exponential moving average of all weights, swapped in at the end */
  ema?: { decay: number };
  /** written every `every` steps (a multiple of logEvery) and at the end */
  checkpoint?: { path: string; every?: number };
  /** data-parallel over several processes, as in ebm.train (batchSize is per rank) */
  distributed?: DistributedSetting;
  onProgress?: (progress: TrainProgress) => void;
  /** aborting rejects with EbmAbortError within a chain step; the model keeps its last completed step */
  signal?: AbortSignal;
}

/** The options trainLatent() runs with, every default filled in. */
export interface ResolvedLatentTrainOptions {
  batchSize: number;
  steps: number;
  prior: 'gaussian' | { loss: EdLossConfig | CdLossConfig; lr: number; gradClip: number };
  posterior: { steps: number; stepSize: number; sigma: number; persistent: boolean };
  generatorLr: number;
  priorLr: number;
  betas: [number, number];
  seed: number;
  logEvery: number;
  ema?: { decay: number };
  checkpoint?: { path: string; every: number };
  distributed?: DistributedSetting;
}

/** Checks trainLatent options against a model and fills in the defaults. */
export function validateLatentTrainOptions(
  value: unknown,
  model: { config: LatentModelConfig },
  rows: number,
  path = 'options',
): ResolvedLatentTrainOptions {
  const o = requireObject(value, path);
  rejectUnknownKeys(
    o,
    [
      'batchSize',
      'steps',
      'prior',
      'posterior',
      'generatorLr',
      'betas',
      'seed',
      'logEvery',
      'ema',
      'checkpoint',
      'distributed',
      'onProgress',
      'signal',
    ],
    path,
  );
  const steps = checkNumber(o.steps, `${path}.steps`, { integer: true, min: 1, max: 1e9 });
  const batchSize = checkNumber(o.batchSize, `${path}.batchSize`, { integer: true, min: 1, max: 1e6 });
  if (batchSize > rows) {
    throw new EbmConfigError(`${path}.batchSize (${batchSize}) is larger than the dataset (${rows} images)`);
  }
  let prior: ResolvedLatentTrainOptions['prior'];
  let priorLr: number = latentDefaults.priorLr;
  if (o.prior === 'gaussian') {
    prior = 'gaussian';
  } else {
    const p = o.prior === undefined ? {} : requireObject(o.prior, `${path}.prior`);
    rejectUnknownKeys(p, ['loss', 'lr', 'gradClip'], `${path}.prior`);
    const loss =
      p.loss === undefined ? { ...latentDefaults.priorLoss } : validateLossConfig(p.loss, false, `${path}.prior.loss`);
    if (loss.kind !== 'ed' && loss.kind !== 'cd') {
      throw new EbmConfigError(`${path}.prior.loss.kind must be 'ed' or 'cd' for a latent prior, got '${loss.kind}'`);
    }
    optionalNumber(p, 'lr', `${path}.prior`, { above: 0, max: 10 });
    optionalNumber(p, 'gradClip', `${path}.prior`, { min: 0 });
    priorLr = (p.lr as number | undefined) ?? latentDefaults.priorLr;
    prior = { loss, lr: priorLr, gradClip: (p.gradClip as number | undefined) ?? 0 };
  }
  const post = o.posterior === undefined ? {} : requireObject(o.posterior, `${path}.posterior`);
  rejectUnknownKeys(post, ['steps', 'stepSize', 'sigma', 'persistent'], `${path}.posterior`);
  const chain = checkChain(
    { steps: post.steps, stepSize: post.stepSize },
    `${path}.posterior`,
    latentDefaults.posterior,
  );
  optionalNumber(post, 'sigma', `${path}.posterior`, { above: 0, max: 100 });
  optionalBoolean(post, 'persistent', `${path}.posterior`);
  optionalNumber(o, 'generatorLr', path, { above: 0, max: 10 });
  if (o.betas !== undefined) {
    if (!Array.isArray(o.betas) || o.betas.length !== 2)
      throw new EbmConfigError(`${path}.betas must be [beta1, beta2]`);
    o.betas.forEach((b: unknown, i: number) => checkNumber(b, `${path}.betas[${i}]`, { min: 0, max: 0.999999 }));
  }
  optionalNumber(o, 'seed', path, seedRange);
  optionalNumber(o, 'logEvery', path, { integer: true, min: 1 });
  const logEvery = Math.min(steps, (o.logEvery as number | undefined) ?? latentDefaults.logEvery);
  let ema: ResolvedLatentTrainOptions['ema'];
  if (o.ema !== undefined) {
    const e = requireObject(o.ema, `${path}.ema`);
    rejectUnknownKeys(e, ['decay'], `${path}.ema`);
    ema = { decay: checkNumber(e.decay, `${path}.ema.decay`, { min: 0, max: 0.999999 }) };
  }
  let checkpoint: ResolvedLatentTrainOptions['checkpoint'];
  if (o.checkpoint !== undefined) {
    const c = requireObject(o.checkpoint, `${path}.checkpoint`);
    rejectUnknownKeys(c, ['path', 'every'], `${path}.checkpoint`);
    if (typeof c.path !== 'string' || c.path.length === 0) {
      throw new EbmConfigError(`${path}.checkpoint.path must be a non-empty string`);
    }
    optionalNumber(c, 'every', `${path}.checkpoint`, { integer: true, min: 0 });
    const every = (c.every as number | undefined) ?? 0;
    if (every % logEvery !== 0) {
      throw new EbmConfigError(
        `${path}.checkpoint.every must be a multiple of logEvery (${logEvery}): checkpoints are written at reports, after the finiteness check`,
      );
    }
    checkpoint = { path: c.path, every };
  }
  if (o.distributed !== undefined) validateDistributed(o.distributed, `${path}.distributed`);
  checkJobHooks(o, path);
  return {
    batchSize,
    steps,
    prior,
    posterior: {
      ...chain,
      sigma: (post.sigma as number | undefined) ?? model.config.likelihoodSigma,
      persistent: (post.persistent as boolean | undefined) ?? false,
    },
    generatorLr: (o.generatorLr as number | undefined) ?? latentDefaults.generatorLr,
    priorLr,
    betas: (o.betas as [number, number] | undefined) ?? [...latentDefaults.betas],
    seed: (o.seed as number | undefined) ?? 0,
    logEvery,
    ...(ema ? { ema } : {}),
    ...(checkpoint ? { checkpoint } : {}),
    ...(o.distributed !== undefined ? { distributed: o.distributed as DistributedSetting } : {}),
  };
}
