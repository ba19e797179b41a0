/**
 * `ebm train <config.json>` for a latent image prior (model.kind 'latent'): trains with
 * trainLatent, then draws samples, reconstructions and inpaintings into the run folder.
 */
import { rankOf } from '../distributed';
import { runDistribution, runWorkerRank } from './launch';
import * as nodePath from 'node:path';
import { LatentEbm, RunLog, TrainProgress, TrainRun } from '../index';
import { createLatentEbm, latentDefaults, trainLatentValidated } from '../latent';
import { displayPath } from './args';
import { resumePoint, runCheckpoint, runFolder } from './resume';
import { imageMse as mse, inpaintMask, meanFill } from '../metrics/images';
import { latentLossPng, requireLayout, samplesGridPng, shadeMissing, STRIP_COLUMNS, stripsPng } from './latent-figures';
import { PreparedLatentRun, prepareLatentRun } from './latent-run';
import {
  formatLoss,
  formatRate,
  formatSeconds,
  ProgressMode,
  progressLine,
  ProgressSink,
  progressSink,
} from './progress';
import { Evaluation, isProgressRecord, openRunFolder, requireFolder, runTraining } from './run-skeleton';
import { firstRows } from '../tensor';

/** Output files of a latent run; stale copies from an earlier run in the same folder are removed first. */
const OUTPUTS = [
  'metrics.json',
  'model.safetensors',
  'loss.png',
  'density.png',
  'samples.png',
  'reconstructions.png',
  'inpaintings.png',
];

/** Final-report metrics copied into metrics.json when the run reported them. */
const REPORTED: (keyof TrainProgress)[] = [
  'reconMse',
  'priorLoss',
  'energyPosterior',
  'energyNoise',
  'posteriorGradNorm',
  'generatorGradNorm',
  'priorGradNorm',
  'msPosterior',
  'msGenerator',
  'msPrior',
];

function priorName(run: PreparedLatentRun): string {
  const p = run.config.train.prior;
  return p === 'gaussian' ? 'N(0, I)' : `${p.loss.kind.toUpperCase()}`;
}

function describeData(run: PreparedLatentRun): string {
  const d = run.config.data;
  if ('fashionMnist' in d) return 'Fashion-MNIST';
  if ('imageFolder' in d) return `${nodePath.basename(d.imageFolder.dir)}/`;
  if ('npy' in d) return nodePath.basename(d.npy);
  if ('csv' in d) return nodePath.basename(d.csv);
  return 'idx' in d ? nodePath.basename(d.idx) : 'data';
}

/** Progress lines with the reconstruction error and the prior loss after the usual fields. */
function latentSink(mode: ProgressMode, total: number): ProgressSink {
  const stream = process.stderr;
  if (mode !== 'lines') return progressSink(mode, total, stream);
  return {
    update: (p) => {
      const prior = p.priorLoss !== undefined ? `  prior loss ${formatLoss(p.priorLoss)}` : '';
      stream.write(`${progressLine(p, total)}  recon mse ${formatLoss(p.reconMse ?? NaN)}${prior}\n`);
    },
    finish: () => undefined,
  };
}

/** samples.png, reconstructions.png and inpaintings.png, with their numbers. */
async function evaluate(
  run: PreparedLatentRun,
  model: LatentEbm,
  log: RunLog,
  signal: AbortSignal,
): Promise<Evaluation> {
  const { config, images } = run;
  const { samples, reconstruct, inpaint } = config.eval;
  const shape = config.model.imageShape;
  const chain = {
    steps: config.train.posterior.steps,
    stepSize: config.train.posterior.stepSize,
    sigma: config.train.posterior.sigma,
  };
  const ev: Evaluation = { metrics: {}, summary: [], files: [] };
  const draw = (file: string, png: Buffer): void => {
    log.writePng(file, png);
    ev.files.push(file);
  };

  let started = Date.now();
  const generated = await model.generate({ n: samples.n, prior: samples.prior, seed: samples.seed, signal });
  const sampleSeconds = (Date.now() - started) / 1000;
  const sampleLayout = requireLayout(samples.n, 1, shape, Math.ceil(Math.sqrt(samples.n)), 'eval.samples.n');
  draw('samples.png', samplesGridPng(generated, sampleLayout));
  Object.assign(ev.metrics, { samples: samples.n, samplePrior: samples.prior, sampleSeconds });
  ev.summary.push(
    `samples: ${samples.n} from the prior (${samples.prior.steps} Langevin steps of ${samples.prior.stepSize}) ` +
      `in ${formatSeconds(sampleSeconds)}`,
  );

  const x = firstRows(images, reconstruct.n);
  started = Date.now();
  const recon = await model.reconstruct(x, { ...chain, seed: reconstruct.seed, signal });
  const reconMse = mse(recon, x);
  draw(
    'reconstructions.png',
    stripsPng([x, recon], requireLayout(x.shape[0], 2, shape, STRIP_COLUMNS, 'eval.reconstruct.n')),
  );
  Object.assign(ev.metrics, { reconstructRows: x.shape[0], reconstructMse: reconMse });

  const y = firstRows(images, inpaint.n);
  const mask = inpaintMask(y.shape[0], shape, inpaint.mask);
  const filled = await model.inpaint(y, mask, { ...chain, seed: inpaint.seed, signal });
  const inpaintMse = mse(filled, y, mask);
  const baseline = mse(meanFill(y, mask, images), y, mask);
  const strips = [shadeMissing(y, mask), filled, y];
  draw('inpaintings.png', stripsPng(strips, requireLayout(y.shape[0], 3, shape, STRIP_COLUMNS, 'eval.inpaint.n')));
  Object.assign(ev.metrics, {
    inpaintRows: y.shape[0],
    inpaintMask: inpaint.mask,
    inpaintMse,
    meanFillMse: baseline,
    posteriorSeconds: (Date.now() - started) / 1000,
  });
  ev.summary.push(
    `reconstruction mse ${formatLoss(reconMse)} on ${x.shape[0]} training images; ` +
      `inpainting (${inpaint.mask}) mse ${formatLoss(inpaintMse)} on ${y.shape[0]}, mean-image fill ${formatLoss(baseline)}`,
  );
  return ev;
}

