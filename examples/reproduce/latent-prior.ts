/**
 * Experiment 6 — the latent image prior on Fashion-MNIST. Not retrained here: the numbers are those of
 * `npm run example:prior` (examples/fashion-mnist-prior.ts), read from examples/results/fashion-mnist-prior.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Claim, Context, ExperimentOutput, ExperimentRecord } from './common';
import { fixed, experiment, section } from './common';

export const priorResultsPath = path.join(
  __dirname,
  '..',
  '..',
  '..',
  'examples',
  'results',
  'fashion-mnist-prior.json',
);

interface PriorJson {
  frechet: Record<string, number>;
  inpaintMse: Record<string, { centre: number; half: number }>;
  reconMse: Record<string, number>;
  classifierAccuracy: number;
  frechetTrainVsTest: number;
  seconds: Record<string, number>;
  scale: Record<string, unknown>;
}

export type LatentPriorResults = PriorJson;

export async function runLatentPrior(ctx: Context): Promise<ExperimentOutput<LatentPriorResults>> {
  const r = JSON.parse(fs.readFileSync(priorResultsPath, 'utf8')) as PriorJson;
  ctx.log(
    `latent prior: reusing ${path.relative(process.cwd(), priorResultsPath)} (Fréchet ED ${fixed(r.frechet.ed, 1)})`,
  );
  return {
    budget: { ...r.scale, note: 'from npm run example:prior (--scale cpu); not rerun by npm run reproduce' },
    seeds: [0],
    results: r,
    claims: latentPriorClaims(r),
    figures: {},
    source: '`examples/results/fashion-mnist-prior.json`, written by `npm run example:prior`',
  };
}

export function latentPriorClaims(r: PriorJson): Claim[] {
  const claims: Claim[] = [];
  if (r.frechet.ed !== undefined && r.frechet.gaussian !== undefined) {
    claims.push({
      claim: 'An ED-trained latent prior generates better images than the N(0, I) prior (lower Fréchet distance)',
      holds: r.frechet.ed < r.frechet.gaussian,
      measured: `Fréchet ${fixed(r.frechet.ed, 1)} against ${fixed(r.frechet.gaussian, 1)}`,
    });
  }
  if (r.frechet.ed !== undefined && r.frechet.cd !== undefined) {
    claims.push({
      claim: 'The ED prior matches or beats the CD prior (short-run Langevin negatives) in Fréchet distance',
      holds: r.frechet.ed <= r.frechet.cd,
      measured: `ED ${fixed(r.frechet.ed, 1)}, CD ${fixed(r.frechet.cd, 1)}; one seed`,
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
  return section(
    'The numbers of `npm run example:prior` (examples/fashion-mnist-prior.ts); see "Image priors" above for the ' +
      'pictures. ' +
      `Fashion-MNIST, ${s.trainImages} training images, latent ${s.latentDim}, generator channels ${s.channels}, ` +
      `batch ${s.batchSize}, ${s.steps} steps per prior, seed 0, ${s.threads} threads; Fréchet distance of ` +
      `${s.evalImages} generated against ${s.evalImages} test images in the features of the project's classifier ` +
      `(test accuracy ${fixed(r.classifierAccuracy, 3)}; train against test images ${fixed(r.frechetTrainVsTest, 2)}); ` +
      `inpainting on ${s.inpaintImages} test images.`,
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
