import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as ebm from '../lib';
import { maxAbsDiff, randn, rejectsWith, rng, tmpDir } from './helpers';

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

describe('the double-well energy', () => {
  // E = barrier (x₀² − 1)² + ½ |x₁:|² (analytic.cc, DoubleWellConfig); −∇E = (−4 b x₀ (x₀² − 1), −x₁, −x₂, ...)
  const energyOf = (b: number, x: number[]) =>
    b * (x[0] * x[0] - 1) ** 2 + 0.5 * x.slice(1).reduce((s, v) => s + v * v, 0);
  const scoreOf = (b: number, x: number[]) => [-4 * b * x[0] * (x[0] * x[0] - 1), ...x.slice(1).map((v) => -v)];

  it('matches its closed form and its analytic score (dim 3, barrier 2.5; and the defaults)', async () => {
    const points = [
      [0, 0, 0],
      [1, 0, 0],
      [-1, 2, -3],
      [0.5, -0.25, 1.5],
      [1.7, 0.3, 0.1],
      [-2.2, -1, 0.4],
    ];
    const dw = ebm.energyModel({ kind: 'doublewell', dim: 3, barrier: 2.5, device: 'cpu' });
    assert.deepEqual(dw.inputShape, [3]);
    const x = ebm.tensor(points.flat(), [points.length, 3]);
    const e = await dw.energy(x);
    const s = await dw.score(x);
    assert.deepEqual(s.shape, [points.length, 3]);
    points.forEach((p, i) => {
      // measured: exact to float32 (e.g. 2.5 at the barrier top, 0 in the wells, 6.5 at (−1, 2, −3))
      const ee = energyOf(2.5, p);
      assert.ok(Math.abs(e[i] - ee) < 1e-5 * Math.max(1, Math.abs(ee)), `E(${p}) = ${e[i]}, closed form ${ee}`);
      scoreOf(2.5, p).forEach((v, j) =>
        assert.ok(
          Math.abs(s.data[3 * i + j] - v) < 1e-5 * Math.max(1, Math.abs(v)),
          `score(${p})[${j}] = ${s.data[3 * i + j]}, analytic ${v}`,
        ),
      );
    });
    // the wells at x₀ = ±1 are minima: zero score there, and E is even in every coordinate
    assert.ok(maxAbsDiff(s.data.subarray(3, 6), [0, 0, 0]) < 1e-6);
    const mirrored = await dw.energy(
      ebm.tensor(
        points.flat().map((v) => -v),
        [points.length, 3],
      ),
    );
    assert.ok(maxAbsDiff(mirrored, e) < 1e-5);
    // defaults: dim 1, barrier 1
    const d1 = ebm.energyModel({ kind: 'doublewell', device: 'cpu' });
    assert.deepEqual(d1.inputShape, [1]);
    const e1 = await d1.energy(ebm.tensor([0, 1, 2, -0.5], [4, 1]));
    assert.ok(maxAbsDiff(e1, [1, 0, 9, 0.5625]) < 1e-6, `defaults: ${e1}`);
    const s1 = await d1.score(ebm.tensor([2, -0.5], [2, 1]));
    assert.ok(maxAbsDiff(s1.data, [-24, -1.5]) < 1e-5, `default score ${s1.data}`);
  });
});

