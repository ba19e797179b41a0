/**
 * SMC / AIS against exact normalisers: log Z of analytic energies in d = 2, 8 and 32, weighted
 * mode masses, the Boltzmann-generator reweighting against a target, NLL against the exact one,
 * unbiasedness in Z over repeats, and clear errors for bad input.
 */
import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import * as path from 'node:path';
import { readNpy, writeNpy } from '../lib/data/npy';
import { runCli } from './cli-helpers';
import { rejectsWith, skipUnless, tmpDir } from './helpers';
import { hasTorchPython, runReference } from './python';

/** Two modes ±2 on the first axis, weights 1/3 and 2/3, std s: a normalised density (log Z = 0). */
function mixture(d: number, s = 0.5): ebm.EnergyModel {
  const mode = (x: number) => Array.from({ length: d }, (_, i) => (i === 0 ? x : 0));
  return ebm.energyModel({
    kind: 'gmm',
    means: [mode(-2), mode(2)],
    stds: [s, s],
    weights: [1 / 3, 2 / 3],
    device: 'cpu',
  });
}

/** Weighted mass of the particles with x_0 > 0. */
function rightMass(r: ebm.SmcResult, d: number): number {
  let m = 0;
  for (let i = 0; i < r.logWeights.length; i++)
    if ((r.samples.data[i * d] as number) > 0) m += Math.exp(r.logWeights[i] as number);
  return m;
}

