/** The loss configs: one schema per kind (two for DSM), and their union. */
import { z } from 'zod';
import { describeValue, FLOAT32_MAX } from '../validate';
import { optionDefaults as D } from './defaults';
import { fail, instance, int, jsonFirstBranch, num, obj, oneOf, pick, positive } from './fields';
import { kindUnion } from './kind-union';
import { pathKind, pathRanges, refineRanges } from './noise-path';
import { SamplerSchema } from './samplers';
import { lossTraits, samplerTraits } from './traits';

export const lossKinds = ['ed', 'dsm', 'diffclf', 'cd', 'ssm', 'ce'] as const;

/** How a path-DSM term weights the levels, and the data scale of 'edm'. */
function weightingFields(defaults: () => { weighting: 'noise' | 'edm'; sigmaData: number }) {
  return {
    weighting: oneOf(['noise', 'edm'])
      .default(() => defaults().weighting)
      .describe("'noise': ‖ε + γ s‖²/d; 'edm': λ(σ)‖D − x₀‖²/d with σ_data = sigmaData"),
    sigmaData: positive()
      .default(() => defaults().sigmaData)
      .describe("σ_data of the 'edm' weighting"),
  };
}

export const EdSchema = obj({
  kind: z.literal('ed'),
  t: positive().describe('perturbation variance (noise std √t)'),
  m: int(1, 4096).describe('negative samples per data point'),
  w: num({ min: 0 }).describe('stabilising weight w'),
  perturbation: oneOf(['gaussian', 'bernoulli'])
    .default(() => D().loss.ed.perturbation)
    .describe('the perturbation'),
  epsilon: num({ above: 0, max: 0.999 })
    .default(() => D().loss.ed.epsilon)
    .describe('bit-flip probability of the Bernoulli perturbation'),
});

const DsmSigmaSchema = obj({
  kind: z.literal('dsm'),
  sigma: positive().describe('the single noise level σ'),
});

const DsmPathSchema = obj({
  kind: z.literal('dsm'),
  path: pathKind(),
  ...pathRanges(() => D().loss.dsm),
  ...weightingFields(() => D().loss.dsm),
  levels: int(2, 100000).optional().describe('a discrete grid of this many levels (default: continuous time)'),
}).superRefine(refineRanges);

/** Starting offsets: an array or a Float32Array of finite numbers. */
const offsets = pick(
  [
    // readonly in the type (a readonly array is welcome); zod's .readonly() would freeze the value
    z.array(num()) as unknown as z.ZodType<readonly number[], readonly number[]>,
    instance<Float32Array>((v) => v instanceof Float32Array, 'a Float32Array').superRefine((a, ctx) => {
      const i = a.findIndex((v) => !Number.isFinite(v) || Math.abs(v) > FLOAT32_MAX);
      if (i >= 0) fail(ctx, [i], ` must be a finite number, got ${describeValue(a[i])}`);
    }),
  ],
  (v) =>
    Array.isArray(v)
      ? 0
      : v instanceof Float32Array
        ? 1
        : ` must be an array of numbers (one per level), got ${describeValue(v, 0)}`,
);
jsonFirstBranch.add(offsets);

const DiffClfSchema = obj({
  kind: z.literal('diffclf'),
  path: pathKind(),
  ...pathRanges(() => D().loss.diffclf),
  ...weightingFields(() => D().loss.diffclf),
  levels: int(2, 100000).describe('number of noise levels'),
  k: int(2).describe('levels compared per sample (<= levels); 2 is the bi-level form'),
  clfWeight: num({ min: 0 }).describe('weight of the classification term'),
  dsmWeight: num({ min: 0 })
    .default(() => D().loss.diffclf.dsmWeight)
    .describe('weight of the DSM term'),
  warmupSteps: int(0)
    .default(() => D().loss.diffclf.warmupSteps)
    .describe('DSM-only steps before the classification term is switched on'),
  offsetLr: num({ above: 0, max: 10 })
    .optional()
    .describe("learning rate of the per-level offsets' own optimiser group (default: the optimiser's lr)"),
  offsets: offsets
    .optional()
    .describe("starting per-level offsets, one per level (e.g. run.lossParameters['diffclf.offsets']); absent: zeros"),
}).superRefine((o, ctx) => {
  refineRanges(o, ctx);
  if (o.k > o.levels) fail(ctx, ['k'], ` must be <= levels (${o.levels}), got ${o.k}`);
  if (o.offsets !== undefined && o.offsets.length !== o.levels) {
    fail(ctx, ['offsets'], ` must be an array of ${o.levels} numbers (one per level)`);
  }
});

