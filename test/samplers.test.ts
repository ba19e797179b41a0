import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import { maxAbsDiff, rejectsWith, tmpDir } from './helpers';

const { meanAndCovariance, modeWeights, mmd, withinModeStd } = ebm.metrics;

const gaussian2d = ebm.energyModel({
  kind: 'gaussian',
  mean: [1, -2],
  cov: [
    [1, 0.6],
    [0.6, 0.8],
  ],
  device: 'cpu',
});
const standard1d = ebm.energyModel({ kind: 'gaussian', mean: [0], std: 1, device: 'cpu' });

function variance1d(x: ebm.Tensor): number {
  return meanAndCovariance(x).cov[0][0];
}

function assertMoments(x: ebm.Tensor, mean: number[], cov: number[][], tolMean: number, tolCov: number, what: string) {
  const m = meanAndCovariance(x);
  m.mean.forEach((v, i) => assert.ok(Math.abs(v - mean[i]) < tolMean, `${what}: mean[${i}] ${v} vs ${mean[i]}`));
  m.cov.forEach((row, i) =>
    row.forEach((v, j) => assert.ok(Math.abs(v - cov[i][j]) < tolCov, `${what}: cov[${i}][${j}] ${v} vs ${cov[i][j]}`)),
  );
}

describe('samplers on analytic targets', () => {
  it('MALA recovers the mean and covariance of a correlated Gaussian', async () => {
    const x = await ebm.sample(gaussian2d, { n: 4000, seed: 1, sampler: { kind: 'mala', steps: 1000, stepSize: 0.6 } });
    assertMoments(
      x,
      [1, -2],
      [
        [1, 0.6],
        [0.6, 0.8],
      ],
      0.05,
      0.06,
      'MALA',
    );
    assert.ok(x.acceptRate && x.acceptRate.length === 4000);
  });

  it('HMC recovers the mean and covariance of a correlated Gaussian', async () => {
    const x = await ebm.sample(gaussian2d, {
      n: 2000,
      seed: 2,
      sampler: { kind: 'hmc', steps: 100, stepSize: 0.2, leapfrogSteps: 8 },
    });
    assertMoments(
      x,
      [1, -2],
      [
        [1, 0.6],
        [0.6, 0.8],
      ],
      0.05,
      0.07,
      'HMC',
    );
  });

  it('ULA shows its step-size bias and MALA removes it (N(0, 1), step 0.5)', async () => {
    // ULA on N(0, 1) with step η has stationary variance 2 / (2 − η) = 4/3 at η = 0.5.
    const ula = await ebm.sample(standard1d, {
      n: 8000,
      seed: 3,
      sampler: { kind: 'langevin', steps: 200, stepSize: 0.5 },
    });
    const mala = await ebm.sample(standard1d, {
      n: 8000,
      seed: 3,
      sampler: { kind: 'mala', steps: 200, stepSize: 0.5 },
    });
    const vUla = variance1d(ula);
    const vMala = variance1d(mala);
    assert.ok(Math.abs(vUla - 4 / 3) < 0.06, `ULA variance ${vUla}, theory 1.333`);
    assert.ok(Math.abs(vMala - 1) < 0.06, `MALA variance ${vMala}, target 1`);
  });

  it('ULA samples exp(−E/T) at temperature T', async () => {
    const x = await ebm.sample(standard1d, {
      n: 8000,
      seed: 4,
      sampler: { kind: 'langevin', steps: 400, stepSize: 0.02, temperature: 2 },
    });
    const v = variance1d(x);
    assert.ok(Math.abs(v - 2 / (1 - 0.01)) < 0.12, `variance ${v} at T = 2, theory ${2 / 0.99}`);
  });

  it('MALA and HMC recover the weights of a two-component mixture', async () => {
    const mixture = ebm.energyModel({
      kind: 'gmm',
      means: [[-1], [1]],
      stds: [0.6, 0.6],
      weights: [0.3, 0.7],
      device: 'cpu',
    });
    // P(x > 0) = 0.3 Φ(−1/0.6) + 0.7 Φ(1/0.6)
    const phi = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));
    const expected = 0.3 * phi(-1 / 0.6) + 0.7 * phi(1 / 0.6);
    for (const sampler of [
      { kind: 'mala', steps: 600, stepSize: 0.3 },
      { kind: 'hmc', steps: 200, stepSize: 0.2, leapfrogSteps: 10 },
    ] as ebm.SamplerConfig[]) {
      const x = await ebm.sample(mixture, { n: 4000, seed: 5, sampler });
      const positive = x.data.filter((v) => v > 0).length / x.shape[0];
      assert.ok(Math.abs(positive - expected) < 0.025, `${sampler.kind}: P(x > 0) = ${positive}, exact ${expected}`);
      const w = modeWeights(x, [[-1], [1]]);
      assert.ok(Math.abs(w[1] - expected) < 0.025);
    }
  });

  it('HMC with a tiny step conserves the Hamiltonian (acceptance → 1)', async () => {
    const x = await ebm.sample(gaussian2d, {
      n: 500,
      seed: 6,
      sampler: { kind: 'hmc', steps: 20, stepSize: 1e-3, leapfrogSteps: 10 },
    });
    const mean = x.acceptRate!.reduce((s, v) => s + v, 0) / 500;
    assert.ok(mean > 0.999, `acceptance ${mean}`);
  });

  it('MALA acceptance falls as the step grows, and adaptation reaches its target', async () => {
    const rates: number[] = [];
    for (const stepSize of [0.05, 0.5, 3]) {
      const x = await ebm.sample(gaussian2d, { n: 1000, seed: 7, sampler: { kind: 'mala', steps: 100, stepSize } });
      rates.push(x.acceptRate!.reduce((s, v) => s + v, 0) / 1000);
    }
    assert.ok(rates[0] > 0.95 && rates[0] > rates[1] && rates[1] > rates[2] && rates[2] < 0.4, `rates ${rates}`);
    const adapted = await ebm.sample(gaussian2d, {
      n: 1000,
      seed: 8,
      sampler: { kind: 'mala', steps: 600, stepSize: 3, adaptSteps: 400, targetAccept: 0.574 },
    });
    const rate = adapted.acceptRate!.reduce((s, v) => s + v, 0) / 1000;
    assert.ok(Math.abs(rate - 0.574) < 0.08, `adapted acceptance ${rate}`);
    assert.ok(
      adapted.stepSize!.every((s) => s < 3),
      'steps shrank from 3',
    );
  });

  it('a composition of two Gaussians samples their product', async () => {
    const a = ebm.energyModel({ kind: 'gaussian', mean: [2, 0], std: 1, device: 'cpu' });
    const b = ebm.energyModel({
      kind: 'gaussian',
      mean: [0, 2],
      cov: [
        [0.5, 0],
        [0, 2],
      ],
      device: 'cpu',
    });
    const product = ebm.compose([{ model: a }, { model: b }]);
    // precisions add: diag(1 + 2, 1 + 0.5) → cov diag(1/3, 2/3); mean = cov (P_a μ_a + P_b μ_b)
    const x = await ebm.sample(product, { n: 4000, seed: 9, sampler: { kind: 'mala', steps: 300, stepSize: 0.2 } });
    assertMoments(
      x,
      [2 / 3, (2 * 0.5) / 1.5],
      [
        [1 / 3, 0],
        [0, 2 / 3],
      ],
      0.04,
      0.04,
      'product',
    );
    const e = await product.energy(ebm.tensor([0, 0], [1, 2]));
    const ea = await a.energy(ebm.tensor([0, 0], [1, 2]));
    const eb = await b.energy(ebm.tensor([0, 0], [1, 2]));
    assert.ok(Math.abs(e[0] - ea[0] - eb[0]) < 1e-5);
  });

  it('annealed Langevin over a time-conditioned mixture recovers unequal mode weights', async () => {
    const model = ebm.energyModel({
      kind: 'gmm',
      means: [
        [-2, 0],
        [2, 0],
      ],
      stds: [0.3, 0.3],
      weights: [0.25, 0.75],
      path: 'vp',
      device: 'cpu',
    });
    const x = await ebm.sample(model, {
      n: 4000,
      seed: 10,
      sampler: { kind: 'annealed', steps: 20, stepSize: 2e-5, levels: 50, path: 'vp' },
    });
    const w = modeWeights(x, [
      [-2, 0],
      [2, 0],
    ]);
    assert.ok(Math.abs(w[0] - 0.25) < 0.04, `weights ${w}`);
    assert.ok(
      Math.abs(
        withinModeStd(x, [
          [-2, 0],
          [2, 0],
        ]) - 0.3,
      ) < 0.05,
    );
  });
});