describe('the parameter budget (2^30 parameters)', () => {
  it('rejects an MLP with hidden [65536, 65536] at once, without allocating it, and later models still work', async () => {
    // layers.1.weight alone is 65536² ≈ 4.3e9 floats (17 GB): it must be refused before torch::rand.
    // Measured (addon already loaded): throws in ~30 ms; peak RSS grows by < 2 MB.
    const rss0 = process.resourceUsage().maxRSS;
    const t0 = performance.now();
    const err = await rejectsWith(
      () => ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [65536, 65536], device: 'cpu' }),
      ebm.EbmConfigError,
      /parameters/,
    );
    const ms = performance.now() - t0;
    const grownMb = (process.resourceUsage().maxRSS - rss0) / 1024;
    assert.match(err.message, /more than 1073741824 parameters; reduce its widths/);
    assert.ok(ms < 2000, `took ${ms} ms`);
    assert.ok(grownMb < 256, `peak RSS grew by ${grownMb} MB`);
    const ok = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [16, 16], device: 'cpu' });
    const e = await ok.energy(ebm.tensor([0.1, 0.2, -0.3, 0.4], [2, 2]));
    assert.ok(e.length === 2 && e.every(Number.isFinite));
  });

  it('rejects a convnet whose read-out would be too large ([64, 4096, 4096] images, 512 channels)', async () => {
    // The TS check allows inputShape up to [64, 4096, 4096] and 4096 channels; here the convolutions
    // are small (4.5M) but out.weight needs 512 · 2048² ≈ 2.1e9. Measured: ~70 ms, RSS +0.
    const rss0 = process.resourceUsage().maxRSS;
    const t0 = performance.now();
    const err = await rejectsWith(
      () => ebm.energyModel({ kind: 'convnet', inputShape: [64, 4096, 4096], channels: [512], device: 'cpu' }),
      ebm.EbmConfigError,
      /parameters/,
    );
    assert.match(err.message, /more than 1073741824 parameters/);
    assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms`);
    assert.ok((process.resourceUsage().maxRSS - rss0) / 1024 < 256);
    const ok = ebm.energyModel({ kind: 'convnet', inputShape: [1, 8, 8], channels: [4], device: 'cpu' });
    assert.equal((await ok.energy(ebm.tensor(new Float32Array(64), [1, 1, 8, 8]))).length, 1);
  });

  // A total over the budget whose every single tensor fits: the convnet's 4×4 conv is
  // 4096² · 16 ≈ 2.7e8 floats before out.weight (4096 · 2048²) overflows; the MLP has five layers
  // of 16384² ≈ 2.7e8. Before the plan was computed up front these took 6.8 s / +3.2 GB and
  // 18.8 s / +5.3 GB before refusing.
  it('rejects a config whose total (not any single tensor) exceeds the budget before allocating', async () => {
    const rss0 = process.resourceUsage().maxRSS;
    const t0 = performance.now();
    await rejectsWith(
      () => ebm.energyModel({ kind: 'convnet', inputShape: [3, 4096, 4096], channels: [4096], device: 'cpu' }),
      ebm.EbmConfigError,
      /parameters/,
    );
    await rejectsWith(
      () => ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [16384, 16384, 16384, 16384, 16384], device: 'cpu' }),
      ebm.EbmConfigError,
      /parameters/,
    );
    assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms`);
    assert.ok((process.resourceUsage().maxRSS - rss0) / 1024 < 256, 'allocated before refusing');
  });
});

describe('the mixture energy used by samplers', () => {
  it('its energy and score (two matrix products) match the direct float64 formula, with unequal stds per coordinate', async () => {
    const r = rng(11);
    const d = 16;
    const k = 12;
    const means = Array.from({ length: k }, () => Array.from({ length: d }, () => 4 * r() - 2));
    const stds = Array.from({ length: k }, () => Array.from({ length: d }, () => 0.3 + r()));
    const raw = Array.from({ length: k }, () => 0.5 + r());
    const total = raw.reduce((a, b) => a + b, 0);
    const weights = raw.map((w) => w / total);
    const gmm = ebm.energyModel({ kind: 'gmm', means, stds, weights, device: 'cpu' });
    const n = 64;
    const x = Float32Array.from({ length: n * d }, () => 2 * randn(r));
    const score = await gmm.score(ebm.tensor(x, [n, d]));
    const energy = await gmm.energy(ebm.tensor(x, [n, d]));
    let worstScore = 0;
    let worstEnergy = 0;
    for (let i = 0; i < n; i++) {
      // log N_k(x) in float64, responsibilities, E and −∇E = −Σ_k r_k (x − μ_k) / σ_k²
      const logs = means.map((mu, c) => {
        let s = Math.log(weights[c] as number);
        for (let j = 0; j < d; j++) {
          const sd = (stds[c] as number[])[j] as number;
          s -= 0.5 * (((x[i * d + j] as number) - (mu[j] as number)) / sd) ** 2 + Math.log(sd * Math.sqrt(2 * Math.PI));
        }
        return s;
      });
      const top = Math.max(...logs);
      const lse = top + Math.log(logs.reduce((a, v) => a + Math.exp(v - top), 0));
      worstEnergy = Math.max(worstEnergy, Math.abs((energy[i] as number) + lse) / Math.max(1, Math.abs(lse)));
      for (let j = 0; j < d; j++) {
        let g = 0;
        means.forEach((mu, c) => {
          const sd = (stds[c] as number[])[j] as number;
          g += (Math.exp((logs[c] as number) - lse) * ((x[i * d + j] as number) - (mu[j] as number))) / (sd * sd);
        });
        worstScore = Math.max(worstScore, Math.abs((score.data[i * d + j] as number) + g) / Math.max(1, Math.abs(g)));
      }
    }
    assert.ok(worstEnergy < 1e-5, `energy off by ${worstEnergy} (relative)`);
    assert.ok(worstScore < 1e-4, `score off by ${worstScore} (relative)`);
  });
});
