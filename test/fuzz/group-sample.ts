/** Sampling: sample() with every sampler, on plain and time-conditioned models, and validateSamplerConfig both ways. */
import * as ebm from '../../lib';
import { sampler, SamplerKind } from './config-specs';
import { absent, entry, fixed, grid, model, modelState, timeFor } from './fixtures';
import { casesOf, Entry, Group } from './harness';
import { bool, hooks, int, obj, opt, seed, Spec, tensorSpec } from './spec';

const CHAINS = 4;

/** sample()'s options around a sampler spec; `t` as the model needs it. */
function sampleOptions(samplerSpec: Spec, t: Spec, withInit: boolean): Spec {
  return obj({
    n: withInit ? opt(int(1, 1e8)) : int(1, 1e8),
    sampler: samplerSpec,
    seed: seed(),
    init: opt(tensorSpec({ rowShape: [2], finite: true }), () => grid(CHAINS, [2])),
    t,
    returnTrajectory: opt(bool()),
    thin: opt(int(1)),
    progressEvery: opt(int(1)),
    ...hooks,
  });
}

export async function sampleGroup(): Promise<Group> {
  const plain = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
  const tc = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], timeConditioned: true, device: 'cpu' });
  const noT = absent();
  const tForTc = timeFor(CHAINS);
  const counter = { skipped: 0 };
  const entries: Entry[] = [];
  const call = (m: unknown, o: unknown) => ebm.sample(m as ebm.EnergyModel, o as ebm.SampleOptions);
  const kinds: SamplerKind[] = ['langevin', 'mala', 'hmc', 'wgf', 'annealed'];
  for (const kind of kinds) {
    const s = sampler(kind);
    const m = kind === 'annealed' ? tc : plain;
    const spec = sampleOptions(s.spec, noT, false);
    entries.push(
      entry(
        `sample(${kind})`,
        [fixed('model', () => m), { name: 'options', spec, base: () => ({ n: CHAINS, sampler: s.base() }) }],
        call,
        {
          state: () => modelState(m),
        },
      ),
      entry(
        `validateSamplerConfig(${kind})`,
        [{ name: 'sampler', spec: s.spec, base: s.base }],
        (c) => ebm.validateSamplerConfig(c),
        {
          validator: true,
        },
      ),
    );
  }
  const langevin = sampler('langevin');
  entries.push(
    entry(
      'sample(init)',
      [
        fixed('model', () => plain),
        {
          name: 'options',
          spec: sampleOptions(langevin.spec, noT, true),
          base: () => ({ init: grid(CHAINS, [2]), sampler: langevin.base() }),
        },
      ],
      call,
      { state: () => modelState(plain) },
    ),
    entry(
      'sample(time-conditioned)',
      [
        fixed('model', () => tc),
        {
          name: 'options',
          spec: sampleOptions(langevin.spec, tForTc, false),
          base: () => ({ n: CHAINS, t: 0.5, sampler: langevin.base() }),
        },
      ],
      call,
      { state: () => modelState(tc) },
    ),
    entry(
      'sample(model)',
      [
        { name: 'model', spec: model(), base: () => plain },
        fixed('options', () => ({ n: CHAINS, sampler: langevin.base() })),
      ],
      call,
    ),
  );
  return {
    cases: entries.flatMap((e) => casesOf(e, counter)),
    skipped: counter.skipped,
    probe: async () => {
      const a = await ebm.sample(plain, { n: CHAINS, seed: 3, sampler: { kind: 'mala', steps: 3, stepSize: 0.05 } });
      const b = await ebm.sample(tc, {
        n: CHAINS,
        seed: 4,
        sampler: { kind: 'annealed', steps: 2, stepSize: 0.01, levels: 2 },
      });
      return [a, b];
    },
  };
}
