import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import { relDiff, sameGradNorms, sameParameters, totalNorm } from './helpers';

// ED's hand-written loss head (native/core/losses/ed.cc: the loss and its gradient with respect
// to the energies in one node) against LibTorch's operations on the same energies, which
// EBM_TORCH_FUSED_LOSSES=0 selects: losses, gradients, metrics and an Adam run agree to 1e-5.

/** Runs `body` with ED built on LibTorch's operations (the variable is read when a loss is built). */
async function withReferenceOps<T>(body: () => Promise<T>): Promise<T> {
  process.env.EBM_TORCH_FUSED_LOSSES = '0';
  try {
    return await body();
  } finally {
    delete process.env.EBM_TORCH_FUSED_LOSSES;
  }
}

const mlp: ebm.MlpConfig = { kind: 'mlp', inputDim: 2, hidden: [32, 32], device: 'cpu', seed: 11 };
const data = ebm.datasets.toy('8gaussians', 512, 3);

const losses: { name: string; loss: ebm.LossConfig; points?: ebm.Tensor }[] = [
  { name: 'Gaussian, w = 1', loss: { kind: 'ed', t: 0.5, m: 8, w: 1 } },
  { name: 'Gaussian, w = 0 (no w entry)', loss: { kind: 'ed', t: 1, m: 16, w: 0 } },
  {
    name: 'Bernoulli, w = 0.5',
    loss: { kind: 'ed', t: 1, m: 4, w: 0.5, perturbation: 'bernoulli', epsilon: 0.2 },
    // binary data for bit flips
    points: ebm.tensor(
      Array.from({ length: 256 * 6 }, (_, i) => ((i * 7919) % 3 === 0 ? 1 : 0)),
      [256, 6],
    ),
  },
];

describe('ED loss head against LibTorch operations', () => {
  for (const { name, loss, points } of losses) {
    it(`${name}: loss, metrics and gradients of one batch agree`, async () => {
      const x = points ?? data;
      const model = ebm.energyModel({ ...mlp, inputDim: x.shape[1] });
      const head = await ebm.evaluateLoss(model, x, loss, { seed: 5 });
      const ops = await withReferenceOps(() => ebm.evaluateLoss(model, x, loss, { seed: 5 }));
      assert.deepEqual([head.onePassLossHead, ops.onePassLossHead], [true, false]);
      assert.ok(Math.abs(head.loss - ops.loss) < 1e-5 * Math.max(1, Math.abs(ops.loss)), `${head.loss} vs ${ops.loss}`);
      for (const key of ['energyPos', 'energyNeg', 'gap'])
        assert.ok(Math.abs(head.metrics[key] - ops.metrics[key]) < 1e-5, key);
      // every tensor to 1e-5 of the whole gradient; the read-out bias, zero but for rounding (ED
      // ignores a constant energy shift), is held to the same scale
      sameGradNorms(head.gradNorms, ops.gradNorms, 1e-5);
      const scale = totalNorm(ops.gradNorms);
      for (const [key, g] of Object.entries(ops.gradNorms))
        if (key !== 'out.bias') assert.ok(g > 1e-3 * scale, `${key} has a gradient`);
      assert.ok(head.gradNorms['out.bias'] < 1e-5 * scale, `out.bias: ${head.gradNorms['out.bias']} (whole ${scale})`);
    });
  }

  it('an Adam run on the head ends where one on LibTorch operations does', async () => {
    const loss: ebm.LossConfig = { kind: 'ed', t: 1, m: 16, w: 1 };
    const train = (model: ebm.EnergyModel) =>
      ebm.train(model, data, { loss, batchSize: 128, steps: 40, logEvery: 10, optimizer: { kind: 'adam', lr: 1e-3 } });
    const [a, b] = [ebm.energyModel(mlp), ebm.energyModel(mlp)];
    const ra = await train(a);
    const rb = await withReferenceOps(() => train(b));
    assert.ok(
      relDiff(
        ra.history.map((h) => h.loss),
        rb.history.map((h) => h.loss),
      ) < 1e-5,
    );
    // the comparison is between two different computations
    assert.deepEqual([ra.onePassLossHead, rb.onePassLossHead], [true, false]);
    // out.bias: a gauge (see above) whose rounding noise Adam scales up, as in fused-adam.test.ts
    await sameParameters(a, b, 1e-5, ['out.bias']);
  });
});
