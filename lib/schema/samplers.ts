/** The sampler configs: one schema per kind, and their union. */
import { z } from 'zod';
import { describeValue } from '../validate';
import { optionDefaults as D } from './defaults';
import { bool, fail, int, num, obj, oneOf, pick, positive } from './fields';
import { kindUnion } from './kind-union';
import { pathKind, pathRanges, refineRanges } from './noise-path';

export const samplerKinds = ['langevin', 'mala', 'hmc', 'annealed', 'wgf', 'smc'] as const;
export type SamplerKind = (typeof samplerKinds)[number];

const steps = () => int(1, 1e7).describe('number of steps (annealed: per level)');

const LangevinSchema = obj({
  kind: z.literal('langevin'),
  steps: steps(),
  stepSize: positive().describe('η'),
  temperature: positive()
    .default(() => D().sampler.langevin.temperature)
    .describe('T; step and noise stay tied'),
  noiseScale: num({ min: 0 })
    .optional()
    .describe('replaces √(2ηT) when given: decoupled noise, the short-run CD recipe'),
});

/** Step-size adaptation during the first adaptSteps steps (per chain, towards targetAccept). */
function adaptFields(kind: 'mala' | 'hmc') {
  return {
    adaptSteps: int(0)
      .default(() => D().sampler[kind].adaptSteps)
      .describe('steps of adaptation (0: fixed step; < steps); acceptRate counts the steps after them'),
    targetAccept: num({ above: 0, max: 0.999 })
      .default(() => D().sampler[kind].targetAccept)
      .describe('the acceptance rate adaptation aims at'),
    adaptRate: num({ above: 0, max: 1 })
      .default(() => D().sampler[kind].adaptRate)
      .describe('Robbins–Monro rate on log step size'),
  };
}

function refineAdapt(o: { steps: number; adaptSteps: number }, ctx: z.core.$RefinementCtx): void {
  if (o.adaptSteps > o.steps - 1) fail(ctx, ['adaptSteps'], ` must be <= ${o.steps - 1}, got ${o.adaptSteps}`);
}

const MalaSchema = obj({
  kind: z.literal('mala'),
  steps: steps(),
  stepSize: positive().describe('step size'),
  ...adaptFields('mala'),
}).superRefine(refineAdapt);

const HmcSchema = obj({
  kind: z.literal('hmc'),
  steps: steps(),
  stepSize: positive().describe('leapfrog step size'),
  leapfrogSteps: int(1, 10000)
    .default(() => D().sampler.hmc.leapfrogSteps)
    .describe('leapfrog steps per iteration'),
  jitter: num({ min: 0, max: 0.99 })
    .default(() => D().sampler.hmc.jitter)
    .describe("each iteration's step is stepSize × U(1 − jitter, 1 + jitter) per chain, against periodic orbits"),
  ...adaptFields('hmc'),
}).superRefine(refineAdapt);

const AnnealedSchema = obj({
  kind: z.literal('annealed'),
  steps: steps(),
  stepSize: positive().describe('the step at the last level; level t uses stepSize·γ_t²/γ_tMin²'),
  levels: int(1, 100000)
    .default(() => D().sampler.annealed.levels)
    .describe('number of levels'),
  path: pathKind().default(() => D().sampler.annealed.path),
  ...pathRanges(() => D().sampler.annealed),
}).superRefine(refineRanges);

const bandwidth = pick([positive(), z.literal('auto')], (v) =>
  v === 'auto' ? 1 : typeof v === 'number' ? 0 : ` must be a number > 0 or 'auto', got ${describeValue(v)}`,
);

const WgfSchema = obj({
  kind: z.literal('wgf'),
  steps: steps(),
  stepSize: positive().describe('Heun (or Euler) step size'),
  bandwidth: bandwidth
    .default(() => D().sampler.wgf.bandwidth)
    .describe("kernel bandwidth; 'auto' = bandwidthScale × median nearest-neighbour distance"),
  bandwidthScale: positive()
    .default(() => D().sampler.wgf.bandwidthScale)
    .describe("the factor of bandwidth 'auto'"),
  blob: bool()
    .default(() => D().sampler.wgf.blob)
    .describe('the blob correction term'),
  repulsion: bool()
    .default(() => D().sampler.wgf.repulsion)
    .describe('the kernel repulsion terms (false = plain gradient descent, which collapses)'),
  integrator: oneOf(['heun', 'euler'])
    .default(() => D().sampler.wgf.integrator)
    .describe('the integrator'),
});

