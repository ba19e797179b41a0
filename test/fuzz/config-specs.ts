/** Specs of the sampler, loss, optimiser and training configs (as documented in lib/config.ts). */
import { arr, bool, custom, hooks, int, num, obj, oneOf, opt, positive, seed, Spec, str } from './spec';

/** The ranges of a noising path (defaults β 0.1..20, σ 0.01..10): each must stay ordered. */
export function pathRanges(): Record<string, Spec> {
  return {
    betaMin: opt(positive({ below: 20 })),
    betaMax: opt(positive({ above: 0.1 })),
    sigmaMin: opt(positive({ below: 10 })),
    sigmaMax: opt(positive({ above: 0.01 })),
  };
}

/** A noising path's fields: the kind, its ranges and the smallest time. */
export function pathFields(required: boolean): Record<string, Spec> {
  return {
    path: required ? oneOf('vp', 've') : opt(oneOf('vp', 've')),
    ...pathRanges(),
    tMin: opt(positive({ max: 0.999 })),
  };
}

const lossPathFields = (): Record<string, Spec> => ({
  ...pathFields(true),
  weighting: opt(oneOf('noise', 'edm')),
  sigmaData: opt(positive()),
});

export type SamplerKind = 'langevin' | 'mala' | 'hmc' | 'annealed' | 'wgf';

/** A sampler config of `kind` with `steps` steps: base and spec. */
export function sampler(kind: SamplerKind, steps = 2): { base: () => object; spec: Spec } {
  const common = { steps: int(1, 1e7), stepSize: positive() };
  const adapt = {
    adaptSteps: opt(int(0, steps - 1)),
    targetAccept: opt(positive({ max: 0.999 })),
    adaptRate: opt(positive({ max: 1 })),
  };
  const fields: Record<SamplerKind, Record<string, Spec>> = {
    langevin: { temperature: opt(positive()), noiseScale: opt(num({ min: 0 })) },
    mala: adapt,
    hmc: { ...adapt, leapfrogSteps: opt(int(1, 10000)), jitter: opt(num({ min: 0, max: 0.99 })) },
    annealed: { levels: opt(int(1, 100000)), ...pathFields(false) },
    wgf: {
      bandwidth: wgfBandwidth(),
      bandwidthScale: opt(positive()),
      blob: opt(bool()),
      repulsion: opt(bool()),
      integrator: opt(oneOf('heun', 'euler')),
    },
  };
  const extra = kind === 'annealed' ? { levels: 2 } : {};
  return {
    base: () => ({ kind, steps, stepSize: 0.01, ...extra }),
    spec: obj({ kind: oneOf(kind), ...common, ...fields[kind] }),
  };
}

/** wgf's bandwidth: a positive number or 'auto'. */
const wgfBandwidth = (): Spec =>
  opt(
    custom(
      (v) => v === 'auto' || (typeof v === 'number' && v > 0 && v <= 3.4028234663852886e38),
      () => ['AUTO', 'median'],
    ),
  );

export type LossName = 'ed' | 'dsm' | 'dsm-path' | 'diffclf' | 'cd' | 'cd-buffer' | 'ssm' | 'ce';

