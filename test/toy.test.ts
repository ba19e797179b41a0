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
      // centres (2i, 2j)/1.414, i, j uniform on {-2, …, 2} (E[i²] = 2), mode std 0.2/1.414
      '25gaussians': { mean: [0, 0], variance: Array(2).fill((4 * 2 + 0.2 ** 2) / 1.414 ** 2), tol: 0.03 },
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
    // one grid over the box for both: its step 1/60 is under 1/8 of either mode std (0.354, 0.141)
    const res = 600;
    const { points } = ebm.metrics.gridPoints({ lo: -5, hi: 5, resolution: res });
    const cell = (10 / res) ** 2;
    for (const name of ['8gaussians', '25gaussians'] as const) {
      const total = toyLogDensity(toyMixture(name), points).reduce((s, v) => s + Math.exp(v), 0) * cell;
      assert.ok(Math.abs(total - 1) < 1e-3, `${name} integrates to ${total}`);
    }
  });

  it("25gaussians is the Energy Discrepancy paper's: centres (2i, 2j)/1.414 on a 5 × 5 grid, mode std 0.2/1.414", () => {
    // the definition, written out (the ED paper's reference code: centres 4·(i/2, j/2), i, j ∈ {-2, …, 2},
    // noise 0.2, everything divided by 1.414)
    const std = 0.2 / 1.414;
    const axis = [-2, -1, 0, 1, 2].map((i) => (2 * i) / 1.414);
    const m = toyMixture('25gaussians');
    assert.equal(m.means.length, 25);
    assert.ok(Math.abs(m.std - std) < 1e-12, `mode std ${m.std}, expected ${std} (the old set had 0.0035)`);
    m.weights.forEach((w) => assert.ok(Math.abs(w - 1 / 25) < 1e-12));
    for (const cx of axis) {
      for (const cy of axis) {
        const hit = m.means.filter(([x, y]) => Math.abs(x - cx) < 1e-9 && Math.abs(y - cy) < 1e-9);
        assert.equal(hit.length, 1, `one centre at (${cx.toFixed(3)}, ${cy.toFixed(3)})`);
      }
    }
    // the samples: each point to its nearest centre of the definition (modes are 1.414 = 10 std apart, so the
    // assignment is exact to ~1e-6); per-mode share and residual std per coordinate. Measured on
    // toy('25gaussians', 50000, 7): shares 0.038–0.041 (expected 0.04 ± 0.0009 binomial sd), residual std
    // 0.1396 / 0.1418 against 0.1414 (± 0.00045 sd for 50000 draws; the tolerance, 2 %, is 6 sd); the old definition
    // (std 0.0035) misses it 40-fold.
    const n = 50000;
    const x = toy('25gaussians', n, 7).data;
    const counts = new Array<number>(25).fill(0);
    const ss = [0, 0];
    for (let k = 0; k < n; k++) {
      const ix = Math.round((x[2 * k] * 1.414) / 2) + 2;
      const iy = Math.round((x[2 * k + 1] * 1.414) / 2) + 2;
      assert.ok(ix >= 0 && ix < 5 && iy >= 0 && iy < 5, `row ${k} off the grid: (${x[2 * k]}, ${x[2 * k + 1]})`);
      counts[5 * ix + iy]++;
      ss[0] += (x[2 * k] - axis[ix]) ** 2;
      ss[1] += (x[2 * k + 1] - axis[iy]) ** 2;
    }
    counts.forEach((c, j) => assert.ok(Math.abs(c / n - 1 / 25) < 0.005, `mode ${j}: share ${c / n}`));
    ss.forEach((v, d) => {
      const sd = Math.sqrt(v / n);
      assert.ok(Math.abs(sd - std) / std < 0.02, `residual std along axis ${d}: ${sd}, expected ${std}`);
    });
  });

  it('rejects unknown names and bad sizes', () => {
    assert.throws(() => toy('spiral' as ebm.datasets.ToyName, 10), ebm.EbmConfigError);
    assert.throws(() => toy('moons', 0), /n must be >= 1/);
  });
});