describe('the annealed schedule on the training grid', function () {
  this.timeout(120000);
  const timed: ebm.MlpConfig = {
    kind: 'mlp',
    inputDim: 2,
    hidden: [8],
    timeConditioned: true,
    timeEmbedDim: 4,
    device: 'cpu',
  };
  const data = ebm.datasets.toy('8gaussians', 64, 0);
  const annealed = { kind: 'annealed' as const, steps: 1, stepSize: 1e-4 };
  // linspace(tMin, 1, L) in float32, as the losses compute their grid
  const grid = (levels: number, tMin = 1e-3): number[] =>
    Array.from({ length: levels }, (_, i) => Math.fround(tMin + ((1 - tMin) * i) / (levels - 1)));
  const onGrid = (times: Float32Array, levels: number): boolean =>
    Array.from(times).every((t) => grid(levels).some((g) => Math.abs(g - t) < 1e-6));

  it('a model DiffCLF trained on 128 levels is sampled on 10 of them, also after a checkpoint round trip', async () => {
    const model = ebm.energyModel(timed);
    await ebm.train(model, data, {
      loss: { kind: 'diffclf', path: 'vp', levels: 128, k: 4, clfWeight: 1 },
      batchSize: 16,
      steps: 2,
    });
    const r = await ebm.sample(model, { n: 8, seed: 1, sampler: annealed });
    assert.equal(r.levelTimes?.length, 10);
    assert.ok(onGrid(r.levelTimes!, 128), `times ${Array.from(r.levelTimes!)}`);
    assert.equal(r.levelTimes![0], 1);
    assert.ok(Math.abs(r.levelTimes![9] - 1e-3) < 1e-9);
    // evenly spaced linspace(1, 0.001, 10) would leave the grid: (128 - 1) is not a multiple of 9
    const even = Array.from({ length: 10 }, (_, k) => Math.fround(1 - ((1 - 1e-3) * k) / 9));
    assert.ok(!even.every((t) => grid(128).some((g) => Math.abs(g - t) < 1e-6)));
    const dir = tmpDir();
    await model.save(`${dir}/m.safetensors`);
    const loaded = await ebm.loadModel(`${dir}/m.safetensors`);
    const again = await ebm.sample(loaded, { n: 8, seed: 1, sampler: annealed });
    assert.deepEqual(again.levelTimes, r.levelTimes);
  });

  it('DSM with 16 levels: 10 sampler levels on the grid; continuous-time DSM: evenly spaced', async () => {
    const gridded = ebm.energyModel(timed);
    await ebm.train(gridded, data, { loss: { kind: 'dsm', path: 'vp', levels: 16 }, batchSize: 16, steps: 1 });
    const a = await ebm.sample(gridded, { n: 4, sampler: annealed });
    assert.ok(onGrid(a.levelTimes!, 16));
    const continuous = ebm.energyModel(timed);
    await ebm.train(continuous, data, { loss: { kind: 'dsm', path: 'vp' }, batchSize: 16, steps: 1 });
    const b = await ebm.sample(continuous, { n: 4, sampler: { ...annealed, levels: 4 } });
    assert.deepEqual(Array.from(b.levelTimes!), [1, 0.667, 0.334, 0.001].map(Math.fround));
  });
});

