/**
 * The typed surface of the compiled addon. Only this file loads it; everything else goes
 * through these types.
 */
import bindings from 'bindings';
import * as os from 'node:os';
import { EbmError } from './errors';

export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

export interface NativeRuntimeInfo {
  torch: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  defaultDevice: string;
  numThreads: number;
  distributed: string;
  matrixProducts: string;
}

export interface NativeModelHandle {
  energy(
    x: NativeTensor | { data: Float32Array; shape: readonly number[] },
    t?: number | Float32Array,
  ): Promise<Float32Array>;
  score(
    x: NativeTensor | { data: Float32Array; shape: readonly number[] },
    t?: number | Float32Array,
  ): Promise<NativeTensor>;
  save(path: string): Promise<void>;
  getParameters(): Promise<Record<string, NativeTensor>>;
  setParameters(values: Record<string, { data: Float32Array; shape: readonly number[] }>): Promise<void>;
  config(): string;
  device(): string;
  inputShape(): number[];
  timeConditioned(): boolean;
}

export interface NativeSampleResult extends NativeTensor {
  energy: Float32Array;
  energyTrace?: Float32Array;
  acceptRate?: Float32Array;
  stepSize?: Float32Array;
  levelTimes?: Float32Array;
  trajectory?: NativeTensor;
  /** smc only */
  logWeights?: Float32Array;
  logZ?: number;
  ess?: number;
  essPerLevel?: Float32Array;
  levelAccept?: Float32Array;
  resampledAt?: number[];
}

export interface NativeTrainProgress {
  step: number;
  loss: number;
  lr: number;
  seconds: number;
  stepsPerSecond: number;
  metrics: Record<string, number>;
}

export interface NativeTrainResult {
  steps: number;
  startStep: number;
  rank: number;
  worldSize: number;
  seconds: number;
  threads: number;
  onePassOptimizer: boolean;
  onePassLossHead: boolean;
  history: NativeTrainProgress[];
  lossParameters: Record<string, NativeTensor>;
}

/** A running native job: settle through `promise`, stop early with `cancel()`. */
export interface NativeJob<T> {
  promise: Promise<T>;
  cancel(): void;
}

/** The ranges of a noising path (VP β, VE σ, the smallest time). */
export interface NativePathDefaults {
  betaMin: number;
  betaMax: number;
  sigmaMin: number;
  sigmaMax: number;
  tMin: number;
}

/**
 * The defaults of the optional config fields, as the native option structs hold them (each next
 * to its field): only fields with a real default (a field whose absence means "off" has none).
 * A nested object (cd's buffer) applies only when its parent is given.
 */
export interface NativeOptionDefaults {
  loss: {
    ed: { perturbation: 'gaussian' | 'bernoulli'; epsilon: number };
    dsm: NativePathDefaults & { weighting: 'noise' | 'edm'; sigmaData: number };
    diffclf: NativePathDefaults & {
      weighting: 'noise' | 'edm';
      sigmaData: number;
      dsmWeight: number;
      warmupSteps: number;
    };
    cd: { alpha: number; init: 'data' | 'noise'; buffer: { reinit: number } };
    ssm: { projections: number };
    ce: Record<string, never>;
  };
  sampler: {
    langevin: { temperature: number };
    mala: { adaptSteps: number; targetAccept: number; adaptRate: number };
    hmc: { adaptSteps: number; targetAccept: number; adaptRate: number; leapfrogSteps: number; jitter: number };
    annealed: NativePathDefaults & { path: 'vp' | 've'; levels: number };
    wgf: {
      bandwidth: number | 'auto';
      bandwidthScale: number;
      blob: boolean;
      repulsion: boolean;
      integrator: 'heun' | 'euler';
    };
    smc: NativePathDefaults & {
      path: 'vp' | 've';
      levels: number;
      mcmc: 'mala' | 'langevin' | 'hmc';
      leapfrogSteps: number;
      targetAccept: number;
      adaptRate: number;
      essThreshold: number;
      resampling: 'systematic' | 'multinomial';
      base: { std: number };
    };
  };
  optimizer: {
    adam: { betas: [number, number]; eps: number; weightDecay: number; fused: boolean };
    adamw: { betas: [number, number]; eps: number; weightDecay: number; fused: boolean };
    sgd: { momentum: number; weightDecay: number };
  };
  train: {
    seed: number;
    replacement: boolean;
    logEvery: number;
    checkpoint: { every: number };
    distributed: { backend: 'gloo' | 'nccl'; masterAddr: string; masterPort: number; timeoutSeconds: number };
    /** the optimiser and schedule of a run that names none */
    optimizer: { kind: 'adam'; lr: number };
    /** the fields of a schedule given without them (and the schedule of a run that names none) */
    schedule: { kind: 'constant'; warmupSteps: number; minLr: number };
  };
  /** each loss kind's train.gradClip when none is given (0: no clipping) */
  lossGradClip: Record<string, number>;
  model: {
    mlp: {
      activation: 'silu' | 'softplus' | 'leaky_relu' | 'elu' | 'tanh';
      timeConditioned: boolean;
      timeEmbedDim: number;
      timeMaxFrequency: number;
      timeInjection: 'input' | 'every';
      spectralNorm: boolean;
      fusedPasses: boolean;
      device: string;
      seed: number;
    };
    convnet: { activation: 'silu' | 'softplus' | 'leaky_relu' | 'elu' | 'tanh'; device: string; seed: number };
    classifier: { classes: number; featureDim: number; device: string; seed: number };
    gaussian: { std: number; device: string };
    latent: { generator: { batchNorm: boolean }; seed: number; device: string };
    compose: { device: string };
    /** the path ranges apply to a mixture given a path */
    gmm: NativePathDefaults & { device: string };
    doublewell: { dim: number; barrier: number; device: string };
    torchscript: { timeConditioned: boolean; device: string };
  };
  sample: { seed: number; thin: number; returnTrajectory: boolean; progressEvery: number };
}

