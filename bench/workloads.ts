/**
 * The workloads of `npm run bench`: what each one runs, with which hyper-parameters (read by both
 * sides, bench/ours.ts and bench/reference.py), how many steps, the target ratio against the best
 * Python configuration (issue 23) and which peak its roofline figure is measured against.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LatentEbmConfig, validateLatentConfig, validateLatentTrainOptions } from '../lib/latent';
import { Random } from '../lib/random';

/** Where a workload's data comes from (the bench writes it to a fixture file both sides read). */
export type DataKind = 'toy' | 'images01' | 'images11' | 'none';

export interface Size {
  /** steps before the clock starts (training: also the loss-report interval, so it divides steps;
   * smc: the levels of a short untimed run) */
  warmup: number;
  /** timed steps (smc: the levels of the timed run) */
  steps: number;
}

/** Runs of each side per workload: a full run, a quick one (--reps overrides). */
export const repetitions = { full: 3, quick: 1 };

export interface Workload {
  name: string;
  /** one line for the table */
  title: string;
  /** levels/s: SMC levels (reweight, resample when due, the MCMC moves) over all particles per second */
  unit: 'steps/s' | 'chain-steps/s' | 'levels/s';
  kind: 'train' | 'latent' | 'sample' | 'smc';
  /** issue 23's target: ebm-torch / the fastest PyTorch-Python configuration at least this */
  target: number;
  /** the peak its GFLOP/s are compared with: GEMM for MLP work; convolutional work, the higher of
   * the GEMM and convolution peaks */
  roofline: 'gemm' | 'conv';
  data: DataKind;
  /** the model both sides start from ('energy': the trained 2D energy the samplers share; smc: the
   * analytic mixture, a config both sides read from its checkpoint) */
  model: Record<string, unknown> | 'energy';
  full: Size;
  quick: Size;
  /** hyper-parameters, read by both sides */
  settings: Record<string, unknown>;
}

const mlp2d = { kind: 'mlp', inputDim: 2, hidden: [128, 128], activation: 'silu', device: 'cpu', seed: 0 };
const timeMlp2d = { ...mlp2d, timeConditioned: true, timeEmbedDim: 32, timeMaxFrequency: 64 };
/** The ConvNet of the image workloads (bench/ddp-scaling.ts too). */
export const convnet28 = {
  kind: 'convnet',
  inputShape: [1, 28, 28],
  channels: [32, 64],
  activation: 'silu',
  device: 'cpu',
  seed: 0,
} as const;
const vp = { path: 'vp', betaMin: 0.1, betaMax: 20, tMin: 1e-3 };

/** The ED run that trains the energy the sampling workloads share (8 gaussians). */
export const energyTraining = {
  model: mlp2d,
  loss: { kind: 'ed', t: 1, m: 16, w: 1 },
  batchSize: 128,
  lr: 1e-3,
  steps: { full: 1500, quick: 100 },
};

/** A training workload: ebm.train with one loss and Adam (lr from the settings). */
function training(w: Omit<Workload, 'unit' | 'kind' | 'roofline'> & { roofline?: 'gemm' | 'conv' }): Workload {
  return { roofline: 'gemm', ...w, unit: 'steps/s', kind: 'train' };
}

/** A sampling workload: ebm.sample from N(0, I) on the trained 2D energy. */
function sampling(w: Omit<Workload, 'kind' | 'data' | 'model' | 'roofline'>): Workload {
  return { ...w, kind: 'sample', data: 'none', model: 'energy', roofline: 'gemm' };
}

/** Langevin or MALA on 10 000 chains in 2D. */
function chainSampler(kind: 'langevin' | 'mala', name: string, stepSize: number): Workload {
  return sampling({
    name: kind,
    title: `${name}, 10 000 chains × 2D, MLP 2-128-128-1 energy`,
    unit: 'chain-steps/s',
    target: 2.5,
    full: { warmup: 10, steps: 300 },
    quick: { warmup: 2, steps: 5 },
    settings: { chains: 10000, sampler: { kind, stepSize } },
  });
}

/**
 * The 40-mode mixture of examples/reproduce/diffclf.ts ('forty', d = 32), drawn the same way: means
 * uniform in [-2, 2]^32, std 0.5, weights 0.5 + U(0, 1) normalised. Normalised, so log Z = 0.
 */
function fortyModes(d: number): { means: number[][]; stds: number[]; weights: number[] } {
  const r = new Random(40);
  const means = Array.from({ length: 40 }, () => Array.from({ length: d }, () => 4 * r.uniform() - 2));
  const raw = Array.from({ length: 40 }, () => 0.5 + r.uniform());
  const total = raw.reduce((a, b) => a + b, 0);
  return { means, stds: means.map(() => 0.5), weights: raw.map((w) => w / total) };
}

// The latent workload is the example run's step, with the library's defaults filled in.
const latentExample = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'examples', 'fashion-mnist-latent-ed.json'), 'utf8'),
) as { model: LatentEbmConfig; train: { batchSize: number } };
const latentModel = validateLatentConfig({ ...latentExample.model, device: 'cpu' });
const latentTrain = validateLatentTrainOptions(
  { ...latentExample.train, steps: 1, logEvery: 1 },
  { config: latentModel },
  latentExample.train.batchSize,
);

