/**
 * Evaluation of a latent image prior on held-out images: Fréchet distance of generated images,
 * reconstruction and inpainting error (against a mean-image fill), and denoising PSNR, in one call.
 */
import { z } from 'zod';
import { EbmAbortError, EbmConfigError, EbmShapeError } from '../errors';
import { LatentEbm } from '../latent';
import { EnergyModel, requireModel } from '../model';
import { Random } from '../random';
import { arr, bool, instance, int, num, obj, typeTail } from '../schema/fields';
import { chainFields, latentDefaults } from '../schema/latent';
import { parseConfig } from '../schema/parse';
import { checkFinite, checkRows, firstRows, snapshot, Tensor } from '../tensor';
import { MAX_INT } from '../validate';
import { fashionClassifier, frechetDistance, requireClassifier } from './frechet';
import { imageMse, inpaintMask, meanFill, MaskKind } from './images';

/** The masks inpainting is scored on, in the order they run. */
export const IMAGE_PRIOR_MASKS: readonly MaskKind[] = ['centre', 'half'];

/** The hooks a phase passes on to a model call. */
interface JobHooks {
  onProgress?: (done: number) => void;
  signal?: AbortSignal;
}

/** What imagePrior is doing when it reports progress. */
export type ImagePriorPhase = 'generate' | 'frechet' | 'reconstruct' | 'inpaint' | 'denoise';

const ImagePriorSchema = obj({
  n: int(1, 1e7)
    .optional()
    .describe('held-out images for reconstruction, inpainting and denoising: the first n (default all)'),
  frechet: bool()
    .default(true)
    .describe('Fréchet distance of generated images (false: skip it, e.g. for images no classifier fits)'),
  classifier: instance<EnergyModel>((v) => v instanceof EnergyModel, "a 'classifier' model")
    .optional()
    .describe('the feature classifier (default: metrics.fashionClassifier(), for [1, 28, 28] images)'),
  generated: int(2, 1e7)
    .optional()
    .describe('images generated for the Fréchet distance (default: all held-out images)'),
  prior: obj(chainFields(latentDefaults.prior)).prefault({}).describe('the prior chain of generation'),
  posterior: obj({
    ...chainFields(latentDefaults.posterior),
    sigma: num({ above: 0, max: 100 }).optional().describe("likelihood std (default: the model's likelihoodSigma)"),
  })
    .prefault({})
    .describe('the posterior chains of reconstruction, inpainting and denoising'),
  noise: arr(num({ above: 0, max: 100 }), {
    max: 16,
    message: (input) => typeTail(input, 'an array of at most 16 noise stds'),
  })
    .default(() => [0.1, 0.2, 0.4])
    .describe('noise std of each denoising level, on the [-1, 1] scale ([]: no denoising)'),
  reference: instance<Tensor>((v) => typeof v === 'object' && v !== null, 'a tensor')
    .optional()
    .describe('images whose per-pixel mean is the fill baseline (default: the held-out images)'),
  keep: int(0, 4096).default(0).describe('images of each kind kept for pictures (imagePriorWithImages)'),
  // the phases run with seed + 1 … seed + 20, each of which the chains take up to MAX_INT
  seed: int(0, MAX_INT - 32)
    .default(latentDefaults.seed)
    .describe('fixes every chain and the added noise'),
  onProgress: instance<(done: number, total: number, phase: ImagePriorPhase) => void>(
    (v) => typeof v === 'function',
    'a function',
  ).optional(),
  signal: instance<AbortSignal>((v) => v instanceof AbortSignal, 'an AbortSignal').optional(),
});

/**
 * The options of metrics.imagePrior(); every field has a default.
 * @interface
 */
export type ImagePriorOptions = Omit<z.input<typeof ImagePriorSchema>, 'keep'>;