describe('the gradient-flow (wgf) sampler', function () {
  this.timeout(300000);
  const m = ebm.datasets.toyMixture('8gaussians');
  const target = ebm.energyModel({
    kind: 'gmm',
    means: m.means,
    stds: m.means.map(() => m.std),
    weights: m.weights,
    device: 'cpu',
  });
  const truth = ebm.datasets.toy('8gaussians', 2000, 123);

  // METHODS.md §4 reports 1000 steps; at step 0.01 the cloud has settled after about 100
  // (measured: MMD² 4.8e-4 and std 0.348 at 100 and at 200 steps), so the test runs 120.
  it('transports N(0, I) onto 8 gaussians without collapse; with repulsion off it collapses', async () => {
    const run = async (repulsion: boolean) => {
      const x = await ebm.sample(target, {
        n: 2000,
        seed: 0,
        sampler: { kind: 'wgf', steps: 120, stepSize: 0.01, repulsion },
      });
      return { mmd2: mmd(x, truth, { bandwidth: 0.5 }), std: withinModeStd(x, m.means), h: x.stepSize![0] };
    };
    const good = await run(true);
    const broken = await run(false);
    console.log(
      `      wgf: MMD² ${good.mmd2.toExponential(2)}, within-mode std ${good.std.toFixed(3)} (true ${m.std.toFixed(3)}), ` +
        `bandwidth ${good.h.toFixed(3)}; repulsion off: MMD² ${broken.mmd2.toExponential(2)}, std ${broken.std.toFixed(3)}`,
    );
    assert.ok(good.mmd2 < 2e-3, `MMD² ${good.mmd2}`);
    assert.ok(good.std >= 0.3 && good.std <= 0.4, `within-mode std ${good.std}`);
    assert.ok(broken.mmd2 >= 2e-3, `broken MMD² ${broken.mmd2}`);
    assert.ok(broken.std < 0.3, `broken std ${broken.std}`);
  });
});

