/** The TS kind unions, the native registry tables and the traits each kind declares agree. */
import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import { optionDefaults } from '../lib/schema/defaults';
import { randn, rng } from './helpers';

describe('kinds: TypeScript and the native registries agree', () => {
  const native = ebm.kinds();
  it('losses', () => assert.deepEqual([...native.losses].sort(), [...ebm.lossKinds].sort()));
  it('samplers', () => assert.deepEqual([...native.samplers].sort(), [...ebm.samplerKinds].sort()));
  it('models (compose and latent are built by ebm.compose and ebm.latentEbm)', () =>
    assert.deepEqual([...native.models].sort(), [...ebm.modelKinds, 'compose', 'latent'].sort()));
});

describe('kinds: the traits each kind declares', () => {
  const traits = ebm.kindTraits();
  it('every loss and sampler kind has traits, and no other', () => {
    assert.deepEqual(Object.keys(traits.loss).sort(), [...ebm.lossKinds].sort());
    assert.deepEqual(Object.keys(traits.sampler).sort(), [...ebm.samplerKinds].sort());
  });

  it('samplers: time handling, total steps and options', () => {
    for (const [kind, t] of Object.entries(traits.sampler)) {
      assert.ok(t.options.includes('steps') && t.options.includes('stepSize'), kind);
      assert.equal(
        t.time !== 'fixed',
        t.options.includes('levels'),
        `${kind}: samplers on a path of their own have levels`,
      );
    }
    assert.equal(traits.sampler.annealed?.time, 'levels');
    assert.equal(traits.sampler.annealed?.stepsPer, 'levels');
    assert.equal(traits.sampler.langevin?.time, 'fixed');
    assert.ok(traits.sampler.hmc?.options.includes('leapfrogSteps'));
    assert.ok(!traits.sampler.mala?.options.includes('leapfrogSteps'));
  });

  it("samplers: every option a kind declares is one its schema accepts (and the schema's are declared)", () => {
    const d = JSON.parse(JSON.stringify(optionDefaults().sampler)) as Record<string, Record<string, unknown>>;
    for (const [kind, t] of Object.entries(traits.sampler)) {
      for (const key of Object.keys(d[kind] ?? {})) assert.ok(t.options.includes(key), `${kind}.${key}`);
      const config: Record<string, unknown> = { kind, steps: 2, stepSize: 0.1 };
      for (const key of t.options) if (!(key in config) && d[kind]?.[key] !== undefined) config[key] = d[kind][key];
      assert.doesNotThrow(() => ebm.validateSamplerConfig(config), kind);
    }
  });

  it('losses: what they need from the model and the data', () => {
    assert.equal(traits.loss.ed?.timeConditioned, false);
    assert.equal(traits.loss.diffclf?.timeConditioned, true);
    assert.equal(traits.loss.dsm?.timeConditioned, 'withPath');
    assert.equal(traits.loss.ce?.labels, true);
    assert.equal(traits.loss.ce?.model, 'classifier');
    assert.deepEqual(
      Object.entries(traits.loss)
        .filter(([, t]) => t.latentPrior)
        .map(([k]) => k)
        .sort(),
      ['cd', 'ed'],
    );
  });

  it('the LossMetric union lists exactly the metric names the losses declare', () => {
    // a Record over the union: the compiler rejects a missing or an extra name
    const union: Record<ebm.LossMetric, true> = {
      energyPos: true,
      energyNeg: true,
      gap: true,
      acceptRate: true,
      accuracy: true,
      dsm: true,
      clf: true,
      clfAccuracy: true,
      scoreNorm: true,
    };
    const declared = new Set(Object.values(traits.loss).flatMap((t) => t.metrics));
    assert.deepEqual(Object.keys(union).sort(), [...declared].sort());
  });

  it("each loss's steps report only the metrics its kind declares", async function () {
    this.timeout(30000);
    const r = rng(3);
    const x = ebm.tensor(
      Float32Array.from({ length: 64 * 2 }, () => randn(r)),
      [64, 2],
    );
    const plain = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [16], seed: 1, device: 'cpu' });
    const timed = ebm.energyModel({
      kind: 'mlp',
      inputDim: 2,
      hidden: [16],
      timeConditioned: true,
      seed: 1,
      device: 'cpu',
    });
    const losses: [ebm.LossConfig, ebm.EnergyModel][] = [
      [{ kind: 'ed', t: 1, m: 4, w: 1 }, plain],
      [{ kind: 'dsm', sigma: 0.1 }, plain],
      [{ kind: 'dsm', path: 'vp' }, timed],
      [{ kind: 'diffclf', path: 'vp', levels: 8, k: 4, clfWeight: 1 }, timed],
      [{ kind: 'cd', sampler: { kind: 'mala', steps: 3, stepSize: 0.01 } }, plain],
      [{ kind: 'ssm' }, plain],
    ];
    const seen = new Set<string>();
    for (const [loss, model] of losses) {
      const e = await ebm.evaluateLoss(model, x, loss, { seed: 1 });
      const declared = traits.loss[loss.kind]?.metrics ?? [];
      for (const name of Object.keys(e.metrics)) {
        assert.ok(declared.includes(name), `${loss.kind}: ${name}`);
        seen.add(name);
      }
    }
    // and what they declare is reported ('ce' needs labels, which evaluateLoss does not take)
    const declared = Object.entries(traits.loss).flatMap(([k, t]) => (k === 'ce' ? [] : t.metrics));
    for (const name of declared) assert.ok(seen.has(name), name);
  });
});
