import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import { randn, rejectsWith, rng } from './helpers';

/** [T, C, D] draws as a tensor and as nested arrays chains[c][t][k] for the reference. */
function chainsOf(draw: (t: number, c: number, k: number) => number, T: number, C: number, D: number) {
  const data = new Float32Array(T * C * D);
  const nested: number[][][] = [];
  for (let c = 0; c < C; c++) nested.push(Array.from({ length: T }, () => new Array<number>(D)));
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < D; k++) {
        const v = Math.fround(draw(t, c, k));
        data[(t * C + c) * D + k] = v;
        nested[c][t][k] = v;
      }
    }
  }
  return { tensor: ebm.tensor(data, D === 1 ? [T, C] : [T, C, D]), nested };
}

/** Split R̂ of one coordinate, straight from BDA3 §11.4, in float64. */
function referenceRhat(chains: number[][][], k: number): number {
  const T = chains[0].length;
  const n = Math.floor(T / 2);
  const halves: number[][] = [];
  for (const chain of chains) {
    const xs = chain.map((draw) => draw[k]);
    halves.push(xs.slice(0, n), xs.slice(T - n));
  }
  const m = halves.length;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = (xs: number[]) => {
    const mu = mean(xs);
    return xs.reduce((a, b) => a + (b - mu) ** 2, 0) / (xs.length - 1);
  };
  const W = mean(halves.map(variance));
  const means = halves.map(mean);
  const B = (n / (m - 1)) * means.reduce((a, b) => a + (b - mean(means)) ** 2, 0);
  const varPlus = ((n - 1) / n) * W + B / n;
  return Math.sqrt(varPlus / W);
}

/** V-statistic KSD² of N(μ, I) with the IMQ kernel, by the plain double loop over all (i, j) and coordinates. */
function referenceKsd2(x: number[][], mu: number[], c = 1, beta = -0.5): number {
  const n = x.length;
  const d = mu.length;
  const score = x.map((row) => row.map((v, a) => -(v - mu[a])));
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const r = x[i].map((v, a) => v - x[j][a]);
      const q = c * c + r.reduce((acc, v) => acc + v * v, 0);
      const k = q ** beta;
      // the gradients of k and each diagonal entry ∂²k/∂x_a∂y_a, written out coordinate by coordinate
      let u = 0;
      for (let a = 0; a < d; a++) {
        const gradX = 2 * beta * q ** (beta - 1) * r[a];
        const gradY = -gradX;
        const dxdy = 2 * beta * ((beta - 1) * q ** (beta - 2) * -2 * r[a] * r[a] - q ** (beta - 1));
        u += score[i][a] * score[j][a] * k + score[i][a] * gradY + score[j][a] * gradX + dxdy;
      }
      sum += u;
    }
  }
  return sum / (n * n);
}

/** n rows of N(μ + shift, I), as float32 values and as the same values in nested arrays. */
function gaussianRows(rand: () => number, n: number, mu: number[], shift = 0) {
  const d = mu.length;
  const data = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) data[i] = mu[i % d] + shift + randn(rand);
  const nested = Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * d, (i + 1) * d)));
  return { tensor: ebm.tensor(data, [n, d]), nested };
}

