import { callNativeSync } from './errors';
import { MemoryStats, native } from './native';
import { checkNumber } from './validate';

export interface VersionInfo {
  /** this package's version */
  ebmTorch: string;
  /** the LibTorch version the addon runs on */
  torch: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  /** what device: 'auto' resolves to */
  device: string;
  /** LibTorch intra-op threads on the JS thread (each job picks its own: README "Speed") */
  numThreads: number;
  /** backends for train.distributed in this build, e.g. ['gloo'] (empty: built without c10d/Gloo) */
  distributed: string[];
  /**
   * what the MLP's hand-written passes multiply matrices with: oneDNN's sgemm where LibTorch loaded
   * oneDNN as a shared library (Debian's does; EBM_TORCH_DNNL_GEMM=0 turns it off), else LibTorch's mm
   */
  matrixProducts: 'oneDNN' | 'LibTorch';
}

// Read at run time so the compiled output does not need package.json inside rootDir.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const packageVersion = (require('../../package.json') as { version: string }).version;

export function version(): VersionInfo {
  const info = callNativeSync(() => native().version());
  return {
    ebmTorch: packageVersion,
    torch: info.torch,
    cudaAvailable: info.cudaAvailable,
    cudaDeviceCount: info.cudaDeviceCount,
    device: info.defaultDevice,
    numThreads: info.numThreads,
    distributed: info.distributed === '' ? [] : info.distributed.split(' '),
    matrixProducts: info.matrixProducts === 'oneDNN' ? 'oneDNN' : 'LibTorch',
  };
}

/** The kinds the native registries know: every loss, sampler and model kind this build can run. */
export function kinds(): { losses: string[]; samplers: string[]; models: string[] } {
  return callNativeSync(() => native().kinds());
}

/** Sets LibTorch's intra-op thread count for every job started after it, over each job's own default. */
export function setNumThreads(n: number): void {
  checkNumber(n, 'numThreads', { integer: true, min: 1, max: 1024 });
  callNativeSync(() => native().setNumThreads(n));
}

/**
 * The native CPU block cache: LibTorch's tensors of 4 MiB and more keep their memory between steps
 * (README "Speed"). A job returns its idle blocks to the system when it ends.
 */
export function memoryStats(): MemoryStats {
  return callNativeSync(() => native().memoryStats());
}
