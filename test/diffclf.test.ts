import { strict as assert } from 'node:assert';
import * as ebm from '../lib';

// METHODS.md §3: on a two-mode mixture (weights 2/3 : 1/3, modes 16 sigma apart, VP path, 64
// levels) DSM alone drifts to the wrong weights; fine-tuning with DSM + CLF pins them back.
// The learned weight is read off exp(-E(x, t = 1e-3)) normalised on a grid.
async function leftWeight(model: ebm.EnergyModel, t: number): Promise<number> {
  const { points } = ebm.metrics.gridPoints({ lo: -4, hi: 4, resolution: 200 });
  const e = await model.energy(points, t);
  let min = Infinity;
  for (const v of e) min = Math.min(min, v);
  let left = 0;
  let total = 0;
  for (let i = 0; i < e.length; i++) {
    const p = Math.exp(-(e[i] - min));
    total += p;
    if (points.data[2 * i] < 0) left += p;
  }
  return left / total;
}

describe('DiffCLF fixes the mode weights DSM gets wrong', function () {
  this.timeout(600000);
  const w1 = 2 / 3;
  const mixture = new ebm.datasets.GaussianMixture({
    means: [
      [-2, 0],
      [2, 0],
    ],
    stds: [0.25, 0.25],
    weights: [w1, 1 - w1],
  });
  const data = mixture.sample(8192, 0);
  const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [128, 128], timeConditioned: true, device: 'cpu' });
  const common = { optimizer: { kind: 'adam', lr: 1e-3 } as ebm.OptimizerConfig, batchSize: 256, logEvery: 500 };
  let dsmError = NaN;

  it('DSM alone (5000 steps) puts the weight far from 2/3', async () => {
    await ebm.train(model, data, { ...common, loss: { kind: 'dsm', path: 'vp', levels: 64 }, steps: 5000, seed: 0 });
    const w = await leftWeight(model, 1e-3);
    dsmError = Math.abs(w - w1);
    console.log(`      DSM only: w1 = ${w.toFixed(3)} (true ${w1.toFixed(3)}, error ${dsmError.toFixed(3)})`);
    assert.ok(dsmError > 0.2, `DSM error ${dsmError}`);
  });

  it('then DSM + CLF (K = 4, 1000 steps) brings it within 0.1', async () => {
    const run = await ebm.train(model, data, {
      ...common,
      loss: { kind: 'diffclf', path: 'vp', levels: 64, k: 4, clfWeight: 1 },
      steps: 1000,
      seed: 1,
    });
    const w = await leftWeight(model, 1e-3);
    const error = Math.abs(w - w1);
    const last = run.history[run.history.length - 1];
    console.log(
      `      DSM + CLF: w1 = ${w.toFixed(3)} (error ${error.toFixed(3)}), CLF accuracy ${last.clfAccuracy.toFixed(3)} (chance 0.25)`,
    );
    assert.ok(error < 0.1, `DSM + CLF error ${error}`);
    assert.ok(error < dsmError / 2);
    assert.ok(last.clfAccuracy > 0.3);
  });
});
