/**
 * Experiment 7 — Boltzmann generator and likelihoods (issue 28). (a) On experiment 3's 40-mode mixture in d = 32,
 * SMC along the path of a DSM-trained and of a DSM + CLF-trained time-conditioned energy, reweighted at the end
 * against the true mixture energy: final ESS, weighted mode-weight error and log Z error (the mixture is normalised,
 * so the truth is 0). (b) The AIS test NLL (ebm.metrics.nll) in d = 8: of the exact two-mode energy, against its
 * closed form (the estimator's own error), and of an ED-trained MLP (the model's gap to the truth).
 */
import * as ebm from '../../lib';
import type { Claim, Context, ExperimentOutput, ExperimentRecord } from './common';
import { experiment, fixed, section, timed, totalVariation } from './common';
import { DiffClfSetting, mixtureSpec } from './diffclf';

export interface BoltzmannConfig {
  /** the path experiment: experiment 3's setting and budget */
  setting: DiffClfSetting;
  levels: number;
  preSteps: number;
  armSteps: number;
  dataSize: number;
  particles: number;
  smcSteps: number;
  /** the NLL experiment in d = 8 */
  nllSteps: number;
  nllParticles: number;
  repeats: number;
}

export const fullConfig: BoltzmannConfig = {
  setting: { name: 'forty-d32', label: '40 modes, d = 32', d: 32, mixture: 'forty', hidden: [256, 256], seeds: [0] },
  levels: 64,
  preSteps: 5000,
  armSteps: 1000,
  dataSize: 8192,
  particles: 4000,
  smcSteps: 4,
  nllSteps: 3000,
  nllParticles: 2000,
  repeats: 4,
};
export const quickConfig: BoltzmannConfig = {
  ...fullConfig,
  setting: { name: 'two-d8', label: '2 modes, d = 8', d: 8, mixture: 'two', hidden: [128, 128], seeds: [0] },
  preSteps: 1500,
  armSteps: 500,
  particles: 1000,
  nllSteps: 1000,
  nllParticles: 500,
  repeats: 2,
};

export interface PathResult {
  arm: 'exact' | 'dsm' | 'clf';
  ess: number;
  weightError: number;
  logZError: number;
  resampled: number;
  seconds: number;
}

export interface BoltzmannResults {
  setting: string;
  paths: PathResult[];
  /** the same SMC on the exact time-dependent mixture: what the sampler alone achieves */
  exactPath: PathResult;
  nll: { exact: number; aisOfExact: number; aisOfExactStdErr: number; ed: number; edStdErr: number };
}

/** Weighted mode weights: each particle's weight to its nearest centre. */
function weightedModeWeights(x: ebm.Tensor, logWeights: Float32Array, centres: number[][]): number[] {
  const d = x.shape[1] as number;
  const out = new Array<number>(centres.length).fill(0);
  for (let i = 0; i < logWeights.length; i++) {
    let best = 0;
    let bestDist = Infinity;
    centres.forEach((c, k) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += ((x.data[i * d + j] as number) - (c[j] as number)) ** 2;
      if (s < bestDist) [best, bestDist] = [k, s];
    });
    out[best] = (out[best] as number) + Math.exp(logWeights[i] as number);
  }
  return out;
}

async function smcAlong(
  arm: PathResult['arm'],
  model: ebm.EnergyModel,
  target: ebm.EnergyModel,
  spec: ebm.datasets.GaussianMixtureSpec,
  c: BoltzmannConfig,
): Promise<PathResult> {
  const { value: r, seconds } = await timed(() =>
    ebm.smc(model, { n: c.particles, steps: c.smcSteps, stepSize: 0.1, levels: c.levels, seed: 5, target }),
  );
  const weights = weightedModeWeights(
    r.samples,
    r.logWeights,
    spec.means.map((m) => [...m]),
  );
  return {
    arm,
    ess: r.ess,
    weightError: totalVariation(weights, spec.weights),
    logZError: Math.abs(r.logZ),
    resampled: r.resampledAt.length,
    seconds,
  };
}

