import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import { rejectsWith } from './helpers';

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
