/**
 * The typed surface of the compiled addon. Only this file loads it; everything else goes
 * through these types.
 */
import bindings from 'bindings';
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
}

export interface NativeAddon {
  version(): NativeRuntimeInfo;
  setNumThreads(n: number): void;
  createModel(configJson: string): NativeModelHandle;
  loadModel(path: string, device?: string): Promise<NativeModelHandle>;
}

let cached: NativeAddon | undefined;

/** Loads the addon once; a missing build becomes an actionable error. */
export function native(): NativeAddon {
  if (cached) return cached;
  try {
    cached = bindings('ebm_torch') as NativeAddon;
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new EbmError(
      `the ebm-torch native addon could not be loaded (${detail}). ` +
        'Build it with `npm run setup` (installs LibTorch on Debian when missing) or `npm run build:native`.',
      'EBM_NATIVE_MISSING',
    );
  }
  return cached;
}
