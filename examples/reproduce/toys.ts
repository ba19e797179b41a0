/**
 * Experiment 2 — the 2D toys: ED, DSM, CD with Langevin negatives and CD with gradient-flow negatives, the same
 * network and step budget on each set; exact grid NLL, for the mixtures also the MSE of the normalised model
 * log-density against the truth, wall time, and the densities side by side.
 */
import * as ebm from '../../lib';
import type { Claim, Context, ExperimentOutput, ExperimentRecord } from './common';
import { ascii, fixed, tilePngs, timed, experiment, section } from './common';

interface ToyMethod {
  name: string;
  label: string;
  loss: ebm.LossConfig;
}

export const toyMethods: ToyMethod[] = [
  { name: 'ed', label: 'ED (t 1, M 4)', loss: { kind: 'ed', t: 1, m: 4, w: 1 } },
  { name: 'dsm', label: 'DSM (σ 0.1)', loss: { kind: 'dsm', sigma: 0.1 } },
  {
    name: 'cd-langevin',
    label: 'CD, Langevin',
    loss: { kind: 'cd', alpha: 0.1, init: 'noise', sampler: { kind: 'langevin', steps: 40, stepSize: 0.02 } },
  },
  {
    name: 'cd-wgf',
    label: 'CD, gradient flow',
    loss: { kind: 'cd', alpha: 0.1, init: 'noise', sampler: { kind: 'wgf', steps: 20, stepSize: 0.02 } },
  },
];

type Toy = '8gaussians' | '25gaussians' | '2spirals' | 'checkerboard' | 'pinwheel' | 'rings';

export interface ToysConfig {
  toys: Toy[];
  steps: number;
  batchSize: number;
  seed: number;
}

export const fullConfig: ToysConfig = {
  toys: ['8gaussians', '25gaussians', '2spirals', 'checkerboard', 'pinwheel', 'rings'],
  steps: 1500,
  batchSize: 256,
  seed: 0,
};
export const quickConfig: ToysConfig = { ...fullConfig, toys: ['8gaussians'], steps: 300 };

const GRID = { lo: -5, hi: 5, resolution: 400 };
const PICTURE = { lo: -4.5, hi: 4.5, resolution: 180 };

export interface ToyRow {
  toy: Toy;
  method: string;
  seconds: number;
  /** null when gridNll refused the grid (then `refused` says why) */
  nll: number | null;
  refused?: string;
  /** the error when training stopped on a non-finite loss (the last finite weights are evaluated) */
  diverged?: string;
  /** mean over test points of (log p_θ − log p)², normalised on the grid (where the density is known) */
  logDensityMse?: number;
}

export interface ToysResults {
  rows: ToyRow[];
  /** exact NLL of the test points where the density is known (mixtures; checkerboard: log 32) */
  trueNll: Partial<Record<Toy, number>>;
}

function exactLogDensity(toy: Toy, x: ebm.Tensor): Float64Array | undefined {
  if (toy === '8gaussians' || toy === '25gaussians') {
    return ebm.datasets.toyLogDensity(ebm.datasets.toyMixture(toy), x);
  }
  if (toy === 'checkerboard') return new Float64Array(x.shape[0]).fill(-Math.log(32));
  return undefined;
}

