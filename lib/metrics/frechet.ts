/**
 * Fréchet distance in the feature space of a small classifier the project trains itself on
 * Fashion-MNIST (weights cached after the first training).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fashionMnist } from '../data/fashion';
import { EbmAbortError, EbmConfigError, EbmShapeError } from '../errors';
import { EnergyModel, energyModel, loadModel, requireModel } from '../model';
import { native } from '../native';
import { optionDefaults } from '../schema/defaults';
import { checkFinite, checkRows, snapshot, Tensor } from '../tensor';
import { train, TrainProgress } from '../train';
import {
  checkJobHooks,
  checkNumber,
  checkSeries,
  describeValue,
  optionalBoolean,
  optionalNumber,
  rejectUnknownKeys,
  requireObject,
} from '../validate';

/** Throws EbmConfigError unless `model` is a classifier (the only kind with features). */
export function requireClassifier(model: unknown, what = 'model'): asserts model is EnergyModel {
  requireModel(model, what);
  if (model.config.kind !== 'classifier') {
    throw new EbmConfigError(
      `${what} must be a 'classifier' (see fashionClassifier()), got a model of kind '${model.config.kind}'`,
    );
  }
}

/** Penultimate-layer features [N, featureDim] of a classifier. */
export async function classifierFeatures(model: EnergyModel, x: Tensor): Promise<Tensor> {
  requireClassifier(model);
  checkRows(x, model.inputShape, 'x');
  return model.runExclusive(x, (v) => native().features(model.handle, v), { copy: snapshot });
}

/** Class logits [N, classes] of a classifier. */
export async function classifierLogits(model: EnergyModel, x: Tensor): Promise<Tensor> {
  requireClassifier(model);
  checkRows(x, model.inputShape, 'x');
  return model.runExclusive(x, (v) => native().features(model.handle, v, true), { copy: snapshot });
}

/** Fraction of rows whose arg-max logit equals the label. */
export async function classifierAccuracy(model: EnergyModel, x: Tensor, labels: ArrayLike<number>): Promise<number> {
  requireClassifier(model);
  checkRows(x, model.inputShape, 'x');
  const classCount =
    model.config.kind === 'classifier' ? (model.config.classes ?? optionDefaults().model.classifier.classes) : 0;
  checkSeries(labels, 'labels');
  if (labels.length !== x.shape[0]) {
    throw new EbmShapeError(`labels has ${labels.length} entries but x has ${x.shape[0]} rows`);
  }
  for (let i = 0; i < labels.length; i++) {
    checkNumber(labels[i], `labels[${i}]`, { integer: true, min: 0, max: classCount - 1 });
  }
  const logits = await classifierLogits(model, x);
  const classes = logits.shape[1];
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits.data[i * classes + k] > logits.data[i * classes + best]) best = k;
    if (best === labels[i]) correct++;
  }
  return correct / labels.length;
}

/**
 * |μ_a − μ_b|² + Tr(Σ_a + Σ_b − 2(Σ_a Σ_b)^½) between the classifier features of two image sets
 * (the FID recipe with this project's own classifier; numbers are comparable only within it).
 */
export async function frechetDistance(classifier: EnergyModel, a: Tensor, b: Tensor): Promise<number> {
  requireClassifier(classifier, 'classifier');
  checkRows(a, classifier.inputShape, 'a');
  checkRows(b, classifier.inputShape, 'b');
  checkFinite(a, 'a');
  checkFinite(b, 'b');
  for (const [t, what] of [
    [a, 'a'],
    [b, 'b'],
  ] as const) {
    if (t.shape[0] < 2) throw new EbmShapeError(`${what} needs at least 2 rows (a covariance), got ${t.shape[0]}`);
  }
  return classifier.runExclusive({ a, b }, (v) => native().frechet(classifier.handle, v.a, v.b), {
    copy: (v) => ({ a: snapshot(v.a), b: snapshot(v.b) }),
  });
}

export interface FashionClassifierOptions {
  /** where the weights are cached; default $EBM_TORCH_CACHE or ~/.cache/ebm-torch, file fashion-mnist-classifier.safetensors */
  cachePath?: string;
  /** train even if a cached file exists */
  retrain?: boolean;
  /** training images used (default all 60 000) */
  limit?: number;
  steps?: number;
  seed?: number;
  dir?: string;
  onProgress?: (p: TrainProgress) => void;
  /** stops the training (EbmAbortError); nothing is cached then */
  signal?: AbortSignal;
}

export function defaultClassifierCache(): string {
  const dir = process.env.EBM_TORCH_CACHE ?? path.join(os.homedir(), '.cache', 'ebm-torch');
  return path.join(dir, 'fashion-mnist-classifier.safetensors');
}

/**
 * The Fashion-MNIST feature classifier: loaded from the cache, or trained (images scaled to
 * [−1, 1], Adam, batch 128) and cached. Returns the model and its accuracy on 2000 test images.
 */
export async function fashionClassifier(
  options: FashionClassifierOptions = {},
): Promise<{ model: EnergyModel; testAccuracy: number; trained: boolean }> {
  const o = requireObject(options, 'options');
  rejectUnknownKeys(o, ['cachePath', 'retrain', 'limit', 'steps', 'seed', 'dir', 'onProgress', 'signal'], 'options');
  for (const key of ['cachePath', 'dir']) {
    if (o[key] !== undefined && (typeof o[key] !== 'string' || o[key] === '')) {
      throw new EbmConfigError(`options.${key} must be a non-empty path, got ${describeValue(o[key])}`);
    }
  }
  optionalBoolean(o, 'retrain', 'options');
  optionalNumber(o, 'limit', 'options', { integer: true, min: 1 });
  optionalNumber(o, 'steps', 'options', { integer: true, min: 1, max: 1e9 });
  optionalNumber(o, 'seed', 'options', { integer: true, min: 0 });
  checkJobHooks(o, 'options');
  if (options.signal?.aborted) throw new EbmAbortError('classifier training was aborted before it started');
  const cachePath = options.cachePath ?? defaultClassifierCache();
  const test = fashionMnist({ split: 'test', scale: '-11', limit: 2000, dir: options.dir });
  let model: EnergyModel;
  let trained = false;
  if (!options.retrain && fs.existsSync(cachePath)) {
    model = await loadModel(cachePath);
    requireClassifier(model);
  } else {
    const data = fashionMnist({ split: 'train', scale: '-11', limit: options.limit, dir: options.dir });
    model = energyModel({ kind: 'classifier', inputShape: [1, 28, 28], seed: options.seed ?? 0 });
    await train(model, data.images, {
      loss: { kind: 'ce' },
      labels: data.labels,
      optimizer: { kind: 'adam', lr: 1e-3 },
      batchSize: 128,
      steps: options.steps ?? 1000,
      seed: options.seed ?? 0,
      logEvery: 50,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    fs.mkdirSync(path.dirname(cachePath), { recursive: true });
    await model.save(cachePath);
    trained = true;
  }
  return { model, testAccuracy: await classifierAccuracy(model, test.images, test.labels), trained };
}