describe('sampling jobs', () => {
  it('report progress, stay cancellable and keep the event loop free', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const running = ebm.sample(gaussian2d, {
      n: 20000,
      sampler: { kind: 'mala', steps: 1_000_000, stepSize: 0.1 },
      progressEvery: 10,
      onProgress: (s) => steps.push(s),
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    controller.abort();
    await rejectsWith(running, ebm.EbmAbortError, /sampling was aborted/);
    clearInterval(timer);
    assert.ok(performance.now() - t0 < 1000);
    assert.ok(steps.length > 0 && steps.every((s, i) => s === 10 * (i + 1)), `progress ${steps.slice(0, 5)}`);
    assert.ok(ticks > 20, `only ${ticks} timer ticks`);
  });

  it('the gradient flow stays finite when particles start as exact duplicates', async () => {
    const base = ebm.datasets.toy('8gaussians', 50, 0);
    const init = ebm.tensor(Float32Array.from([...base.data, ...base.data]), [100, 2]);
    const target = ebm.energyModel({ kind: 'gaussian', mean: [0, 0], std: 2, device: 'cpu' });
    const x = await ebm.sample(target, { init, sampler: { kind: 'wgf', steps: 20, stepSize: 0.01 } });
    assert.ok(x.data.every(Number.isFinite));
  });

  it('returns a thinned trajectory', async () => {
    const x = await ebm.sample(standard1d, {
      n: 3,
      sampler: { kind: 'langevin', steps: 10, stepSize: 0.1 },
      returnTrajectory: true,
      thin: 5,
    });
    assert.deepEqual(x.trajectory!.shape, [2, 3, 1]);
    assert.equal(x.energyTrace!.length, 10, 'one mean energy per step');
    assert.deepEqual(Array.from(x.trajectory!.data.subarray(3, 6)), Array.from(x.data));
  });

  const bad: Array<[string, () => Promise<unknown>, abstract new (...a: never[]) => Error, RegExp]> = [
    [
      'step size 0',
      () => ebm.sample(standard1d, { n: 10, sampler: { kind: 'mala', steps: 10, stepSize: 0 } }),
      ebm.EbmConfigError,
      /options\.sampler\.stepSize must be > 0/,
    ],
    [
      'negative step size',
      () => ebm.sample(standard1d, { n: 10, sampler: { kind: 'langevin', steps: 10, stepSize: -1 } }),
      ebm.EbmConfigError,
      /stepSize must be > 0/,
    ],
    [
      'n = 0',
      () => ebm.sample(standard1d, { n: 0, sampler: { kind: 'langevin', steps: 10, stepSize: 0.1 } }),
      ebm.EbmConfigError,
      /options\.n must be >= 1/,
    ],
    [
      'init of the wrong shape',
      () =>
        ebm.sample(standard1d, {
          init: ebm.tensor([1, 2], [1, 2]),
          sampler: { kind: 'langevin', steps: 10, stepSize: 0.1 },
        }),
      ebm.EbmShapeError,
      /options\.init must have shape \[N, 1\]/,
    ],
    [
      'non-finite init',
      () =>
        ebm.sample(standard1d, {
          init: ebm.tensor([1, NaN], [2, 1]),
          sampler: { kind: 'langevin', steps: 10, stepSize: 0.1 },
        }),
      ebm.EbmNumericsError,
      /options\.init contains a non-finite value/,
    ],
    [
      'unknown sampler',
      () =>
        ebm.sample(standard1d, {
          n: 4,
          sampler: { kind: 'gibbs', steps: 1, stepSize: 1 } as unknown as ebm.SamplerConfig,
        }),
      ebm.EbmConfigError,
      /options\.sampler\.kind must be one of 'langevin', 'mala', 'hmc', 'annealed', 'wgf'/,
    ],
    [
      'annealed on a model without time',
      () => ebm.sample(standard1d, { n: 4, sampler: { kind: 'annealed', steps: 1, stepSize: 1 } }),
      ebm.EbmConfigError,
      /needs a time-conditioned model/,
    ],
    [
      'adaptation as long as the run',
      () => ebm.sample(standard1d, { n: 4, sampler: { kind: 'mala', steps: 10, stepSize: 1, adaptSteps: 10 } }),
      ebm.EbmConfigError,
      /adaptSteps must be <= 9/,
    ],
  ];
  for (const [name, fn, cls, pattern] of bad) {
    it(`rejects ${name}`, async () => {
      await rejectsWith(fn(), cls, pattern);
    });
  }

  it('CD can draw its negatives with any sampler, the gradient flow included', async () => {
    for (const sampler of [
      { kind: 'mala', steps: 5, stepSize: 0.05 },
      { kind: 'hmc', steps: 2, stepSize: 0.05, leapfrogSteps: 3 },
      { kind: 'wgf', steps: 5, stepSize: 0.01 },
    ] as ebm.SamplerConfig[]) {
      const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [16], device: 'cpu' });
      const run = await ebm.train(model, ebm.datasets.toy('8gaussians', 256, 0), {
        loss: { kind: 'cd', sampler },
        batchSize: 64,
        steps: 10,
        logEvery: 5,
      });
      assert.ok(
        run.history.every((h) => Number.isFinite(h.loss)),
        sampler.kind,
      );
      if (sampler.kind !== 'wgf') assert.ok(Number.isFinite(run.history[1].acceptRate));
    }
  });
});

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/** √(average of the per-coordinate variances): the spread of a 2D cloud. */
function spread(x: ebm.Tensor): number {
  const c = meanAndCovariance(x).cov;
  return Math.sqrt((c[0][0] + c[1][1]) / 2);
}

