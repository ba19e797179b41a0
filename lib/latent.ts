/**
 * Latent-space EBM image priors (Pang et al. 2020; the image use of Energy Discrepancy): a
 * generator g(z) maps a latent z to an image, the prior over z is p(z) ∝ exp(−E(z)) N(z; 0, I).
 * Training, generation and posterior inference (reconstruction, inpainting, denoising) run in C++
 * on a worker thread. The options and their defaults are in latent-config.ts.
 */
import { configJson } from './config';
import { resolveDistributed } from './distributed';
import { awaitJob, callNativeSync, EbmAbortError, EbmConfigError, EbmShapeError } from './errors';
import {
  checkChain,
  latentDefaults,
  LatentChain,
  LatentEbmConfig,
  LatentModelConfig,
  LatentTrainOptions,
  seedRange,
  validateLatentConfig,
  validateLatentTrainOptions,
} from './latent-config';
import { Device, EnergyModel, loadModel, registerModelClass, requireModel } from './model';
import { native, NativeModelHandle, NativeTensor } from './native';
import { checkRows, snapshot, Tensor } from './tensor';
import { flattenProgress, TrainRun } from './train';
import { checkJobHooks, checkNumber, optionalNumber, rejectUnknownKeys, requireObject } from './validate';

// the options are part of this module's interface, as they were before they had a file of their own
export { latentDefaults, validateLatentConfig, validateLatentTrainOptions } from './latent-config';
export type {
  LatentChain,
  LatentEbmConfig,
  LatentModelConfig,
  LatentPriorOptions,
  LatentTrainOptions,
  ResolvedLatentTrainOptions,
} from './latent-config';

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