describe('grid NLL: refuses a grid that cannot resolve the density', () => {
  const box = { lo: -4, hi: 4 };
  const gmm = (m: ebm.datasets.ToyMixture) =>
    ebm.energyModel({
      kind: 'gmm',
      means: m.means,
      stds: m.means.map(() => m.std),
      weights: m.weights,
      device: 'cpu',
    });
  // 25gaussians as this library defined it before (mode std 0.01/2.828 ≈ 0.0035): the case that motivated the check
  const old25: ebm.datasets.ToyMixture = {
    means: toyMixture('25gaussians').means.map(([x, y]) => [(x * 1.414) / 2.828, (y * 1.414) / 2.828]),
    std: 0.01 / 2.828,
    weights: Array(25).fill(1 / 25),
  };
  /** A validator for assert.rejects / assert.throws: an EbmConfigError whose message matches. */
  const configError = (pattern: RegExp) => (err: unknown) =>
    err instanceof ebm.EbmConfigError && pattern.test(err.message);
  const exactEnergy = (m: ebm.datasets.ToyMixture, resolution: number) => {
    const { points } = ebm.metrics.gridPoints({ ...box, resolution });
    return Float32Array.from(toyLogDensity(m, points), (v) => -v);
  };

  it('gridStepRatio is the step in mode stds for Gaussian modes, resolved or not', () => {
    // measured on the exact 25gaussians energies: 0.189 0.943 1.875 3.68 at resolutions 300 60 30 15 against
    // h/σ 0.189 0.943 1.885 3.77; the old set at resolution 300: 7.42 (h/σ 7.62)
    const m = toyMixture('25gaussians');
    for (const resolution of [300, 60, 30, 15]) {
      const hOverSigma = (box.hi - box.lo) / resolution / m.std;
      const u = ebm.metrics.gridStepRatio(exactEnergy(m, resolution), resolution);
      assert.ok(Math.abs(u - hOverSigma) / hOverSigma < 0.03, `resolution ${resolution}: ${u} vs h/σ ${hOverSigma}`);
    }
    const u = ebm.metrics.gridStepRatio(exactEnergy(old25, 300), 300);
    assert.ok(u > 5, `old 25gaussians at resolution 300: ${u}`);
    assert.equal(ebm.metrics.gridStepRatio(new Float32Array(100), 10), 0, 'a flat density');
  });

  it('accepts the grids the library uses and gives the exact NLL on them', async () => {
    // 25gaussians at the CLI's default grid (step 0.027 = 0.19 σ) and 8gaussians at the tests' grid
    for (const name of ['25gaussians', '8gaussians'] as const) {
      const m = toyMixture(name);
      const test = toy(name, 2000, 5);
      const nll = await ebm.metrics.gridNll(gmm(m), test, { ...box, resolution: 300 });
      const lp = toyLogDensity(m, test);
      const trueNll = -lp.reduce((a, v) => a + v, 0) / lp.length;
      assert.ok(Math.abs(nll - trueNll) < 1e-3, `${name}: grid NLL ${nll} vs true ${trueNll}`);
    }
  });

  it('refuses a step above 1.5 mode stds, naming grid.resolution and the resolution that would do', async () => {
    const m = toyMixture('25gaussians');
    const test = toy('25gaussians', 500, 5);
    // h = 8/30 = 1.89 σ (log Z could be off by up to 0.016 nats; at 1.41 σ, resolution 40, by 2e-4 at most)
    await assert.rejects(
      ebm.metrics.gridNll(gmm(m), test, { ...box, resolution: 30 }),
      configError(
        /^grid\.resolution 30 is too coarse to resolve the density: the step 0\.267 is 1\.8\d times the density's length scale 0\.14\d \(at most 1\.5: beyond it log Z depends on where the modes fall between the grid points\); raise grid\.resolution or narrow \[grid\.lo, grid\.hi\] \(resolution ≥ 38 on this box\)$/,
      ),
    );
    assert.ok(Number.isFinite(await ebm.metrics.gridNll(gmm(m), test, { ...box, resolution: 40 })));
    // the old 25gaussians at resolution 300: step 7.6 mode stds
    const oldTest = ebm.tensor(Float32Array.from(old25.means.flat()), [25, 2]);
    await assert.rejects(
      ebm.metrics.gridNll(gmm(old25), oldTest, { ...box, resolution: 300 }),
      configError(/^grid\.resolution 300 is too coarse to resolve the density: the step 0\.0267 is 7\.\d+ times/),
    );
  });

  it('refuses a grid that misses a peak between its points', async () => {
    // a broad mode (std 1, resolved) plus half the mass in a spike of std 5e-4 at (0, 0), a cell corner of the
    // grid: the nearest grid points are 0.019 = 38 spike stds away, so the grid sees only the broad mode and
    // log Z would be off by log 2; the test row on the spike (E = −log(0.5 / (2π·(5e-4)²)) = −12.67) lies 15.2 nats
    // below every grid energy (the broad mode's peak, −log(0.5 / 2π) = 2.53)
    const spiky = ebm.energyModel({
      kind: 'gmm',
      means: [
        [0, 0],
        [0, 0],
      ],
      stds: [1, 5e-4],
      weights: [0.5, 0.5],
      device: 'cpu',
    });
    const grid = { ...box, resolution: 300 };
    const { energy } = await ebm.metrics.gridEnergy(spiky, grid);
    assert.ok(ebm.metrics.gridStepRatio(energy, 300) < 0.1, 'the step check alone would pass');
    await assert.rejects(
      ebm.metrics.gridNll(spiky, ebm.tensor([1, 1, 0, 0], [2, 2]), grid),
      configError(
        /^grid\.resolution 300 is too coarse to resolve the density: test row 1 \(inside the box\) has energy -12\.67, 15\.2 nats below the lowest grid energy, so the grid misses a peak; raise grid\.resolution or narrow \[grid\.lo, grid\.hi\]$/,
      ),
    );
    // rows outside the box are not held against the grid
    assert.ok(Number.isFinite(await ebm.metrics.gridNll(spiky, ebm.tensor([1, 1], [1, 2]), grid)));
  });

  it('names the field it is given (a run config key or a CLI flag)', () => {
    const energy = exactEnergy(old25, 300);
    const x = { x: ebm.tensor([0, 0], [1, 2]), energy: [0] };
    const grid = { ...box, resolution: 300 };
    assert.throws(
      () => ebm.metrics.checkGridResolves(energy, grid, x, 'eval.grid'),
      configError(
        /^eval\.grid\.resolution 300 is too coarse .*raise eval\.grid\.resolution or narrow \[eval\.grid\.lo, eval\.grid\.hi\]/,
      ),
    );
    assert.throws(
      () => ebm.metrics.checkGridResolves(energy, grid, x, '--grid'),
      configError(/^--grid resolution 300 is too coarse .*raise --grid resolution or narrow --grid lo,hi/),
    );
  });
});

