/**
 * Latent EBM image priors on Fashion-MNIST: the same generator trained with three priors — an
 * Energy Discrepancy prior, a contrastive-divergence prior (short-run prior Langevin negatives,
 * Pang et al. 2020) and the plain N(0, I) prior — then compared on generation (Fréchet distance
 * in the project's classifier features), reconstruction, inpainting and denoising, all measured by
 * ebm.metrics.imagePrior on held-out test images.
 *
 *   node dist/examples/fashion-mnist-prior.js [--scale cpu|full] [--device auto|cpu|cuda] [--steps N]
 *                                             [--priors ed,cd,gaussian] [--seed S] [--out examples/results]
 *                                             [--models runs/fashion-mnist-prior]
 *
 * Writes <out>/fashion-mnist-prior.json, PNG grids <out>/fashion-mnist-prior-*.png and the three
 * checkpoints <models>/<prior>.safetensors; with --seed S (S > 0) each name ends in -seed<S>.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { writeFileAtomic } from '../lib/log/run';
import { shadeMissing } from '../lib/cli/latent-figures';
import { imageGridPng } from '../lib/plot';

/** Sizes chosen so that the 'cpu' scale runs end to end in well under an hour on 2 cores. */
const scales = {
  cpu: {
    trainImages: 10000,
    latentDim: 64,
    channels: 32,
    batchSize: 64,
    steps: 1500,
    evalImages: 2000,
    inpaintImages: 500,
  },
  full: {
    trainImages: 60000,
    latentDim: 64,
    channels: 64,
    batchSize: 100,
    steps: 20000,
    evalImages: 10000,
    inpaintImages: 2000,
  },
} as const;

type PriorName = 'ed' | 'cd' | 'gaussian';

type Scale = (typeof scales)[keyof typeof scales];

/** The command line, defaults filled in. */
interface Args {
  scaleName: keyof typeof scales;
  scale: Scale;
  steps: number;
  device: ebm.Device;
  outDir: string;
  names: PriorName[];
  modelDir: string;
  /** seeds the models, the training runs and the evaluation chains */
  seed: number;
}

/** What the run measures, keyed by prior; written as <out>/fashion-mnist-prior.json in this key order. */
interface Results {
  frechet: Record<string, number>;
  inpaintMse: Record<string, { centre: number; half: number }>;
  reconMse: Record<string, number>;
  /** PSNR (dB) of the denoised test images at each noise std, and of the noisy ones under 'noisy' */
  denoisePsnr: Record<string, Record<string, number>>;
  classifierAccuracy: number;
  frechetTrainVsTest: number;
  seconds: Record<string, number>;
  msPerStep: Record<string, { posterior: number; generator: number; prior: number }>;
  energy: Record<string, { posterior: number; noise: number }>;
  scale: Omit<Scale, 'steps'> & { name: string; steps: number; seed: number; device: string; threads: number };
}

/** What every prior is judged with: the feature classifier, the test images and the training images (the mean fill's). */
interface Evaluation {
  classifier: ebm.EnergyModel;
  test: ebm.Tensor;
  train: ebm.Tensor;
}

