/**
 * Experiment 6 — the latent image prior on Fashion-MNIST. Not retrained here: the numbers are those of
 * `npm run example:prior` (examples/fashion-mnist-prior.ts), read from examples/results/fashion-mnist-prior.json
 * (seed 0, all three priors) and fashion-mnist-prior-seed<S>.json (`--seed S --priors ed,cd`), where present.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Claim, Context, ExperimentOutput, ExperimentRecord } from './common';
import { fixed, experiment, mean, section } from './common';

const resultsDir = path.join(__dirname, '..', '..', '..', 'examples', 'results');
export const priorResultsPath = path.join(resultsDir, 'fashion-mnist-prior.json');
/** The record of `npm run example:prior -- --seed S` (seed 0 is fashion-mnist-prior.json). */
export const seedResultsPath = (seed: number): string =>
  seed === 0 ? priorResultsPath : path.join(resultsDir, `fashion-mnist-prior-seed${seed}.json`);

interface PriorJson {
  frechet: Record<string, number>;
  inpaintMse: Record<string, { centre: number; half: number }>;
  reconMse: Record<string, number>;
  classifierAccuracy: number;
  frechetTrainVsTest: number;
  seconds: Record<string, number>;
  scale: Record<string, unknown>;
}

export interface LatentPriorResults extends PriorJson {
  /** the seeds read, seed 0 first */
  seeds: number[];
  /** Fréchet distance per prior and seed (the priors a seed's run trained) */
  frechetBySeed: Record<string, Record<number, number>>;
}

/** Seeds 1 … 9 whose record exists beside seed 0's. */
function extraSeeds(): number[] {
  return [1, 2, 3, 4, 5, 6, 7, 8, 9].filter((seed) => fs.existsSync(seedResultsPath(seed)));
}

export async function runLatentPrior(ctx: Context): Promise<ExperimentOutput<LatentPriorResults>> {
  const r = JSON.parse(fs.readFileSync(priorResultsPath, 'utf8')) as PriorJson;
  const seeds = [0, ...extraSeeds()];
  const frechetBySeed: Record<string, Record<number, number>> = {};
  for (const seed of seeds) {
    const run = seed === 0 ? r : (JSON.parse(fs.readFileSync(seedResultsPath(seed), 'utf8')) as PriorJson);
    for (const [prior, value] of Object.entries(run.frechet)) (frechetBySeed[prior] ??= {})[seed] = value;
  }
  ctx.log(
    `latent prior: reusing ${path.relative(process.cwd(), priorResultsPath)} and ${seeds.length - 1} more seeds ` +
      `(Fréchet ED ${fixed(r.frechet.ed, 1)} at seed 0)`,
  );
  return {
    budget: { ...r.scale, note: 'from npm run example:prior (--scale cpu); not rerun by npm run reproduce' },
    seeds,
    results: { ...r, seeds, frechetBySeed },
    claims: latentPriorClaims({ ...r, seeds, frechetBySeed }),
    figures: {},
    source:
      '`examples/results/fashion-mnist-prior.json` (seed 0) and `fashion-mnist-prior-seed<S>.json`, written by ' +
      '`npm run example:prior [-- --seed S --priors ed,cd]`',
  };
}

/** "mean (min–max)" of the values, or the one value. */
function spread(values: number[], digits: number): string {
  if (values.length === 1) return fixed(values[0], digits);
  return `${fixed(mean(values), digits)} (${fixed(Math.min(...values), digits)}–${fixed(Math.max(...values), digits)})`;
}

export function latentPriorClaims(r: LatentPriorResults): Claim[] {
  const claims: Claim[] = [];
  const by = r.frechetBySeed;
  if (r.frechet.ed !== undefined && r.frechet.gaussian !== undefined) {
    claims.push({
      claim: 'An ED-trained latent prior generates better images than the N(0, I) prior (lower Fréchet distance)',
      holds: r.frechet.ed < r.frechet.gaussian,
      measured: `Fréchet ${fixed(r.frechet.ed, 1)} against ${fixed(r.frechet.gaussian, 1)}; seed 0`,
    });
  }
  if (by.ed && by.cd) {
    // the seeds with both priors
    const seeds = r.seeds.filter((s) => by.ed[s] !== undefined && by.cd[s] !== undefined);
    const ed = seeds.map((s) => by.ed[s]);
    const cd = seeds.map((s) => by.cd[s]);
    claims.push({
      claim: 'The ED prior matches or beats the CD prior (short-run Langevin negatives) in Fréchet distance',
      holds: mean(ed) <= mean(cd),
      measured:
        `ED ${spread(ed, 1)}, CD ${spread(cd, 1)} over seeds ${seeds.join(', ')}` +
        (seeds.length > 1 ? ` (per seed ED − CD: ${seeds.map((s) => fixed(by.ed[s] - by.cd[s], 1)).join(', ')})` : ''),
    });
  }
  return claims;
}

const labels: Record<string, string> = {
  ed: 'ED (t 0.25, M 16, w 1)',
  cd: 'CD (short-run Langevin negatives)',
  gaussian: 'N(0, I) (no EBM)',
};

function renderLatentPrior(rec: ExperimentRecord<LatentPriorResults>): string {
  const r = rec.results;
  const s = r.scale;
  const rows = [
    ['Prior', 'Fréchet ↓', 'Recon MSE', 'Inpaint MSE, centre', 'Inpaint MSE, bottom half', 'Train time'],
    ...Object.keys(r.frechet).map((k) => [
      labels[k] ?? k,
      fixed(r.frechet[k], 1),
      fixed(r.reconMse[k], 4),
      fixed(r.inpaintMse[k].centre, 3),
      fixed(r.inpaintMse[k].half, 3),
      `${fixed(r.seconds[k], 0)} s`,
    ]),
    ['mean-image fill', '–', '–', fixed(r.inpaintMse.meanFill.centre, 3), fixed(r.inpaintMse.meanFill.half, 3), '–'],
  ];
  const seeds = r.seeds ?? [0];
  const bySeed =
    seeds.length > 1
      ? ` Fréchet distance per seed (${seeds.join(', ')}): ` +
        Object.entries(r.frechetBySeed)
          .map(
            ([k, v]) =>
              `${labels[k] ?? k} ${seeds.map((s) => (v[s] === undefined ? '–' : fixed(v[s], 1))).join(' / ')}`,
          )
          .join('; ') +
        '. The table is seed 0.'
      : '';
  return section(
    'The numbers of `npm run example:prior` (examples/fashion-mnist-prior.ts); see "Image priors" above for the ' +
      'pictures. ' +
      `Fashion-MNIST, ${s.trainImages} training images, latent ${s.latentDim}, generator channels ${s.channels}, ` +
      `batch ${s.batchSize}, ${s.steps} steps per prior, seed 0, ${s.threads} threads; Fréchet distance of ` +
      `${s.evalImages} generated against ${s.evalImages} test images in the features of the project's classifier ` +
      `(test accuracy ${fixed(r.classifierAccuracy, 3)}; train against test images ${fixed(r.frechetTrainVsTest, 2)}); ` +
      `inpainting on ${s.inpaintImages} test images.${bySeed}`,
    rows,
    [false, true, true, true, true, true],
  );
}

export const latentPrior = experiment<LatentPriorResults>(
  'latent-prior',
  'Latent image prior (Fashion-MNIST)',
  runLatentPrior,
  renderLatentPrior,
);
