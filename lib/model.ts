/** Energy models: construction from a typed config, evaluation, checkpoints. */
import * as fs from 'node:fs';
import { callNative, callNativeSync, EbmAbortError, EbmConfigError, EbmIoError } from './errors';
import { anyPending, ExclusiveOptions, JobQueue, runExclusive } from './job-queue';
import type { LatentModelConfig } from './schema/latent';
import { CompositionConfig, Device, ModelConfig, ResolvedModelConfig, validateModelConfig } from './schema/models';
import { native, NativeModelHandle } from './native';
import { checkTensor, snapshot, Tensor } from './tensor';
import {
  checkJobHooks,
  checkNumber,
  describeValue,
  optionalDevice,
  rejectUnknownKeys,
  requireObject,
} from './validate';

// the configs are part of this module's interface, as they were before they had a file of their own
export { activations, modelKinds, validateModelConfig } from './schema/models';
export type {
  Activation,
  ClassifierConfig,
  CompositionConfig,
  ConvNetConfig,
  Device,
  DoubleWellConfig,
  GaussianConfig,
  GmmConfig,
  MlpConfig,
  ModelConfig,
  ResolvedModelConfig,
  TorchScriptConfig,
} from './schema/models';

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
  /** @internal this model's place in the job queue */
  readonly queue = new JobQueue();
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
    return anyPending(this.holds.map((m) => m.queue));
  }

  /**
   * @internal Runs `start(input)` after every job queued earlier on any model this one holds (see
   * runExclusive in job-queue.ts for copies and aborts).
   */
  runExclusive<I, T>(input: I, start: (input: I) => Promise<T>, options: ExclusiveOptions<I> = {}): Promise<T> {
    return runExclusive(
      this.holds.map((m) => m.queue),
      input,
      start,
      options,
    );
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
  return createModel(validateModelConfig(config));
}

/** @internal Builds a model from a config validateModelConfig has checked (and filled in). */
export function createModel(config: ResolvedModelConfig): EnergyModel {
  return callNativeSync(() => new EnergyModel(native().createModel(JSON.stringify(config))));
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
