import { strict as assert } from 'node:assert';
import { quickConfig as boltzmannQuick, runBoltzmann } from '../examples/reproduce/boltzmann';
import { Context } from '../examples/reproduce/common';
import { quickConfig as diffClfQuick, runDiffClf } from '../examples/reproduce/diffclf';
import {
  diffClfReferenceClaims,
  MEASUREMENT_TOLERANCE,
  quickConfig as referenceQuick,
  runDiffClfReference,
} from '../examples/reproduce/diffclf-reference';
import { hasTorchPython } from './python';
import { skipUnless } from './helpers';
import { quickConfig as flowQuick, runGradientFlow } from '../examples/reproduce/gradient-flow';
import { quickConfig as modeQuick, runModeBlindness } from '../examples/reproduce/mode-blindness';

// Issue 15's acceptance claims, checked on the CI-sized (`npm run reproduce -- --quick`) configurations of
// examples/reproduce. The thresholds are the issue's, unchanged; beside each stands what the full run measured
// (examples/results/reproduce-*.json, README "Results"; 2 cores, OMP_NUM_THREADS=1, 29 min). The quick sizes keep
// the full step budgets and drop seeds and settings, so they run seed 0.
const ctx: Context = { quick: true, log: (line) => console.log(`      ${line}`) };