const TAU = 2 * Math.PI;
/** Angle wrapped to (−π, π]. */
function wrap(a: number): number {
  const r = (((a + Math.PI) % TAU) + TAU) % TAU;
  return r - Math.PI;
}
const fraction = (xs: number[], pred: (v: number) => boolean) => xs.filter(pred).length / xs.length;
const rms = (xs: number[]) => Math.sqrt(xs.reduce((s, v) => s + v * v, 0) / xs.length);

// Each generator is checked against its standard geometric definition (FFJORD's toy_data.py, as
// lib/data/toy.ts implements it): points are assigned to the nearest curve of the definition and the
// residuals, the share of each arm and the spread along the curve are compared with their exact
// values. Measured on toy(name, 20000, 7); tolerances are stated per check.
describe('2D toys: structure of the curve-shaped sets', () => {
  const n = 20000;

  it('moons: two unit half circles about (0, 0) and (1, 0.5), noise 0.1, then 2·(·) − (1, 0.2)', () => {
    // In u = (x + (1, 0.2)) / 2 (undoing the affine map in toy.ts) the upper moon is (cos a, sin a)
    // and the lower (1 − cos a, 0.5 − sin a), a ~ U(0, π): sklearn's make_moons, noise 0.1.
    // Distance to an arc: |r − 1| inside its angular range, else to the nearer end point.
    const arc = (u: number, v: number, cx: number, cy: number, s: number) => {
      const dx = s * (u - cx);
      const dy = s * (v - cy);
      const a = Math.atan2(dy, dx);
      const d = a >= 0 ? Math.hypot(dx, dy) - 1 : Math.min(Math.hypot(dx - 1, dy), Math.hypot(dx + 1, dy));
      return { d, a };
    };
    const x = toy('moons', n, 7).data;
    const residual: number[] = [];
    const along: number[] = [];
    let upper = 0;
    for (let i = 0; i < n; i++) {
      const u = (x[2 * i] + 1) / 2;
      const v = (x[2 * i + 1] + 0.2) / 2;
      const up = arc(u, v, 0, 0, 1);
      const low = arc(u, v, 1, 0.5, -1);
      const best = Math.abs(up.d) < Math.abs(low.d) ? up : low;
      if (best === up) upper++;
      residual.push(best.d);
      if (best.a >= 0) along.push(best.a);
    }
    // measured: upper 0.500, residual mean 0.008 / rms 0.100, |d| < 0.25 for 98.8 %,
    // quarters of [0, π] 0.233 0.252 0.252 0.236 of all points
    assert.ok(Math.abs(upper / n - 0.5) < 0.02, `upper moon ${upper / n}`);
    assert.ok(Math.abs(rms(residual) - 0.1) < 0.01, `residual rms ${rms(residual)}, noise 0.1`);
    assert.ok(Math.abs(residual.reduce((s, v) => s + v, 0) / n) < 0.02);
    assert.ok(fraction(residual, (d) => Math.abs(d) < 0.25) > 0.97);
    for (let q = 0; q < 4; q++) {
      const share = along.filter((a) => a >= (q * Math.PI) / 4 && a < ((q + 1) * Math.PI) / 4).length / n;
      assert.ok(Math.abs(share - 0.25) < 0.03, `quarter ${q} of the arcs: ${share}`);
    }
  });

  it('pinwheel: 5 arms, radius 2·N(1, 0.3), each arm twisted by 0.25·exp(radius / 2)', () => {
    // features f = (N(1, 0.3), N(0, 0.1)), angle θ = 2πc/5 + 0.25 exp(f₀), point 2 f R(θ) with
    // R = [[cos, −sin], [sin, cos]] (row vector times R): polar angle −θ + atan(f₁/f₀), radius 2|f|.
    // So ψ = −(φ + 0.25 exp(r/2)) sits within ~0.1 rad of an arm 2πc/5.
    const x = toy('pinwheel', n, 7).data;
    const arms = [0, 0, 0, 0, 0];
    const offsets: number[] = [];
    const untwisted: number[] = [];
    const radii: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = Math.hypot(x[2 * i], x[2 * i + 1]) / 2;
      const phi = Math.atan2(x[2 * i + 1], x[2 * i]);
      const psi = -(phi + 0.25 * Math.exp(r));
      const c = (((Math.round(psi / (TAU / 5)) % 5) + 5) % 5) as number;
      arms[c]++;
      offsets.push(wrap(psi - (c * TAU) / 5));
      untwisted.push(wrap(-phi - (Math.round(-phi / (TAU / 5)) * TAU) / 5));
      radii.push(r);
    }
    // measured: arms 0.196–0.202; |offset| < 0.3 rad for 97.7 % (rms 0.119); in the gaps between
    // arms (|offset| > 0.45, arms are 1.26 rad apart) 0.5 %; r/2: mean 1.006 (E|f| ≈ 1.005), std 0.294.
    // Without the twist only 17 % would be within 0.3 rad of an arm.
    arms.forEach((a, c) => assert.ok(Math.abs(a / n - 0.2) < 0.015, `arm ${c}: ${a / n}`));
    assert.ok(
      fraction(offsets, (o) => Math.abs(o) < 0.3) > 0.95,
      `near an arm ${fraction(offsets, (o) => Math.abs(o) < 0.3)}`,
    );
    assert.ok(fraction(offsets, (o) => Math.abs(o) > 0.45) < 0.02, 'gaps between the arms are empty');
    assert.ok(Math.abs(rms(offsets) - 0.12) < 0.02, `angular rms ${rms(offsets)}`);
    assert.ok(fraction(untwisted, (o) => Math.abs(o) < 0.3) < 0.4, 'the arms are twisted');
    const meanR = radii.reduce((s, v) => s + v, 0) / n;
    assert.ok(Math.abs(meanR - 1.005) < 0.02, `mean radius / 2 = ${meanR}`);
    const sdR = rms(radii.map((r) => r - meanR));
    assert.ok(Math.abs(sdR - 0.3) < 0.02, `radial std / 2 = ${sdR}, expected 0.3`);
  });

  it('swissroll: (t cos t, t sin t) + N(0, 1), t ~ U(1.5π, 4.5π), divided by 5 (radius grows with angle)', () => {
    // 5x lies on the spiral r = φ + 2πk: of the turns within the range of t, the radial residual to
    // the nearest one is ~N(0, 1); the turns are 2π apart.
    const x = toy('swissroll', n, 7).data;
    const residual: number[] = [];
    const thirds = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const px = 5 * x[2 * i];
      const py = 5 * x[2 * i + 1];
      const r = Math.hypot(px, py);
      const phi = Math.atan2(py, px);
      let best = Infinity;
      let bestT = 0;
      for (let k = -1; k < 4; k++) {
        const t = phi + TAU * k;
        if (t < 1.5 * Math.PI - 2 || t > 4.5 * Math.PI + 2) continue;
        if (Math.abs(r - t) < Math.abs(best)) {
          best = r - t;
          bestT = t;
        }
      }
      residual.push(best);
      const tc = Math.min(Math.max(bestT, 1.5 * Math.PI), 4.5 * Math.PI - 1e-9);
      thirds[Math.floor((tc - 1.5 * Math.PI) / Math.PI)]++;
    }
    // measured: |residual| < 2 for 95.2 %, < 3 for 99.7 %; rms 1.007, mean 0.057;
    // t in each third of its range 0.330 0.337 0.333
    assert.ok(fraction(residual, (d) => Math.abs(d) < 2) > 0.93);
    assert.ok(fraction(residual, (d) => Math.abs(d) < 3) > 0.99);
    assert.ok(Math.abs(rms(residual) - 1) < 0.05, `residual rms ${rms(residual)}, noise 1`);
    thirds.forEach((c, j) => assert.ok(Math.abs(c / n - 1 / 3) < 0.02, `third ${j} of t: ${c / n}`));
  });

  it('2spirals: two arms ±(−a cos a, a sin a) + U(0, 0.5)², a = 3π √u, divided by 3, noise 0.1', () => {
    // 3x ∓ (0.25, 0.25) lies on r = a with polar angle π − a (arm +) or the same rotated by π
    // (arm −); residual noise: uniform 0.5/√12 and Gaussian 0.3 per coordinate.
    const x = toy('2spirals', n, 7).data;
    const residual: number[] = [];
    const arms = [0, 0];
    let inner = 0;
    for (let i = 0; i < n; i++) {
      let best = Infinity;
      let bestA = 0;
      let bestArm = 0;
      for (const [arm, s] of [
        [0, 1],
        [1, -1],
      ]) {
        const qx = s * 3 * x[2 * i] - 0.25;
        const qy = s * 3 * x[2 * i + 1] - 0.25;
        const r = Math.hypot(qx, qy);
        const phi = Math.atan2(qy, qx);
        for (let k = -2; k < 3; k++) {
          const a = Math.PI - phi + TAU * k;
          if (a < -1 || a > 3 * Math.PI + 1) continue;
          if (Math.abs(r - a) < Math.abs(best)) {
            best = r - a;
            bestA = a;
            bestArm = arm;
          }
        }
      }
      residual.push(best);
      arms[bestArm]++;
      if (bestA < 1.5 * Math.PI) inner++;
    }
    // measured: arms 0.500 / 0.500; |residual| < 1 for 99.5 %, rms 0.344;
    // a < 1.5π (√u < ½, probability ¼) for 0.247
    arms.forEach((a, j) => assert.ok(Math.abs(a / n - 0.5) < 0.02, `arm ${j}: ${a / n}`));
    assert.ok(fraction(residual, (d) => Math.abs(d) < 1) > 0.98);
    assert.ok(rms(residual) < 0.45, `residual rms ${rms(residual)}`);
    assert.ok(Math.abs(inner / n - 0.25) < 0.02, `share with a < 1.5π: ${inner / n}, expected 0.25`);
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
