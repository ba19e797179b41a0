/** Energy models: construction from a typed config, evaluation, checkpoints. */
import * as fs from 'node:fs';
import { callNative, callNativeSync, EbmAbortError, EbmConfigError, EbmIoError } from './errors';
import { native, NativeModelHandle } from './native';
import type { LatentModelConfig } from './latent';
import { checkTensor, snapshot, Tensor } from './tensor';
import {
  checkJobHooks,
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
      const shape = cfg.inputShape;
      if (!Array.isArray(shape) || shape.length !== 3) {
        throw new EbmConfigError(`${path}.inputShape must be [channels, height, width]`);
      }
      shape.forEach((v: unknown, i: number) =>
        checkNumber(v, `${path}.inputShape[${i}]`, { integer: true, min: i === 0 ? 1 : 2, max: i === 0 ? 64 : 4096 }),
      );
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
      const shape = cfg.inputShape;
      if (!Array.isArray(shape) || shape.length !== 3) {
        throw new EbmConfigError(`${path}.inputShape must be [channels, height, width]`);
      }
      shape.forEach((v: unknown, i: number) =>
        checkNumber(v, `${path}.inputShape[${i}]`, { integer: true, min: i === 0 ? 1 : 4, max: i === 0 ? 64 : 1024 }),
      );
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

/** Copies of x and a per-row t, for a job that has to wait. */
function copyInputs(a: { x: Tensor; t?: number | Float32Array }): { x: Tensor; t?: number | Float32Array } {
  return { x: snapshot(a.x), t: a.t instanceof Float32Array ? a.t.slice() : a.t };
}

/**
 * A model living in the native core. All heavy methods run off the event loop.
 *
 * Jobs on one model (and on the parts of a composition) run one at a time, in call order. They
 * wait for each other here, not on libuv's small thread pool, where a job blocked on the model
 * would hold a thread that file and zlib work also need. A job that has to wait works on copies
 * of its inputs, taken at the call.
 */
export class EnergyModel {
  /** @internal */
  readonly handle: NativeModelHandle;
  /** @internal this model and, for a composition, its parts (recursively): what a job on it holds */
  readonly holds: readonly EnergyModel[];
  /** settles when the last job queued on this model has finished */
  private tail: Promise<void> = Promise.resolve();
  /** jobs queued or running on this model */
  private pending = 0;
  readonly config: ModelConfig | CompositionConfig | LatentModelConfig;
  /** shape of one input row, e.g. [2] or [1, 28, 28] */
  readonly inputShape: readonly number[];
  /** E(x, t) rather than E(x) */
  readonly timeConditioned: boolean;

  /** @internal use energyModel(), compose() or loadModel() */
  constructor(handle: NativeModelHandle, parts: readonly EnergyModel[] = []) {
    this.handle = handle;
    this.holds = [...new Set<EnergyModel>([this, ...parts.flatMap((p) => p.holds)])];
    this.config = JSON.parse(handle.config()) as ModelConfig | CompositionConfig | LatentModelConfig;
    this.inputShape = handle.inputShape();
    this.timeConditioned = handle.timeConditioned();
  }

  /** @internal true while a job is queued or running on this model or on a model it holds */
  get busy(): boolean {
    return this.holds.some((m) => m.pending > 0);
  }

  /**
   * @internal Runs `start(input)` (it begins a native job and resolves when the job ends) after
   * every job queued earlier on any model this one holds; at once when there is none. A job that
   * has to wait gets `copy(input)`, taken now, so later writes to the caller's arrays do not reach
   * it. A signal that fires while the job waits rejects it with EbmAbortError and it never starts;
   * once started, aborting is the job's own business.
   */
  runExclusive<I, T>(
    input: I,
    start: (input: I) => Promise<T>,
    options: { copy?: (input: I) => I; signal?: AbortSignal; what?: string } = {},
  ): Promise<T> {
    const { copy, signal, what = 'the job' } = options;
    const aborted = () => new EbmAbortError(`${what} was aborted before it started`);
    const idle = !this.busy;
    const given = !idle && copy ? copy(input) : input;
    let started = false;
    const run = (): Promise<T> => {
      if (signal?.aborted) return Promise.reject(aborted());
      started = true;
      return callNative(() => start(given));
    };
    const result = idle ? run() : Promise.allSettled(this.holds.map((m) => m.tail)).then(run);
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    for (const m of this.holds) {
      m.pending++;
      m.tail = done;
    }
    void done.then(() => {
      for (const m of this.holds) m.pending--;
    });
    if (idle || !signal) return result;
    // Waiting: an abort rejects now (the queued start then sees the signal and does nothing).
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (!started) reject(aborted());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      result.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** The device the weights live on ('cpu', 'cuda:0', ...). */
  get device(): string {
    return this.handle.device();
  }

  /** One energy per row of x. */
  async energy(x: Tensor, t?: number | Float32Array): Promise<Float32Array> {
    checkTensor(x, 'x');
    checkTime(t);
    return this.runExclusive({ x, t }, (a) => this.handle.energy(a.x, a.t), { copy: copyInputs });
  }

  /** The score -∇ₓE(x), by autograd; same shape as x. */
  async score(x: Tensor, t?: number | Float32Array): Promise<Tensor> {
    checkTensor(x, 'x');
    checkTime(t);
    return this.runExclusive({ x, t }, (a) => this.handle.score(a.x, a.t), { copy: copyInputs });
  }

  /**
   * Writes a safetensors checkpoint (config in its metadata); atomic (temp file, fsync, rename,
   * fsync of the folder). `signal` cancels a save still waiting for the model (a running job on
   * it); a save that has started finishes, since it is short and all-or-nothing.
   */
  async save(path: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) {
      throw new EbmConfigError(`path must be a non-empty string, got ${describeValue(path)}`);
    }
    const o = requireObject(options, 'options');
    rejectUnknownKeys(o, ['signal'], 'options');
    checkJobHooks(o, 'options');
    if (options.signal?.aborted) throw new EbmAbortError('saving was aborted before it started');
    return this.runExclusive(path, (p) => this.handle.save(p), { signal: options.signal, what: 'saving' });
  }

  /** Copies of every weight and buffer, by name (PyTorch naming: layers.0.weight is [out, in]). */
  async parameters(): Promise<Record<string, Tensor>> {
    return this.runExclusive(undefined, () => this.handle.getParameters());
  }

  /** Overwrites the named weights; each shape must match. */
  async setParameters(values: Record<string, Tensor>): Promise<void> {
    requireObject(values, 'parameters');
    for (const [name, t] of Object.entries(values)) checkTensor(t, `parameters['${name}']`);
    return this.runExclusive(values, (v) => this.handle.setParameters(v), {
      copy: (v) => Object.fromEntries(Object.entries(v).map(([name, t]) => [name, snapshot(t)])),
    });
  }
}

/** The `t` of energy() and score(): a float32 number, a Float32Array (one per row; checked natively) or undefined. */
function checkTime(t: unknown): void {
  if (t === undefined || t instanceof Float32Array) return;
  if (typeof t !== 'number' || !Number.isFinite(Math.fround(t))) {
    throw new EbmConfigError(
      `t must be a finite (float32) number, a Float32Array with one value per row, or undefined; got ${describeValue(t, 0)}`,
    );
  }
}

/** Throws EbmConfigError unless `value` is a model of this library; `what` names the argument. */
export function requireModel(value: unknown, what = 'model'): asserts value is EnergyModel {
  if (!(value instanceof EnergyModel)) {
    throw new EbmConfigError(
      `${what} must be an ebm-torch EnergyModel (from ebm.energyModel, ebm.loadModel, ...), got ${describeValue(value, 0)}`,
    );
  }
}

/** Creates an energy model. Throws EbmConfigError naming the bad field. */
export function energyModel(config: ModelConfig): EnergyModel {
  const cfg = validateModelConfig(config);
  return callNativeSync(() => new EnergyModel(native().createModel(JSON.stringify(cfg))));
}

/** Product of experts E(x) = Σ w_k E_k(x): an energy usable by every sampler and metric. */
export function compose(parts: ReadonlyArray<{ model: EnergyModel; weight?: number }>): EnergyModel {
  if (!Array.isArray(parts) || parts.length === 0)
    throw new EbmConfigError('compose needs a non-empty array of { model, weight }');
  parts.forEach((p, i) => {
    rejectUnknownKeys(requireObject(p, `compose[${i}]`), ['model', 'weight'], `compose[${i}]`);
    requireModel(p.model, `compose[${i}].model`);
    if (p.weight !== undefined) checkNumber(p.weight, `compose[${i}].weight`);
  });
  return callNativeSync(
    () =>
      new EnergyModel(
        native().compose(
          parts.map((p) => p.model.handle),
          parts.map((p) => p.weight ?? 1),
        ),
        parts.map((p) => p.model),
      ),
  );
}

/** JS classes of model kinds with methods of their own (latent models), by config kind. */
const modelClasses = new Map<string, (handle: NativeModelHandle) => EnergyModel>();

/** @internal lets a module that defines a subclass have loadModel() build it */
export function registerModelClass(kind: string, make: (handle: NativeModelHandle) => EnergyModel): void {
  modelClasses.set(kind, make);
}

/**
 * Loads a model saved by EnergyModel.save(). `device` overrides the saved device. A latent
 * model's file gives a LatentEbm (see also loadLatentEbm, typed as one).
 */
export async function loadModel(path: string, options: { device?: Device } = {}): Promise<EnergyModel> {
  if (typeof path !== 'string' || path.length === 0) throw new EbmConfigError('path must be a non-empty string');
  const o = requireObject(options, 'options');
  rejectUnknownKeys(o, ['device'], 'options');
  optionalDevice(o, 'device', 'options');
  // the native reader would call a folder a truncated file
  let isFolder = false;
  try {
    isFolder = fs.statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    // unreadable or not a path: the native reader reports it
  }
  if (isFolder) {
    throw new EbmIoError(`checkpoint '${path}' is a directory, not a safetensors file`);
  }
  const handle = await callNative(() => native().loadModel(path, options.device));
  const { kind } = JSON.parse(handle.config()) as { kind: string };
  return modelClasses.get(kind)?.(handle) ?? new EnergyModel(handle);
}