const priors: Record<PriorName, ebm.LatentPriorOptions> = {
  ed: { loss: { kind: 'ed', t: 0.25, m: 16, w: 1 } },
  // Pang et al.'s prior negatives: 60 Langevin steps of s = 0.4 (η = s²/2 = 0.08) from noise.
  cd: { loss: { kind: 'cd', sampler: { kind: 'langevin', steps: 60, stepSize: 0.08 }, init: 'noise', alpha: 0 } },
  gaussian: 'gaussian',
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** '' for seed 0 (the files as they always were), '-seed<S>' otherwise: another seed never overwrites seed 0's. */
function seedSuffix(a: Args): string {
  return a.seed === 0 ? '' : `-seed${a.seed}`;
}

/** <out>/fashion-mnist-prior.json, or fashion-mnist-prior-seed<S>.json (what examples/reproduce/latent-prior.ts reads). */
function resultsFile(a: Args): string {
  return path.join(a.outDir, `fashion-mnist-prior${seedSuffix(a)}.json`);
}

function slice(t: ebm.Tensor, n: number): ebm.Tensor {
  const per = t.data.length / t.shape[0];
  return { data: t.data.slice(0, n * per), shape: [n, ...t.shape.slice(1)] };
}

/** Rows of images side by side: each tensor contributes one row of `n` tiles. */
function rowsOf(tensors: ebm.Tensor[], n: number): ebm.Tensor {
  const per = 784;
  const data = new Float32Array(tensors.length * n * per);
  tensors.forEach((t, r) => data.set(t.data.subarray(0, n * per), r * n * per));
  return { data, shape: [tensors.length * n, 1, 28, 28] };
}

function parseArgs(): Args {
  const scaleName = arg('scale', 'cpu') as keyof typeof scales;
  const scale = scales[scaleName];
  if (!scale) throw new Error(`--scale must be one of ${Object.keys(scales).join(', ')}`);
  const steps = Number(arg('steps', String(scale.steps)));
  const device = arg('device', 'auto') as ebm.Device;
  const outDir = path.resolve(arg('out', 'examples/results'));
  const names = arg('priors', 'ed,cd,gaussian').split(',') as PriorName[];
  const modelDir = path.resolve(arg('models', 'runs/fashion-mnist-prior'));
  const seed = Number(arg('seed', '0'));
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer`);
  return { scaleName, scale, steps, device, outDir, names, modelDir, seed };
}

/** The classifier and the score that needs no trained model (train vs test Fréchet). */
async function baselines(
  a: Args,
  train: ebm.Tensor,
  test: ebm.Tensor,
  threads: number,
): Promise<{ ev: Evaluation; results: Results }> {
  const { scale } = a;
  const classifier = await ebm.metrics.fashionClassifier({ steps: 300, limit: 12000 });
  console.log(
    `classifier: test accuracy ${classifier.testAccuracy.toFixed(3)}${classifier.trained ? ' (trained now)' : ' (cached)'}`,
  );
  const realVsReal = await ebm.metrics.frechetDistance(classifier.model, slice(train, scale.evalImages), test);
  const results: Results = {
    frechet: {},
    inpaintMse: {},
    reconMse: {},
    denoisePsnr: {},
    classifierAccuracy: classifier.testAccuracy,
    frechetTrainVsTest: realVsReal,
    seconds: {},
    msPerStep: {},
    energy: {},
    scale: { name: a.scaleName, ...scale, steps: a.steps, seed: a.seed, device: ebm.version().device, threads },
  };
  return { ev: { classifier: classifier.model, test, train }, results };
}

/** Trains the model with one prior, logging progress; records its time, final energies and ms per step. */
async function trainPrior(name: PriorName, a: Args, train: ebm.Tensor, results: Results): Promise<ebm.LatentEbm> {
  const { scale, steps } = a;
  const model = ebm.latentEbm({
    imageShape: [1, 28, 28],
    latentDim: scale.latentDim,
    generator: { channels: scale.channels },
    device: a.device,
    seed: a.seed,
  });
  const t0 = Date.now();
  const ms = { posterior: 0, generator: 0, prior: 0, reports: 0 };
  const run = await ebm.trainLatent(model, train, {
    prior: priors[name],
    batchSize: scale.batchSize,
    steps,
    seed: a.seed,
    logEvery: 100,
    onProgress: (p) => {
      if (p.msPosterior !== undefined) {
        ms.posterior += p.msPosterior;
        ms.generator += p.msGenerator ?? 0;
        ms.prior += p.msPrior ?? 0;
        ms.reports++;
      }
      console.log(
        `[${name}] step ${p.step}/${steps}  recon mse ${(p.reconMse ?? NaN).toFixed(4)}  prior loss ${(p.priorLoss ?? 0).toFixed(3)}  ` +
          `E(post) ${(p.energyPosterior ?? NaN).toFixed(2)}  E(noise) ${(p.energyNoise ?? NaN).toFixed(2)}  ${p.stepsPerSecond.toFixed(2)} steps/s`,
      );
    },
  });
  results.seconds[name] = (Date.now() - t0) / 1000;
  const last = run.history[run.history.length - 1];
  results.energy[name] = { posterior: last.energyPosterior ?? NaN, noise: last.energyNoise ?? NaN };
  if (ms.reports > 0) {
    results.msPerStep[name] = {
      posterior: ms.posterior / ms.reports,
      generator: ms.generator / ms.reports,
      prior: ms.prior / ms.reports,
    };
  }
  await model.save(path.join(a.modelDir, `${name}${seedSuffix(a)}.safetensors`));
  return model;
}

/** Scores one trained model on generation, reconstruction, inpainting and denoising, and writes its PNG grids. */
async function evaluatePrior(
  name: PriorName,
  model: ebm.LatentEbm,
  a: Args,
  ev: Evaluation,
  results: Results,
): Promise<void> {
  // 'evalImages' generated against as many test images; the posterior metrics on the first 'inpaintImages'
  const { result: r, images: kept } = await ebm.metrics.imagePriorWithImages(model, ev.test, {
    classifier: ev.classifier,
    n: a.scale.inpaintImages,
    reference: ev.train,
    keep: 64,
    seed: a.seed,
  });
  results.frechet[name] = r.frechet ?? NaN;
  results.reconMse[name] = r.reconMse;
  // the mean fill is the same for every prior: the first key, as it always was
  results.inpaintMse.meanFill ??= r.meanFillMse;
  results.inpaintMse[name] = r.inpaintMse;
  results.denoisePsnr.noisy ??= Object.fromEntries(r.denoise.map((d) => [d.sigma, d.noisyPsnr]));
  results.denoisePsnr[name] = Object.fromEntries(r.denoise.map((d) => [d.sigma, d.psnr]));
  console.log(
    `[${name}] ${results.seconds[name].toFixed(0)} s  Fréchet ${results.frechet[name].toFixed(2)}  recon mse ${r.reconMse.toFixed(4)}  ` +
      `inpaint mse centre ${r.inpaintMse.centre.toFixed(4)} half ${r.inpaintMse.half.toFixed(4)}  denoise PSNR ` +
      r.denoise.map((d) => `σ ${d.sigma}: ${d.psnr.toFixed(2)} dB (noisy ${d.noisyPsnr.toFixed(2)})`).join(', '),
  );

  const grid = (file: string, t: ebm.Tensor, columns: number) =>
    writeFileAtomic(
      path.join(a.outDir, `fashion-mnist-prior-${file}${seedSuffix(a)}.png`),
      imageGridPng(t, { range: [-1, 1], columns, scale: 2 }),
    );
  const { heldOut, inpainted } = kept;
  if (kept.generated) grid(`generated-${name}`, kept.generated, 8);
  grid(`reconstructed-${name}`, rowsOf([heldOut, kept.reconstructed], 12), 12);
  grid(
    `inpainted-${name}`,
    rowsOf(
      [
        shadeMissing(heldOut, inpainted.centre.mask),
        inpainted.centre.filled,
        shadeMissing(heldOut, inpainted.half.mask),
        inpainted.half.filled,
        heldOut,
      ],
      12,
    ),
    12,
  );
}

async function main(): Promise<void> {
  const a = parseArgs();
  fs.mkdirSync(a.outDir, { recursive: true });
  fs.mkdirSync(a.modelDir, { recursive: true });
  const v = ebm.version();
  console.log(`ebm-torch ${v.ebmTorch} on LibTorch ${v.torch}, device ${a.device}, ${v.numThreads} threads`);
  console.log(`scale ${a.scaleName}: ${JSON.stringify({ ...a.scale, steps: a.steps })}`);

  const train = ebm.datasets.fashionMnist({ split: 'train', scale: '-11', limit: a.scale.trainImages });
  const test = ebm.datasets.fashionMnist({ split: 'test', scale: '-11', limit: a.scale.evalImages });

  const started = Date.now();
  const { ev, results } = await baselines(a, train.images, test.images, v.numThreads);
  for (const name of a.names) {
    const model = await trainPrior(name, a, train.images, results);
    await evaluatePrior(name, model, a, ev, results);
    // the file is written after every prior, so a long run leaves its results as it goes
    writeFileAtomic(resultsFile(a), JSON.stringify(results, null, 2) + '\n');
  }
  results.seconds.total = (Date.now() - started) / 1000;
  writeFileAtomic(resultsFile(a), JSON.stringify(results, null, 2) + '\n');
  console.log(JSON.stringify(results, null, 2));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
