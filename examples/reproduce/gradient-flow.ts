/**
 * Experiment 5 — the gradient-flow particle sampler (wgf) against Langevin and MALA: (a) on the analytic
 * 8-gaussians target at equal energy-gradient evaluations (a Heun step evaluates two), MMD² and within-mode spread
 * against the truth, with the no-repulsion flow as the broken control; (b) as the negative sampler of CD at equal
 * wall time, grid NLL.
 */
import * as ebm from '../../lib';
import type { Claim, Context, ExperimentOutput, ExperimentRecord } from './common';
import { ascii, fixed, fmt, mean, timed, experiment, section } from './common';

export interface GradientFlowConfig {
  /** energy-gradient evaluations per chain */
  budgets: number[];
  seeds: number[];
  particles: number;
  /** CD part: training steps of the gradient-flow arm; the Langevin arm gets its wall time (0: no CD part) */
  cdSteps: number;
}
export const fullConfig: GradientFlowConfig = {
  budgets: [20, 60, 120, 240],
  seeds: [0, 1, 2],
  particles: 2000,
  cdSteps: 1000,
};
export const quickConfig: GradientFlowConfig = { budgets: [240], seeds: [0], particles: 1000, cdSteps: 150 };

type SamplerName = 'wgf' | 'wgf-no-repulsion' | 'langevin' | 'mala';
const samplerLabels: Record<SamplerName, string> = {
  wgf: 'gradient flow (Heun, τ 0.01)',
  'wgf-no-repulsion': 'gradient flow without repulsion',
  langevin: 'Langevin (η 0.01)',
  mala: 'MALA (η 0.01)',
};

function samplerFor(name: SamplerName, gradients: number): ebm.SamplerConfig {
  switch (name) {
    case 'wgf':
      return { kind: 'wgf', steps: gradients / 2, stepSize: 0.01 };
    case 'wgf-no-repulsion':
      return { kind: 'wgf', steps: gradients / 2, stepSize: 0.01, repulsion: false };
    case 'langevin':
      return { kind: 'langevin', steps: gradients, stepSize: 0.01 };
    case 'mala':
      return { kind: 'mala', steps: gradients, stepSize: 0.01 };
  }
}

export interface SamplerRow {
  sampler: SamplerName;
  gradients: number;
  seed: number;
  mmd2: number;
  spread: number;
  seconds: number;
}

export interface CdArm {
  name: string;
  steps: number;
  seconds: number;
  nll: number | null;
  refused?: string;
}

export interface GradientFlowResults {
  trueSpread: number;
  /** MMD² between two independent sets of true samples of the same sizes: the floor */
  mmd2Floor: number;
  rows: SamplerRow[];
  cd: { trueNll: number; arms: CdArm[] };
}

/** Within-mode spread within this fraction of the truth for the gradient flow ... */
export const SPREAD_TOLERANCE = 0.1;
/** ... while the flow without repulsion collapses below this fraction of it. */
export const COLLAPSE_FRACTION = 0.5;

const GRID = { lo: -5, hi: 5, resolution: 400 };

/** Trains until `seconds` have passed (or `maxSteps`), returning the steps completed. */
async function trainFor(
  model: ebm.EnergyModel,
  data: ebm.Tensor,
  options: ebm.TrainOptions,
  seconds: number,
): Promise<number> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), seconds * 1000);
  let steps = 0;
  try {
    const run = await ebm.train(model, data, {
      ...options,
      logEvery: 1,
      signal: controller.signal,
      onProgress: (p) => (steps = p.step),
    });
    steps = run.steps;
  } catch (err) {
    if (!(err instanceof ebm.EbmAbortError)) throw err;
  } finally {
    clearTimeout(timer);
  }
  return steps;
}

