/**
 * Latent-space EBM image priors (Pang et al. 2020; the image use of Energy Discrepancy): a
 * generator g(z) maps a latent z to an image, the prior over z is p(z) ∝ exp(−E(z)) N(z; 0, I).
 * Training, generation and posterior inference (reconstruction, inpainting, denoising) run in C++
 * on a worker thread. The options and their defaults are in schema/latent.ts.
 */
import { configJson } from './config';
import { resolveDistributed } from './distributed';
import { awaitJob, callNativeSync, EbmAbortError, EbmConfigError, EbmShapeError } from './errors';
import {
  GenerateOptions,
  LatentEbmConfig,
  LatentModelConfig,
  LatentTrainOptions,
  PosteriorOptions,
  ResolvedLatentTrainOptions,
  validateGenerateOptions,
  validateLatentConfig,
  validateLatentTrainOptions,
  validatePosteriorOptions,
} from './schema/latent';
import { Device, EnergyModel, loadModel, registerModelClass, requireModel } from './model';
import { native, NativeModelHandle, NativeTensor } from './native';
import { checkRows, snapshot, Tensor } from './tensor';
import { flattenProgress, TrainProgress, TrainRun } from './train';

// the options are part of this module's interface, as they were before they had a file of their own
export { latentDefaults, validateLatentConfig, validateLatentTrainOptions } from './schema/latent';
export type {
  GenerateOptions,
  LatentChain,
  LatentEbmConfig,
  LatentModelConfig,
  LatentPriorOptions,
  LatentTrainOptions,
  PosteriorOptions,
  ResolvedLatentTrainOptions,
} from './schema/latent';

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
    const { n, prior, seed, onProgress, signal } = validateGenerateOptions(options);
    if (signal?.aborted) throw new EbmAbortError('generation was aborted before it started');
    const json = configJson({ n, prior, seed });
    const report = onProgress ? (done: number) => onProgress(done, n) : undefined;
    const out = await this.runExclusive(
      undefined,
      () => awaitJob(native().latentGenerate(this.handle, json, report), signal),
      { signal, what: 'generation' },
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
    const o = validatePosteriorOptions(options, what === 'denoise');
    const { onProgress, signal } = o;
    if (signal?.aborted) throw new EbmAbortError(`${what} was aborted before it started`);
    const total = images.shape[0];
    const json = configJson({
      output,
      steps: o.steps,
      stepSize: o.stepSize,
      sigma: o.sigma ?? this.config.likelihoodSigma,
      seed: o.seed,
    });
    const report = onProgress ? (done: number) => onProgress(done, total) : undefined;
    const out = await this.runExclusive(
      { images, mask },
      (a) => awaitJob(native().latentPosterior(this.handle, a.images, a.mask, json, report), signal),
      { copy: (a) => ({ images: snapshot(a.images), mask: a.mask && snapshot(a.mask) }), signal, what },
    );
    return asTensor(out);
  }
}

registerModelClass('latent', (handle) => new LatentEbm(handle));

/** Creates a latent EBM (generator + prior energy). Throws EbmConfigError naming the bad field. */
export function latentEbm(config: LatentEbmConfig): LatentEbm {
  return createLatentEbm(validateLatentConfig(config));
}

/** @internal Builds a latent model from a config validateLatentConfig has checked (and filled in). */
export function createLatentEbm(config: LatentModelConfig): LatentEbm {
  return callNativeSync(() => new LatentEbm(native().createModel(JSON.stringify(config))));
}

/**
 * Trains a latent EBM on images [N, C, H, W] scaled to [−1, 1]: per step posterior latents by
 * short-run Langevin, a generator step, a prior step. Progress reports carry reconMse, priorLoss,
 * energyPosterior / energyNoise, gradient norms and (CPU) the milliseconds of each phase.
 * As {@link train}, the run reads `images.data` in place: do not write to it until the promise settles.
 */
export async function trainLatent(model: LatentEbm, images: Tensor, options: LatentTrainOptions): Promise<TrainRun> {
  requireModel(model);
  if (!(model instanceof LatentEbm)) {
    throw new EbmConfigError('trainLatent needs a latent model (ebm.latentEbm); use ebm.train for other energies');
  }
  checkRows(images, model.imageShape, 'images');
  return trainLatentValidated(model, images, validateLatentTrainOptions(options, model, images.shape[0]));
}

/** @internal Trains with options validateLatentTrainOptions has checked and filled in (plus the hooks). */
export async function trainLatentValidated(
  model: LatentEbm,
  images: Tensor,
  options: ResolvedLatentTrainOptions & {
    onProgress?: (progress: TrainProgress) => void;
    signal?: AbortSignal;
  },
): Promise<TrainRun> {
  const { onProgress, signal, ...resolved } = options;
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
    startStep: result.startStep,
    rank: result.rank,
    worldSize: result.worldSize,
    seconds: result.seconds,
    threads: result.threads,
    // the two networks' optimisers are LibTorch's Adam (the step is small beside the convolutions)
    onePassOptimizer: false,
    onePassLossHead: result.onePassLossHead,
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
