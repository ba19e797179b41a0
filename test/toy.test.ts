import { strict as assert } from 'node:assert';
import * as ebm from '../lib';

const { toy, toyMixture, toyLogDensity, toyNames } = ebm.datasets;

function moments(t: ebm.Tensor): { mean: number[]; variance: number[] } {
  const m = ebm.metrics.meanAndCovariance(t);
  return { mean: m.mean, variance: [m.cov[0][0], m.cov[1][1]] };
}

describe('2D toy data', () => {
  it('every toy is seeded, finite and [n, 2]', () => {
    for (const name of toyNames) {
      const a = toy(name, 500, 3);
      assert.deepEqual(a.shape, [500, 2]);
      assert.ok(a.data.every(Number.isFinite), name);
      assert.deepEqual(toy(name, 500, 3).data, a.data, `${name} is seeded`);
      assert.notDeepEqual(toy(name, 500, 4).data, a.data, `${name} depends on the seed`);
    }
  });

  it('match the moments of their definitions', () => {
    const n = 40000;
    const r8 = 4 / 1.414;
    // exact values: mixtures from their parameters; the others from their generating formulas
    const expected: Record<string, { mean: number[]; variance: number[]; tol: number }> = {
      '8gaussians': { mean: [0, 0], variance: Array(2).fill((r8 * r8) / 2 + (0.5 / 1.414) ** 2), tol: 0.06 },
      '25gaussians': { mean: [0, 0], variance: Array(2).fill((4 * 2) / 2.828 ** 2 + (0.01 / 2.828) ** 2), tol: 0.03 },
      // radius uniform over {0.75, 1.5, 2.25, 3}, angle uniform: E[x²] = E[r²]/2 plus noise 0.08²
      rings: { mean: [0, 0], variance: Array(2).fill((0.5625 + 2.25 + 5.0625 + 9) / 4 / 2 + 0.08 ** 2), tol: 0.05 },
      // radii 3 and 1.5 with equal probability, noise 0.24
      circles: { mean: [0, 0], variance: Array(2).fill((9 + 2.25) / 2 / 2 + 0.24 ** 2), tol: 0.06 },
      // x1 uniform on [-4, 4): variance 16/3; x2 = 2 (u − 2b + parity): mean ≈ 0
      checkerboard: { mean: [0, 0], variance: [16 / 3, 16 / 3], tol: 0.15 },
    };
    for (const [name, e] of Object.entries(expected)) {
      const m = moments(toy(name as ebm.datasets.ToyName, n, 7));
      m.mean.forEach((v, i) => assert.ok(Math.abs(v - e.mean[i]) < e.tol, `${name} mean[${i}] = ${v}`));
      m.variance.forEach((v, i) =>
        assert.ok(
          Math.abs(v - e.variance[i]) / e.variance[i] < e.tol,
          `${name} var[${i}] = ${v}, expected ${e.variance[i]}`,
        ),
      );
    }
  });

  it('the exact log-densities of 8gaussians and 25gaussians integrate to 1 (grid, within 1e-3)', () => {
    // 8gaussians: one grid over the box
    const res = 600;
    const { points } = ebm.metrics.gridPoints({ lo: -5, hi: 5, resolution: res });
    const lp = toyLogDensity(toyMixture('8gaussians'), points);
    const cell = (10 / res) ** 2;
    const total8 = lp.reduce((s, v) => s + Math.exp(v), 0) * cell;
    assert.ok(Math.abs(total8 - 1) < 1e-3, `8gaussians integrates to ${total8}`);
    // 25gaussians has std 0.0035: integrate on a fine grid around each mode (6 std wide); the
    // modes are 0.7 apart, so the density elsewhere is zero to float precision
    const m = toyMixture('25gaussians');
    const half = 6 * m.std;
    const r = 60;
    let total25 = 0;
    for (const [cx, cy] of m.means) {
      const { points: local } = ebm.metrics.gridPoints({ lo: -half, hi: half, resolution: r });
      for (let i = 0; i < local.data.length; i += 2) {
        local.data[i] += cx;
        local.data[i + 1] += cy;
      }
      total25 += toyLogDensity(m, local).reduce((s, v) => s + Math.exp(v), 0) * ((2 * half) / r) ** 2;
    }
    assert.ok(Math.abs(total25 - 1) < 1e-3, `25gaussians integrates to ${total25}`);
  });

  it('rejects unknown names and bad sizes', () => {
    assert.throws(() => toy('spiral' as ebm.datasets.ToyName, 10), ebm.EbmConfigError);
    assert.throws(() => toy('moons', 0), /n must be >= 1/);
  });
});

describe('MMD', () => {
  it('is about 0 for two samples of one distribution and clearly positive for shifted ones', () => {
    const a = toy('8gaussians', 1000, 1);
    const b = toy('8gaussians', 1000, 2);
    const shifted = { data: b.data.map((v, i) => (i % 2 === 0 ? v + 0.5 : v)), shape: b.shape };
    const same = ebm.metrics.mmd(a, b, { bandwidth: 0.5 });
    const moved = ebm.metrics.mmd(a, shifted, { bandwidth: 0.5 });
    assert.ok(Math.abs(same) < 2e-3, `same distribution: ${same}`);
    assert.ok(moved > 20 * Math.max(Math.abs(same), 1e-4), `shifted: ${moved}`);
    assert.ok(
      Math.abs(ebm.metrics.mmd(a, a, { bandwidth: 0.5, unbiased: false })) < 1e-12,
      'identical sets: exactly 0',
    );
  });

  it('mode weights, R² up to a constant and ESS behave as defined', () => {
    const x = ebm.tensor([-1, -1.2, 0.9, 1.1, 1.3], [5, 1]);
    assert.deepEqual(ebm.metrics.modeWeights(x, [[-1], [1]]), [0.4, 0.6]);
    assert.equal(ebm.metrics.r2UpToConstant([1, 2, 3], [11, 12, 13]), 1);
    assert.ok(ebm.metrics.r2UpToConstant([3, 2, 1], [1, 2, 3]) < 0);
    assert.equal(ebm.metrics.ess([0, 0, 0, 0]), 1);
    assert.ok(Math.abs(ebm.metrics.ess([0, -Infinity, -Infinity, -Infinity]) - 0.25) < 1e-12);
  });
});