export const workloads: Workload[] = [
  training({
    name: 'ed-2d',
    title: 'ED, 8 gaussians: MLP 2-128-128-1 SiLU, batch 128, M 16, Adam',
    target: 2.5,
    data: 'toy',
    model: mlp2d,
    full: { warmup: 100, steps: 800 },
    quick: { warmup: 10, steps: 30 },
    settings: { loss: { kind: 'ed', t: 1, m: 16, w: 1 }, batchSize: 128, lr: 1e-3 },
  }),
  training({
    name: 'dsm',
    title: 'DSM (VP path), time-conditioned MLP 2-128-128-1, batch 512',
    target: 2,
    data: 'toy',
    model: timeMlp2d,
    full: { warmup: 50, steps: 500 },
    quick: { warmup: 5, steps: 10 },
    settings: { loss: { kind: 'dsm', ...vp }, batchSize: 512, lr: 1e-3 },
  }),
  training({
    name: 'diffclf',
    title: 'DiffCLF K = 4 (64 levels, VP) + DSM, time-conditioned MLP, batch 512',
    target: 2,
    data: 'toy',
    model: timeMlp2d,
    full: { warmup: 20, steps: 80 },
    quick: { warmup: 3, steps: 6 },
    settings: {
      loss: { kind: 'diffclf', ...vp, levels: 64, k: 4, clfWeight: 1, dsmWeight: 1 },
      batchSize: 512,
      lr: 1e-3,
      gradClip: 1,
    },
  }),
  chainSampler('langevin', 'Langevin', 0.01),
  // a step at which MALA rejects some proposals
  chainSampler('mala', 'MALA', 0.05),
  sampling({
    name: 'wgf',
    title: "Gradient flow ('wgf', Heun, auto bandwidth), n = 2000, MLP energy",
    unit: 'steps/s',
    target: 2,
    full: { warmup: 5, steps: 40 },
    quick: { warmup: 1, steps: 2 },
    settings: {
      chains: 2000,
      sampler: { kind: 'wgf', stepSize: 0.01, bandwidth: 'auto', bandwidthScale: 2.5, integrator: 'heun' },
    },
  }),
  training({
    name: 'convnet-ed',
    title: 'ED, ConvNet [32, 64] on 28×28 images, M 8, batch 64',
    target: 2,
    roofline: 'conv',
    data: 'images01',
    model: convnet28,
    full: { warmup: 2, steps: 8 },
    quick: { warmup: 1, steps: 1 },
    settings: { loss: { kind: 'ed', t: 0.01, m: 8, w: 1 }, batchSize: 64, lr: 1e-4 },
  }),
  {
    name: 'latent',
    title: 'Latent prior step (examples/fashion-mnist-latent-ed.json: 20 posterior steps, ED prior), batch 64',
    unit: 'steps/s',
    kind: 'latent',
    target: 1.5,
    roofline: 'conv',
    data: 'images11',
    model: latentModel as unknown as Record<string, unknown>,
    full: { warmup: 5, steps: 25 },
    quick: { warmup: 1, steps: 2 },
    settings: {
      batchSize: latentTrain.batchSize,
      prior: latentTrain.prior,
      posterior: latentTrain.posterior,
      generatorLr: latentTrain.generatorLr,
      betas: latentTrain.betas,
    },
  },
  {
    // log Z of a normalised density: both sides' estimates must be near 0 (bench/run.ts checks it),
    // so an implementation that drops work cannot win on speed
    name: 'smc',
    title: 'SMC, 10 000 particles × 32D, 100 levels, 2 MALA steps each, 40-mode Gaussian mixture (log Z = 0)',
    unit: 'levels/s',
    kind: 'smc',
    target: 2,
    roofline: 'gemm',
    data: 'none',
    model: { kind: 'gmm', ...fortyModes(32), device: 'cpu' },
    full: { warmup: 5, steps: 100 },
    quick: { warmup: 2, steps: 100 },
    settings: {
      particles: 10000,
      // ebm.smc's options (the defaults written out, so that the reference reads them all)
      sampler: {
        mcmc: 'mala',
        steps: 2,
        stepSize: 0.1,
        essThreshold: 0.5,
        resampling: 'systematic',
        base: { std: 1 },
        targetAccept: 0.65,
        adaptRate: 0.5,
      },
      /** the most |log Z| may be off 0 on either side */
      logZTolerance: 0.3,
    },
  },
];

/** What a side's runner is given: one JSON argument. */
export interface Job {
  workload: string;
  kind: Workload['kind'];
  unit: Workload['unit'];
  settings: Record<string, unknown>;
  warmup: number;
  steps: number;
  /** the model checkpoint to start from (written by EnergyModel.save) */
  model: string;
  /** raw little-endian float32 rows */
  data?: { path: string; shape: number[] };
  /** intra-op threads (ebm-torch: absent = the library's default) */
  threads?: number;
  /** Python only: count one step's products (bench/flops.py) instead of timing */
  countFlops?: boolean;
}

/** The figures that show whether both sides compute the same thing. */
export interface Diagnostics {
  /** training: mean loss over the first and the last `warmup` steps */
  lossFirst?: number;
  lossLast?: number;
  /** sampling: mean final energy over the chains; MALA's acceptance rate; wgf's last bandwidth
   * (smc: the mean energy of the final particles, unweighted, and the mean of the levels' acceptance) */
  energy?: number;
  acceptRate?: number;
  bandwidth?: number;
  /** smc: the estimate of log Z (exactly 0 for the bench's normalised mixture) and how many
   * times the particles were resampled */
  logZ?: number;
  resamplings?: number;
}

/** What a runner prints (one JSON line). */
export interface Measurement extends Diagnostics {
  side: 'ours' | 'python';
  seconds: number;
  /** in the workload's unit */
  rate: number;
  threads: number;
  torch: string;
  maxRssMB: number;
  /** Python only: the allocator the process ran with ('jemalloc' when preloaded, else 'glibc') */
  allocator?: string;
  /** Python only, with countFlops: the products of one step (per chain for chain-steps/s, per
   * level for levels/s), in FLOPs */
  flopsPerStep?: number;
}