describe('sampler reproducibility and options', function () {
  this.timeout(60000);

  it('same seed ⇒ bitwise-identical samples for langevin, mala, hmc and wgf; another seed ⇒ other samples', async () => {
    const samplers: ebm.SamplerConfig[] = [
      { kind: 'langevin', steps: 50, stepSize: 0.1 },
      { kind: 'mala', steps: 50, stepSize: 0.3 },
      { kind: 'hmc', steps: 20, stepSize: 0.2, leapfrogSteps: 5 },
      { kind: 'wgf', steps: 20, stepSize: 0.05 },
    ];
    // a fixed start isolates the sampler's own noise from the seeded initial draw
    const init = ebm.tensor(
      Array.from({ length: 400 }, (_, i) => Math.sin(1.3 * i)),
      [200, 2],
    );
    for (const sampler of samplers) {
      const a = await ebm.sample(gaussian2d, { n: 200, seed: 5, sampler });
      const b = await ebm.sample(gaussian2d, { n: 200, seed: 5, sampler });
      assert.ok(a.data instanceof Float32Array && a.data.length === 400);
      assert.ok(sameBits(a.data, b.data), `${sampler.kind}: same seed, same bits`);
      assert.ok(sameBits(a.energy, b.energy), `${sampler.kind}: same energies`);
      // another seed draws another N(0, I) start (measured max |Δ| 4.0–4.9 for all four)
      const c = await ebm.sample(gaussian2d, { n: 200, seed: 6, sampler });
      assert.ok(
        maxAbsDiff(a.data, c.data) > 0.5,
        `${sampler.kind}: seed 6 vs 5 differ by ${maxAbsDiff(a.data, c.data)}`,
      );
      // from one fixed start: the stochastic samplers still depend on the seed, the
      // deterministic particle flow does not
      const p = await ebm.sample(gaussian2d, { init, seed: 1, sampler });
      const q = await ebm.sample(gaussian2d, { init, seed: 2, sampler });
      if (sampler.kind === 'wgf')
        assert.ok(sameBits(p.data, q.data), 'wgf has no noise: the seed only picks the start');
      else assert.ok(maxAbsDiff(p.data, q.data) > 0.5, `${sampler.kind}: the noise follows the seed`);
    }
  });

  it('HMC step-size adaptation reaches the target acceptance from too large and too small a step', async () => {
    // gaussian2d, 500 chains, 300 iterations of 5 leapfrog steps, the first 200 adapting.
    // Measured (seed 11): fixed step 2 → acceptance 0.000; adapted from 2 → 0.649 (target 0.65),
    // mean step 0.92; from 0.02 (adaptRate 0.1) → 0.647, mean step 0.92; target 0.9 → 0.894,
    // mean step 0.67. Tolerance on acceptance: 0.05; on the step reached from both sides: 15 %.
    const run = (sampler: Partial<ebm.SamplerConfig>) =>
      ebm.sample(gaussian2d, {
        n: 500,
        seed: 11,
        sampler: { kind: 'hmc', steps: 300, leapfrogSteps: 5, ...sampler } as ebm.SamplerConfig,
      });
    const fixed = await run({ stepSize: 2 });
    assert.ok(mean(fixed.acceptRate!) < 0.05, `fixed step 2: acceptance ${mean(fixed.acceptRate!)}`);
    assert.ok(
      fixed.stepSize!.every((s) => Math.abs(s - 2) < 1e-5),
      'without adaptSteps the step stays',
    );
    const fromAbove = await run({ stepSize: 2, adaptSteps: 200 });
    const rateAbove = mean(fromAbove.acceptRate!);
    const stepAbove = mean(fromAbove.stepSize!);
    assert.ok(Math.abs(rateAbove - 0.65) < 0.05, `adapted from 2: acceptance ${rateAbove}, HMC default target 0.65`);
    assert.ok(
      fromAbove.stepSize!.every((s) => s < 1.5),
      'every chain shrank its step',
    );
    const fromBelow = await run({ stepSize: 0.02, adaptSteps: 200, adaptRate: 0.1 });
    const rateBelow = mean(fromBelow.acceptRate!);
    const stepBelow = mean(fromBelow.stepSize!);
    assert.ok(Math.abs(rateBelow - 0.65) < 0.05, `adapted from 0.02: acceptance ${rateBelow}`);
    assert.ok(
      fromBelow.stepSize!.every((s) => s > 0.2),
      'every chain grew its step',
    );
    assert.ok(Math.abs(stepAbove / stepBelow - 1) < 0.15, `steps reached: ${stepAbove} vs ${stepBelow}`);
    const high = await run({ stepSize: 2, adaptSteps: 200, targetAccept: 0.9 });
    const rateHigh = mean(high.acceptRate!);
    assert.ok(Math.abs(rateHigh - 0.9) < 0.05, `target 0.9: acceptance ${rateHigh}`);
    assert.ok(mean(high.stepSize!) < 0.85 * stepAbove, 'a higher target needs a smaller step');
  });

  it('HMC jitter: without it a half-period trajectory only flips chains; with it they mix', async () => {
    // On N(0, 1) leapfrog is a rotation by θ per step with cos θ = 1 − ε²/2; ε = 2 sin(π/20) and
    // 10 steps make exactly a half turn, x → −x whatever the momentum, always accepted. All
    // chains start at 3: with jitter 0 they return to exactly 3 after an even number of iterations
    // (measured max |x − 3| 7e-6); with the default jitter 0.2 each iteration turns by π(1 ± 0.2),
    // so the chain mean decays like (sin 0.2π / 0.2π)^k = 0.935^k: after 100 iterations 3 · 0.001.
    // Measured (seed 3): mean −0.027, variance 0.999 (tolerances 0.1 and 0.15; seeds 1–5: |mean| ≤ 0.03).
    const init = ebm.tensor(new Float32Array(1000).fill(3), [1000, 1]);
    const base = { kind: 'hmc', steps: 100, stepSize: 2 * Math.sin(Math.PI / 20), leapfrogSteps: 10 } as const;
    const stuck = await ebm.sample(standard1d, { init, seed: 3, sampler: { ...base, jitter: 0 } });
    assert.ok(
      stuck.data.every((v) => Math.abs(v - 3) < 1e-4),
      'jitter 0: periodic, every chain back at 3',
    );
    const mixed = await ebm.sample(standard1d, { init, seed: 3, sampler: { ...base, jitter: 0.2 } });
    const v = variance1d(mixed);
    assert.ok(Math.abs(v - 1) < 0.15, `jitter 0.2: variance ${v}, target 1`);
    assert.ok(Math.abs(meanAndCovariance(mixed).mean[0]) < 0.1, `jitter 0.2: mean ${meanAndCovariance(mixed).mean[0]}`);
    const byDefault = await ebm.sample(standard1d, { init, seed: 3, sampler: base });
    assert.ok(sameBits(byDefault.data, mixed.data), 'the default jitter is 0.2');
    await rejectsWith(
      ebm.sample(standard1d, { init, sampler: { ...base, jitter: 1 } }),
      ebm.EbmConfigError,
      /jitter must be <= 0\.99/,
    );
  });

  it('Langevin noiseScale replaces √(2ηT): 0 is gradient descent to the mode, s gives variance s²/(η(2 − η))', async () => {
    // noiseScale 0: x ← x − ηΣ⁻¹(x − μ) contracts every chain onto μ (measured |mean − μ| 4e-7,
    // covariance 6e-13), whatever the temperature.
    for (const temperature of [1, 5]) {
      const gd = await ebm.sample(gaussian2d, {
        n: 1000,
        seed: 1,
        sampler: { kind: 'langevin', steps: 300, stepSize: 0.1, noiseScale: 0, temperature },
      });
      assertMoments(
        gd,
        [1, -2],
        [
          [0, 0],
          [0, 0],
        ],
        1e-4,
        1e-8,
        `noiseScale 0, T = ${temperature}`,
      );
    }
    // On N(0, 1), x ← (1 − η)x + sξ has stationary variance s²/(η(2 − η)).
    const eta = 0.1;
    const stationary = (s: number) => (s * s) / (eta * (2 - eta));
    const run = (extra: Partial<ebm.LangevinConfig>) =>
      ebm.sample(standard1d, { n: 8000, seed: 4, sampler: { kind: 'langevin', steps: 300, stepSize: eta, ...extra } });
    // default: s = √(2η) → 2/(2 − η) = 1.053 (measured 1.042)
    const byDefault = await run({});
    assert.ok(
      Math.abs(variance1d(byDefault) - stationary(Math.sqrt(2 * eta))) < 0.05,
      `default variance ${variance1d(byDefault)}`,
    );
    // s = 0.1 → 0.0526 (measured 0.0521), and the temperature no longer enters
    const small = await run({ noiseScale: 0.1 });
    assert.ok(
      Math.abs(variance1d(small) / stationary(0.1) - 1) < 0.05,
      `noiseScale 0.1: variance ${variance1d(small)}, theory ${stationary(0.1)}`,
    );
    const hot = await run({ noiseScale: 0.1, temperature: 4 });
    assert.ok(sameBits(hot.data, small.data), 'with noiseScale the temperature is ignored');
    const explicit = await run({ noiseScale: Math.sqrt(2 * eta) });
    assert.ok(maxAbsDiff(explicit.data, byDefault.data) < 1e-6, 'noiseScale √(2η) is the default');
  });
});

