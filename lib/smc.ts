/**
 * Sequential Monte Carlo and what it estimates: ebm.smc() (weighted particles and log Z, through
 * the sampler registry's 'smc' kind), metrics.logPartition() and metrics.nll() in any dimension.
 */
import { EbmConfigError, EbmError } from './errors';
import { EnergyModel, requireModel } from './model';
import { sample, SampleResult } from './sample';
import { optionDefaults as D } from './schema/defaults';
import type { SmcConfig } from './schema/samplers';
import { checkFinite, checkRows, Tensor } from './tensor';
import { checkNumber } from './validate';

/** The options of ebm.smc(): the SMC sampler's own, the particles, and the job hooks. */
export type SmcOptions = Omit<SmcConfig, 'kind'> & {
  /** number of particles */
  n: number;
  seed?: number;
  /** reweight the final particles against this energy E(x): the Boltzmann-generator correction */
  target?: EnergyModel;
  signal?: AbortSignal;
  onProgress?: (step: number, total: number) => void;
};

/** Weighted particles from ebm.smc(). */
export interface SmcResult {
  /** the particles [n, ...], each with its weight */
  samples: Tensor;
  /** normalised log weights (logsumexp 0) */
  logWeights: Float32Array;
  /** estimate of log ∫exp(−E) of the final density (the target's, when given), base normalised */
  logZ: number;
  /** final effective sample size, fraction of n */
  ess: number;
  /** the ESS after each level's reweighting, fraction of n */
  essPerLevel: Float32Array;
  /** the levels (0-based) after whose reweighting the particles were resampled */
  resampledAt: number[];
  /** each level's mean acceptance of the moves (NaN for unadjusted Langevin) */
  acceptRate: Float32Array;
  /** final energies (the target's, when given) */
  energy: Float32Array;
  seconds: number;
}

/** Renames options.sampler.<field> to options.<field> in a message: smc's options are flat. */
function flatMessage(err: unknown): unknown {
  if (err instanceof EbmError) err.message = err.message.replace(/options\.sampler\./g, 'options.');
  return err;
}

/**
 * Sequential Monte Carlo: particles from a base carried through a time-conditioned model's levels
 * (t = 1 down to tMin) or, for an energy E(x), a geometric bridge from N(0, base.std²·I);
 * reweighted, resampled when the ESS falls under essThreshold, and moved by MCMC at each level.
 * Runs in C++ off the event loop; cancellable with `signal`.
 */
export async function smc(model: EnergyModel, options: SmcOptions): Promise<SmcResult> {
  requireModel(model);
  if (typeof options !== 'object' || options === null) throw new EbmConfigError('options must be an object');
  const { n, seed, target, signal, onProgress, ...sampler } = options;
  const started = Date.now();
  let r: SampleResult;
  try {
    r = await sample(model, {
      n,
      sampler: { kind: 'smc', ...sampler } as SmcConfig,
      ...(seed !== undefined ? { seed } : {}),
      ...(target !== undefined ? { target } : {}),
      ...(signal !== undefined ? { signal } : {}),
      ...(onProgress !== undefined ? { onProgress } : {}),
    });
  } catch (err) {
    throw flatMessage(err);
  }
  return {
    samples: { data: r.data, shape: r.shape },
    logWeights: r.logWeights as Float32Array,
    logZ: r.logZ as number,
    ess: r.ess as number,
    essPerLevel: r.essPerLevel as Float32Array,
    resampledAt: r.resampledAt as number[],
    acceptRate: r.levelAccept as Float32Array,
    energy: r.energy,
    seconds: (Date.now() - started) / 1000,
  };
}

/** The options of metrics.logPartition() and metrics.nll(): ebm.smc()'s, and the repeats. */
export type LogPartitionOptions = Omit<SmcOptions, 'onProgress'> & {
  /** independent SMC runs (seeds seed, seed + 1, ...); at least 2 for an error bar */
  repeats?: number;
  onProgress?: (run: number, runs: number) => void;
};

export interface LogPartitionEstimate {
  /** log of the mean of the runs' Z estimates (each unbiased in Z, so the mean is too) */
  logZ: number;
  /** standard error of logZ: the delta method on the spread of the runs' Z, sd(Z_i) / (√R · mean Z) */
  stdErr: number;
  /** each run's log Z */
  runs: number[];
}

/**
 * log Z = log ∫exp(−E(x)) dx of a model (at its last level, tMin, when time-conditioned), by
 * `repeats` independent SMC runs; the error bar is their spread.
 */
export async function logPartition(model: EnergyModel, options: LogPartitionOptions): Promise<LogPartitionEstimate> {
  if (typeof options !== 'object' || options === null) throw new EbmConfigError('options must be an object');
  const { repeats = 4, onProgress, ...rest } = options;
  checkNumber(repeats, 'options.repeats', { integer: true, min: 1, max: 10000 });
  const runs: number[] = [];
  const seed = rest.seed ?? D().sample.seed;
  for (let i = 0; i < repeats; i++) {
    runs.push((await smc(model, { ...rest, seed: seed + i })).logZ);
    onProgress?.(i + 1, repeats);
  }
  const top = Math.max(...runs);
  const z = runs.map((v) => Math.exp(v - top));
  const mean = z.reduce((a, b) => a + b, 0) / z.length;
  const variance = z.length > 1 ? z.reduce((a, b) => a + (b - mean) ** 2, 0) / (z.length - 1) : NaN;
  return { logZ: top + Math.log(mean), stdErr: Math.sqrt(variance / z.length) / mean, runs };
}

export interface NllEstimate {
  /** mean over the data of −log p(x) = E(x) + log Z, in nats per row */
  nll: number;
  /** standard error: log Z's and the data mean's together */
  stdErr: number;
  logZ: number;
}

/**
 * Test negative log-likelihood of `data` [N, ...] under a model in any dimension: the mean
 * energy plus log Z from metrics.logPartition() (for a time-conditioned model, at its tMin).
 */
export async function nll(model: EnergyModel, data: Tensor, options: LogPartitionOptions): Promise<NllEstimate> {
  requireModel(model);
  checkRows(data, model.inputShape, 'data');
  checkFinite(data, 'data');
  const tMin = options.tMin ?? D().sampler.smc.tMin;
  const energies = await model.energy(data, model.timeConditioned ? tMin : undefined);
  let mean = 0;
  for (const e of energies) mean += e;
  mean /= energies.length;
  let sq = 0;
  for (const e of energies) sq += (e - mean) ** 2;
  const dataErr2 = energies.length > 1 ? sq / (energies.length - 1) / energies.length : 0;
  const z = await logPartition(model, options);
  const logZErr2 = Number.isFinite(z.stdErr) ? z.stdErr ** 2 : 0;
  return { nll: mean + z.logZ, stdErr: Math.sqrt(logZErr2 + dataErr2), logZ: z.logZ };
}