const SmcSchema = obj({
  kind: z.literal('smc'),
  steps: steps(),
  stepSize: positive().describe("the moves' step size at the first level (then adapted between levels)"),
  levels: int(1, 100000)
    .default(() => D().sampler.smc.levels)
    .describe("levels: a time-conditioned model's own (grid) levels from t = 1 to tMin, else bridge temperatures"),
  mcmc: oneOf(['mala', 'langevin', 'hmc'])
    .default(() => D().sampler.smc.mcmc)
    .describe('the move at each level (pi_k-invariant; langevin is unadjusted, so only approximately)'),
  leapfrogSteps: int(1, 10000)
    .default(() => D().sampler.smc.leapfrogSteps)
    .describe('hmc moves: leapfrog steps per move'),
  targetAccept: num({ above: 0, max: 0.999 })
    .default(() => D().sampler.smc.targetAccept)
    .describe("the acceptance the step size is adapted towards between levels (fixed within a level)"),
  adaptRate: num({ min: 0, max: 10 })
    .default(() => D().sampler.smc.adaptRate)
    .describe('log step size += adaptRate × (mean acceptance − targetAccept) after each level'),
  essThreshold: num({ above: 0, max: 1 })
    .default(() => D().sampler.smc.essThreshold)
    .describe('resample when the ESS falls under this fraction of the particles'),
  resampling: oneOf(['systematic', 'multinomial'])
    .default(() => D().sampler.smc.resampling)
    .describe('how particles are resampled'),
  base: obj({ std: positive().default(() => D().sampler.smc.base.std).describe('σ of the base N(0, σ²I)') })
    .prefault(() => ({}))
    .describe("an untimed energy's base: the geometric bridge starts at N(0, σ²I)"),
  path: pathKind().default(() => D().sampler.smc.path),
  ...pathRanges(() => D().sampler.smc),
}).superRefine(refineRanges);

const samplerOptions = [
  LangevinSchema.describe('Unadjusted Langevin: x ← x − η∇E + √(2ηT) ξ'),
  MalaSchema.describe('Metropolis-adjusted Langevin, per-chain accept'),
  HmcSchema.describe('Hamiltonian Monte Carlo with leapfrogSteps steps of size stepSize'),
  AnnealedSchema.describe(
    'Annealed Langevin over the levels of a time-conditioned model, t from 1 to tMin; steps per level',
  ),
  WgfSchema.describe('Wasserstein gradient-flow particles (blob Fokker–Planck velocity, Heun steps)'),
  SmcSchema.describe(
    'Sequential Monte Carlo: weighted particles through a time-conditioned model’s levels or a geometric bridge from a base; log Z',
  ),
] as const;

/** Every sampler config, chosen by `kind`; `missing`: the tail when none is given. */
export function samplerSchema(missing?: string) {
  return kindUnion(samplerOptions, missing !== undefined ? { missing } : {});
}

/** Every sampler config, chosen by `kind`. */
export const SamplerSchema = samplerSchema().meta({ id: 'sampler' });

/**
 * Unadjusted Langevin: x ← x − η∇E + √(2ηT) ξ.
 * @interface
 */
export type LangevinConfig = z.input<typeof LangevinSchema>;
/**
 * Metropolis-adjusted Langevin, per-chain accept; optional step-size adaptation.
 * @interface
 */
export type MalaConfig = z.input<typeof MalaSchema>;
/**
 * Hamiltonian Monte Carlo with leapfrogSteps steps of size stepSize.
 * @interface
 */
export type HmcConfig = z.input<typeof HmcSchema>;
/**
 * Annealed Langevin over the levels of a time-conditioned model, t from 1 to tMin; `steps` per
 * level; `stepSize` is the step at the last level, level t uses stepSize·γ_t²/γ_tMin².

 * @interface
 */
export type AnnealedConfig = z.input<typeof AnnealedSchema>;
/**
 * Wasserstein gradient-flow particle sampler (blob Fokker–Planck velocity, Heun steps of size
 * stepSize). bandwidth 'auto' = bandwidthScale × median nearest-neighbour distance.

 * @interface
 */
export type WgfConfig = z.input<typeof WgfSchema>;
/**
 * Sequential Monte Carlo (AIS with resampling): particles carried from a base through the model's
 * levels (time-conditioned) or a geometric bridge (untimed), reweighted, resampled and moved.
 * @interface
 */
export type SmcConfig = z.input<typeof SmcSchema>;
/** Step-size adaptation of MALA and HMC during the first adaptSteps steps (per chain, towards targetAccept). */
export type AdaptOptions = Pick<MalaConfig, 'adaptSteps' | 'targetAccept' | 'adaptRate'>;
/**
 * Any sampler config, by `kind`.
 * @useDeclaredType
 */
export type SamplerConfig = z.input<typeof SamplerSchema>;
/** A sampler config with every default filled in. */
export type ResolvedSamplerConfig = z.output<typeof SamplerSchema>;
