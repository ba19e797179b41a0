/**
 * What each loss and sampler kind can do, as the kind declares it natively beside its options
 * struct (losses/loss.h LossTraits, samplers/sampler.h SamplerTraits) and the addon exports it
 * (`kindTraitsJson`). The schemas, sample(), train() and the CLI ask these instead of naming kinds.
 */
import { native } from '../native';

/** What a sampler kind does with time, and which options it reads. */
export interface SamplerTraits {
  /**
   * 'fixed': runs at one time; a time-conditioned model needs the caller's `t`.
   * 'levels': follows a time-conditioned model's own levels from t = 1 down to tMin; needs such a
   * model and takes no `t`.
   * 'path': follows a path of its own to any model (a time-conditioned one's levels, else a bridge
   * from a base); takes no `t`.
   */
  time: 'fixed' | 'levels' | 'path';
  /** the option whose value multiplies `steps` to give the run's total steps (annealed: 'levels') */
  stepsPer: string | null;
  /** it returns weighted particles (logWeights, logZ) and reweights them against `target` */
  weighted: boolean;
  /** every option field the kind reads, besides `kind` */
  options: string[];
}

/** What a loss kind needs from the model and the data, and which options it reads. */
export interface LossTraits {
  /**
   * The model's timeConditioned the loss needs: true or false, 'withPath' (true exactly when the
   * config has a `path`), or 'any'.
   */
  timeConditioned: boolean | 'withPath' | 'any';
  /** it needs class labels (train(..., { labels })) */
  labels: boolean;
  /** the model kind it needs (null: any energy model) */
  model: string | null;
  /** it can train the prior of a latent model */
  latentPrior: boolean;
  /** the metric names its steps report (beside `loss`) */
  metrics: string[];
  /** every option field the kind reads, besides `kind` */
  options: string[];
}

export interface KindTraits {
  loss: Record<string, LossTraits>;
  sampler: Record<string, SamplerTraits>;
}

let cached: KindTraits | undefined;

/** Every kind's traits (the addon's, read once). */
export function kindTraits(): KindTraits {
  cached ??= JSON.parse(native().kindTraitsJson) as KindTraits;
  return cached;
}

/** The traits of a sampler kind the schema has accepted. */
export function samplerTraits(kind: string): SamplerTraits {
  const t = kindTraits().sampler[kind];
  if (t === undefined) throw new Error(`internal: no traits for sampler kind '${kind}'`);
  return t;
}

/** The traits of a loss kind the schema has accepted. */
export function lossTraits(kind: string): LossTraits {
  const t = kindTraits().loss[kind];
  if (t === undefined) throw new Error(`internal: no traits for loss kind '${kind}'`);
  return t;
}

/** The sampler kinds that read option `field`, e.g. 'leapfrogSteps' → ['hmc']. */
export function samplersWithOption(field: string): string[] {
  return Object.entries(kindTraits().sampler)
    .filter(([, t]) => t.options.includes(field))
    .map(([k]) => k);
}

/** The total steps of a resolved sampler config (annealed: steps per level × levels). */
export function samplerTotalSteps(config: { kind: string; steps: number }): number {
  const per = samplerTraits(config.kind).stepsPer;
  if (per === null) return config.steps;
  const factor = (config as unknown as Record<string, unknown>)[per];
  return typeof factor === 'number' ? config.steps * factor : config.steps;
}
