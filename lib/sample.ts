/** Sampling: a whole chain run in C++ on a worker thread, cancellable, with diagnostics. */
import { z } from 'zod';
import { awaitJob, EbmAbortError, EbmConfigError, EbmShapeError } from './errors';
import { EnergyModel, requireModel } from './model';
import { native } from './native';
import { optionDefaults as D } from './schema/defaults';
import { bool, fail, instance, int, num, obj, pick, seed } from './schema/fields';
import { parseConfig } from './schema/parse';
import { SamplerSchema } from './schema/samplers';
import { kindTraits, samplerTotalSteps, samplerTraits } from './schema/traits';
import { checkFinite, checkRows, snapshot, Tensor } from './tensor';
import { describeValue } from './validate';

const SampleOptionsSchema = obj({
  n: int(1, 1e8).optional().describe('number of chains (ignored when init is given)'),
  sampler: SamplerSchema.describe('the sampler'),
  seed: seed()
    .default(() => D().sample.seed)
    .describe('fixes the initial draw and all noise'),
  // checked against the model's input shape
  init: z
    .custom<Tensor>(() => true)
    .optional()
    .describe('starting states [n, ...]; default N(0, I) (annealed: the t = 1 marginal)'),
  t: pick([num(), instance<Float32Array>((v) => v instanceof Float32Array, 'a Float32Array')], (v) =>
    v instanceof Float32Array
      ? 1
      : typeof v === 'number'
        ? 0
        : ` must be a number or a Float32Array with one value per chain, got ${describeValue(v, 0)}`,
  )
    .optional()
    .describe('fixed time for time-conditioned models with non-annealed samplers'),
  returnTrajectory: bool()
    .default(() => D().sample.returnTrajectory)
    .describe('also return the states after every `thin`-th step as [T, n, ...]'),
  thin: int(1)
    .default(() => D().sample.thin)
    .describe('the trajectory keeps every thin-th step'),
  onProgress: instance<(step: number, total: number) => void>((v) => typeof v === 'function', 'a function')
    .optional()
    .describe('steps done so far, every progressEvery steps'),
  progressEvery: int(1).optional().describe('steps between progress reports (default: 20 reports per run)'),
  signal: instance<AbortSignal>((v) => v instanceof AbortSignal, 'an AbortSignal').optional(),
  target: instance<EnergyModel>((v) => v instanceof EnergyModel, 'an EnergyModel')
    .optional()
    .describe("smc: reweight the final particles against this energy E(x) (a Boltzmann generator's correction)"),
}).superRefine((o, ctx) => {
  if (o.init === undefined && o.n === undefined)
    fail(ctx, ['n'], ' (number of chains) is required without options.init');
});

/**
 * The options of ebm.sample(): the sampler, the chains (n, or init), and the job hooks.
 * @interface
 */
export type SampleOptions = z.input<typeof SampleOptionsSchema>;
/** @internal sample()'s options with every default filled in */
export type ResolvedSampleOptions = z.output<typeof SampleOptionsSchema>;

/** The rules that join the options to the model: the sampler and `t` against its timeConditioned. */
function refineSampleContext(o: ResolvedSampleOptions, ctx: z.core.$RefinementCtx, timeConditioned: boolean): void {
  const kind = o.sampler.kind;
  const time = samplerTraits(kind).time;
  const followsLevels = time !== 'fixed';
  if (time === 'levels' && !timeConditioned) {
    fail(ctx, ['sampler'], `: the ${kind} sampler needs a time-conditioned model`);
  } else if (timeConditioned && !followsLevels && o.t === undefined) {
    fail(ctx, ['t'], ` is required to sample a time-conditioned model with '${kind}'`);
  } else if (!timeConditioned && o.t !== undefined) {
    fail(ctx, ['t'], ' was given but the model is not time-conditioned');
  } else if (followsLevels && o.t !== undefined) {
    fail(ctx, ['t'], ` does not apply to the ${kind} sampler (it follows a path of its own)`);
  }
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
  /** smc: normalised log importance weights, one per particle (logsumexp 0) */
  logWeights?: Float32Array;
  /** smc: the estimate of log ∫exp(−E) (of the target's energy when one is given) */
  logZ?: number;
  /** smc: the final effective sample size, as a fraction of the particles */
  ess?: number;
  /** smc: the ESS after each level's reweighting (fraction of n) */
  essPerLevel?: Float32Array;
  /** smc: the levels (0-based) after whose reweighting the particles were resampled */
  resampledAt?: number[];
  /** smc: each level's mean acceptance rate of the moves (NaN for unadjusted Langevin) */
  levelAccept?: Float32Array;
}

/** Draws samples from p ∝ exp(−E) with any sampler. Bad options are rejected before native work. */
export async function sample(model: EnergyModel, options: SampleOptions): Promise<SampleResult> {
  requireModel(model);
  const schema = SampleOptionsSchema.superRefine((o, ctx) => refineSampleContext(o, ctx, model.timeConditioned));
  return sampleValidated(model, parseConfig(schema, options, 'options'));
}

/** @internal Samples with options sample()'s checks have passed: only `init` is checked, against the model. */
export async function sampleValidated(
  model: EnergyModel,
  options: Omit<ResolvedSampleOptions, 'returnTrajectory' | 'thin'> & Partial<ResolvedSampleOptions>,
): Promise<SampleResult> {
  const { sampler, init, t, onProgress, signal, target } = options;
  if (target !== undefined) {
    if (!samplerTraits(sampler.kind).weighted) {
      const weighted = Object.entries(kindTraits().sampler).filter(([, k]) => k.weighted);
      throw new EbmConfigError(
        `options.target applies only to a sampler of weighted particles (${weighted.map(([k]) => `'${k}'`).join(', ')})`,
      );
    }
    requireModel(target, 'options.target');
    if (target.inputShape.join(',') !== model.inputShape.join(',')) {
      throw new EbmShapeError(
        `options.target takes rows of shape [${target.inputShape.join(', ')}] but the model takes [${model.inputShape.join(', ')}]`,
      );
    }
    if (target.timeConditioned) throw new EbmConfigError('options.target must be an energy E(x), not time-conditioned');
  }
  if (init !== undefined) {
    checkRows(init, model.inputShape, 'options.init');
    checkFinite(init, 'options.init');
  }
  if (signal?.aborted) throw new EbmAbortError('sampling was aborted before it started');

  const total = samplerTotalSteps(sampler);
  const progressEvery = options.progressEvery ?? Math.max(1, Math.ceil(total / 20));
  // Everything the job reads is fixed now, at the call, even if it has to wait for the model.
  const jobJson = JSON.stringify({
    sampler,
    n: init ? init.shape[0] : options.n,
    seed: options.seed,
    returnTrajectory: options.returnTrajectory ?? D().sample.returnTrajectory,
    thin: options.thin ?? D().sample.thin,
    progressEvery: onProgress ? progressEvery : 0,
  });
  const report = onProgress ? (step: number) => onProgress(step, total) : undefined;
  return model.runExclusive(
    { init, t },
    (a) => awaitJob(native().sample(model.handle, jobJson, a.init, a.t, report, target?.handle), signal),
    {
      copy: (a) => ({ init: a.init && snapshot(a.init), t: a.t instanceof Float32Array ? a.t.slice() : a.t }),
      signal,
      what: 'sampling',
    },
  );
}