export async function runGradientFlow(
  ctx: Context,
  c: GradientFlowConfig = ctx.quick ? quickConfig : fullConfig,
): Promise<ExperimentOutput<GradientFlowResults>> {
  const m = ebm.datasets.toyMixture('8gaussians');
  const { means, std, weights } = m;
  const target = ebm.energyModel({ kind: 'gmm', means, stds: means.map(() => std), weights, device: 'cpu' });
  const truth = ebm.datasets.toy('8gaussians', c.particles, 123);
  const mmd2Floor = ebm.metrics.mmd(ebm.datasets.toy('8gaussians', c.particles, 124), truth, { bandwidth: 0.5 });
  const rows: SamplerRow[] = [];
  for (const gradients of c.budgets) {
    for (const seed of c.seeds) {
      for (const name of Object.keys(samplerLabels) as SamplerName[]) {
        const { value: x, seconds } = await timed(() =>
          ebm.sample(target, { n: c.particles, seed, sampler: samplerFor(name, gradients) }),
        );
        rows.push({
          sampler: name,
          gradients,
          seed,
          mmd2: ebm.metrics.mmd(x, truth, { bandwidth: 0.5 }),
          spread: ebm.metrics.withinModeStd(x, m.means),
          seconds,
        });
      }
    }
    const at = rows.filter((r) => r.gradients === gradients);
    ctx.log(
      `gradient flow: ${gradients} gradients: ` +
        (Object.keys(samplerLabels) as SamplerName[])
          .map((s) => `${s} spread ${mean(at.filter((r) => r.sampler === s).map((r) => r.spread)).toFixed(3)}`)
          .join(', '),
    );
  }

  // (b) CD on 8 gaussians: the gradient flow's negatives for cdSteps, Langevin's for the same wall time (cdSteps 0: skipped).
  const data = ebm.datasets.toy('8gaussians', 20000, 0);
  const test = ebm.datasets.toy('8gaussians', 5000, 1);
  const exact = ebm.datasets.toyLogDensity(m, test);
  const trueNll = -exact.reduce((s, v) => s + v, 0) / exact.length;
  const cdOptions = (sampler: ebm.SamplerConfig, steps: number): ebm.TrainOptions => ({
    loss: { kind: 'cd', alpha: 0.1, init: 'noise', sampler },
    optimizer: { kind: 'adam', lr: 1e-3 },
    batchSize: 256,
    steps,
    seed: 0,
  });
  const newModel = () => ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [128, 128], device: 'cpu', seed: 0 });
  const evaluate = async (name: string, model: ebm.EnergyModel, steps: number, seconds: number): Promise<CdArm> => {
    const arm: CdArm = { name, steps, seconds, nll: null };
    try {
      arm.nll = await ebm.metrics.gridNll(model, test, GRID);
    } catch (err) {
      if (!(err instanceof ebm.EbmConfigError)) throw err;
      arm.refused = err.message;
    }
    ctx.log(
      `gradient flow: CD with ${name}: ${steps} steps in ${seconds.toFixed(1)} s, NLL ${arm.nll === null ? 'refused' : arm.nll.toFixed(3)}`,
    );
    return arm;
  };
  const arms: CdArm[] = [];
  if (c.cdSteps > 0) {
    const flowModel = newModel();
    const flow = await timed(() =>
      ebm.train(flowModel, data, cdOptions({ kind: 'wgf', steps: 20, stepSize: 0.02 }, c.cdSteps)),
    );
    arms.push(await evaluate('gradient flow (20 Heun steps)', flowModel, c.cdSteps, flow.seconds));
    const langevinModel = newModel();
    const langevin = await timed(() =>
      trainFor(
        langevinModel,
        data,
        cdOptions({ kind: 'langevin', steps: 40, stepSize: 0.02 }, 100 * c.cdSteps),
        flow.seconds,
      ),
    );
    arms.push(await evaluate('Langevin (40 steps), same wall time', langevinModel, langevin.value, langevin.seconds));
    const sameStepsModel = newModel();
    const sameSteps = await timed(() =>
      ebm.train(sameStepsModel, data, cdOptions({ kind: 'langevin', steps: 40, stepSize: 0.02 }, c.cdSteps)),
    );
    arms.push(await evaluate('Langevin (40 steps), same steps', sameStepsModel, c.cdSteps, sameSteps.seconds));
  }

  const results: GradientFlowResults = { trueSpread: m.std, mmd2Floor, rows, cd: { trueNll, arms } };
  const names = Object.keys(samplerLabels) as SamplerName[];
  return {
    budget: {
      target: '8 gaussians (exact mixture energy), chains from N(0, I)',
      particles: c.particles,
      gradients: c.budgets,
      samplers: Object.fromEntries(names.map((s) => [s, samplerFor(s, Math.max(...c.budgets))])),
      mmd: 'RBF bandwidth 0.5, against 2000 true samples (seed 123)',
      cd: `MLP 2-128-128-1, CD (alpha 0.1, chains from noise every step), Adam 1e-3, batch 256; gradient flow ${c.cdSteps} steps, Langevin for the same wall time and for the same steps`,
      grid: GRID,
    },
    seeds: c.seeds,
    results,
    claims: gradientFlowClaims(results),
    figures: { 'reproduce-gradient-flow.png': gradientFlowFigure(results) },
  };
}