/** (b): the AIS NLL of the exact two-mode energy and of an ED-trained MLP in d = 8, on held-out samples. */
async function nllPart(c: BoltzmannConfig, log: (line: string) => void): Promise<BoltzmannResults['nll']> {
  const spec = mixtureSpec({ name: 'two-d8', label: '', d: 8, mixture: 'two', hidden: [], seeds: [] });
  const mixture = new ebm.datasets.GaussianMixture(spec);
  const train = mixture.sample(c.dataSize, 1);
  const test = mixture.sample(1000, 2);
  const logp = mixture.logDensity(test);
  const exactNll = -logp.reduce((a, v) => a + v, 0) / logp.length;
  const exactModel = ebm.energyModel({
    kind: 'gmm',
    means: spec.means.map((m) => [...m]),
    stds: [...(spec.stds as number[])],
    weights: [...spec.weights],
    device: 'cpu',
  });
  const smc = { n: c.nllParticles, steps: 4, stepSize: 0.02, levels: 100, repeats: c.repeats };
  const ais = await ebm.metrics.nll(exactModel, test, smc);
  const ed = ebm.energyModel({ kind: 'mlp', inputDim: 8, hidden: [128, 128], device: 'cpu', seed: 0 });
  await ebm.train(ed, train, {
    loss: { kind: 'ed', t: 0.25, m: 16, w: 1 },
    optimizer: { kind: 'adam', lr: 1e-3 },
    batchSize: 256,
    steps: c.nllSteps,
    seed: 0,
  });
  const edNll = await ebm.metrics.nll(ed, test, smc);
  log(
    `boltzmann: NLL in d = 8: exact ${exactNll.toFixed(3)}, AIS of the exact energy ${ais.nll.toFixed(3)} ± ${ais.stdErr.toFixed(3)}, ` +
      `AIS of the ED model ${edNll.nll.toFixed(3)} ± ${edNll.stdErr.toFixed(3)}`,
  );
  return { exact: exactNll, aisOfExact: ais.nll, aisOfExactStdErr: ais.stdErr, ed: edNll.nll, edStdErr: edNll.stdErr };
}

export async function runBoltzmann(
  ctx: Context,
  c: BoltzmannConfig = ctx.quick ? quickConfig : fullConfig,
): Promise<ExperimentOutput<BoltzmannResults>> {
  const s = c.setting;
  const spec = mixtureSpec(s);
  const mixture = new ebm.datasets.GaussianMixture(spec);
  const gmm = (path?: 'vp') =>
    ebm.energyModel({
      kind: 'gmm',
      means: spec.means.map((m) => [...m]),
      stds: [...(spec.stds as number[])],
      weights: [...spec.weights],
      ...(path ? { path } : {}),
      device: 'cpu',
    });
  const target = gmm();
  const exactPath = await smcAlong('exact', gmm('vp'), target, spec, c);
  ctx.log(
    `boltzmann: ${s.label}: SMC on the exact path: ESS ${exactPath.ess.toFixed(3)}, weight error ${exactPath.weightError.toFixed(3)}`,
  );
  // experiment 3's two arms: one DSM pre-training, then DSM alone or DSM + CLF from the same weights
  const data = mixture.sample(c.dataSize, 0);
  const config: ebm.MlpConfig = {
    kind: 'mlp',
    inputDim: s.d,
    hidden: s.hidden,
    timeConditioned: true,
    device: 'cpu',
    seed: 0,
  };
  const common = { optimizer: { kind: 'adam', lr: 1e-3 } as ebm.OptimizerConfig, batchSize: 256, logEvery: 500 };
  const path = { path: 'vp' as const, levels: c.levels };
  const dsmModel = ebm.energyModel(config);
  await ebm.train(dsmModel, data, { ...common, loss: { kind: 'dsm', ...path }, steps: c.preSteps, seed: 0 });
  const start = await dsmModel.parameters();
  const clfModel = ebm.energyModel(config);
  await clfModel.setParameters(start);
  await ebm.train(dsmModel, data, { ...common, loss: { kind: 'dsm', ...path }, steps: c.armSteps, seed: 1000 });
  await ebm.train(clfModel, data, {
    ...common,
    loss: { kind: 'diffclf', ...path, k: 4, clfWeight: 1 },
    steps: c.armSteps,
    seed: 1000,
  });
  const paths = [await smcAlong('dsm', dsmModel, target, spec, c), await smcAlong('clf', clfModel, target, spec, c)];
  for (const p of paths) {
    ctx.log(
      `boltzmann: ${s.label}, ${p.arm === 'dsm' ? 'DSM' : 'DSM + CLF'} path: ESS ${p.ess.toFixed(3)}, weight error ${p.weightError.toFixed(3)}, |log Z error| ${p.logZError.toFixed(3)}`,
    );
  }
  const nll = await nllPart(c, ctx.log);
  const results: BoltzmannResults = { setting: s.label, paths, exactPath, nll };
  return {
    budget: {
      training: `experiment 3's: ${c.preSteps} DSM steps, then ${c.armSteps} of DSM alone or DSM + CLF (K = 4), VP path, ${c.levels} levels, MLP ${s.hidden.join('×')}, Adam 1e-3, batch 256, ${c.dataSize} samples`,
      smc: `${c.particles} particles along the model's ${c.levels} levels from t = 1 to 1e-3, ${c.smcSteps} MALA steps per level (step 0.1 at t = 1, adapted between levels towards acceptance 0.65), resampling at ESS < 0.5, then reweighted against the true mixture energy`,
      nll: `d = 8, two modes: 1000 held-out samples; AIS (SMC) with ${c.nllParticles} particles, 100 levels, 4 MALA steps, ${c.repeats} runs; ED (t = 0.25, M = 16, w = 1) MLP 128×128, ${c.nllSteps} steps`,
    },
    seeds: [0],
    results,
    claims: boltzmannClaims(results),
    figures: {},
  };
}