export const CdSchema = obj({
  kind: z.literal('cd'),
  sampler: SamplerSchema.describe('the sampler of the negatives'),
  alpha: num({ min: 0 })
    .default(() => D().loss.cd.alpha)
    .describe('energy-magnitude regulariser α'),
  buffer: obj({
    size: int(1, 1e8).describe('number of persistent chains'),
    reinit: num({ min: 0, max: 1 })
      .default(() => D().loss.cd.buffer.reinit)
      .describe('fraction restarted from noise each step'),
  })
    .optional()
    .describe('persistent replay buffer'),
  init: oneOf(['data', 'noise'])
    .default(() => D().loss.cd.init)
    .describe("chain start without a buffer: 'data' (CD-k) or 'noise'"),
}).superRefine((o, ctx) => {
  if (samplerTraits(o.sampler.kind).time === 'levels') {
    fail(ctx, ['sampler'], `: the ${o.sampler.kind} sampler needs a time-conditioned model; CD trains E(x)`);
  }
});

const SsmSchema = obj({
  kind: z.literal('ssm'),
  projections: int(1, 64)
    .default(() => D().loss.ssm.projections)
    .describe('random projections per point'),
});

const CeSchema = obj({ kind: z.literal('ce') });

/** Every loss config, chosen by `kind` (DSM by `sigma` or `path`). */
export const LossSchema = kindUnion(
  [
    EdSchema.describe('Energy Discrepancy'),
    DsmSigmaSchema.describe('single-level DSM: ½ mean ‖σ s(x + σε) + ε‖²'),
    DsmPathSchema.describe('DSM on a noising path, for time-conditioned models'),
    DiffClfSchema.describe('diffusive classification + DSM'),
    CdSchema.describe('contrastive divergence with sampler negatives'),
    SsmSchema.describe('sliced score matching (variance-reduced)'),
    CeSchema.describe("cross-entropy of a 'classifier' model on labelled data"),
  ],
  {
    missing: " is required, e.g. { kind: 'ed', t: 1, m: 16, w: 1 }",
    forms: {
      // the sigma form comes first among DSM's shapes
      dsm: (o: { sigma?: unknown; path?: unknown }) =>
        o.sigma !== undefined
          ? 0
          : o.path !== undefined
            ? 1
            : ": DSM needs sigma (single level) or path: 'vp' | 've' (time-conditioned)",
    },
  },
);

/**
 * Energy Discrepancy. `t` is a variance (noise std √t).
 * @interface
 */
export type EdLossConfig = z.input<typeof EdSchema>;
/**
 * Single-level DSM: ½ mean ‖σ s(x + σε) + ε‖².
 * @interface
 */
export type DsmSigmaLossConfig = z.input<typeof DsmSigmaSchema>;
/**
 * DSM on a noising path, for time-conditioned models; `levels` picks a discrete grid.
 * @interface
 */
export type DsmPathLossConfig = z.input<typeof DsmPathSchema>;
/**
 * Diffusive classification + DSM. k = 2 is the bi-level form.
 * @interface
 */
export type DiffClfLossConfig = z.input<typeof DiffClfSchema>;
/**
 * Contrastive divergence with sampler negatives.
 * @interface
 */
export type CdLossConfig = z.input<typeof CdSchema>;
/**
 * Sliced score matching (variance-reduced).
 * @interface
 */
export type SsmLossConfig = z.input<typeof SsmSchema>;
/**
 * Cross-entropy of a 'classifier' model on labelled data (train(..., { labels })).
 * @interface
 */
export type CeLossConfig = z.input<typeof CeSchema>;
/**
 * Any loss config, by `kind`.
 * @useDeclaredType
 */
export type LossConfig = z.input<typeof LossSchema>;
/** A loss config with every default filled in. */
export type ResolvedLossConfig = z.output<typeof LossSchema>;
/** Parameters of the noising path shared by DSM (on a path) and DiffCLF. */
export type PathOptions = Omit<DsmPathLossConfig, 'kind' | 'levels'>;

/** The timeConditioned a model must have for `loss` (undefined: either), as its kind declares. */
export function lossTimeConditioned(loss: { kind: string; path?: unknown }): boolean | undefined {
  const needs = lossTraits(loss.kind).timeConditioned;
  if (needs === 'any') return undefined;
  if (needs === 'withPath') return loss.path !== undefined;
  return needs;
}

/**
 * The refinement of a loss against its model: ': this loss needs a model with timeConditioned: ...',
 * or (given the model's kind) ": 'ce' needs a 'classifier' model".
 */
export function lossModelTail(
  loss: { kind: string; path?: unknown },
  timeConditioned: boolean,
  modelKind?: string,
): string | undefined {
  const needs = lossTimeConditioned(loss);
  if (needs !== undefined && needs !== timeConditioned) {
    return `: this loss needs a model with timeConditioned: ${needs}, but the model has timeConditioned: ${timeConditioned}`;
  }
  const model = lossTraits(loss.kind).model;
  if (model !== null && modelKind !== undefined && modelKind !== model) return `: '${loss.kind}' needs a '${model}' model`;
  return undefined;
}
