/** Training: the whole loop runs in C++ on a worker thread; JS gets progress every logEvery steps. */
import { z } from 'zod';
import {
  configJson,
  LossConfig,
  ResolvedTrainConfig,
  TrainConfigSchema,
  validateLossConfig,
  validateTrainOptions,
} from './config';
import { resolveDistributed } from './distributed';
import { awaitJob, EbmAbortError, EbmConfigError, EbmShapeError } from './errors';
import { EnergyModel, requireModel } from './model';
import { native, NativeTrainProgress } from './native';
import { optionDefaults } from './schema/defaults';
import { checkFinite, checkRows, snapshot, Tensor } from './tensor';
import { obj, seed } from './schema/fields';
import { parseConfig } from './schema/parse';

/** Diagnostics a loss reports (each loss reports its own subset). */
export type LossMetric =
  | 'energyPos' // ed, cd: mean energy of the data
  | 'energyNeg' // ed, cd: mean energy of the negatives
  | 'gap' // energyNeg − energyPos
  | 'acceptRate' // cd with MALA/HMC negatives
  | 'accuracy' // ce
  | 'dsm' // diffclf: its DSM term
  | 'clf' // diffclf: its classification term
  | 'clfAccuracy' // diffclf: how often the true level wins
  | 'scoreNorm'; // the score-matching losses: mean |score|

/** Diagnostics of a latent-prior run (trainLatent); the prior loss's own metrics come as `prior.<name>`. */
export type LatentMetric =
  | 'reconMse'
  | 'priorLoss'
  | 'energyPosterior'
  | 'energyNoise'
  | 'posteriorGradNorm'
  | 'generatorGradNorm'
  | 'priorGradNorm'
  | 'msPosterior'
  | 'msGenerator'
  | 'msPrior'
  | `prior.${LossMetric}`;

/**
 * One report: means over the steps since the previous one. Metrics a run does not report are
 * absent; a misspelt name is a compile error.
 */
export type TrainProgress = {
  /** steps completed */
  step: number;
  loss: number;
  lr: number;
  stepsPerSecond: number;
  /** seconds since the run started */
  seconds: number;
  /** global gradient norm before clipping (ebm.train) */
  gradNorm?: number;
} & Partial<Record<LossMetric | LatentMetric, number>>;

export interface TrainRun {
  /** the step the run ended at */
  steps: number;
  /** the step a resumed run continued from (0 for a fresh run) */
  startStep: number;
  /** this process's rank and the number of ranks (0 and 1 without `distributed`) */
  rank: number;
  worldSize: number;
  seconds: number;
  /** LibTorch intra-op threads the run used: ebm.setNumThreads's, else OMP_NUM_THREADS, else the job's own (README "Speed") */
  threads: number;
  /** whether every optimiser step took the one-pass Adam / AdamW (optimizer.fused; README "Speed") */
  onePassOptimizer: boolean;
  /** whether every step's loss gradient took the loss's one-pass head (ED on the CPU in float32; EBM_TORCH_FUSED_LOSSES=0 keeps LibTorch's operations) */
  onePassLossHead: boolean;
  history: TrainProgress[];
  /** final values of tensors the loss owns, e.g. DiffCLF's per-level offsets 'diffclf.offsets' */
  lossParameters: Record<string, Tensor>;
}

/**
 * train()'s config: the options of TrainOptions, the class labels of the 'ce' loss, and the job hooks.
 * @interface
 */
export type TrainConfig = z.input<typeof TrainConfigSchema>;

/** @internal a native report as the public TrainProgress */
export function flattenProgress(p: NativeTrainProgress): TrainProgress {
  return {
    ...(p.metrics as Partial<Record<LossMetric | LatentMetric, number>>),
    step: p.step,
    loss: p.loss,
    lr: p.lr,
    stepsPerSecond: p.stepsPerSecond,
    seconds: p.seconds,
  };
}

/**
 * Trains `model` on the rows of `data` (shape [N, ...model input shape]). Bad configs are
 * rejected (EbmConfigError, naming the field) before anything native runs.
 *
 * The run reads `data.data` in place, without a copy, so a dataset is in memory once: do not
 * write to it until the returned promise settles (a run that waits for an earlier job on the same
 * model takes a copy when it is called). The memory stays valid for the run even if the array's
 * buffer is transferred or collected meanwhile.
 */
