/** Energy models: construction from a typed config, evaluation, checkpoints. */
import { callNative, callNativeSync, EbmConfigError } from './errors';
import { native, NativeModelHandle } from './native';
import { checkTensor, Tensor } from './tensor';
import {
  checkNumber,
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
  /** divide each hidden weight by its largest singular value (one power iteration per call); default false */
  spectralNorm?: boolean;
  /** default 'auto': CUDA when available */
  device?: Device;
  /** seeds the weight initialisation; default 0 */
  seed?: number;
}

export type ModelConfig = MlpConfig;
export const modelKinds = ['mlp'] as const;

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
          'spectralNorm',
          'device',
          'seed',
        ],
        path,
      );
      requireNumber(cfg, 'inputDim', path, { integer: true, min: 1 });
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
      optionalDevice(cfg, 'device', path);
      optionalNumber(cfg, 'seed', path, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
      return cfg as unknown as MlpConfig;
    }
    default:
      throw new EbmConfigError(
        `${path}.kind must be one of ${modelKinds.map((k) => `'${k}'`).join(', ')}; got ${JSON.stringify(cfg.kind)}`,
      );
  }
}

/** A model living in the native core. All heavy methods run off the event loop. */
export class EnergyModel {
  /** @internal */
  readonly handle: NativeModelHandle;
  readonly config: ModelConfig;

  /** @internal use energyModel() or loadModel() */
  constructor(handle: NativeModelHandle) {
    this.handle = handle;
    this.config = JSON.parse(handle.config()) as ModelConfig;
  }

  /** The device the weights live on ('cpu', 'cuda:0', ...). */
  get device(): string {
    return this.handle.device();
  }

  get timeConditioned(): boolean {
    return this.config.timeConditioned === true;
  }

  /** One energy per row of x. */
  energy(x: Tensor, t?: number | Float32Array): Promise<Float32Array> {
    return callNative(() => {
      checkTensor(x, 'x');
      return this.handle.energy(x, t);
    });
  }

  /** The score -∇ₓE(x), by autograd; same shape as x. */
  score(x: Tensor, t?: number | Float32Array): Promise<Tensor> {
    return callNative(() => {
      checkTensor(x, 'x');
      return this.handle.score(x, t);
    });
  }

  /** Writes a safetensors checkpoint (config in its metadata); atomic (temp file + rename). */
  save(path: string): Promise<void> {
    return callNative(() => this.handle.save(path));
  }

  /** Copies of every weight and buffer, by name (PyTorch naming: layers.0.weight is [out, in]). */
  parameters(): Promise<Record<string, Tensor>> {
    return callNative(() => this.handle.getParameters());
  }

  /** Overwrites the named weights; each shape must match. */
  setParameters(values: Record<string, Tensor>): Promise<void> {
    return callNative(() => {
      for (const [name, t] of Object.entries(values)) checkTensor(t, `parameters['${name}']`);
      return this.handle.setParameters(values);
    });
  }
}

/** Creates an energy model. Throws EbmConfigError naming the bad field. */
export function energyModel(config: ModelConfig): EnergyModel {
  const cfg = validateModelConfig(config);
  return callNativeSync(() => new EnergyModel(native().createModel(JSON.stringify(cfg))));
}

/** Loads a model saved by EnergyModel.save(). `device` overrides the saved device. */
export async function loadModel(path: string, options: { device?: Device } = {}): Promise<EnergyModel> {
  if (typeof path !== 'string' || path.length === 0) throw new EbmConfigError('path must be a non-empty string');
  optionalDevice(options as Record<string, unknown>, 'device', 'options');
  const handle = await callNative(() => native().loadModel(path, options.device));
  return new EnergyModel(handle);
}