describe("npm run reproduce -- --quick: the papers' qualitative claims", function () {
  this.timeout(300000);

  it('mode blindness: ED (t = 8) tracks the true weight (slope ≈ 1), DSM (σ = 0.1) does not', async () => {
    // quick: ED t = 8 and DSM σ = 0.1 at w = 0.2 and 0.8, seed 0, the full run's 6000 steps.
    const { results } = await runModeBlindness(ctx, modeQuick);
    const ed = results.summary.find((s) => s.method === 'ed-8')!;
    const dsm = results.summary.find((s) => s.method === 'dsm-0.1')!;
    // Full run, seeds 0, 1, 2: ED's gaps 0.643, 0.495, 0.661, largest error 0.070 (holds on every seed); DSM's gaps
    // -0.053, 0.562, -0.178: blind on seeds 0 and 2, but seed 1 lands near the truth (0.30 / 0.86), so the claim
    // "DSM's differ by < 0.3" holds on 2 of 3 seeds. Quick (seed 0): ED 0.643 / 0.035, DSM -0.053.
    // The claims are now about tracking (issue 24): the slope of the learned weight against the true one. Full run,
    // five weights, seeds 0-2: ED 1.052, 0.927, 1.039; DSM -0.029, 0.928, -0.170. Quick (the pair 0.2 / 0.8): the
    // slope is the gap / 0.6, ED 1.07, DSM -0.09.
    assert.ok(Math.abs((ed.slopes[0] as number) - 1) < 0.15, `ED's slope ${ed.slopes[0]} (need within 0.15 of 1)`);
    assert.ok(ed.maxMirroredError < 0.12, `ED's largest error ${ed.maxMirroredError} (need < 0.12)`);
    assert.ok((dsm.slopes[0] as number) < 0.5, `DSM's slope ${dsm.slopes[0]} (need < 0.5: blind)`);
  });

  it("DiffCLF: DSM + CLF at most halves DSM's mode-weight error and keeps R² ≥ 0.9 between levels (d = 2)", async () => {
    // quick: the two-mode mixture in d = 2, seed 0, the full run's 5000 + 1000 steps.
    const { results } = await runDiffClf(ctx, diffClfQuick);
    const run = results.runs[0];
    // The claim is about the model's weights, exact in d = 2 (exp(−E) on a grid; the sampler does not cross between
    // the modes at t = 0.001). Full run, seeds 0-4: DSM 0.073, 0.121, 0.333, 0.330, 0.333 (mean 0.238), DSM + CLF
    // 0.008, 0.080, 0.014, 0.028, 0.065 (mean 0.039). From samples 0.058 against 0.032; d = 8 (samples): 0.225
    // against 0.012; 40 modes in d = 32 (samples, seeds 0-4): 0.314 against 0.191, which misses the halving on every
    // seed. R² at t = 0.01: 0.923, 0.934, 0.923, 0.921, 0.919. Quick (seed 0): exact 0.073 against 0.008, R² 0.923.
    const dsm = run.dsm.gridWeightError!;
    const clf = run.clf.gridWeightError!;
    assert.ok(clf <= 0.5 * dsm, `exact weight error DSM ${dsm}, DSM + CLF ${clf} (need at most half)`);
    assert.ok(run.clf.r2At001 >= 0.9, `R² at t = 0.01: ${run.clf.r2At001}`);
  });

  it('DiffCLF against the plain PyTorch file: both sides train, and measure one model alike', async function () {
    skipUnless(this, hasTorchPython(), '/usr/bin/python3 has no torch (apt-get install -y python3-torch)');
    // quick: seed 0, 400 + 200 steps, both sides at once. What this checks is the comparison's footing: the Python
    // file's evaluate() on ebm-torch's trained model gives measure()'s ŵ and R² (a different grid, level or mixture
    // on either side would not). The accuracy claim needs the full run's ten seeds (examples/results).
    const { results } = await runDiffClfReference(ctx, referenceQuick);
    const run = results.runs[0];
    assert.ok(run.ebm && run.reference, 'both sides ran');
    for (const side of [run.ebm, run.reference]) {
      assert.ok(side.weight > 0 && side.weight < 1 && Number.isFinite(side.r2At001));
    }
    const p = results.measurementParity!;
    assert.ok(
      p.weight <= MEASUREMENT_TOLERANCE && p.r2At001 <= MEASUREMENT_TOLERANCE,
      `|Δŵ| ${p.weight}, |ΔR²| ${p.r2At001}`,
    );
    // the weight is off 1/2 (a trained model, not a flat one), so the agreement is not that of two constants
    assert.ok(Math.abs(run.ebm.weight - 0.5) > 0.05, `ŵ ${run.ebm.weight}`);
    assert.equal(diffClfReferenceClaims(results).length, 3);
  });

  it('gradient flow: within-mode spread within 10 % of the truth, without repulsion it collapses', async () => {
    // quick: 1000 particles, 240 gradient evaluations (120 Heun steps), seed 0; no CD part.
    const { results } = await runGradientFlow(ctx, { ...flowQuick, cdSteps: 0 });
    const spread = (name: string) => results.rows.find((r) => r.sampler === name)!.spread;
    // Full run (2000 particles, seeds 0-2, 240 gradients): spread 0.348 against 0.354, without repulsion 0.000.
    // Quick: 0.344 and 0.000.
    const truth = results.trueSpread;
    assert.ok(Math.abs(spread('wgf') - truth) <= 0.1 * truth, `spread ${spread('wgf')} vs true ${truth}`);
    assert.ok(spread('wgf-no-repulsion') < 0.5 * truth, `no-repulsion spread ${spread('wgf-no-repulsion')}`);
  });

  it('Boltzmann generator: the DSM + CLF path keeps more ESS than the DSM path; AIS NLL of the exact energy is right', async () => {
    // quick: the two-mode mixture in d = 8 (1500 + 500 steps), 1000 particles. Full run (40 modes, d = 32): ESS
    // 0.005 against 0.023, log Z error 0.552 against 0.077; AIS NLL 1.015 ± 0.065 against the exact 1.014.
    // Quick: ESS 0.011 against 0.363, log Z error 0.059 against 0.035; AIS NLL 1.048 ± 0.065 against 1.014.
    const { results } = await runBoltzmann(ctx, boltzmannQuick);
    const [dsm, clf] = results.paths;
    assert.ok(clf!.ess > dsm!.ess, `ESS DSM ${dsm!.ess}, DSM + CLF ${clf!.ess}`);
    assert.ok(
      Math.abs(results.nll.aisOfExact - results.nll.exact) < 0.1,
      `AIS ${results.nll.aisOfExact} vs ${results.nll.exact}`,
    );
  });
});
