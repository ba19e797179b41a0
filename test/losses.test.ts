import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import { hasTorchPython, runReference } from './python';
import { rng, skipUnless, totalNorm } from './helpers';

interface Case {
  name: string;
  model: ebm.MlpConfig;
  loss: ebm.LossConfig;
  binary?: boolean;
}

const plain: ebm.MlpConfig = { kind: 'mlp', inputDim: 2, hidden: [16, 16], activation: 'silu', device: 'cpu', seed: 1 };
const timed: ebm.MlpConfig = { ...plain, timeConditioned: true, timeEmbedDim: 8 };

const cases: Case[] = [
  { name: 'ED, Gaussian perturbation, w = 1', model: plain, loss: { kind: 'ed', t: 0.5, m: 8, w: 1 } },
  { name: 'ED, raw estimator (w = 0)', model: plain, loss: { kind: 'ed', t: 1, m: 4, w: 0 } },
  {
    name: 'ED, Bernoulli perturbation',
    model: { ...plain, inputDim: 6 },
    loss: { kind: 'ed', t: 1, m: 8, w: 1, perturbation: 'bernoulli', epsilon: 0.2 },
    binary: true,
  },
  { name: 'DSM, single sigma', model: plain, loss: { kind: 'dsm', sigma: 0.3 } },
  { name: 'DSM on the VP path, continuous time', model: timed, loss: { kind: 'dsm', path: 'vp' } },
  {
    name: 'DSM on the VE path, 16 levels, EDM weighting',
    model: timed,
    loss: { kind: 'dsm', path: 've', levels: 16, weighting: 'edm', sigmaData: 0.5 },
  },
  {
    name: 'DiffCLF, K = 4 of 16 levels, non-zero offsets',
    model: timed,
    // offsets of a few nats, distinct per level: sign or indexing mistakes change the loss
    loss: {
      kind: 'diffclf',
      path: 'vp',
      levels: 16,
      k: 4,
      clfWeight: 1,
      offsets: Array.from({ length: 16 }, (_, i) => 2 * Math.sin(1.7 * i)),
    },
  },
  {
    name: 'DiffCLF, bi-level (K = 2), weighted',
    model: timed,
    loss: { kind: 'diffclf', path: 've', levels: 8, k: 2, clfWeight: 0.5, dsmWeight: 2 },
  },
  { name: 'sliced score matching', model: plain, loss: { kind: 'ssm' } },
  { name: 'sliced score matching, 4 projections', model: plain, loss: { kind: 'ssm', projections: 4 } },
  {
    name: 'contrastive divergence with Langevin negatives',
    model: plain,
    loss: { kind: 'cd', alpha: 0.2, sampler: { kind: 'langevin', steps: 5, stepSize: 0.01 } },
  },
];

function batchFor(c: Case, n: number): ebm.Tensor {
  const d = c.model.inputDim;
  if (c.binary) {
    const r = rng(4);
    return ebm.tensor(
      Array.from({ length: n * d }, () => (r() < 0.5 ? 1 : 0)),
      [n, d],
    );
  }
  return ebm.datasets.toy('8gaussians', n, 2);
}

describe('losses', () => {
  for (const c of cases) {
    describe(c.name, () => {
      it('equals a direct PyTorch computation of its formula (same noise) to 1e-5', async function () {
        skipUnless(this, hasTorchPython(), '/usr/bin/python3 has no torch (apt-get install -y python3-torch)');
        const model = ebm.energyModel(c.model);
        const batch = batchFor(c, 16);
        const ours = await ebm.evaluateLoss(model, batch, c.loss, { seed: 3 });
        const params = await model.parameters();
        const wire = Object.fromEntries(
          Object.entries(params).map(([k, t]) => [k, { data: Array.from(t.data), shape: t.shape }]),
        );
        const ref = runReference<{ loss: number }>('losses.py', {
          model: c.model,
          params: wire,
          batch: { data: Array.from(batch.data), shape: batch.shape },
          loss: c.loss,
          seed: 3,
        });
        const tol = 1e-5 * Math.max(1, Math.abs(ref.loss));
        assert.ok(Math.abs(ours.loss - ref.loss) < tol, `native ${ours.loss} vs reference ${ref.loss}`);
        // a different seed draws different noise
        const other = await ebm.evaluateLoss(model, batch, c.loss, { seed: 4 });
        assert.notEqual(other.loss, ours.loss);
      });

      // Every loss but CD (through its alpha E^2 term) is blind to a constant shift of E, so the
      // output bias must get no gradient there, and every other tensor must get one.
      it('gives finite gradients that reach every parameter (but the shift-blind output bias)', async () => {
        const model = ebm.energyModel(c.model);
        const result = await ebm.evaluateLoss(model, batchFor(c, 32), c.loss, { seed: 5 });
        assert.ok(Number.isFinite(result.loss));
        const names = Object.keys(await model.parameters()).filter((k) => !k.endsWith('sn_u'));
        if (c.loss.kind === 'diffclf') names.push('diffclf.offsets');
        assert.deepEqual(Object.keys(result.gradNorms).sort(), names.sort());
        // both sides of the line are measured against the whole gradient, not in absolute terms
        const scale = totalNorm(result.gradNorms);
        for (const [name, norm] of Object.entries(result.gradNorms)) {
          assert.ok(Number.isFinite(norm), `gradient of ${name} is ${norm}`);
          if (name === 'out.bias' && c.loss.kind !== 'cd')
            assert.ok(norm < 1e-5 * scale, `out.bias gradient ${norm} (whole ${scale})`);
          else assert.ok(norm > 1e-4 * scale, `gradient of ${name} is ${norm} (whole ${scale})`);
        }
        for (const v of Object.values(result.metrics)) assert.ok(Number.isFinite(v));
      });
    });
  }

  it('evaluateLoss leaves the weights unchanged', async () => {
    const model = ebm.energyModel(plain);
    const x = ebm.datasets.toy('8gaussians', 8, 0);
    const before = await model.energy(x);
    await ebm.evaluateLoss(model, x, { kind: 'ed', t: 1, m: 4, w: 1 });
    assert.deepEqual(await model.energy(x), before);
  });
});
