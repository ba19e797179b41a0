/** Sampling: a whole chain run in C++ on a worker thread, cancellable, with diagnostics. */
import { SamplerConfig, validateSamplerConfig } from './config';
import { awaitJob, EbmAbortError, EbmConfigError } from './errors';
import { EnergyModel, requireModel } from './model';
import { native } from './native';
import { checkFinite, checkRows, snapshot, Tensor } from './tensor';
import {
  checkJobHooks,
  checkNumber,
  describeValue,
  optionalBoolean,
  optionalNumber,
  rejectUnknownKeys,
  requireObject,
} from './validate';

export interface SampleOptions {
  /** number of chains (ignored when init is given) */
  n?: number;
  sampler: SamplerConfig;
  /** fixes the initial draw and all noise (default 0) */
  seed?: number;
  /** starting states [n, ...]; default N(0, I) (annealed: the t = 1 marginal) */
  init?: Tensor;
  /** fixed time for time-conditioned models with non-annealed samplers */
  t?: number | Float32Array;
  /** also return the states after every `thin`-th step as [T, n, ...] */
  returnTrajectory?: boolean;
  thin?: number;
  /** steps done so far, every progressEvery steps (default: 20 reports per run) */
  onProgress?: (step: number, total: number) => void;
  progressEvery?: number;
  signal?: AbortSignal;
}

/** The final states, plus per-chain diagnostics read once at the end. */
export interface SampleResult extends Tensor {
  /** final energies, one per chain */
  energy: Float32Array;
  /** mean energy over the chains at every step: a convergence trace */
  energyTrace?: Float32Array;
  /** MALA/HMC: per-chain acceptance rate over the steps after adaptation */
  acceptRate?: Float32Array;
  /** per-chain final step size (MALA/HMC), the step (Langevin, annealed), the bandwidth (wgf) */
  stepSize?: Float32Array;
  /**
   * annealed sampler: the time of each level, from the noisiest; on a model trained on a grid of
   * noise levels (DSM with levels, DiffCLF) these are levels of that grid
   */
  levelTimes?: Float32Array;
  trajectory?: Tensor;
}

function samplerSteps(s: SamplerConfig): number {
  return s.kind === 'annealed' ? s.steps * (s.levels ?? 10) : s.steps;
}

/** Draws samples from p ∝ exp(−E) with any sampler. Bad options are rejected before native work. */
export async function sample(model: EnergyModel, options: SampleOptions): Promise<SampleResult> {
  requireModel(model);
  const o = requireObject(options, 'options');
  rejectUnknownKeys(
    o,
    ['n', 'sampler', 'seed', 'init', 't', 'returnTrajectory', 'thin', 'onProgress', 'progressEvery', 'signal'],
    'options',
  );
  const sampler = validateSamplerConfig(options.sampler, 'options.sampler');
  if (options.init !== undefined) {
    checkRows(options.init, model.inputShape, 'options.init');
    checkFinite(options.init, 'options.init');
  } else if (options.n === undefined) {
    throw new EbmConfigError('options.n (number of chains) is required without options.init');
  }
  // n is ignored with init, but a bad one is still a mistake
  optionalNumber(o, 'n', 'options', { integer: true, min: 1, max: 1e8 });
  optionalNumber(o, 'seed', 'options', { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  optionalNumber(o, 'thin', 'options', { integer: true, min: 1 });
  optionalNumber(o, 'progressEvery', 'options', { integer: true, min: 1 });
  optionalBoolean(o, 'returnTrajectory', 'options');
  checkJobHooks(o, 'options');
  if (sampler.kind === 'annealed' && !model.timeConditioned) {
    throw new EbmConfigError('options.sampler: the annealed sampler needs a time-conditioned model');
  }
  if (model.timeConditioned && sampler.kind !== 'annealed' && options.t === undefined) {
    throw new EbmConfigError(`options.t is required to sample a time-conditioned model with '${sampler.kind}'`);
  }
  if (!model.timeConditioned && options.t !== undefined) {
    throw new EbmConfigError('options.t was given but the model is not time-conditioned');
  }
  if (sampler.kind === 'annealed' && options.t !== undefined) {
    throw new EbmConfigError('options.t does not apply to the annealed sampler (it runs over the levels of t)');
  }
  if (options.t !== undefined && !(options.t instanceof Float32Array)) {
    if (typeof options.t !== 'number') {
      throw new EbmConfigError(
        `options.t must be a number or a Float32Array with one value per chain, got ${describeValue(options.t, 0)}`,
      );
    }
    checkNumber(options.t, 'options.t');
  }
  if (options.signal?.aborted) throw new EbmAbortError('sampling was aborted before it started');

  const total = samplerSteps(sampler);
  const progressEvery = options.progressEvery ?? Math.max(1, Math.ceil(total / 20));
  const onProgress = options.onProgress;
  // Everything the job reads is fixed now, at the call, even if it has to wait for the model.
  const jobJson = JSON.stringify({
    sampler,
    n: options.init ? options.init.shape[0] : options.n,
    seed: options.seed ?? 0,
    returnTrajectory: options.returnTrajectory ?? false,
    thin: options.thin ?? 1,
    progressEvery: onProgress ? progressEvery : 0,
  });
  const report = onProgress ? (step: number) => onProgress(step, total) : undefined;
  const signal = options.signal;
  return model.runExclusive(
    { init: options.init, t: options.t },
    (a) => awaitJob(native().sample(model.handle, jobJson, a.init, a.t, report), signal),
    {
      copy: (a) => ({ init: a.init && snapshot(a.init), t: a.t instanceof Float32Array ? a.t.slice() : a.t }),
      signal,
      what: 'sampling',
    },
  );
}