export async function train(model: EnergyModel, data: Tensor, config: TrainConfig): Promise<TrainRun> {
  requireModel(model);
  if (model.config.kind === 'latent') {
    throw new EbmConfigError('a latent model is trained with ebm.trainLatent(model, images, options), not ebm.train');
  }
  checkRows(data, model.inputShape, 'data');
  const cfg = validateTrainOptions(config, model.timeConditioned, data.shape[0], model.config.kind);
  return trainValidated(model, data, cfg);
}

/**
 * @internal Trains with a config train()'s checks have passed (validateTrainOptions' result, or
 * a run-config file's train section with its hooks added): the data is checked (finite values,
 * labels against it and the model), the config is not checked again. `dataChecked`: the caller
 * has already checked the data's values.
 */
export async function trainValidated(
  model: EnergyModel,
  data: Tensor,
  cfg: ResolvedTrainConfig,
  options: { dataChecked?: boolean } = {},
): Promise<TrainRun> {
  if (!options.dataChecked) checkFinite(data, 'data');
  const { signal, onProgress, labels } = cfg;
  if (labels !== undefined) {
    if (!(labels instanceof Int32Array || labels instanceof Uint8Array)) {
      throw new EbmConfigError('config.labels must be an Int32Array or a Uint8Array');
    }
    if (labels.length !== data.shape[0]) {
      throw new EbmShapeError(`config.labels has ${labels.length} entries, data has ${data.shape[0]} rows`);
    }
    const classes =
      model.config.kind === 'classifier'
        ? (model.config.classes ?? optionDefaults().model.classifier.classes)
        : undefined;
    const bad = classes === undefined ? -1 : labels.findIndex((l) => l < 0 || l >= classes);
    if (bad >= 0) {
      throw new EbmConfigError(`config.labels[${bad}] must be a class in [0, ${classes}), got ${labels[bad]}`);
    }
  }
  if (signal?.aborted) throw new EbmAbortError('training was aborted before it started');
  const distributed = cfg.distributed === undefined ? undefined : resolveDistributed(cfg.distributed);
  const nativeConfig = configJson({ ...cfg, distributed, onProgress: undefined, signal: undefined, labels: undefined });
  const report = onProgress ? (p: NativeTrainProgress) => onProgress(flattenProgress(p)) : undefined;
  const result = await model.runExclusive(
    { data, labels },
    (a) => awaitJob(native().train(model.handle, a.data, nativeConfig, report, a.labels), signal),
    { copy: (a) => ({ data: snapshot(a.data), labels: a.labels?.slice() }), signal, what: 'training' },
  );
  return {
    steps: result.steps,
    startStep: result.startStep,
    rank: result.rank,
    worldSize: result.worldSize,
    seconds: result.seconds,
    threads: result.threads,
    onePassOptimizer: result.onePassOptimizer,
    onePassLossHead: result.onePassLossHead,
    history: result.history.map(flattenProgress),
    lossParameters: result.lossParameters,
  };
}

const EvaluateOptionsSchema = obj({
  seed: seed()
    .default(() => optionDefaults().train.seed)
    .describe("fixes the loss's noise"),
});

export interface LossEvaluation {
  loss: number;
  metrics: Record<string, number>;
  /** L2 norm of the gradient of every trainable tensor (model weights and loss-owned ones) */
  gradNorms: Record<string, number>;
  /** whether the gradient took the loss's one-pass head (as TrainRun's) */
  onePassLossHead: boolean;
}

/**
 * One evaluation of a loss on a batch, with gradients, without changing the model: for
 * research and for checking a loss against its formula. `seed` fixes the loss's noise.
 */
export async function evaluateLoss(
  model: EnergyModel,
  batch: Tensor,
  loss: LossConfig,
  options: { seed?: number } = {},
): Promise<LossEvaluation> {
  requireModel(model);
  checkRows(batch, model.inputShape, 'batch');
  const lossConfig = validateLossConfig(loss, model.timeConditioned, 'loss');
  const { seed } = parseConfig(EvaluateOptionsSchema, options, 'options');
  checkFinite(batch, 'batch');
  const lossJson = configJson(lossConfig);
  return model.runExclusive(batch, (b) => native().evaluateLoss(model.handle, b, lossJson, seed), { copy: snapshot });
}