/** A loss config: base, spec, and whether it trains a time-conditioned model. */
export function loss(name: LossName): { base: () => object; spec: Spec; timeConditioned: boolean } {
  switch (name) {
    case 'ed':
      return {
        base: () => ({ kind: 'ed', t: 1, m: 2, w: 1 }),
        spec: obj({
          kind: oneOf('ed'),
          t: positive(),
          m: int(1, 4096),
          w: num({ min: 0 }),
          perturbation: opt(oneOf('gaussian', 'bernoulli')),
          epsilon: opt(positive({ max: 0.999 })),
        }),
        timeConditioned: false,
      };
    case 'dsm':
      return {
        base: () => ({ kind: 'dsm', sigma: 0.1 }),
        spec: obj({ kind: oneOf('dsm'), sigma: positive({ also: ['path'] }) }),
        timeConditioned: false,
      };
    case 'dsm-path':
      return {
        base: () => ({ kind: 'dsm', path: 'vp' }),
        spec: obj({ kind: oneOf('dsm'), levels: opt(int(2, 100000)), ...lossPathFields() }),
        timeConditioned: true,
      };
    case 'diffclf':
      return {
        base: () => ({ kind: 'diffclf', path: 'vp', levels: 4, k: 2, clfWeight: 1 }),
        spec: obj({
          kind: oneOf('diffclf'),
          levels: int(2, 100000, { also: ['k'] }),
          k: int(2, 4),
          clfWeight: num({ min: 0 }),
          dsmWeight: opt(num({ min: 0 })),
          warmupSteps: opt(int(0)),
          offsetLr: opt(positive({ max: 10 })),
          offsets: opt(arr(num(), { minLength: 4, maxLength: 4, typed: [Float32Array] }), () => [0, 0, 0, 0]),
          ...lossPathFields(),
        }),
        timeConditioned: true,
      };
    case 'cd':
    case 'cd-buffer': {
      const s = sampler('langevin');
      const buffer = obj({ size: int(1, 1e8), reinit: opt(num({ min: 0, max: 1 })) });
      return {
        base: () => ({ kind: 'cd', sampler: s.base(), ...(name === 'cd-buffer' ? { buffer: { size: 8 } } : {}) }),
        spec: obj({
          kind: oneOf('cd'),
          sampler: s.spec,
          alpha: opt(num({ min: 0 })),
          buffer: opt(buffer, () => ({ size: 8 })),
          init: opt(oneOf('data', 'noise')),
        }),
        timeConditioned: false,
      };
    }
    case 'ssm':
      return {
        base: () => ({ kind: 'ssm' }),
        spec: obj({ kind: oneOf('ssm'), projections: opt(int(1, 64)) }),
        timeConditioned: false,
      };
    case 'ce':
      return { base: () => ({ kind: 'ce' }), spec: obj({ kind: oneOf('ce') }), timeConditioned: false };
  }
}

export const adam = (): Spec =>
  obj({
    kind: oneOf('adam', 'adamw'),
    lr: positive({ max: 10 }),
    betas: opt({ type: 'tuple', items: [num({ min: 0, max: 0.999999 }), num({ min: 0, max: 0.999999 })] }),
    eps: opt(positive()),
    weightDecay: opt(num({ min: 0 })),
  });

export const sgd = (): Spec =>
  obj({
    kind: oneOf('sgd'),
    lr: positive({ max: 10 }),
    momentum: opt(num({ min: 0, max: 0.999999 })),
    weightDecay: opt(num({ min: 0 })),
  });

/**
 * The training options of train(): `loss` and `optimizer` as given, `rows` rows of data, the
 * job hooks when `hooks` (a config file cannot set them).
 */
export function trainOptions(o: {
  loss: Spec;
  optimizer?: Spec;
  rows: number;
  withHooks: boolean;
  labels?: Spec;
  /** where a checkpoint may go (the base's steps make every `every` a multiple of logEvery) */
  checkpointPath: string;
  /** a run-config file: there the checkpoint path may be left out (it means the run folder's model) */
  inFile?: boolean;
}): Spec {
  return obj({
    loss: o.loss,
    optimizer: opt(o.optimizer ?? adam(), () => ({ kind: 'adam', lr: 1e-3 })),
    schedule: opt(
      obj({ kind: oneOf('constant', 'cosine'), warmupSteps: opt(int(0)), minLr: opt(num({ min: 0 })) }),
      () => ({
        kind: 'cosine',
      }),
    ),
    batchSize: int(1, Math.min(o.rows, 1e8), { also: ['replacement'] }),
    steps: int(1, 1e9),
    seed: seed(),
    replacement: opt(bool()),
    logEvery: opt(int(1)),
    ema: opt(obj({ decay: num({ min: 0, max: 0.999999999 }) }), () => ({ decay: 0.9 })),
    gradClip: opt(num({ min: 0 })),
    checkpoint: opt(obj({ path: o.inFile ? opt(str()) : str(), every: opt(int(0)) }), () => ({
      path: o.checkpointPath,
    })),
    resumeFrom: opt(str()),
    ...(o.withHooks ? hooks : {}),
    ...(o.labels ? { labels: o.labels } : {}),
  });
}