/** Trains the latent run a config file describes (or continues it, with `resume`); returns the exit status. */
export async function trainLatentCommand(
  file: string,
  options: { steps?: number; out?: string; resume?: string; quiet: boolean },
): Promise<number> {
  const run = prepareLatentRun(file, options.steps !== undefined ? { steps: options.steps } : {});
  const { config } = run;
  const model = createLatentEbm(config.model);
  const outDir = runFolder(config.name, options);
  requireFolder(outDir, options.resume !== undefined ? '--resume' : '--out');
  // As for ebm.train runs: the native trainer checkpoints into the run folder (model.safetensors
  // unless the config names a file), so the folder can always be resumed.
  const modelFile = nodePath.join(outDir, 'model.safetensors');
  const checkpoint = runCheckpoint(outDir, config.train.checkpoint, latentDefaults.checkpointEvery);
  const resume = resumePoint(options.resume, outDir, [modelFile, checkpoint.path], config.train.steps);
  // the options are checked (prepareLatentRun): train with them as they are
  const trainOptions = { ...config.train, checkpoint, ...(resume ? { resumeFrom: resume.file } : {}) };

  const distributed = runDistribution(config.train.distributed);
  if (rankOf(distributed) > 0) {
    return runWorkerRank((signal) => trainLatentValidated(model, run.images, { ...trainOptions, distributed, signal }));
  }

  const log = openRunFolder(outDir, config, OUTPUTS, {
    ...(resume ? { continueAt: resume.step, keep: ['model.safetensors'] } : {}),
  });
  const rows = run.images.shape[0];
  const steps = resume
    ? `steps ${resume.step + 1}-${config.train.steps} (resumed from ${displayPath(resume.file)})`
    : `${config.train.steps} steps`;
  return runTraining({
    log,
    quiet: options.quiet,
    totalSteps: config.train.steps,
    device: model.device,
    intro:
      `training ${config.name}: latent EBM, ${priorName(run)} prior, on ${describeData(run)} ` +
      `(${rows} images [${config.model.imageShape.join(', ')}]), ${steps}`,
    sink: latentSink,
    earlier: log.earlier.filter(isProgressRecord),
    train: (hooks) =>
      trainLatentValidated(model, run.images, {
        ...trainOptions,
        ...(distributed !== undefined ? { distributed } : {}),
        ...hooks,
      }),
    // the model holds the weights of the last completed step; the native end of the run (or its
    // abort) already wrote them with the training state when model.safetensors is the checkpoint
    saveModel: () => (checkpoint.path === modelFile ? Promise.resolve() : model.save(modelFile)),
    lossPng: (records) => latentLossPng(records, `${config.name}: reconstruction error`),
    evaluate: (signal, say) => {
      say('drawing samples, reconstructions and inpaintings');
      return evaluate(run, model, log, signal);
    },
    report: (result, records, ev) => report(run, result, records.at(-1) ?? {}, ev),
  });
}

/** metrics.json's own fields and the summary's first line. */
function report(
  run: PreparedLatentRun,
  result: TrainRun,
  last: Partial<TrainProgress>,
  ev: Evaluation,
): { metrics: Record<string, unknown>; headline: string } {
  const { config } = run;
  const reported = Object.fromEntries(REPORTED.filter((k) => last[k] !== undefined).map((k) => [k, last[k]]));
  const metrics = {
    name: config.name,
    steps: result.steps,
    ...(result.startStep > 0 ? { resumedFrom: result.startStep } : {}),
    seconds: result.seconds,
    stepsPerSecond: (result.steps - result.startStep) / result.seconds,
    finalLoss: last.loss ?? null,
    ...reported,
    rows: run.images.shape[0],
    imageShape: config.model.imageShape,
    latentDim: config.model.latentDim,
    prior: config.train.prior === 'gaussian' ? 'gaussian' : config.train.prior.loss.kind,
    ...ev.metrics,
    threads: result.threads,
  };
  const prior = last.priorLoss !== undefined ? `, prior loss ${formatLoss(last.priorLoss)}` : '';
  const headline =
    `${config.name}: ${result.startStep > 0 ? `steps ${result.startStep + 1}-${result.steps}` : `${result.steps} steps`} ` +
    `in ${formatSeconds(result.seconds)} (${formatRate((result.steps - result.startStep) / result.seconds)} steps/s), recon mse ${last.reconMse !== undefined ? formatLoss(last.reconMse) : '-'}${prior}`;
  return { metrics, headline };
}