describe('smc: sequential Monte Carlo against exact normalisers', function () {
  this.timeout(60000);

  for (const d of [2, 8, 32]) {
    it(`log Z of a normalised two-mode mixture in d = ${d} within 0.1 nats and its mode masses within 0.05`, async () => {
      const r = await ebm.smc(mixture(d), { n: 1000, steps: 4, stepSize: 0.05, levels: 100, seed: 2 });
      assert.ok(Math.abs(r.logZ) < 0.1, `log Z ${r.logZ}`);
      assert.ok(Math.abs(rightMass(r, d) - 2 / 3) < 0.05, `mass ${rightMass(r, d)}`);
      let lse = -Infinity;
      for (const w of r.logWeights) lse = Math.max(lse, w) + Math.log1p(Math.exp(-Math.abs(lse - w)));
      assert.ok(Math.abs(lse) < 1e-4, 'normalised weights');
      assert.equal(r.essPerLevel.length, 100);
      assert.ok(r.ess > 0 && r.ess <= 1);
    });
  }

  for (const mcmc of ['mala', 'hmc', 'langevin'] as const) {
    it(`${mcmc} moves: the energies carried across levels are the model's${mcmc === 'langevin' ? '' : ', log Z in d = 8 within 0.1 nats'}`, async () => {
      // the moves hand each level's energies and gradients on to the next (the bridge is linear in
      // b): the returned energies must be the model's at the returned particles
      const model = mixture(8);
      const r = await ebm.smc(model, { n: 1000, steps: 4, stepSize: 0.05, levels: 100, seed: 3, mcmc });
      // unadjusted Langevin moves do not leave each level invariant: their log Z is biased (-0.30 here)
      if (mcmc !== 'langevin') assert.ok(Math.abs(r.logZ) < 0.1, `log Z ${r.logZ}`);
      const fresh = await model.energy(r.samples);
      let worst = 0;
      for (let i = 0; i < fresh.length; i++) worst = Math.max(worst, Math.abs(r.energy[i] - fresh[i]));
      const scale = Math.max(...Array.from(fresh, Math.abs));
      assert.ok(worst < 1e-5 * scale, `carried energies off by ${worst} (largest energy ${scale})`);
    });
  }

  it('log Z of a composed energy (weight 2: ∫ p² has a closed form) and of a Gaussian with a given covariance', async () => {
    // p = the two-mode mixture in d = 8: ∫ p² = Σ_jk w_j w_k N(μ_j; μ_k, 2s²I)
    const d = 8;
    const s2 = 0.25;
    const squared = ebm.compose([{ model: mixture(d), weight: 2 }]);
    const r = await ebm.smc(squared, { n: 1000, steps: 4, stepSize: 0.05, levels: 100, seed: 3 });
    const w = [1 / 3, 2 / 3];
    const mu = [-2, 2];
    let zExact = 0;
    for (let j = 0; j < 2; j++) {
      for (let k = 0; k < 2; k++) {
        const dist2 = ((mu[j] as number) - (mu[k] as number)) ** 2;
        zExact += (w[j] as number) * (w[k] as number) * Math.exp(-dist2 / (4 * s2)) * (4 * Math.PI * s2) ** (-d / 2);
      }
    }
    const exact = Math.log(zExact);
    assert.ok(Math.abs(r.logZ - exact) < 0.1, `log Z ${r.logZ} vs ${exact}`);
    // a normalised Gaussian with a full covariance: log Z = 0
    const cov = [
      [2, 0.8],
      [0.8, 0.5],
    ];
    const full = ebm.energyModel({ kind: 'gaussian', mean: [1, -1], cov, device: 'cpu' });
    const z = await ebm.metrics.logPartition(full, { n: 500, steps: 4, stepSize: 0.05, levels: 60, repeats: 3 });
    assert.ok(Math.abs(z.logZ) < 0.1 && Math.abs(z.logZ) < 4 * z.stdErr + 0.05, `log Z ${z.logZ} ± ${z.stdErr}`);
  });

  it('reweights the particles against a target: the Boltzmann-generator correction', async () => {
    // the path goes to the equal-weight mixture; the target has weights 1/3, 2/3
    const d = 2;
    const mode = (x: number) => [x, 0];
    const path = ebm.energyModel({
      kind: 'gmm',
      means: [mode(-2), mode(2)],
      stds: [0.5, 0.5],
      weights: [0.5, 0.5],
      device: 'cpu',
    });
    const r = await ebm.smc(path, { n: 2000, steps: 4, stepSize: 0.05, levels: 50, seed: 4, target: mixture(d) });
    assert.ok(Math.abs(rightMass(r, d) - 2 / 3) < 0.05, `mass ${rightMass(r, d)}`);
    assert.ok(Math.abs(r.logZ) < 0.1, `log Z ${r.logZ}`);
    const unweighted = r.samples.data.filter((_, i) => i % d === 0 && (r.samples.data[i] as number) > 0).length / 2000;
    assert.ok(Math.abs(unweighted - 0.5) < 0.05, 'the particles themselves follow the path');
  });

  it('the estimate is unbiased in Z: the mean of exp(log Ẑ) over repeats is 1 for a normalised density', async () => {
    // few particles and levels: each run is noisy, the mean in Z is not
    const z = await ebm.metrics.logPartition(mixture(2), {
      n: 100,
      steps: 2,
      stepSize: 0.05,
      levels: 20,
      repeats: 16,
      seed: 10,
    });
    const meanZ = z.runs.reduce((a, v) => a + Math.exp(v), 0) / z.runs.length;
    assert.ok(Math.abs(meanZ - 1) < 0.1, `mean Z ${meanZ}`);
    assert.ok(z.stdErr > 0);
  });

  it('nll agrees with the exact NLL in d = 8 and with gridNll in 2-D', async () => {
    const d = 8;
    const m = mixture(d);
    const rows = 200;
    const data = new Float32Array(rows * d);
    for (let i = 0; i < rows; i++) data[i * d] = i % 3 === 0 ? -2 : 2;
    const x = ebm.tensor(data, [rows, d]);
    const est = await ebm.metrics.nll(m, x, { n: 500, steps: 4, stepSize: 0.05, levels: 60, repeats: 2 });
    const energies = await m.energy(x);
    const exact = energies.reduce((a, e) => a + e, 0) / rows; // log Z = 0
    assert.ok(Math.abs(est.nll - exact) < 0.1, `nll ${est.nll} vs ${exact}`);
    const m2 = mixture(2);
    const x2 = ebm.tensor(Float32Array.from([-2, 0, 2, 0, 1.5, 0.3]), [3, 2]);
    const grid = await ebm.metrics.gridNll(m2, x2, { lo: -6, hi: 6, resolution: 400 });
    const viaSmc = await ebm.metrics.nll(m2, x2, { n: 1000, steps: 4, stepSize: 0.05, levels: 60, repeats: 2 });
    assert.ok(Math.abs(viaSmc.nll - grid) < 0.05, `smc ${viaSmc.nll} vs grid ${grid}`);
  });

  it('follows a time-conditioned model along its levels', async () => {
    // a mixture on a VP path: at tMin it is (nearly) the mixture itself, normalised at every t
    const mode = (x: number) => [x, 0];
    const timed = ebm.energyModel({
      kind: 'gmm',
      means: [mode(-2), mode(2)],
      stds: [0.5, 0.5],
      weights: [1 / 3, 2 / 3],
      path: 'vp',
      device: 'cpu',
    });
    const r = await ebm.smc(timed, { n: 1000, steps: 4, stepSize: 0.02, levels: 50, seed: 5 });
    assert.ok(Math.abs(r.logZ) < 0.1, `log Z ${r.logZ}`);
    assert.ok(Math.abs(rightMass(r, 2) - 2 / 3) < 0.05, `mass ${rightMass(r, 2)}`);
  });

  it('bad input: essThreshold out of (0, 1], a target of another shape, t, a NaN energy', async () => {
    const m = mixture(2);
    await rejectsWith(
      ebm.smc(m, { n: 10, steps: 1, stepSize: 0.1, essThreshold: 0 }),
      ebm.EbmConfigError,
      /options\.essThreshold must be > 0/,
    );
    await rejectsWith(
      ebm.smc(m, { n: 10, steps: 1, stepSize: 0.1, essThreshold: 1.5 }),
      ebm.EbmConfigError,
      /options\.essThreshold must be <= 1/,
    );
    await rejectsWith(
      ebm.smc(m, { n: 10, steps: 1, stepSize: 0.1, target: mixture(3) }),
      ebm.EbmShapeError,
      /target takes rows of shape \[3\]/,
    );
    await rejectsWith(
      ebm.sample(m, { n: 10, t: 0.5, sampler: { kind: 'smc', steps: 1, stepSize: 0.1 } }),
      ebm.EbmConfigError,
      /t was given/,
    );
    await rejectsWith(
      ebm.smc(m, { n: 10, steps: 1, stepSize: 0.1, base: { std: -1 } }),
      ebm.EbmConfigError,
      /options\.base\.std must be > 0/,
    );
  });

  it('log Z of a product of energies (a mixture times a normalised Gaussian) matches its closed form', async () => {
    const shifted = ebm.compose([{ model: mixture(2), weight: 1 }]);
    const base = await ebm.smc(shifted, { n: 1000, steps: 4, stepSize: 0.05, levels: 50, seed: 6 });
    const g = ebm.energyModel({ kind: 'gaussian', mean: [0, 0], std: 1, device: 'cpu' });
    // exp(-(E_mix + E_g)) has Z = ∫ p_mix p_g (the gaussian kind's energy is −log N)
    const product = ebm.compose([
      { model: mixture(2), weight: 1 },
      { model: g, weight: 1 },
    ]);
    const r = await ebm.smc(product, { n: 2000, steps: 4, stepSize: 0.05, levels: 50, seed: 6 });
    // ∫ N(x; μ_k, s²) N(x; 0, 1) = N(μ_k; 0, (1 + s²) I)
    const s2 = 1.25;
    const nk = (mu: number) => Math.exp(-(mu * mu) / (2 * s2)) / (2 * Math.PI * s2);
    const exact = Math.log(nk(-2) / 3 + (2 * nk(2)) / 3);
    assert.ok(Math.abs(base.logZ) < 0.1, `base ${base.logZ}`);
    assert.ok(Math.abs(r.logZ - exact) < 0.1, `product ${r.logZ} vs ${exact}`);
  });

  it('ebm sample --sampler smc writes the normalised log weights next to the samples and prints log Z', async () => {
    const dir = tmpDir();
    await mixture(2).save(path.join(dir, 'm.safetensors'));
    const r = await runCli(
      [
        'sample',
        'm.safetensors',
        '--sampler',
        'smc',
        '--steps',
        '3',
        '--step-size',
        '0.05',
        '--levels',
        '40',
        '--n',
        '800',
      ],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /log Z -?\d+\.\d{4}, final ESS/);
    const x = readNpy(path.join(dir, 'samples.npy'));
    const w = readNpy(path.join(dir, 'samples.log-weights.npy'));
    assert.deepEqual(w.shape, [800]);
    let total = 0;
    let right = 0;
    for (let i = 0; i < 800; i++) {
      const wi = Math.exp(w.data[i] as number);
      total += wi;
      if ((x.data[2 * i] as number) > 0) right += wi;
    }
    assert.ok(Math.abs(total - 1) < 1e-4);
    assert.ok(Math.abs(right - 2 / 3) < 0.06, `mass ${right}`);
  });

  it('ebm eval --nll ais gives the NLL in any dimension, as the API does; stray AIS flags are usage errors', async () => {
    const dir = tmpDir();
    const d = 8;
    await mixture(d).save(path.join(dir, 'm.safetensors'));
    const rows = 60;
    const data = new Float32Array(rows * d);
    for (let i = 0; i < rows; i++) data[i * d] = i % 3 === 0 ? -2 : 2;
    writeNpy(path.join(dir, 'x.npy'), { data, shape: [rows, d] });
    const flags = ['--particles', '500', '--levels', '40', '--repeats', '2', '--seed', '3'];
    const r = await runCli(['eval', 'm.safetensors', '--data', 'x.npy', '--nll', 'ais', ...flags], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /AIS run 2\/2/);
    const out = JSON.parse(r.stdout) as { aisNll: ebm.NllEstimate; meanEnergy: number };
    const api = await ebm.metrics.nll(mixture(d), ebm.tensor(data, [rows, d]), {
      n: 500,
      levels: 40,
      steps: 2,
      stepSize: 0.05,
      repeats: 2,
      seed: 3,
    });
    assert.ok(Math.abs(out.aisNll.nll - api.nll) < 1e-4, `${out.aisNll.nll} vs ${api.nll}`);
    assert.ok(Math.abs(out.aisNll.logZ) < 0.1);
    const stray = await runCli(['eval', 'm.safetensors', '--data', 'x.npy', '--particles', '10'], dir);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /--particles applies only with --nll ais/);
    const bad = await runCli(['eval', 'm.safetensors', '--data', 'x.npy', '--nll', 'grid'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--nll must be 'ais'/);
  });

  it('bad energies: every weight underflowing, a NaN energy on the path, a target that shares parts with the model', async function () {
    const g = ebm.energyModel({ kind: 'gaussian', mean: [0, 0], std: 1, device: 'cpu' });
    // exp(-E) of a weight-3e38 composition is 0 everywhere in float32: no particle keeps any weight
    const flat = ebm.compose([{ model: g, weight: 3e38 }]);
    const few = { n: 50, steps: 1, stepSize: 0.1, levels: 5 };
    await rejectsWith(ebm.smc(flat, few), ebm.EbmNumericsError, /every particle's weight underflowed at level 1 of 5/);
    await rejectsWith(
      ebm.smc(g, { ...few, target: flat }),
      ebm.EbmNumericsError,
      /underflowed in the final reweighting/,
    );
    // the target shares its part with the model (both are locked once): ∫ N(x; 0, I)² = 1 / (4π)
    const squared = ebm.compose([{ model: g, weight: 2 }]);
    const r = await ebm.smc(g, { n: 1000, steps: 2, stepSize: 0.1, levels: 20, seed: 1, target: squared });
    assert.ok(Math.abs(r.logZ - Math.log(1 / (4 * Math.PI))) < 0.1, `log Z ${r.logZ}`);
    skipUnless(this, hasTorchPython(), '/usr/bin/python3 has no torch (apt-get install -y python3-torch)');
    const file = path.join(tmpDir(), 'nanfar.pt');
    runReference('scripted_energy.py', { kind: 'nanfar', path: file });
    const broken = ebm.energyModel({ kind: 'torchscript', path: file, inputShape: [2], device: 'cpu' });
    await rejectsWith(
      ebm.smc(broken, { n: 500, steps: 2, stepSize: 0.1, levels: 20, seed: 1 }),
      ebm.EbmNumericsError,
      /smc: the energy is NaN at level \d+ of 20/,
    );
  });

  it('runs off the event loop, reports progress and stops on an AbortSignal', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const run = ebm.smc(mixture(32), {
      n: 20000,
      steps: 4,
      stepSize: 0.05,
      levels: 400,
      signal: controller.signal,
      onProgress: (step, total) => {
        seen.push(step);
        assert.equal(total, 1600);
        if (seen.length === 2) controller.abort();
      },
    });
    await rejectsWith(run, ebm.EbmAbortError, /abort/);
    clearInterval(timer);
    assert.ok(seen.length >= 2 && seen.length < 20, `progress ${seen.join(', ')}`);
    assert.ok(ticks > 0, 'the event loop ran while SMC worked');
  });
});
