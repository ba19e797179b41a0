import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import { rejectsWith } from './helpers';

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

  // Both tests start from the DSM-trained model, so either can run alone.
  before(async () => {
    await ebm.train(model, data, { ...common, loss: { kind: 'dsm', path: 'vp', levels: 64 }, steps: 5000, seed: 0 });
    const w = await leftWeight(model, 1e-3);
    dsmError = Math.abs(w - w1);
    console.log(`      DSM only: w1 = ${w.toFixed(3)} (true ${w1.toFixed(3)}, error ${dsmError.toFixed(3)})`);
  });

  it('DSM alone (5000 steps) puts the weight far from 2/3', () => {
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
    const clfAccuracy = run.history[run.history.length - 1].clfAccuracy ?? NaN;
    console.log(
      `      DSM + CLF: w1 = ${w.toFixed(3)} (error ${error.toFixed(3)}), CLF accuracy ${clfAccuracy.toFixed(3)} (chance 0.25)`,
    );
    assert.ok(error < 0.1, `DSM + CLF error ${error}`);
    assert.ok(error < dsmError / 2);
    assert.ok(clfAccuracy > 0.3);

    // Between training levels the energy must stay as good as on them (the time embedding's top
    // frequency bounds how much it can turn between levels): t = 0.01 lies between the grid's
    // first two levels, 0.001 and 0.0169. With the former top frequency of 1000 this R² was −0.17 and
    // −0.92 (seeds 0 and 1) while the level next to it had 0.95 / 0.93; with 64, 0.96 / 0.93 off the grid.
    const r2At = async (t: number): Promise<number> => {
      const at = { path: 'vp' as const, t };
      const x = mixture.sample(4000, 7, at);
      const e = await model.energy(x, t);
      return ebm.metrics.r2UpToConstant(
        Array.from(e, (v) => -v),
        mixture.logDensity(x, at),
      );
    };
    const offGrid = await r2At(0.01);
    const onGrid = await r2At(0.001 + 0.999 / 63);
    console.log(
      `      R² of -E against log p_t: t = 0.01 (between levels) ${offGrid.toFixed(3)}, level t = 0.0169 ${onGrid.toFixed(3)}`,
    );
    assert.ok(offGrid >= 0.9, `R² at t = 0.01: ${offGrid}`);
  });
});

describe('DiffCLF offsets', () => {
  const levels = 8;
  const model = (): ebm.EnergyModel =>
    ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [16], timeConditioned: true, timeEmbedDim: 8, device: 'cpu' });
  const data = ebm.datasets.toy('8gaussians', 256, 0);
  const start = [0.5, -1, 2, 0.25, -0.75, 1.5, -2, 3];

  it('start from given values and are re-centred by subtracting the last one from all', async () => {
    // One SGD step of rate 1e-4 under the default gradient clip of 1 moves each offset by at most
    // 1e-4, so after the step f must equal start - start[L - 1] to that precision; a re-centring
    // that only zeroed the last entry would leave the others about 3 away.
    const run = await ebm.train(model(), data, {
      loss: { kind: 'diffclf', path: 'vp', levels, k: 4, clfWeight: 1, offsets: start },
      optimizer: { kind: 'sgd', lr: 1e-4 },
      batchSize: 64,
      steps: 1,
      seed: 0,
    });
    const f = run.lossParameters['diffclf.offsets'].data;
    assert.equal(f.length, levels);
    assert.equal(f[levels - 1], 0);
    for (let i = 0; i < levels; i++) {
      assert.ok(Math.abs(f[i] - (start[i] - start[levels - 1])) < 2e-4, `f[${i}] = ${f[i]}`);
    }
  });

  it('reject a wrong length or a non-finite value', async () => {
    for (const offsets of [
      [1, 2, 3],
      [...start.slice(0, 7), NaN],
    ]) {
      const running = ebm.train(model(), data, {
        loss: { kind: 'diffclf', path: 'vp', levels, k: 4, clfWeight: 1, offsets },
        optimizer: { kind: 'adam', lr: 1e-3 },
        batchSize: 64,
        steps: 1,
      });
      await rejectsWith(running, ebm.EbmConfigError, /loss\.offsets/);
    }
  });
});