export async function runToys(
  ctx: Context,
  c: ToysConfig = ctx.quick ? quickConfig : fullConfig,
): Promise<ExperimentOutput<ToysResults>> {
  const rows: ToyRow[] = [];
  const trueNll: ToysResults['trueNll'] = {};
  const figures: Record<string, Buffer> = {};
  for (const toy of c.toys) {
    const data = ebm.datasets.toy(toy, 20000, c.seed);
    const test = ebm.datasets.toy(toy, 5000, c.seed + 1);
    const truth = exactLogDensity(toy, test);
    if (truth) trueNll[toy] = -truth.reduce((s, v) => s + v, 0) / truth.length;
    const panels: Buffer[] = [
      ebm.plot.scatterPng([{ points: ebm.datasets.toy(toy, 3000, c.seed + 2) }], {
        lo: PICTURE.lo,
        hi: PICTURE.hi,
        size: 200,
        title: `${toy}: data`,
      }),
    ];
    for (const method of toyMethods) {
      const model = ebm.energyModel({
        kind: 'mlp',
        inputDim: 2,
        hidden: [128, 128],
        activation: 'silu',
        device: 'cpu',
        seed: c.seed,
      });
      let diverged: string | undefined;
      const { seconds } = await timed(() =>
        ebm
          .train(model, data, {
            loss: method.loss,
            optimizer: { kind: 'adam', lr: 1e-3 },
            batchSize: c.batchSize,
            steps: c.steps,
            seed: c.seed,
            logEvery: 500,
          })
          .catch((err: unknown) => {
            // the model keeps its last finite weights: evaluated as they are, and marked
            if (!(err instanceof ebm.EbmNumericsError)) throw err;
            diverged = err.message;
          }),
      );
      const row: ToyRow = { toy, method: method.name, seconds, nll: null, ...(diverged ? { diverged } : {}) };
      try {
        row.nll = await ebm.metrics.gridNll(model, test, GRID);
      } catch (err) {
        if (!(err instanceof ebm.EbmConfigError)) throw err;
        row.refused = err.message;
      }
      if (truth) {
        const g = await ebm.metrics.gridEnergy(model, GRID);
        const e = await model.energy(test);
        let s = 0;
        for (let i = 0; i < e.length; i++) s += (-e[i] - g.logZ - truth[i]) ** 2;
        row.logDensityMse = s / e.length;
      }
      rows.push(row);
      ctx.log(
        `toys: ${toy}, ${method.label}: NLL ${row.nll === null ? 'refused' : row.nll.toFixed(3)}` +
          `${row.logDensityMse === undefined ? '' : `, log-density MSE ${row.logDensityMse.toFixed(3)}`} (${seconds.toFixed(1)} s)`,
      );
      const g = await ebm.metrics.gridEnergy(model, PICTURE);
      panels.push(ebm.plot.densityPng({ values: g.energy, ...PICTURE }, { size: 200, title: ascii(method.label) }));
    }
    figures[`reproduce-toys-${toy}.png`] = tilePngs(panels);
  }
  const results: ToysResults = { rows, trueNll };
  return {
    budget: {
      data: '20 000 training points (seed 0), 5000 test points (seed 1) per set',
      model: 'MLP 2-128-128-1 SiLU, the same initial weights (seed 0) for every method',
      optimizer: 'Adam 1e-3',
      batchSize: c.batchSize,
      steps: c.steps,
      methods: Object.fromEntries(toyMethods.map((m) => [m.name, m.loss])),
      grid: GRID,
      note: 'CD chains start from noise at every step; 40 Langevin steps and 20 Heun steps are the same number of energy gradients',
    },
    seeds: [c.seed],
    results,
    claims: toysClaims(results),
    figures,
  };
}

/** Where a method beats the others, said per data set; no threshold, so these are observations. */
export function toysClaims(r: ToysResults): Claim[] {
  const claims: Claim[] = [];
  const byToy = new Map<Toy, ToyRow[]>();
  for (const row of r.rows) byToy.set(row.toy, [...(byToy.get(row.toy) ?? []), row]);
  const edWins: string[] = [];
  const others: string[] = [];
  for (const [toy, rows] of byToy) {
    const ok = rows.filter((x) => x.nll !== null);
    if (!ok.length) continue;
    const best = ok.reduce((a, b) => (b.nll! < a.nll! ? b : a));
    (best.method === 'ed' ? edWins : others).push(`${toy}: ${best.method} ${fixed(best.nll!, 3)}`);
  }
  if (edWins.length + others.length > 0) {
    claims.push({
      claim:
        'ED has the lowest grid NLL of the four methods on every set (the ED paper reports it ahead of CD and DSM on the toys)',
      holds: others.length === 0,
      measured: `best per set: ${[...edWins, ...others].join('; ')}`,
    });
  }
  return claims;
}

function renderToys(rec: ExperimentRecord<ToysResults>): string {
  const r = rec.results;
  const toys = [...new Set(r.rows.map((x) => x.toy))];
  const rows = [
    ['Data set', 'Exact NLL', ...toyMethods.map((m) => m.label)],
    ...toys.map((toy) => {
      const exact = r.trueNll[toy];
      return [
        toy,
        exact === undefined ? '–' : fixed(exact, 3),
        ...toyMethods.map((m) => {
          const x = r.rows.find((y) => y.toy === toy && y.method === m.name);
          if (!x) return '–';
          const nll = x.nll === null ? 'refused' : fixed(x.nll, 3);
          const mse = x.logDensityMse === undefined ? '' : ` / ${fixed(x.logDensityMse, 2)}`;
          return `${x.diverged ? 'diverged; ' : ''}${nll}${mse} (${fixed(x.seconds, 0)} s)`;
        }),
      ];
    }),
  ];
  const pictures = toys.map((toy) => `![${toy}](examples/results/reproduce-toys-${toy}.png)`).join('\n');
  return section(
    `Grid NLL of 5000 test points in nats (lower is better; the grid [${GRID.lo}, ${GRID.hi}]², ` +
      `${GRID.resolution}² cells); where the density is known (the two mixtures, and checkerboard: uniform on its ` +
      `squares, NLL log 32) also the MSE of the normalised log-density against the truth at the test points ` +
      `(after the slash); and the training wall time. Budget: ${rec.budget.model}, ` +
      `${rec.budget.optimizer}, batch ${rec.budget.batchSize}, ${rec.budget.steps} steps, seed ${rec.seeds.join(', ')}; ` +
      `${rec.budget.note}. Pictures: the data, then exp(−E) of ${toyMethods.map((m) => m.label).join(', ')}.`,
    rows,
    [false, true, ...toyMethods.map(() => true)],
    [pictures],
  );
}

export const toys = experiment<ToysResults>('toys', '2D toys: ED, DSM and CD with two samplers', runToys, renderToys);
