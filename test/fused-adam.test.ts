import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as ebm from '../lib';
import { relDiff, sameParameters, tmpDir } from './helpers';

// The one-pass Adam and AdamW (native/core/train/optimizer.cc) against LibTorch's own step
// (optimizer.fused: false) from the same weights and data: the weights after a run agree to 1e-5,
// with weight decay, a second parameter group (DiffCLF's offsets, their own learning rate) and a
// cosine schedule; and the two keep the same state, so a checkpoint of one resumes in the other.
// Not the read-out bias: ED and DiffCLF do not change when the energy shifts by a constant, so its
// gradient is rounding noise (about 1e-9), which Adam scales up to steps of lr / 10; the two paths
// round differently and their biases part (by 5e-4 to 5e-3 here) while every other weight agrees to 5e-7.
const GAUGE = ['out.bias'];

const data = ebm.datasets.toy('8gaussians', 1024, 0);
const mlp = (timeConditioned = false) =>
  ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [32, 32], timeConditioned, device: 'cpu', seed: 5 });

async function bothWays(
  optimizer: ebm.OptimizerConfig,
  loss: ebm.LossConfig,
  extra: Partial<ebm.TrainConfig> = {},
): Promise<[ebm.EnergyModel, ebm.EnergyModel, number[], number[]]> {
  const timeConditioned = loss.kind === 'diffclf';
  const runs = [];
  const models = [];
  const paths = [];
  for (const fused of [true, false]) {
    const model = mlp(timeConditioned);
    const run = await ebm.train(model, data, {
      loss,
      optimizer: { ...optimizer, fused } as ebm.OptimizerConfig,
      batchSize: 64,
      steps: 120,
      logEvery: 40,
      seed: 1,
      ...extra,
    });
    models.push(model);
    runs.push(run.history.map((h) => h.loss));
    paths.push(run.onePassOptimizer);
  }
  // the comparison is between two different steps
  assert.deepEqual(paths, [true, false]);
  return [models[0], models[1], runs[0], runs[1]];
}

describe('fused Adam and AdamW (optimizer.fused)', function () {
  this.timeout(120000);

  it('Adam with L2 weight decay and a large ε: the same weights as LibTorch after 120 steps', async () => {
    const [a, b, la, lb] = await bothWays(
      { kind: 'adam', lr: 3e-3, weightDecay: 0.01, eps: 1e-3 },
      { kind: 'ed', t: 0.5, m: 4, w: 1 },
    );
    await sameParameters(a, b, 1e-5, GAUGE);
    assert.ok(relDiff(la, lb) < 1e-5, `losses ${la} vs ${lb}`);
    // it trained: the weights moved from the start
    assert.ok(
      relDiff((await a.parameters())['layers.0.weight'].data, (await mlp().parameters())['layers.0.weight'].data) >
        1e-2,
    );
  });

  it('AdamW (decoupled decay) with a cosine schedule: the same weights as LibTorch', async () => {
    const [a, b] = await bothWays(
      { kind: 'adamw', lr: 3e-3, weightDecay: 0.1, betas: [0.8, 0.99] },
      { kind: 'ed', t: 0.5, m: 4, w: 1 },
      { schedule: { kind: 'cosine', warmupSteps: 10 } },
    );
    await sameParameters(a, b, 1e-5, GAUGE);
  });

  it("DiffCLF's offsets in their own parameter group, at their own rate: the same weights and losses as LibTorch", async () => {
    const [a, b, la, lb] = await bothWays(
      { kind: 'adam', lr: 1e-3 },
      { kind: 'diffclf', path: 'vp', levels: 16, k: 4, clfWeight: 1, offsetLr: 1e-2 },
    );
    await sameParameters(a, b, 1e-5, GAUGE);
    assert.ok(relDiff(la, lb) < 1e-5);
  });

  it('a checkpoint of the fused optimiser resumes in LibTorch’s, and the run ends where one run does', async () => {
    const dir = tmpDir();
    const ckpt = path.join(dir, 'half.safetensors');
    const options = {
      loss: { kind: 'ed', t: 0.5, m: 4, w: 1 } as ebm.LossConfig,
      batchSize: 64,
      seed: 2,
      logEvery: 20,
    };
    const whole = mlp();
    await ebm.train(whole, data, { ...options, optimizer: { kind: 'adam', lr: 3e-3 }, steps: 80 });
    const first = mlp();
    await ebm.train(first, data, {
      ...options,
      optimizer: { kind: 'adam', lr: 3e-3, fused: true },
      steps: 40,
      checkpoint: { path: ckpt },
    });
    const second = mlp();
    await ebm.train(second, data, {
      ...options,
      optimizer: { kind: 'adam', lr: 3e-3, fused: false },
      steps: 80,
      resumeFrom: ckpt,
    });
    await sameParameters(second, whole, 1e-5, GAUGE);
  });
});
