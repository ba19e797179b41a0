/**
 * Data-parallel training settings: given explicitly, or read from the environment variables
 * torchrun (and `ebm launch`) set for each worker process.
 */
import { EbmConfigError } from './errors';
import { checkOneOf, describeValue, optionalNumber, rejectUnknownKeys, requireNumber, requireObject } from './validate';

/** One rank of a data-parallel run on PyTorch's c10d (Gloo on CPU, NCCL on CUDA). */
export interface DistributedOptions {
  /** 'gloo' (CPU; default) or 'nccl' (a CUDA LibTorch built with NCCL) */
  backend?: 'gloo' | 'nccl';
  /** this process's rank in [0, worldSize) */
  rank: number;
  /** number of processes; batchSize is per rank, so the global batch is batchSize × worldSize */
  worldSize: number;
  /** address of rank 0, which hosts the rendezvous store (default '127.0.0.1') */
  masterAddr?: string;
  /** its port (default 29500) */
  masterPort?: number;
  /** a collective that waits longer than this for a rank fails on every other rank (default 60 s) */
  timeoutSeconds?: number;
}

/** `'env'`: the torchrun variables RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (and LOCAL_RANK). */
export type DistributedSetting = DistributedOptions | 'env';

const keys = ['backend', 'rank', 'worldSize', 'masterAddr', 'masterPort', 'timeoutSeconds'];

export function validateDistributed(value: unknown, path: string): DistributedSetting {
  if (value === 'env') return value;
  if (typeof value === 'string') {
    throw new EbmConfigError(`${path} must be 'env' or { rank, worldSize, ... }, got ${describeValue(value)}`);
  }
  const cfg = requireObject(value, path);
  rejectUnknownKeys(cfg, keys, path);
  if (cfg.backend !== undefined) checkOneOf(cfg.backend, ['gloo', 'nccl'] as const, `${path}.backend`);
  const worldSize = requireNumber(cfg, 'worldSize', path, { integer: true, min: 1, max: 65536 });
  requireNumber(cfg, 'rank', path, { integer: true, min: 0, max: worldSize - 1 });
  if (cfg.masterAddr !== undefined && (typeof cfg.masterAddr !== 'string' || cfg.masterAddr === '')) {
    throw new EbmConfigError(`${path}.masterAddr must be a host name or address, got ${describeValue(cfg.masterAddr)}`);
  }
  optionalNumber(cfg, 'masterPort', path, { integer: true, min: 1, max: 65535 });
  optionalNumber(cfg, 'timeoutSeconds', path, { above: 0, max: 86400 });
  return cfg as unknown as DistributedOptions;
}

function envInteger(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    throw new EbmConfigError(
      `train.distributed 'env' needs ${name} (and RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), as torchrun ` +
        "or 'ebm launch' set them; it is not set",
    );
  }
  const v = Number(raw);
  if (!/^\d+$/.test(raw) || v < min || v > max) {
    throw new EbmConfigError(`environment variable ${name} must be an integer in [${min}, ${max}], got '${raw}'`);
  }
  return v;
}

/** The explicit options a setting stands for (reading the environment for 'env'). */
export function resolveDistributed(
  setting: DistributedSetting,
  env: NodeJS.ProcessEnv = process.env,
): DistributedOptions {
  if (setting !== 'env') return setting;
  const worldSize = envInteger(env, 'WORLD_SIZE', 1, 65536);
  const rank = envInteger(env, 'RANK', 0, worldSize - 1);
  const masterAddr = env.MASTER_ADDR;
  if (masterAddr === undefined || masterAddr === '') {
    throw new EbmConfigError("train.distributed 'env' needs MASTER_ADDR (rank 0's address); it is not set");
  }
  const out: DistributedOptions = {
    rank,
    worldSize,
    masterAddr,
    masterPort: envInteger(env, 'MASTER_PORT', 1, 65535),
  };
  const timeout = env.EBM_DIST_TIMEOUT;
  if (timeout !== undefined && timeout !== '') {
    const t = Number(timeout);
    if (!(t > 0 && t <= 86400)) {
      throw new EbmConfigError(`environment variable EBM_DIST_TIMEOUT must be seconds in (0, 86400], got '${timeout}'`);
    }
    out.timeoutSeconds = t;
  }
  return out;
}

/** The rank this process has in a run with `setting` (0 without one). */
export function rankOf(setting: DistributedSetting | undefined, env: NodeJS.ProcessEnv = process.env): number {
  return setting === undefined ? 0 : resolveDistributed(setting, env).rank;
}