describe('sample diagnostics', () => {
  describe('rhat (split R̂)', () => {
    it('matches a direct float64 computation on random chains, odd and even T, tensor and array input', () => {
      const rand = rng(11);
      for (const T of [9, 40, 101]) {
        // chains of different means and scales, so B and W both matter
        const { tensor, nested } = chainsOf(
          (_t, c, k) => 0.3 * c + (1 + 0.5 * k) * (1 + 0.2 * c) * randn(rand) + 5,
          T,
          3,
          4,
        );
        const got = ebm.metrics.rhat(tensor);
        assert.equal(got.rhat.length, 4);
        const want = [0, 1, 2, 3].map((k) => referenceRhat(nested, k));
        want.forEach((w, k) =>
          assert.ok(Math.abs(got.rhat[k] - w) <= 1e-5 * w, `T=${T} k=${k}: ${got.rhat[k]} vs ${w}`),
        );
        assert.equal(got.max, Math.max(...got.rhat));
        // the same chains as an array of per-chain tensors [T, D]
        const perChain = nested.map((chain) => ebm.tensor(chain.flat(), [T, 4]));
        assert.deepEqual(ebm.metrics.rhat(perChain).rhat, got.rhat);
      }
    });

    it('takes a [T, C] tensor and a [T, C, ...dims] trajectory, one R̂ per coordinate', () => {
      const rand = rng(12);
      const { tensor, nested } = chainsOf(() => randn(rand), 20, 2, 1);
      const got = ebm.metrics.rhat(tensor);
      assert.equal(got.rhat.length, 1);
      assert.ok(Math.abs(got.rhat[0] - referenceRhat(nested, 0)) <= 1e-5 * got.rhat[0]);
      const images = ebm.tensor(
        Float32Array.from({ length: 8 * 3 * 2 * 2 * 2 }, () => randn(rand)),
        [8, 3, 2, 2, 2],
      );
      assert.equal(ebm.metrics.rhat(images).rhat.length, 8);
    });

    it('is ≈ 1 for well-mixed iid chains and > 1.1 when one chain is shifted by 2', () => {
      const rand = rng(13);
      const iid = chainsOf(() => randn(rand), 1000, 4, 2).tensor;
      const mixed = ebm.metrics.rhat(iid);
      const shifted = ebm.metrics.rhat(chainsOf((_t, c) => randn(rand) + (c === 3 ? 2 : 0), 1000, 4, 2).tensor);
      console.log(`      R̂ max: iid ${mixed.max.toFixed(4)}, one chain shifted by 2: ${shifted.max.toFixed(3)}`);
      assert.ok(mixed.max < 1.01, `iid R̂ ${mixed.max}`);
      for (const r of shifted.rhat) assert.ok(r > 1.1, `shifted R̂ ${r}`);
    });

    it('is 1 for chains all at one constant, Infinity for constant chains at different values', () => {
      const same = ebm.metrics.rhat(ebm.tensor(new Float32Array(10 * 3).fill(2), [10, 3]));
      assert.deepEqual([...same.rhat], [1]);
      const apart = ebm.metrics.rhat(chainsOf((_t, c, k) => (k === 0 ? c : 1), 10, 3, 2).tensor);
      assert.deepEqual([...apart.rhat], [Infinity, 1]);
      assert.equal(apart.max, Infinity);
    });

    it('rejects too few draws or chains, non-finite draws and malformed shapes', () => {
      const z = (shape: number[]) => ebm.tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      assert.throws(() => ebm.metrics.rhat(z([3, 4])), ebm.EbmConfigError);
      assert.throws(() => ebm.metrics.rhat(z([3, 4])), /chains must have at least 4 draws.*got T = 3/);
      assert.throws(() => ebm.metrics.rhat(z([10, 1])), /chains must hold at least 2 chains.*C = 1/);
      assert.throws(() => ebm.metrics.rhat(z([10, 1])), ebm.EbmConfigError);
      assert.throws(() => ebm.metrics.rhat([z([10, 2])]), /at least 2 chains for R̂, got an array of 1/);
      assert.throws(() => ebm.metrics.rhat(z([10])), ebm.EbmShapeError);
      assert.throws(() => ebm.metrics.rhat(z([10])), /shape \[T, C, \.\.\.dims\].*got \[10\]/);
      assert.throws(() => ebm.metrics.rhat([z([10, 2]), z([10, 3])]), /chains\[1\] has shape \[10, 3\]/);
      assert.throws(() => ebm.metrics.rhat({ data: new Float32Array(5), shape: [2, 2] }), ebm.EbmShapeError);
      assert.throws(() => ebm.metrics.rhat(null as unknown as ebm.Tensor), /chains must be a tensor/);
      const bad = z([10, 2, 3]);
      bad.data[37] = NaN;
      assert.throws(() => ebm.metrics.rhat(bad), ebm.EbmNumericsError);
      assert.throws(() => ebm.metrics.rhat(bad), /chains contains a non-finite value \(NaN\) at flat index 37/);
      assert.throws(() => ebm.metrics.rhat([z([10, 2, 3]), bad]), /chains\[1\] contains a non-finite/);
    });

    it('reads the trajectory of ebm.sample: MALA chains on a Gaussian agree after warm-up', async () => {
      const model = ebm.energyModel({ kind: 'gaussian', mean: [1, -2], std: 1, device: 'cpu' });
      const run = await ebm.sample(model, {
        n: 4,
        sampler: { kind: 'mala', steps: 2000, stepSize: 0.5 },
        seed: 3,
        returnTrajectory: true,
      });
      const traj = run.trajectory!;
      assert.equal(traj.shape.length, 3);
      const [T, C, D] = traj.shape;
      // keep the second half of the steps
      const kept = ebm.tensor(traj.data.subarray(Math.floor(T / 2) * C * D), [T - Math.floor(T / 2), C, D]);
      const r = ebm.metrics.rhat(kept);
      console.log(
        `      MALA trajectory [${traj.shape.join(', ')}]: R̂ ${[...r.rhat].map((v) => v.toFixed(4)).join(', ')}`,
      );
      assert.equal(r.rhat.length, 2);
      assert.ok(r.max < 1.05, `R̂ ${r.max}`);
    });
  });

  describe('ksd (IMQ kernel Stein discrepancy)', () => {
    const mu = [0.5, -1, 2];
    const model = ebm.energyModel({ kind: 'gaussian', mean: mu, std: 1, device: 'cpu' });

    it('matches a direct double loop with the analytic score of N(μ, I)', async () => {
      const rand = rng(21);
      for (const [shift, c, beta] of [
        [0, 1, -0.5],
        [0.7, 1, -0.5],
        [0, 2, -0.25],
        [-0.3, 0.5, -0.9],
      ]) {
        const { tensor, nested } = gaussianRows(rand, 200, mu, shift);
        const opts = c === 1 && beta === -0.5 ? {} : { c, beta };
        const got = await ebm.metrics.ksd(model, tensor, opts);
        const want = referenceKsd2(nested, mu, c, beta);
        assert.equal(got.n, 200);
        assert.ok(
          Math.abs(got.ksdSquared - want) <= 1e-6 * Math.abs(want),
          `shift ${shift} c ${c} β ${beta}: ${got.ksdSquared} vs ${want}`,
        );
        assert.equal(got.ksd, Math.sqrt(got.ksdSquared));
      }
    });

    it('is much smaller for samples of the model than for samples shifted by +1', async () => {
      const rand = rng(22);
      const own = await ebm.metrics.ksd(model, gaussianRows(rand, 500, mu).tensor);
      const shifted = await ebm.metrics.ksd(model, gaussianRows(rand, 500, mu, 1).tensor);
      console.log(
        `      KSD² at n = 500: own samples ${own.ksdSquared.toFixed(4)} (2d/n = ${(6 / 500).toFixed(4)}), ` +
          `shifted by +1 ${shifted.ksdSquared.toFixed(4)}`,
      );
      // the V-statistic of exact samples is ≈ E u(x, x)/n = 2d/n, and never negative (u is a positive-definite
      // kernel); a wrong sign in any Stein-kernel term makes it O(1), of either sign
      assert.ok(own.ksdSquared > 0 && own.ksdSquared < 0.03, `own ${own.ksdSquared}`);
      assert.ok(shifted.ksdSquared > 5 * own.ksdSquared, `own ${own.ksdSquared}, shifted ${shifted.ksdSquared}`);
    });

    it('rejects a wrong row shape, NaN, a t the model does not take, bad kernel options', async () => {
      const x = gaussianRows(rng(23), 10, mu).tensor;
      const m = ebm.metrics;
      await rejectsWith(m.ksd(model, ebm.tensor(x.data.subarray(0, 20), [10, 2]), {}), ebm.EbmShapeError, /\[N, 3\]/);
      await rejectsWith(m.ksd(model, ebm.tensor(x.data, [10, 3, 1])), ebm.EbmShapeError, /samples must have shape/);
      const nan = ebm.tensor(x.data.slice(), [10, 3]);
      nan.data[4] = NaN;
      await rejectsWith(m.ksd(model, nan), ebm.EbmNumericsError, /samples contains a non-finite value \(NaN\)/);
      await rejectsWith(m.ksd(model, x, { t: 0.5 }), ebm.EbmConfigError, /options\.t applies only to time-conditioned/);
      await rejectsWith(m.ksd(model, x, { c: 0 }), ebm.EbmConfigError, /options\.c must be > 0/);
      await rejectsWith(m.ksd(model, x, { beta: -1 }), ebm.EbmConfigError, /options\.beta must be > -1/);
      await rejectsWith(m.ksd(model, x, { beta: 0.5 }), ebm.EbmConfigError, /options\.beta must be < 0/);
      await rejectsWith(
        m.ksd(model, x, { bandwidth: 1 } as ebm.metrics.KsdOptions),
        ebm.EbmConfigError,
        /options\.bandwidth is not a known option/,
      );
      await rejectsWith(m.ksd({} as ebm.EnergyModel, x), ebm.EbmConfigError, /model must be an ebm-torch EnergyModel/);
      const big = ebm.tensor(new Float32Array((ebm.metrics.KSD_MAX_ROWS + 1) * 3), [ebm.metrics.KSD_MAX_ROWS + 1, 3]);
      await rejectsWith(m.ksd(model, big), ebm.EbmConfigError, /samples may have at most 20000 rows/);
    });

    it('needs t for a time-conditioned model, and takes it', async () => {
      const timed = ebm.energyModel({
        kind: 'gmm',
        means: [[0, 0]],
        weights: [1],
        stds: [1],
        path: 'vp',
        device: 'cpu',
      });
      assert.equal(timed.timeConditioned, true);
      const x = gaussianRows(rng(24), 50, [0, 0]).tensor;
      await rejectsWith(ebm.metrics.ksd(timed, x), ebm.EbmConfigError, /options\.t is required/);
      const got = await ebm.metrics.ksd(timed, x, { t: 0.5 });
      assert.ok(Number.isFinite(got.ksdSquared) && got.ksdSquared >= 0);
    });

    it('works on the samples as they were at the call', async () => {
      const x = gaussianRows(rng(26), 1500, mu).tensor;
      const before = (await ebm.metrics.ksd(model, x)).ksdSquared;
      const pending = ebm.metrics.ksd(model, x);
      x.data.fill(7);
      assert.equal((await pending).ksdSquared, before);
    });

    it('yields to the event loop and honours an abort signal', async () => {
      const x = gaussianRows(rng(25), 6000, mu).tensor;
      const controller = new AbortController();
      let ticks = 0;
      const timer = setInterval(() => {
        ticks++;
        if (ticks === 3) controller.abort();
      }, 1);
      try {
        await rejectsWith(
          ebm.metrics.ksd(model, x, { signal: controller.signal }),
          ebm.EbmAbortError,
          /ksd was aborted/,
        );
      } finally {
        clearInterval(timer);
      }
      assert.ok(ticks >= 3, 'timers ran while ksd was summing');
      await rejectsWith(ebm.metrics.ksd(model, x, { signal: AbortSignal.abort() }), ebm.EbmAbortError, /aborted/);
    });
  });
});