/** One denoising level: the PSNR of the denoised images and of the noisy input (the baseline). */
export interface DenoiseScore {
  /** std of the added noise, on the [-1, 1] scale */
  sigma: number;
  /** 10 log10(2² / MSE) of the denoised images against the clean ones (peak-to-peak range 2) */
  psnr: number;
  /** the same for the noisy input: 10 log10(4 / sigma²) but for the clipping, which lowers the error */
  noisyPsnr: number;
}

/** What imagePrior measures: plain numbers, ready for JSON.stringify. */
export interface ImagePriorResult {
  /** held-out images given (the Fréchet reference) */
  heldOut: number;
  /** held-out images of the posterior metrics (the first `n`) */
  rows: number;
  imageShape: number[];
  /** Fréchet distance in the classifier's features; null when skipped (`frechet: false`) */
  frechet: number | null;
  /** images generated for it (0 when skipped) */
  generated: number;
  /** mean squared error per pixel of g(posterior z) */
  reconMse: number;
  /** mean squared error over the missing pixels of each mask */
  inpaintMse: Record<MaskKind, number>;
  /** the same for the mean-image fill */
  meanFillMse: Record<MaskKind, number>;
  /** where the fill's mean comes from */
  meanFillFrom: 'held-out' | 'reference';
  denoise: DenoiseScore[];
  prior: { steps: number; stepSize: number };
  /** sigma: the likelihood std of reconstruction and inpainting */
  posterior: { steps: number; stepSize: number; sigma: number };
  seed: number;
  seconds: number;
}

/** The first `keep` images of each kind, for pictures. */
export interface ImagePriorImages {
  heldOut: Tensor;
  /** absent when nothing was generated (`frechet: false` and no `keep`) */
  generated?: Tensor;
  reconstructed: Tensor;
  inpainted: Record<MaskKind, { mask: Tensor; filled: Tensor }>;
  denoised: Array<{ sigma: number; noisy: Tensor; denoised: Tensor }>;
}

/** PSNR in dB of images in [-1, 1] (peak-to-peak range 2) from their mean squared error. */
export function psnr(mse: number): number {
  return 10 * Math.log10(4 / mse);
}

/**
 * The images plus seeded Gaussian noise of std `sigma`, clipped to [−1, 1]: the posterior takes
 * images in that range only (as stored images would be).
 */
