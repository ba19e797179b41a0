/**
 * Latent-space EBM image priors (Pang et al. 2020; the image use of Energy Discrepancy): a
 * generator g(z) maps a latent z to an image, the prior over z is p(z) ∝ exp(−E(z)) N(z; 0, I).
 * Training, generation and posterior inference (reconstruction, inpainting, denoising) run in C++
 * on a worker thread. The defaults of every option live in this file, once.
 */
import { DistributedSetting, resolveDistributed, validateDistributed } from './distributed';
import { CdLossConfig, configJson, EdLossConfig, validateLossConfig } from './config';
import { awaitJob, callNativeSync, EbmAbortError, EbmConfigError, EbmShapeError } from './errors';
import { Activation, activations, Device, EnergyModel, loadModel, registerModelClass, requireModel } from './model';
import { native, NativeModelHandle, NativeTensor } from './native';
import { checkRows, snapshot, Tensor } from './tensor';
import { flattenProgress, TrainProgress, TrainRun } from './train';
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

const seedRange = { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER };

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

/** Options shared by the posterior calls (infer, reconstruct, inpaint, denoise). */
export interface PosteriorOptions extends LatentChain {
  /** likelihood std (default: the model's likelihoodSigma) */
  sigma?: number;
  /** fixes the chains' start and noise (default 0) */
  seed?: number;
  /** images finished so far, after every chunk of 1024 */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface GenerateOptions {
  n: number;
  /** the prior chain (default 500 steps of size 0.2) */
  prior?: LatentChain;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

type PosteriorOutput = 'latents' | 'images' | 'fill';

function checkChain(value: unknown, path: string, defaults: { steps: number; stepSize: number }) {
  const c = value === undefined ? {} : requireObject(value, path);
  rejectUnknownKeys(c, ['steps', 'stepSize'], path);
  optionalNumber(c, 'steps', path, { integer: true, min: 0, max: 1e6 });
  optionalNumber(c, 'stepSize', path, { above: 0, max: 10 });
  return {
    steps: (c.steps as number | undefined) ?? defaults.steps,
    stepSize: (c.stepSize as number | undefined) ?? defaults.stepSize,
  };
}

function asTensor(t: NativeTensor): Tensor {
  return { data: t.data, shape: t.shape };
}

/**
 * A latent EBM. As an EnergyModel it is the prior over latents, energy(z) = E(z) + ½|z|², so
 * ebm.sample() and the metrics work in its latent space; the methods below work on images.
 */
export class LatentEbm extends EnergyModel {
  declare readonly config: LatentModelConfig;

  /** @internal use latentEbm() or loadModel() */
  constructor(handle: NativeModelHandle) {
    super(handle);
  }

  /** [channels, height, width] of the images it models */
  get imageShape(): readonly number[] {
    return this.config.imageShape;
  }

  get latentDim(): number {
    return this.config.latentDim;
  }

  /** n images: prior Langevin from N(0, I), then the generator. Tensor [n, C, H, W] in (−1, 1). */
  async generate(options: GenerateOptions): Promise<Tensor> {
    const o = requireObject(options, 'options');
    rejectUnknownKeys(o, ['n', 'prior', 'seed', 'onProgress', 'signal'], 'options');
    const n = checkNumber(o.n, 'options.n', { integer: true, min: 1, max: 1e7 });
    const prior = checkChain(o.prior, 'options.prior', latentDefaults.prior);
    optionalNumber(o, 'seed', 'options', seedRange);
    checkJobHooks(o, 'options');
    if (options.signal?.aborted) throw new EbmAbortError('generation was aborted before it started');
    const json = configJson({ n, prior, seed: options.seed ?? 0 });
    const report = options.onProgress ? (done: number) => options.onProgress?.(done, n) : undefined;
    const out = await this.runExclusive(
      undefined,
      () => awaitJob(native().latentGenerate(this.handle, json, report), options.signal),
      { signal: options.signal, what: 'generation' },
    );
    return asTensor(out);
  }

  /** Posterior latents [N, latentDim] of images [N, C, H, W] in [−1, 1] (short-run Langevin from N(0, I)). */
  async infer(images: Tensor, options: PosteriorOptions = {}): Promise<Tensor> {
    return this.posterior(images, undefined, options, 'latents', 'infer');
  }

  /** g(z) at the posterior latents: what the model makes of each image. */
  async reconstruct(images: Tensor, options: PosteriorOptions = {}): Promise<Tensor> {
    return this.posterior(images, undefined, options, 'images', 'reconstruct');
  }

  /**
   * Fills the missing pixels (mask 0) from the posterior given the observed ones (mask 1): the
   * likelihood sees observed pixels only, and they are returned exactly as given. Missing pixels
   * are never read (NaN is fine there).
   */
  async inpaint(images: Tensor, mask: Tensor, options: PosteriorOptions = {}): Promise<Tensor> {
    checkRows(images, this.imageShape, 'images');
    checkRows(mask, this.imageShape, 'mask');
    if (mask.shape[0] !== images.shape[0]) {
      throw new EbmShapeError(
        `mask must have the shape of the images, [${images.shape.join(', ')}], got [${mask.shape.join(', ')}]`,
      );
    }
    return this.posterior(images, mask, options, 'fill', 'inpaint');
  }

  /** g(z) at the posterior of noisy images under a likelihood of std `sigma` (the noise level). */
  async denoise(images: Tensor, options: PosteriorOptions & { sigma: number }): Promise<Tensor> {
    const o = requireObject(options, 'options');
    checkNumber(o.sigma, 'options.sigma', { above: 0, max: 100 });
    return this.posterior(images, undefined, options, 'images', 'denoise');
  }

  /** g(z) for latents [N, latentDim]. */
  async decode(z: Tensor): Promise<Tensor> {
    checkRows(z, [this.latentDim], 'z');
    const out = await this.runExclusive(z, (a) => native().latentDecode(this.handle, a), { copy: snapshot });
    return asTensor(out);
  }

  private async posterior(
    images: Tensor,
    mask: Tensor | undefined,
    options: PosteriorOptions,
    output: PosteriorOutput,
    what: string,
  ): Promise<Tensor> {
    checkRows(images, this.imageShape, 'images');
    const o = requireObject(options, 'options');
    rejectUnknownKeys(o, ['steps', 'stepSize', 'sigma', 'seed', 'onProgress', 'signal'], 'options');
    const chain = checkChain({ steps: o.steps, stepSize: o.stepSize }, 'options', latentDefaults.posterior);
    optionalNumber(o, 'sigma', 'options', { above: 0, max: 100 });
    optionalNumber(o, 'seed', 'options', seedRange);
    checkJobHooks(o, 'options');
    if (options.signal?.aborted) throw new EbmAbortError(`${what} was aborted before it started`);
    const total = images.shape[0];
    const json = configJson({
      output,
      ...chain,
      sigma: options.sigma ?? this.config.likelihoodSigma,
      seed: options.seed ?? 0,
    });
    const report = options.onProgress ? (done: number) => options.onProgress?.(done, total) : undefined;
    const out = await this.runExclusive(
      { images, mask },
      (a) => awaitJob(native().latentPosterior(this.handle, a.images, a.mask, json, report), options.signal),
      { copy: (a) => ({ images: snapshot(a.images), mask: a.mask && snapshot(a.mask) }), signal: options.signal, what },
    );
    return asTensor(out);
  }
}

registerModelClass('latent', (handle) => new LatentEbm(handle));

/** Creates a latent EBM (generator + prior energy). Throws EbmConfigError naming the bad field. */
export function latentEbm(config: LatentEbmConfig): LatentEbm {
  const cfg = validateLatentConfig(config);
  return callNativeSync(() => new LatentEbm(native().createModel(JSON.stringify(cfg))));
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

/**
 * Trains a latent EBM on images [N, C, H, W] scaled to [−1, 1]: per step posterior latents by
 * short-run Langevin, a generator step, a prior step. Progress reports carry reconMse, priorLoss,
 * energyPosterior / energyNoise, gradient norms and (CPU) the milliseconds of each phase.
 */
export async function trainLatent(model: LatentEbm, images: Tensor, options: LatentTrainOptions): Promise<TrainRun> {
  requireModel(model);
  if (!(model instanceof LatentEbm)) {
    throw new EbmConfigError('trainLatent needs a latent model (ebm.latentEbm); use ebm.train for other energies');
  }
  checkRows(images, model.imageShape, 'images');
  const resolved = validateLatentTrainOptions(options, model, images.shape[0]);
  const { onProgress, signal } = options;
  if (signal?.aborted) throw new EbmAbortError('training was aborted before it started');
  const json = configJson({
    ...resolved,
    distributed: resolved.distributed === undefined ? undefined : resolveDistributed(resolved.distributed),
  });
  const report = onProgress ? (p: Parameters<typeof flattenProgress>[0]) => onProgress(flattenProgress(p)) : undefined;
  const result = await model.runExclusive(
    images,
    (x) => awaitJob(native().trainLatent(model.handle, x, json, report), signal),
    { copy: snapshot, signal, what: 'training' },
  );
  return {
    steps: result.steps,
    startStep: 0,
    rank: result.rank,
    worldSize: result.worldSize,
    seconds: result.seconds,
    threads: result.threads,
    history: result.history.map(flattenProgress),
    lossParameters: {},
  };
}

/** Loads a latent model saved by LatentEbm.save() (typed as one; other files are refused). */
export async function loadLatentEbm(path: string, options: { device?: Device } = {}): Promise<LatentEbm> {
  const model = await loadModel(path, options);
  if (!(model instanceof LatentEbm)) {
    throw new EbmConfigError(`'${path}' holds a '${model.config.kind}' model, not a latent model`);
  }
  return model;
}
