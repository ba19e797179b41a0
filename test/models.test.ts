import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as ebm from '../lib';
import { maxAbsDiff, randn, rng, tmpDir } from './helpers';

function images(n: number, seed: number): ebm.Tensor {
  const r = rng(seed);
  return ebm.tensor(
    Array.from({ length: n * 28 * 28 }, () => randn(r)),
    [n, 1, 28, 28],
  );
}

describe('convolutional energy', () => {
  const cfg: ebm.ConvNetConfig = { kind: 'convnet', inputShape: [1, 28, 28], channels: [8, 16], device: 'cpu' };

  it('gives one energy per image and a score of the image shape', async () => {
    const model = ebm.energyModel(cfg);
    assert.deepEqual(model.inputShape, [1, 28, 28]);
    const x = images(3, 1);
    const e = await model.energy(x);
    assert.equal(e.length, 3);
    assert.ok(e.every(Number.isFinite));
    const s = await model.score(x);
    assert.deepEqual(s.shape, [3, 1, 28, 28]);
    await assert.rejects(model.energy(ebm.tensor(new Float32Array(2 * 784), [2, 784])), ebm.EbmShapeError);
  });

  it('trains with ED on images, gradients reach every layer, and round-trips a checkpoint', async () => {
    const model = ebm.energyModel(cfg);
    const batch = images(8, 2);
    const ev = await ebm.evaluateLoss(model, batch, { kind: 'ed', t: 0.25, m: 4, w: 1 });
    for (const [name, norm] of Object.entries(ev.gradNorms)) {
      if (name !== 'out.bias') assert.ok(norm > 0 && Number.isFinite(norm), `${name}: ${norm}`);
    }
    const run = await ebm.train(model, images(64, 3), {
      loss: { kind: 'ed', t: 0.25, m: 4, w: 1 },
      batchSize: 16,
      steps: 8,
      logEvery: 4,
    });
    assert.ok(run.history.every((h) => Number.isFinite(h.loss)));
    const file = path.join(tmpDir(), 'conv.safetensors');
    await model.save(file);
    const loaded = await ebm.loadModel(file);
    assert.deepEqual(await loaded.energy(batch), await model.energy(batch));
  });

  it('rejects too many stages for the image size', () => {
    assert.throws(() => ebm.energyModel({ ...cfg, inputShape: [1, 4, 4], channels: [4, 4, 4, 4] }), /too many stages/);
  });
});

describe('spectral normalisation', () => {
  it('makes the energy invariant to rescaling a hidden weight matrix', async () => {
    const x = ebm.datasets.toy('moons', 16, 0);
    for (const spectralNorm of [true, false]) {
      const model = ebm.energyModel({
        kind: 'mlp',
        inputDim: 2,
        hidden: [16, 16],
        spectralNorm,
        device: 'cpu',
        seed: 4,
      });
      const before = await model.energy(x);
      const w = (await model.parameters())['layers.1.weight'];
      await model.setParameters({ 'layers.1.weight': { data: w.data.map((v) => 3 * v), shape: w.shape } });
      const after = await model.energy(x);
      if (spectralNorm) assert.ok(maxAbsDiff(before, after) < 1e-5, 'W / sigma(W) ignores the scale of W');
      else assert.ok(maxAbsDiff(before, after) > 1e-3, 'without it the scale matters');
    }
  });

  it('updates its power-iteration vectors only while training', async () => {
    const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [16], spectralNorm: true, device: 'cpu' });
    const u0 = (await model.parameters())['layers.0.sn_u'].data.slice();
    await model.energy(ebm.datasets.toy('moons', 4, 0));
    assert.deepEqual((await model.parameters())['layers.0.sn_u'].data, u0);
    await ebm.train(model, ebm.datasets.toy('moons', 64, 0), {
      loss: { kind: 'ed', t: 1, m: 4, w: 1 },
      batchSize: 16,
      steps: 3,
    });
    assert.notDeepEqual((await model.parameters())['layers.0.sn_u'].data, u0);
  });
});

describe('analytic energies and compositions', () => {
  it('the Gaussian energy is exactly −log N(x; μ, Σ)', async () => {
    const g = ebm.energyModel({
      kind: 'gaussian',
      mean: [1, 2],
      cov: [
        [2, 0.5],
        [0.5, 1],
      ],
      device: 'cpu',
    });
    const e = await g.energy(ebm.tensor([0, 0], [1, 2]));
    // det = 1.75, Σ⁻¹ = [[1, -0.5], [-0.5, 2]] / 1.75; z = (-1, -2)
    const quad = (1 * 1 + 2 * -0.5 * (-1 * -2) + 2 * 4) / 1.75;
    const expected = 0.5 * quad + 0.5 * Math.log((2 * Math.PI) ** 2 * 1.75);
    assert.ok(Math.abs(e[0] - expected) < 1e-5, `${e[0]} vs ${expected}`);
  });

  it('the mixture energy normalises to 1 on a grid (grid NLL equals the true NLL)', async () => {
    const m = ebm.datasets.toyMixture('8gaussians');
    const gmm = ebm.energyModel({
      kind: 'gmm',
      means: m.means,
      stds: m.means.map(() => m.std),
      weights: m.weights,
      device: 'cpu',
    });
    const test = ebm.datasets.toy('8gaussians', 2000, 5);
    const nll = await ebm.metrics.gridNll(gmm, test, { lo: -5, hi: 5, resolution: 400 });
    const lp = ebm.datasets.toyLogDensity(m, test);
    const trueNll = -lp.reduce((s, v) => s + v, 0) / lp.length;
    assert.ok(Math.abs(nll - trueNll) < 1e-3, `${nll} vs ${trueNll}`);
  });

  it('compositions save and load, and cannot be trained', async () => {
    const a = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu', seed: 1 });
    const b = ebm.energyModel({ kind: 'gaussian', mean: [0, 0], std: 2, device: 'cpu' });
    const c = ebm.compose([
      { model: a, weight: 0.5 },
      { model: b, weight: 2 },
    ]);
    const x = ebm.tensor([0.1, 0.2, -1, 1], [2, 2]);
    const [ea, eb, ec] = [await a.energy(x), await b.energy(x), await c.energy(x)];
    ec.forEach((v, i) => assert.ok(Math.abs(v - (0.5 * ea[i] + 2 * eb[i])) < 1e-5));
    const file = path.join(tmpDir(), 'poe.safetensors');
    await c.save(file);
    const loaded = await ebm.loadModel(file);
    assert.equal(loaded.config.kind, 'compose');
    assert.ok(maxAbsDiff(await loaded.energy(x), ec) < 1e-6);
    await assert.rejects(
      ebm.train(c, ebm.datasets.toy('moons', 32, 0), {
        loss: { kind: 'ed', t: 1, m: 2, w: 1 },
        batchSize: 8,
        steps: 1,
      }),
      /no trainable parameters/,
    );
    assert.throws(
      () => ebm.compose([{ model: a }, { model: ebm.energyModel({ kind: 'gaussian', mean: [0], device: 'cpu' }) }]),
      ebm.EbmShapeError,
    );
  });
});