describe('gradient-flow (wgf) options', function () {
  this.timeout(60000);
  // N((2, −1), 0.5² I): ∇E = 4 (x − μ) is linear
  const target = ebm.energyModel({ kind: 'gaussian', mean: [2, -1], std: 0.5, device: 'cpu' });
  const n = 301;
  const init = ebm.tensor(
    Array.from({ length: 2 * n }, (_, i) => Math.sin(1.7 * i) + 0.3 * Math.cos(0.37 * i)),
    [n, 2],
  );

  it("'euler' and 'heun' agree at τ = 0.01, differ at τ = 0.25, and each follows its own exact mean recursion", async () => {
    // With the blob term the repulsion is antisymmetric in (i, j), so the particle mean moves by the
    // drift alone: m ← μ + g (m − μ) per step with g = 1 − 4τ (Euler) or 1 − 4τ + (4τ)²/2 (Heun).
    // Measured: means within 2e-7 of the recursion; at τ = 0.01 (100 steps) Euler and Heun means
    // differ by 3e-3 and spreads by 3e-5; at τ = 0.25 (4 steps) Euler lands on μ (g = 0), Heun at
    // 2 − 0.123, spreads 0.629 vs 0.443.
    const m0 = meanAndCovariance(init).mean;
    const mu = [2, -1];
    const results: Record<string, { m: number[]; s: number }> = {};
    for (const [tau, steps] of [
      [0.01, 100],
      [0.25, 4],
    ]) {
      for (const integrator of ['euler', 'heun'] as const) {
        const x = await ebm.sample(target, {
          init,
          sampler: { kind: 'wgf', steps, stepSize: tau, bandwidth: 0.2, integrator },
        });
        const a = 4 * tau;
        const g = integrator === 'euler' ? 1 - a : 1 - a + (a * a) / 2;
        const m = meanAndCovariance(x).mean;
        m.forEach((v, i) => {
          const expected = mu[i] + (m0[i] - mu[i]) * g ** steps;
          assert.ok(Math.abs(v - expected) < 1e-4, `${integrator} τ = ${tau}: mean[${i}] ${v} vs ${expected}`);
        });
        results[`${integrator}${tau}`] = { m, s: spread(x) };
      }
    }
    const dMean = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    const [es, hs, el, hl] = ['euler0.01', 'heun0.01', 'euler0.25', 'heun0.25'].map((k) => results[k]);
    assert.ok(dMean(es.m, hs.m) < 0.01 && Math.abs(es.s - hs.s) < 0.01, `small step: ${JSON.stringify([es, hs])}`);
    assert.ok(dMean(el.m, hl.m) > 0.05 && Math.abs(el.s - hl.s) > 0.1, `large step: ${JSON.stringify([el, hl])}`);
    // the default integrator is Heun
    const byDefault = await ebm.sample(target, {
      init,
      sampler: { kind: 'wgf', steps: 4, stepSize: 0.25, bandwidth: 0.2 },
    });
    const heun = await ebm.sample(target, {
      init,
      sampler: { kind: 'wgf', steps: 4, stepSize: 0.25, bandwidth: 0.2, integrator: 'heun' },
    });
    assert.ok(sameBits(byDefault.data, heun.data));
  });

  it('a fixed bandwidth is used and reported in stepSize; bandwidthScale scales the automatic one', async () => {
    const run = (extra: Partial<ebm.WgfConfig>) =>
      ebm.sample(target, { init, sampler: { kind: 'wgf', steps: 10, stepSize: 0.02, ...extra } });
    const h02 = await run({ bandwidth: 0.2 });
    const h05 = await run({ bandwidth: 0.5 });
    assert.equal(h02.stepSize!.length, 1);
    assert.equal(h02.stepSize![0], Math.fround(0.2));
    assert.equal(h05.stepSize![0], Math.fround(0.5));
    assert.ok(maxAbsDiff(h02.data, h05.data) > 1e-3, 'the bandwidth changes the flow');
    // 'auto' = bandwidthScale × median nearest-neighbour distance, so over one step from the
    // same start the reported bandwidths are in the ratio of the scales
    const auto = await run({ steps: 1 });
    const auto1 = await run({ steps: 1, bandwidthScale: 1 });
    assert.ok(
      Math.abs(auto.stepSize![0] / auto1.stepSize![0] - 2.5) < 1e-5,
      `default scale 2.5: ${auto.stepSize![0]} vs ${auto1.stepSize![0]}`,
    );
    // and the rule holds (to float32 rounding; the next test moves the cloud far from the origin)
    const nn = medianNearest(init);
    assert.ok(Math.abs(auto1.stepSize![0] / nn - 1) < 0.01, `auto ${auto1.stepSize![0]} vs median NN ${nn}`);
    const off = await run({ bandwidth: 0.3, repulsion: false });
    assert.equal(off.stepSize![0], 0, 'without repulsion there is no bandwidth');
  });

  // Self-pairs are excluded by index and distances taken about the cloud's mean. Before, a
  // particle whose |a|² + |a|² − 2a·a rounded to a positive value counted as its own nearest
  // neighbour: on this init (n = 301, scale 1, median NN 0.0297) the reported bandwidth was
  // 0.0278 at offset 0, 0.0625 at offset 100 and 0.5 at offset 1000.
  it('the automatic bandwidth is bandwidthScale × the median nearest-neighbour distance, at any offset', async () => {
    for (const offset of [0, 100, 1000]) {
      const shifted = ebm.tensor(
        Array.from(init.data, (v) => v + offset),
        [n, 2],
      );
      const model = ebm.energyModel({ kind: 'gaussian', mean: [offset, offset], std: 1, device: 'cpu' });
      const x = await ebm.sample(model, {
        init: shifted,
        sampler: { kind: 'wgf', steps: 1, stepSize: 1e-6, bandwidthScale: 1 },
      });
      const nn = medianNearest(shifted);
      assert.ok(Math.abs(x.stepSize![0] / nn - 1) < 0.01, `offset ${offset}: ${x.stepSize![0]} vs ${nn}`);
    }
  });

  it('blob: false shrinks the spread towards √(σ² − h²); the blob term keeps it near σ', async () => {
    // N(0, I) target, 400 particles from N(0, I), h = 0.6, τ = 0.05, 100 steps.
    // Measured: blob 0.957, no blob 0.792 (√(1 − 0.36) = 0.8).
    const standard = ebm.energyModel({ kind: 'gaussian', mean: [0, 0], std: 1, device: 'cpu' });
    const run = (blob: boolean) =>
      ebm.sample(standard, {
        n: 400,
        seed: 2,
        sampler: { kind: 'wgf', steps: 100, stepSize: 0.05, bandwidth: 0.6, blob },
      });
    const withBlob = spread(await run(true));
    const without = spread(await run(false));
    assert.ok(Math.abs(without - Math.sqrt(1 - 0.36)) < 0.03, `no blob: spread ${without}, theory 0.8`);
    assert.ok(withBlob > 0.93 && withBlob < 1.03, `blob: spread ${withBlob}, target 1`);
    assert.ok(withBlob - without > 0.1);
  });
});

/** Median (lower, as torch's) over the rows of the distance to the nearest other row. */
function medianNearest(x: ebm.Tensor): number {
  const n = x.shape[0];
  const d = x.data;
  const nearest: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const q = (d[2 * i] - d[2 * j]) ** 2 + (d[2 * i + 1] - d[2 * j + 1]) ** 2;
      if (q > 0 && q < best) best = q;
    }
    nearest.push(Math.sqrt(best));
  }
  nearest.sort((a, b) => a - b);
  return nearest[Math.floor((n - 1) / 2)];
}

// Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), enough for expected fractions.
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
