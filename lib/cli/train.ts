/** `ebm train <config.json>`: a whole training run from a config file into a run folder. */
import * as nodePath from 'node:path';
import { EbmConfigError, EnergyModel, RunLog, SampleResult, TrainProgress, TrainRun } from '../index';
import type { ResolvedTrainConfig } from '../config';
import { createModel } from '../model';
import { sampleValidated } from '../sample';
import { optionDefaults } from '../schema/defaults';
import { lossTraits, samplerTraits } from '../schema/traits';
import { trainValidated } from '../train';
import { mmd } from '../metrics/stats';
import { classifierAccuracy } from '../metrics/frechet';
import { displayPath, numberFlag, ParsedArgs, parseCommand, stringFlag } from './args';
import {
  densityFigure,
  energies,
  gridNllAt,
  is2dShape,
  isImageShape,
  lossPng,
  mean,
  samplesFigure,
  valueRange,
} from './figures';
import { rankOf } from '../distributed';
import { launch, runDistribution, runWorkerRank } from './launch';
import { resumePoint, runCheckpoint, runFolder } from './resume';
import { isLatentRunFile } from './latent-run';
import { trainLatentCommand } from './latent-train';
import { formatLoss, formatRate, formatSeconds } from './progress';
import { Evaluation, isProgressRecord, openRunFolder, requireFolder, runTraining } from './run-skeleton';
import { firstRows } from '../tensor';
import { PreparedRun, prepareRun } from './run-config';