/** Mean MMD² against the gradient budget, one line per sampler (log scale). */
export function gradientFlowFigure(r: GradientFlowResults): Buffer {
  const budgets = [...new Set(r.rows.map((x) => x.gradients))];
  return ebm.plot.curvesPng(
    (Object.keys(samplerLabels) as SamplerName[]).map((s) => ({
      name: ascii(samplerLabels[s]),
      x: budgets,
      y: budgets.map((g) => mean(r.rows.filter((x) => x.sampler === s && x.gradients === g).map((x) => x.mmd2))),
    })),
    {
      width: 720,
      height: 440,
      logY: true,
      title: 'Squared MMD to 8 gaussians vs energy-gradient evaluations',
      xLabel: 'gradient evaluations per chain',
      yLabel: 'squared MMD',
    },
  );
}

export function gradientFlowClaims(r: GradientFlowResults): Claim[] {
  const top = Math.max(...r.rows.map((x) => x.gradients));
  const spread = (s: SamplerName) =>
    mean(r.rows.filter((x) => x.sampler === s && x.gradients === top).map((x) => x.spread));
  const wgf = spread('wgf');
  const broken = spread('wgf-no-repulsion');
  const claims: Claim[] = [
    {
      claim: `At ${top} gradient evaluations the gradient flow's within-mode spread is within ${SPREAD_TOLERANCE * 100} % of the truth, while without repulsion it collapses (below ${COLLAPSE_FRACTION} of the truth)`,
      holds:
        Math.abs(wgf - r.trueSpread) <= SPREAD_TOLERANCE * r.trueSpread && broken < COLLAPSE_FRACTION * r.trueSpread,
      measured: `spread ${fixed(wgf, 3)} vs true ${fixed(r.trueSpread, 3)}; without repulsion ${fixed(broken, 3)}`,
    },
  ];
  const [flow, sameTime] = r.cd.arms;
  if (flow?.nll != null && sameTime?.nll != null) {
    claims.push({
      claim: 'Inside CD the gradient flow gives a lower grid NLL than Langevin at equal wall time',
      holds: flow.nll < sameTime.nll,
      measured: `gradient flow ${fixed(flow.nll, 3)} (${flow.steps} steps), Langevin ${fixed(sameTime.nll, 3)} (${sameTime.steps} steps in the same ${fixed(flow.seconds, 0)} s); true ${fixed(r.cd.trueNll, 3)}`,
    });
  }
  return claims;
}

function renderGradientFlow(rec: ExperimentRecord<GradientFlowResults>): string {
  const r = rec.results;
  const budgets = [...new Set(r.rows.map((x) => x.gradients))];
  const names = Object.keys(samplerLabels) as SamplerName[];
  const cell = (s: SamplerName, g: number) => {
    const at = r.rows.filter((x) => x.sampler === s && x.gradients === g);
    return `${fmt(mean(at.map((x) => x.mmd2)), 2)} / ${fixed(mean(at.map((x) => x.spread)), 3)}`;
  };
  const samplerRows = [
    ['Sampler', ...budgets.map((g) => `${g} gradients`), 's per run (largest budget)'],
    ...names.map((s) => [
      samplerLabels[s],
      ...budgets.map((g) => cell(s, g)),
      fixed(
        mean(r.rows.filter((x) => x.sampler === s && x.gradients === Math.max(...budgets)).map((x) => x.seconds)),
        2,
      ),
    ]),
  ];
  const cdRows = [
    ['CD negatives', 'Training steps', 'Wall time', 'Grid NLL (true ' + fixed(r.cd.trueNll, 3) + ')'],
    ...r.cd.arms.map((a) => [
      a.name,
      String(a.steps),
      `${fixed(a.seconds, 1)} s`,
      a.nll === null ? 'refused' : fixed(a.nll, 3),
    ]),
  ];
  return [
    section(
      `(a) ${rec.budget.target}, ${rec.budget.particles} chains, seeds ${rec.seeds.join(', ')} (means): MMD² / ` +
        `within-mode spread (true spread ${fixed(r.trueSpread, 3)}; MMD² is the unbiased estimate, which can be negative; ` +
        `two true sample sets give ${fmt(r.mmd2Floor, 2)}); ` +
        `${rec.budget.mmd}. A Heun step of the flow costs two gradients, so it runs half as many steps.`,
      samplerRows,
      [false, ...budgets.map(() => true), true],
      ['![MMD² against gradient evaluations](examples/results/reproduce-gradient-flow.png)'],
    ),
    section(`(b) ${rec.budget.cd}.`, cdRows, [false, true, true, true]),
  ].join('\n\n');
}

export const gradientFlow = experiment<GradientFlowResults>(
  'gradient-flow',
  'Gradient-flow sampler vs Langevin and MALA',
  runGradientFlow,
  renderGradientFlow,
);