export function boltzmannClaims(r: BoltzmannResults): Claim[] {
  const [dsm, clf] = r.paths as [PathResult, PathResult];
  return [
    {
      claim: `${r.setting}: SMC along the DSM + CLF-trained path, reweighted to the true energy, ends with a larger ESS and a smaller log Z error than along the DSM-trained path`,
      holds: clf.ess > dsm.ess && clf.logZError < dsm.logZError,
      measured: `weight error DSM ${fixed(dsm.weightError, 3)}, DSM + CLF ${fixed(clf.weightError, 3)} (exact path ${fixed(r.exactPath.weightError, 3)}); ESS ${fixed(dsm.ess, 3)} / ${fixed(clf.ess, 3)} (exact ${fixed(r.exactPath.ess, 3)}); log Z error (abs.) ${fixed(dsm.logZError, 3)} / ${fixed(clf.logZError, 3)}`,
    },
    {
      claim: 'd = 8: the AIS NLL of the exact energy is within 0.05 nats (and its error bar) of the closed form',
      holds: Math.abs(r.nll.aisOfExact - r.nll.exact) < Math.max(0.05, 2 * r.nll.aisOfExactStdErr),
      measured: `exact ${fixed(r.nll.exact, 3)}, AIS ${fixed(r.nll.aisOfExact, 3)} ± ${fixed(r.nll.aisOfExactStdErr, 3)}; ED model ${fixed(r.nll.ed, 3)} ± ${fixed(r.nll.edStdErr, 3)}`,
    },
  ];
}

function renderBoltzmann(rec: ExperimentRecord<BoltzmannResults>): string {
  const r = rec.results;
  const rows = [['Path', 'Final ESS', 'Weighted mode-weight error', 'log Z error (abs.)', 'Resamplings']];
  for (const p of [r.exactPath, ...r.paths]) {
    const name =
      p.arm === 'exact' ? 'exact p_t (the sampler alone)' : p.arm === 'dsm' ? 'DSM-trained' : 'DSM + CLF-trained';
    rows.push([name, fixed(p.ess, 3), fixed(p.weightError, 3), fixed(p.logZError, 3), String(p.resampled)]);
  }
  return section(
    `${r.setting}. Training: ${String(rec.budget.training)}. SMC: ${String(rec.budget.smc)}. NLL (${String(rec.budget.nll)}): ` +
      `exact ${fixed(r.nll.exact, 3)} nats, AIS of the exact energy ${fixed(r.nll.aisOfExact, 3)} ± ${fixed(r.nll.aisOfExactStdErr, 3)}, ` +
      `AIS of the ED model ${fixed(r.nll.ed, 3)} ± ${fixed(r.nll.edStdErr, 3)}.`,
    rows,
    [false, true, true, true, true],
  );
}

export const boltzmann = experiment<BoltzmannResults>(
  'boltzmann',
  'Boltzmann generator and likelihoods (SMC / AIS)',
  runBoltzmann,
  renderBoltzmann,
);