export const trainHelp = `Usage: ebm train <config.json> [--out DIR | --resume DIR] [--steps N] [--nproc N] [--quiet]

Trains the model a config file describes and writes a run folder (default runs/<name>):
  config.json        the effective config (every default filled in, data paths absolute, --steps
                     applied) and versions
  metrics.jsonl      one JSON line per progress report (step, loss, lr, steps/s, loss metrics)
  model.safetensors  the trained weights (loadable with ebm.loadModel or Python safetensors) and the
                     training state --resume continues from (optimizer.*, ema.*, loss.*, trainer.*)
  metrics.json       final numbers: loss, steps/s, mean energy; grid NLL (2D; gridNllRefused with the
                     reason instead when eval.grid is too coarse for the density); sample stats;
                     accuracy (classifiers)
  loss.png           the loss curve
  density.png        2D data: exp(-E) on the grid with data points on top
  samples.png        with eval.samples: samples over the data (2D) or an image grid (images)
  events.out.tfevents.<time>.<host>
                     TensorBoard log of the progress numbers and the PNGs (tensorboard --logdir runs)
Every file is written atomically (the two logs are appended record by record). The whole config is checked, and the data loaded, before the
folder is created.

Options:
  --out DIR     run folder (default runs/<name>, relative to the current directory)
  --steps N     override train.steps
  --nproc N     train data-parallel in N processes on this machine (the cores split between
                them; batchSize is per process); rank 0 writes the run folder
  --resume DIR  continue the run in folder DIR from its last checkpoint (model.safetensors or
                train.checkpoint.path) up to train.steps (or --steps): bit-identical to an
                uninterrupted run (latent priors too); the config must match the run's except
                steps, logEvery and checkpoint. metrics.jsonl keeps the records up to the
                checkpoint's step.
  --quiet       print only the final summary
  -h, --help    show this help

Progress goes to stderr: an updating bar on a terminal, else a line every train.logEvery steps.
Ctrl-C stops training, saves the weights and training state of the last completed step (so
--resume can continue) and exits with status 130.

Config file (JSON; 'ebm schema' prints its JSON Schema, for editors):
  {
    "$schema": "../schema/run-config.schema.json", optional, ignored: where editors find the schema
    "name": "8gaussians-ed",                      optional; default: the file name
    "data": { "toy": "8gaussians", "n": 20000, "seed": 0 }
          | { "npy": "file.npy" }
          | { "csv": "file.csv", "header"?: true, "delimiter"?: ",", "columns"?: [0, 1] }
          | { "idx": "file-idx3-ubyte.gz", "scale"?: "01" | "-11" | "none", "labels"?: "file-idx1-ubyte.gz" }
          | { "fashionMnist": { "split"?: "train", "limit"?: 2000, "scale"?: "-11", "dir"?: "..." } }
          | { "imageFolder": { "dir": "pngs", "size"?: 28 | [h, w], "grayscale"?: true, "limit"?: N,
                               "recursive"?: false } }       PNGs as [N, C, H, W] in [-1, 1]
          | { "mixture": { "means": [[..]], "stds": [..], "weights": [..], "n": 10000, "seed"?: 0 } },
    "model": { "kind": "mlp", "inputDim": 2, "hidden": [128, 128], "activation": "silu" },
    "train": { "loss": { "kind": "ed", "t": 1, "m": 16, "w": 1 }, "optimizer": { "kind": "adam", "lr": 0.001 },
               "batchSize": 128, "steps": 2000, "seed": 0, "logEvery": 100 },
    "eval": {                                      optional
      "grid": { "lo": -4, "hi": 4, "resolution": 300 },     2D only; default: a box around the data
      "samples": { "n": 2000, "sampler": { "kind": "mala", "steps": 500, "stepSize": 0.01 }, "seed": 0 },
      "t": 0.001                                   time-conditioned models: time for E(x, t)
    }
  }
Toys: 8gaussians 25gaussians 2spirals checkerboard rings pinwheel swissroll moons circles.
"model" and "train" take exactly the options of ebm.energyModel() and ebm.train(); relative
data paths are resolved against the config file's folder, a relative train.checkpoint.path
against the run folder; a train.checkpoint without a path ({ "every": 500 }) writes the run
folder's model.safetensors. Data rows are reshaped to the model's input shape when sizes agree.
The 'ce' loss (a "classifier" model) trains on the class labels of fashionMnist data or of an
idx file given with "labels"; metrics.json then holds the accuracy.

Latent image priors: "model": { "kind": "latent", "imageShape": [1, 28, 28], ... } takes the
options of ebm.latentEbm(), "train" those of ebm.trainLatent() (e.g. "prior": "gaussian" or
{ "loss": { "kind": "ed", "t": 0.25, "m": 16, "w": 1 } }), "data" images in [-1, 1] (fashionMnist
scale defaults to "-11"), and the optional "eval":
  { "samples": { "n": 64, "seed": 0, "prior": { "steps": 500, "stepSize": 0.2 } },
    "reconstruct": { "n": 16, "seed": 0 }, "inpaint": { "n": 16, "mask": "centre" | "half", "seed": 0 } }
The run folder then holds config.json (every default filled in), metrics.jsonl, metrics.json,
model.safetensors, loss.png (reconstruction error), samples.png, reconstructions.png (inputs over
reconstructions) and inpaintings.png (masked inputs, fills, originals).

Examples:
  ebm train examples/8gaussians-ed.json
  ebm train examples/moons-dsm.json --steps 500 --out /tmp/moons
  ebm train examples/fashion-mnist-latent-ed.json`;

/** Output files a run writes; stale copies from an earlier run in the same folder are removed first. */
const OUTPUTS = ['metrics.json', 'model.safetensors', 'loss.png', 'density.png', 'samples.png'];

function lossName(run: PreparedRun): string {
  const loss = run.config.train.loss;
  return loss.kind.toUpperCase();
}

function describeData(run: PreparedRun): string {
  const d = run.config.data;
  if ('toy' in d) return d.toy;
  if ('mixture' in d) return `a ${d.mixture.means.length}-component mixture`;
  if ('fashionMnist' in d) return 'Fashion-MNIST';
  if ('imageFolder' in d) return `${nodePath.basename(d.imageFolder.dir)}/`;
  const file = 'npy' in d ? d.npy : 'csv' in d ? d.csv : d.idx;
  return nodePath.basename(file);
}