/** What ebm.memoryStats() reports (native/core/allocator.h). */
export interface MemoryStats {
  /** whether LibTorch's large CPU tensors come from the block cache (Linux, unless EBM_TORCH_KEEP_FREED=0) */
  enabled: boolean;
  /** bytes in blocks that tensors use now */
  liveBytes: number;
  /** bytes in idle blocks kept for reuse; zero after every job */
  cachedBytes: number;
  /** the most bytes in use at once since the last job ended */
  peakLiveBytes: number;
  /** blocks mapped from the system, and blocks served from the cache, since the process started */
  blocksMapped: number;
  blocksReused: number;
}

export interface NativeAddon {
  version(): NativeRuntimeInfo;
  /** JSON text of a NativeOptionDefaults (read once, through optionDefaults() in schema/defaults.ts) */
  optionDefaultsJson: string;
  /** JSON text of the KindTraits (read once, through kindTraits() in schema/traits.ts) */
  kindTraitsJson: string;
  setNumThreads(n: number): void;
  /** the count of jobs without a thread preference of their own, when neither setNumThreads nor OMP_NUM_THREADS chose */
  setDefaultThreads(n: number): void;
  kinds(): { losses: string[]; samplers: string[]; models: string[] };
  memoryStats(): MemoryStats;
  createModel(configJson: string): NativeModelHandle;
  loadModel(path: string, device?: string): Promise<NativeModelHandle>;
  train(
    model: NativeModelHandle,
    data: { data: Float32Array; shape: readonly number[] },
    configJson: string,
    onProgress?: (p: NativeTrainProgress) => void,
    labels?: Int32Array | Uint8Array,
  ): NativeJob<NativeTrainResult>;
  features(
    model: NativeModelHandle,
    x: { data: Float32Array; shape: readonly number[] },
    logits?: boolean,
  ): Promise<NativeTensor>;
  frechet(
    model: NativeModelHandle,
    a: { data: Float32Array; shape: readonly number[] },
    b: { data: Float32Array; shape: readonly number[] },
  ): Promise<number>;
  evaluateLoss(
    model: NativeModelHandle,
    batch: { data: Float32Array; shape: readonly number[] },
    lossJson: string,
    seed: number,
  ): Promise<{
    loss: number;
    metrics: Record<string, number>;
    gradNorms: Record<string, number>;
    onePassLossHead: boolean;
  }>;
  sample(
    model: NativeModelHandle,
    optionsJson: string,
    init?: { data: Float32Array; shape: readonly number[] },
    t?: number | Float32Array,
    onProgress?: (step: number) => void,
    target?: NativeModelHandle,
  ): NativeJob<NativeSampleResult>;
  compose(models: NativeModelHandle[], weights: number[]): NativeModelHandle;
  trainLatent(
    model: NativeModelHandle,
    images: { data: Float32Array; shape: readonly number[] },
    optionsJson: string,
    onProgress?: (p: NativeTrainProgress) => void,
  ): NativeJob<NativeTrainResult>;
  latentGenerate(
    model: NativeModelHandle,
    optionsJson: string,
    onProgress?: (done: number) => void,
  ): NativeJob<NativeTensor>;
  latentPosterior(
    model: NativeModelHandle,
    images: { data: Float32Array; shape: readonly number[] },
    mask: { data: Float32Array; shape: readonly number[] } | undefined,
    optionsJson: string,
    onProgress?: (done: number) => void,
  ): NativeJob<NativeTensor>;
  latentDecode(model: NativeModelHandle, z: { data: Float32Array; shape: readonly number[] }): Promise<NativeTensor>;
}

let cached: NativeAddon | undefined;

/** Loads the addon once; a missing build becomes an actionable error. */
export function native(): NativeAddon {
  if (cached) return cached;
  // LibTorch parallelises its own kernels; a multi-threaded OpenBLAS underneath oversubscribes
  // the cores (ED on 8 gaussians, 1000 steps on 2 cores: 17.6 s with OpenBLAS threads, 4.7 s
  // without). Must be set before the addon loads LibTorch and BLAS. A user's setting wins.
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  // OpenMP workers that wait by spinning collapse when another process wants the same cores (ED on
  // 8 gaussians, 2 threads, one busy process beside it: 53-64 steps/s spinning, 159-173 sleeping,
  // 175-197 on 1 thread); sleeping costs about 10 % on an idle machine (184/171 against 196/206).
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    // EBM_TORCH_ADDON: a build kept elsewhere (scripts/gpu-check.sh builds beside the checkout's own)
    const addonPath = process.env.EBM_TORCH_ADDON;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = (addonPath ? require(addonPath) : bindings('ebm_torch')) as NativeAddon;
    // Some LibTorch builds (Debian's) start with one intra-op thread; jobs use the machine unless
    // the user chose (OMP_NUM_THREADS, setNumThreads) or the job runs faster on one (native/core/threads.h).
    if (process.env.OMP_NUM_THREADS === undefined) cached.setDefaultThreads(Math.max(1, os.availableParallelism()));
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new EbmError(
      `the ebm-torch native addon could not be loaded (${detail}). ` +
        'Where ebm-torch is a dependency: install LibTorch (Debian/Ubuntu: `sudo apt-get install -y libtorch-dev ' +
        'libopenblas0-pthread`; elsewhere set LIBTORCH=/path/to/libtorch or Torch_DIR, or install PyTorch for python3), ' +
        'then run `npm rebuild ebm-torch`. Inside the ebm-torch repository: `npm run setup`.',
      'EBM_NATIVE_MISSING',
    );
  }
  return cached;
}
