import { strict as assert } from 'node:assert';
import * as ebm from '../lib';

// ED paper, Fig. 1 (METHODS.md §6): data w N(−5, 1) + (1 − w) N(5, 1). ED with a large t sees
// across the gap and learns w; DSM with a small sigma only sees local slopes and is blind to it.
async function learnedLeftWeight(model: ebm.EnergyModel): Promise<number> {
  const n = 2401;
  const xs = Float32Array.from({ length: n }, (_, i) => -12 + (24 * i) / (n - 1));
  const e = await model.energy({ data: xs, shape: [n, 1] });
  let min = Infinity;
  for (const v of e) min = Math.min(min, v);
  let left = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.exp(-(e[i] - min));
    total += p;
    if (xs[i] < 0) left += p;
  }
  return left / total;
}

describe('mode weights (1D, w = 0.2): ED learns them, DSM does not', function () {
  this.timeout(300000);
  const w = 0.2;
  const mixture = new ebm.datasets.GaussianMixture({ means: [[-5], [5]], stds: [1, 1], weights: [w, 1 - w] });
  const data = mixture.sample(4096, 0);
  const train = async (loss: ebm.LossConfig) => {
    const model = ebm.energyModel({ kind: 'mlp', inputDim: 1, hidden: [64, 64], device: 'cpu', seed: 0 });
    await ebm.train(model, data, {
      loss,
      optimizer: { kind: 'adam', lr: 3e-4 },
      batchSize: 128,
      steps: 6000,
      seed: 0,
      logEvery: 500,
    });
    return learnedLeftWeight(model);
  };

  let edWeight = NaN;
  let dsmWeight = NaN;
  it('ED (t = 8, M = 4) learns the weight within 0.05', async () => {
    edWeight = await train({ kind: 'ed', t: 8, m: 4, w: 1 });
    console.log(`      ED learned w = ${edWeight.toFixed(3)} (true ${w})`);
    assert.ok(Math.abs(edWeight - w) < 0.05, `ED weight ${edWeight}`);
  });

  it('DSM (sigma = 0.1) is off by more than 0.15', async () => {
    dsmWeight = await train({ kind: 'dsm', sigma: 0.1 });
    console.log(`      DSM learned w = ${dsmWeight.toFixed(3)} (true ${w})`);
    assert.ok(Math.abs(dsmWeight - w) > 0.15, `DSM weight ${dsmWeight} should be wrong`);
  });
});