function addNoise(images: Tensor, sigma: number, seedValue: number): Tensor {
  const rng = new Random(seedValue);
  const data = new Float32Array(images.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.max(-1, Math.min(1, images.data[i] + sigma * rng.normal()));
  return { data, shape: [...images.shape] };
}

/** Checks the model, the images and the options before anything runs. */
function validate(model: unknown, images: Tensor, options: unknown) {
  requireModel(model);
  if (!(model instanceof LatentEbm)) {
    throw new EbmConfigError(
      `imagePrior needs a latent image model (ebm.latentEbm or ebm.loadLatentEbm), got a model of kind '${String(model.config.kind)}'`,
    );
  }
  const shape = model.imageShape;
  checkRows(images, shape, 'images');
  checkFinite(images, 'images');
  const heldOut = images.shape[0];
  if (heldOut < 2) throw new EbmShapeError(`imagePrior needs at least 2 held-out images, got ${heldOut}`);
  const o = parseConfig(ImagePriorSchema, options, 'options');
  if (o.n !== undefined && o.n > heldOut) {
    throw new EbmConfigError(`options.n (${o.n}) is more than the ${heldOut} held-out images given`);
  }
  if (!o.frechet && (o.classifier !== undefined || o.generated !== undefined)) {
    const key = o.classifier !== undefined ? 'classifier' : 'generated';
    throw new EbmConfigError(`options.${key} applies only to the Fréchet distance, which options.frechet: false skips`);
  }
  if (o.frechet) {
    if (o.classifier !== undefined) requireClassifier(o.classifier, 'options.classifier');
    const takes = o.classifier?.inputShape ?? [1, 28, 28];
    if (takes.length !== shape.length || takes.some((d, i) => d !== shape[i])) {
      const which = o.classifier ? 'options.classifier' : 'the default Fashion-MNIST classifier';
      throw new EbmShapeError(
        `${which} takes images [${takes.join(', ')}] but the model's are [${shape.join(', ')}]; ` +
          'pass a classifier for this shape as options.classifier, or options.frechet: false',
      );
    }
  }
  if (o.reference !== undefined) {
    checkRows(o.reference, shape, 'options.reference');
    checkFinite(o.reference, 'options.reference');
  }
  return { model, o };
}

/**
 * Like {@link imagePrior}, and also the first `keep` images of each kind (held-out, generated,
 * reconstructed, inpainted with their masks, noisy and denoised) for pictures.
 */
export async function imagePriorWithImages(
  model: LatentEbm,
  images: Tensor,
  options: ImagePriorOptions & { keep?: number } = {},
): Promise<{ result: ImagePriorResult; images: ImagePriorImages }> {
  const { model: m, o } = validate(model, images, options);
  const started = Date.now();
  const shape = [...m.imageShape];
  // a copy: the caller may reuse its buffer while the chains run
  const all = snapshot(images);
  const heldOut = all.shape[0];
  const n = o.n ?? heldOut;
  const x = firstRows(all, n);
  const generated = o.frechet ? (o.generated ?? heldOut) : o.keep;
  const sigma = o.posterior.sigma ?? m.config.likelihoodSigma;
  const chain = { steps: o.posterior.steps, stepSize: o.posterior.stepSize };
  const keep = (t: Tensor): Tensor => snapshot(firstRows(t, o.keep));

  // progress counts images through the chains; the Fréchet step adds none
  const total = generated + n * (1 + IMAGE_PRIOR_MASKS.length + o.noise.length);
  let done = 0;
  let last: ImagePriorPhase = 'generate';
  /** Runs one phase of `count` images with the caller's progress (offset by what ran before) and signal. */
  const phase = async <T>(name: ImagePriorPhase, count: number, run: (hooks: JobHooks) => Promise<T>): Promise<T> => {
    if (o.signal?.aborted) throw new EbmAbortError(`image-prior evaluation was aborted before ${name}`);
    const base = done;
    const report = o.onProgress;
    last = name;
    report?.(base, total, name);
    const out = await run({
      ...(report ? { onProgress: (k: number) => report(base + k, total, name) } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    done = base + count;
    return out;
  };

  // seeds seed + 1 … seed + 4 as examples/fashion-mnist-prior.ts always used; the denoising levels follow
  let frechet: number | null = null;
  let samples: Tensor | undefined;
  if (generated > 0) {
    samples = await phase('generate', generated, (h) =>
      m.generate({ n: generated, prior: o.prior, seed: o.seed + 1, ...h }),
    );
  }
  if (o.frechet && samples) {
    const fake = samples;
    frechet = await phase('frechet', 0, async () => {
      const classifier = o.classifier ?? (await fashionClassifier(o.signal ? { signal: o.signal } : {})).model;
      return frechetDistance(classifier, fake, all);
    });
  }

  const recon = await phase('reconstruct', n, (h) => m.reconstruct(x, { ...chain, sigma, seed: o.seed + 2, ...h }));
  const fillFrom = o.reference ?? all;
  const inpaintMse = {} as Record<MaskKind, number>;
  const meanFillMse = {} as Record<MaskKind, number>;
  const inpainted = {} as ImagePriorImages['inpainted'];
  for (const [k, kind] of IMAGE_PRIOR_MASKS.entries()) {
    const mask = inpaintMask(n, shape, kind);
    const filled = await phase('inpaint', n, (h) =>
      m.inpaint(x, mask, { ...chain, sigma, seed: o.seed + 3 + k, ...h }),
    );
    inpaintMse[kind] = imageMse(filled, x, mask);
    meanFillMse[kind] = imageMse(meanFill(x, mask, fillFrom), x, mask);
    inpainted[kind] = { mask: keep(mask), filled: keep(filled) };
  }

  const denoise: DenoiseScore[] = [];
  const denoised: ImagePriorImages['denoised'] = [];
  for (const [k, level] of o.noise.entries()) {
    const levelSeed = o.seed + 5 + k;
    const noisy = addNoise(x, level, levelSeed);
    // the posterior sees the generator's own error and the added noise, independent: their variances add
    const likelihood = Math.sqrt(sigma * sigma + level * level);
    const clean = await phase('denoise', n, (h) =>
      m.denoise(noisy, { ...chain, sigma: likelihood, seed: levelSeed, ...h }),
    );
    denoise.push({ sigma: level, psnr: psnr(imageMse(clean, x)), noisyPsnr: psnr(imageMse(noisy, x)) });
    denoised.push({ sigma: level, noisy: keep(noisy), denoised: keep(clean) });
  }
  o.onProgress?.(total, total, last);

  const result: ImagePriorResult = {
    heldOut,
    rows: n,
    imageShape: shape,
    frechet,
    generated: o.frechet ? generated : 0,
    reconMse: imageMse(recon, x),
    inpaintMse,
    meanFillMse,
    meanFillFrom: o.reference ? 'reference' : 'held-out',
    denoise,
    prior: { ...o.prior },
    posterior: { ...chain, sigma },
    seed: o.seed,
    seconds: (Date.now() - started) / 1000,
  };
  return {
    result,
    images: {
      heldOut: keep(x),
      ...(samples ? { generated: keep(samples) } : {}),
      reconstructed: keep(recon),
      inpainted,
      denoised,
    },
  };
}

/**
 * Scores a latent image prior on held-out images [N, C, H, W] in [−1, 1] (of the model's image
 * shape), returning plain numbers:
 *
 * - **frechet**: Fréchet distance between `generated` images (default N; prior chain `prior`, then
 *   the generator) and all N held-out images, in the features of `classifier` (default: the
 *   cached Fashion-MNIST classifier, trained on first use; it takes [1, 28, 28]). `frechet: false`
 *   skips it, for images no classifier fits.
 * - on the first `n` held-out images (default all), with the posterior chain `posterior`:
 *   - **reconMse**: per-pixel MSE of the reconstructions g(posterior z);
 *   - **inpaintMse**: MSE over the missing pixels of the 'centre' and 'half' masks
 *     (metrics.inpaintMask), and **meanFillMse**, the same for a fill with each pixel's mean over
 *     `reference` (default: all N held-out images themselves, which have seen the pixels they fill,
 *     so the baseline is slightly optimistic; pass the training images for a strict one);
 *   - **denoise**: for each noise std σ in `noise` (default 0.1, 0.2, 0.4), Gaussian noise is added
 *     (seeded, then clipped to [−1, 1]) and denoised under a likelihood of std √(sigma² + σ²) — the generator's
 *     own error and the noise; PSNR = 10 log10(4 / MSE) (range 2) of the denoised images and, as the
 *     baseline, of the noisy ones (10 log10(4 / σ²) where clipping is rare, higher where it is not).
 *
 * Seeds: generation seed + 1, reconstruction seed + 2, inpainting seed + 3 (centre) and + 4
 * (half), denoising level k seed + 5 + k (chains and noise). Progress: `onProgress(done, total,
 * phase)` counts images through the chains; the signal stops any chain, and the one-off training of
 * the default classifier (metrics.fashionClassifier, when its cache is empty; nothing is cached then). Errors: a non-latent model → EbmConfigError; images
 * of another shape or fewer than 2 → EbmShapeError; NaN/Inf pixels → EbmNumericsError; a
 * classifier for another image shape → EbmShapeError; an abort → EbmAbortError.
 */
export async function imagePrior(
  model: LatentEbm,
  images: Tensor,
  options: ImagePriorOptions = {},
): Promise<ImagePriorResult> {
  if (typeof options === 'object' && options !== null && 'keep' in options) {
    throw new EbmConfigError('options.keep is not a known option of imagePrior (imagePriorWithImages keeps images)');
  }
  return (await imagePriorWithImages(model, images, options)).result;
}
