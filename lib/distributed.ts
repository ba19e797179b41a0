/**
 * Data-parallel training settings: given explicitly, or read from the environment variables
 * torchrun (and `ebm launch`) set for each worker process.
 */
import { z } from 'zod';
import { EbmConfigError } from './errors';
import { optionDefaults as D } from './schema/defaults';
import { fail, int, num, obj, oneOf, pick, text, typeTail } from './schema/fields';
import { describeValue } from './validate';

const DistributedOptionsSchema = obj({
  backend: oneOf(['gloo', 'nccl'])
    .default(() => D().train.distributed.backend)
    .describe("'gloo' (CPU) or 'nccl' (a CUDA LibTorch built with NCCL)"),
  worldSize: int(1, 65536).describe('number of processes; batchSize is per rank (global batch batchSize × worldSize)'),
  rank: int(0).describe("this process's rank in [0, worldSize)"),
  masterAddr: text('a host name or address')
    .default(() => D().train.distributed.masterAddr)
    .describe('address of rank 0, which hosts the rendezvous store'),
  masterPort: int(1, 65535)
    .default(() => D().train.distributed.masterPort)
    .describe('its port'),
  timeoutSeconds: num({ above: 0, max: 86400 })
    .default(() => D().train.distributed.timeoutSeconds)
    .describe('a collective that waits longer than this for a rank fails on every other rank'),
}).superRefine((o, ctx) => {
  if (o.rank > o.worldSize - 1) fail(ctx, ['rank'], ` must be <= ${o.worldSize - 1}, got ${o.rank}`);
});

/** Data-parallel settings: one rank's options, or 'env' (torchrun's variables). */
export const DistributedSchema = pick([z.literal('env'), DistributedOptionsSchema], (v) => {
  if (v === 'env') return 0;
  if (typeof v === 'string') return ` must be 'env' or { rank, worldSize, ... }, got ${describeValue(v)}`;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? 1 : typeTail(v, 'an object');
}).meta({
  id: 'distributed',
  description:
    "data-parallel training over several processes (c10d: Gloo on CPU, NCCL on CUDA), or 'env' for the torchrun variables",
});

/**
 * One rank of a data-parallel run on PyTorch's c10d (Gloo on CPU, NCCL on CUDA).
 * @interface
 */
export type DistributedOptions = z.input<typeof DistributedOptionsSchema>;

/**
 * `'env'`: the torchrun variables RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (and LOCAL_RANK).
 * @useDeclaredType
 */
export type DistributedSetting = z.input<typeof DistributedSchema>;
/** @internal a setting with every default filled in */
export type ResolvedDistributedSetting = z.output<typeof DistributedSchema>;

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