/** What evaluate() collects its parts into. */
interface EvalContext {
  run: PreparedRun;
  model: EnergyModel;
  log: RunLog;
  ev: Evaluation;
}

async function evaluate(
  run: PreparedRun,
  model: EnergyModel,
  log: RunLog,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<Evaluation> {
  const { config, data, evalTime } = run;
  const ev: Evaluation = { metrics: {}, summary: [], files: [] };
  const { metrics } = ev;
  const testEnergy = await energies(model, data.test, evalTime);
  metrics.meanEnergy = mean(testEnergy);
  metrics.metricRows = data.test.shape[0];
  metrics.metricRowsHeldOut = data.testIsHeldOut;
  if (evalTime !== undefined) metrics.evalTime = evalTime;

  if (config.model.kind === 'classifier' && data.labels) {
    // the metric rows are the first training rows for file data
    const rows = data.test.shape[0];
    const accuracy = await classifierAccuracy(model, data.test, data.labels.subarray(0, rows));
    metrics.accuracy = accuracy;
    ev.summary.push(`classifier accuracy ${(100 * accuracy).toFixed(1)} % on ${rows} training rows`);
  }
  const cx: EvalContext = { run, model, log, ev };
  await evaluateGrid(cx);
  await evaluateSamples(cx, signal, say);
  return ev;
}

/** 2D data with eval.grid: the grid NLL (against the true one when known) and density.png. */
async function evaluateGrid({ run, model, log, ev }: EvalContext): Promise<void> {
  const { config, data, rowShape, evalTime } = run;
  const grid = config.eval?.grid;
  if (!is2dShape(rowShape) || !grid) return;
  ev.metrics.grid = grid;
  // the run has finished: a grid too coarse for the learned density voids the number, not the run
  const nll = await gridNllAt(model, data.test, grid, evalTime, 'eval.grid').catch((err: unknown) => {
    if (!(err instanceof EbmConfigError)) throw err;
    ev.metrics.gridNllRefused = err.message;
    ev.summary.push(`grid NLL refused: ${err.message}`);
    return undefined;
  });
  if (nll !== undefined) {
    ev.metrics.gridNll = nll;
    let line = `grid NLL ${nll.toFixed(4)} on ${data.testIsHeldOut ? 'held-out' : 'training'} rows`;
    if (data.logDensity && evalTime === undefined) {
      const trueNll = -mean(data.logDensity(data.test));
      ev.metrics.trueNll = trueNll;
      ev.metrics.nllGap = nll - trueNll;
      line += ` (true ${trueNll.toFixed(4)}, gap ${(nll - trueNll).toFixed(4)})`;
    }
    ev.summary.push(line);
  }
  const title = `${config.name}: exp(-E)${evalTime !== undefined ? ` at t = ${evalTime}` : ''}`;
  log.writePng('density.png', await densityFigure(model, grid, title, data.train, evalTime));
  ev.files.push('density.png');
}

/** With eval.samples: draws them, with their acceptance, MMD² against the data and samples.png. */
async function evaluateSamples(
  { run, model, log, ev }: EvalContext,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<void> {
  const { config, data, rowShape, evalTime } = run;
  const spec = config.eval?.samples;
  if (!spec) return;
  // a sampler that follows the model's own time levels takes no t
  const t = samplerTraits(spec.sampler.kind).time !== 'fixed' ? undefined : (spec.t ?? evalTime);
  say(`sampling ${spec.n} chains with ${spec.sampler.kind} (${spec.sampler.steps} steps)`);
  const started = Date.now();
  const s: SampleResult = await sampleValidated(model, {
    n: spec.n,
    sampler: spec.sampler,
    seed: spec.seed,
    signal,
    ...(t !== undefined ? { t } : {}),
  });
  Object.assign(ev.metrics, {
    samples: spec.n,
    sampler: spec.sampler.kind,
    sampleSeconds: (Date.now() - started) / 1000,
    sampleMeanEnergy: mean(s.energy),
  });
  let line = `samples: ${spec.n} × ${spec.sampler.kind}`;
  if (s.acceptRate) {
    ev.metrics.sampleAcceptance = mean(s.acceptRate);
    line += `, acceptance ${mean(s.acceptRate).toFixed(3)}`;
  }
  if (rowShape.length === 1) {
    const k = rowShape[0] > 64 ? 500 : 1000;
    const a = firstRows(s, k);
    const b = firstRows(data.test, k);
    if (!a.data.every(Number.isFinite)) {
      line += ', MMD² skipped (the samples hold NaN or Inf)';
    } else if (a.shape[0] >= 2 && b.shape[0] >= 2) {
      const m = mmd(a, b);
      ev.metrics.sampleMmd2 = m;
      line += `, MMD² ${m.toExponential(2)} vs ${data.testIsHeldOut ? 'held-out' : 'training'} rows`;
    }
  }
  ev.summary.push(line);
  if (is2dShape(rowShape) || isImageShape(rowShape)) {
    const png = samplesFigure(s, rowShape, {
      title: `${config.name}: ${spec.sampler.kind} samples`,
      label: `${spec.sampler.kind} samples`,
      data: is2dShape(rowShape) ? firstRows(data.test, 2000) : undefined,
      box: config.eval?.grid,
      range: valueRange(data.train),
    });
    log.writePng('samples.png', png);
    ev.files.push('samples.png');
  }
}

export async function trainCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand(
    'ebm train',
    argv,
    {
      out: { type: 'string' },
      steps: { type: 'string' },
      quiet: { type: 'boolean' },
      resume: { type: 'string' },
      nproc: { type: 'string' },
    },
    ['config.json'],
  );
  const nproc = numberFlag(args, 'nproc', { integer: true, min: 1, max: 1024 });
  if (nproc !== undefined) {
    // The same command in N processes that train data-parallel (train.distributed 'env').
    return launch([nodePath.join(__dirname, 'main.js'), 'train', ...withoutFlag(argv, '--nproc')], {
      nproc,
      what: 'ebm train',
    });
  }
  const steps = numberFlag(args, 'steps', { integer: true, min: 1, max: 1e9 });
  const quiet = args.values.quiet === true;
  if (isLatentRunFile(args.positionals[0])) {
    return trainLatentCommand(args.positionals[0], {
      steps,
      out: stringFlag(args, 'out'),
      resume: stringFlag(args, 'resume'),
      quiet,
    });
  }
  return trainPlanned(planRun(args, steps), quiet);
}

/** Trains a planned run: its share on a worker rank, else the whole run folder. */
async function trainPlanned(plan: RunPlan, quiet: boolean): Promise<number> {
  const { run, model, resume } = plan;
  const train = (hooks: { signal: AbortSignal; onProgress?: (p: TrainProgress) => void }) =>
    trainValidated(model, run.data.train, { ...plan.options, ...hooks }, { dataChecked: true });
  if (rankOf(plan.options.distributed) > 0) return runWorkerRank((signal) => train({ signal }));
  const { config } = run;
  const log = openRunFolder(plan.outDir, config, OUTPUTS, {
    ...(resume ? { continueAt: resume.step, keep: ['model.safetensors'] } : {}),
  });
  return runTraining({
    log,
    quiet,
    totalSteps: config.train.steps,
    device: model.device,
    intro:
      `training ${config.name}: ${lossName(run)} on ${describeData(run)} (${run.data.train.shape[0]} rows), ` +
      (resume
        ? `steps ${resume.step + 1}-${config.train.steps} (resumed from ${displayPath(resume.file)})`
        : `${config.train.steps} steps`),
    earlier: log.earlier.filter(isProgressRecord),
    train,
    // the model holds the weights of the last completed step; the native end of the run (or its
    // abort) already wrote them with the training state when model.safetensors is the checkpoint
    saveModel: () => (plan.nativeWritesModel ? Promise.resolve() : model.save(plan.modelFile)),
    lossPng: (records) => lossPng(records, `${config.name}: training loss`),
    evaluate: (signal, say) => evaluate(run, model, log, signal, say),
    report: (result, records, ev) => report(plan, result, records.at(-1), ev),
  });
}

/** metrics.json's own fields and the summary's first line. */
function report(
  { run, resume }: RunPlan,
  result: TrainRun,
  last: TrainProgress | undefined,
  ev: Evaluation,
): { metrics: Record<string, unknown>; headline: string } {
  const { config } = run;
  const ranSteps = result.steps - result.startStep;
  const metrics = {
    name: config.name,
    steps: result.steps,
    ...(resume ? { resumedFrom: result.startStep } : {}),
    seconds: result.seconds,
    stepsPerSecond: ranSteps / result.seconds,
    finalLoss: last ? last.loss : null,
    rows: run.data.train.shape[0],
    inputShape: run.rowShape,
    ...ev.metrics,
  };
  const headline =
    `${config.name}: ${resume ? `steps ${result.startStep + 1}-${result.steps}` : `${result.steps} steps`} in ` +
    `${formatSeconds(result.seconds)} (${formatRate(ranSteps / result.seconds)} steps/s), final loss ` +
    `${last ? formatLoss(last.loss) : '-'}`;
  return { metrics, headline };
}

/** An ebm.train run as `ebm train` runs it: its model, folder, checkpoint and options. */
interface RunPlan {
  run: PreparedRun;
  model: EnergyModel;
  outDir: string;
  /** the run folder's model.safetensors */
  modelFile: string;
  /** model.safetensors is the run's checkpoint, which the native trainer writes */
  nativeWritesModel: boolean;
  /** with --resume: the checkpoint to continue from, and its step */
  resume?: { file: string; step: number };
  /** trainValidated's options but the progress hooks */
  options: ResolvedTrainConfig;
}

/** Reads the config, builds the model and settles the folder and options; writes nothing. */
function planRun(args: ParsedArgs, steps: number | undefined): RunPlan {
  const resumeDir = stringFlag(args, 'resume');
  const run = prepareRun(args.positionals[0], steps !== undefined ? { steps } : {});
  const { config } = run;
  const model = createModel(config.model);
  const outDir = runFolder(config.name, { out: stringFlag(args, 'out'), resume: resumeDir });
  requireFolder(outDir, resumeDir !== undefined ? '--resume' : '--out');
  // model.safetensors is the native end-of-run (and on-abort) checkpoint unless the config names
  // its own: either way one file of the folder holds the training state --resume needs.
  const modelFile = nodePath.join(outDir, 'model.safetensors');
  const checkpoint = runCheckpoint(outDir, config.train.checkpoint, optionDefaults().train.checkpoint.every);
  const resume = resumePoint(resumeDir, outDir, [modelFile, checkpoint.path], config.train.steps);
  const distributed = runDistribution(config.train.distributed);
  const options: ResolvedTrainConfig = {
    ...config.train,
    checkpoint,
    ...(resume ? { resumeFrom: resume.file } : {}),
    ...(distributed !== undefined ? { distributed } : {}),
    ...(lossTraits(config.train.loss.kind).labels && run.data.labels ? { labels: run.data.labels } : {}),
  };
  return { run, model, outDir, modelFile, nativeWritesModel: checkpoint.path === modelFile, resume, options };
}

/** argv without `--flag value` / `--flag=value`. */
function withoutFlag(argv: readonly string[], flag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) {
      i++;
      continue;
    }
    if (argv[i].startsWith(`${flag}=`)) continue;
    out.push(argv[i]);
  }
  return out;
}
