/**
 * Typed, validated configuration for losses, samplers, optimisers and training runs. The schemas
 * (zod; see schema/fields.ts for why) are the source of truth: the public types are their inputs,
 * and each validator returns the effective config, every default filled in.
 */
import { z } from 'zod';
import { DistributedSchema } from './distributed';
import { optionDefaults as D } from './schema/defaults';
import {
  bool,
  byKind,
  checkpointSchema,
  fail,
  instance,
  int,
  num,
  obj,
  pick,
  positive,
  refineCheckpointEvery,
  seed,
  text,
} from './schema/fields';
import { lossModelTail, LossSchema } from './schema/losses';
import { parseConfig } from './schema/parse';
import { lossTraits } from './schema/traits';
import { SamplerSchema } from './schema/samplers';
import type { TrainProgress } from './train';

export { lossKinds, LossSchema } from './schema/losses';
export type {
  CdLossConfig,
  CeLossConfig,
  DiffClfLossConfig,
  DsmPathLossConfig,
  DsmSigmaLossConfig,
  EdLossConfig,
  LossConfig,
  PathOptions,
  ResolvedLossConfig,
  SsmLossConfig,
} from './schema/losses';
export { samplerKinds, SamplerSchema } from './schema/samplers';
export type {
  AdaptOptions,
  AnnealedConfig,
  HmcConfig,
  LangevinConfig,
  MalaConfig,
  ResolvedSamplerConfig,
  SamplerConfig,
  SamplerKind,
  SmcConfig,
  WgfConfig,
} from './schema/samplers';
export type { NoisePathKind } from './schema/noise-path';

const beta = () => num({ min: 0, max: 0.999999 });
const betas = (kind: 'adam' | 'adamw') =>
  z
    .tuple([beta(), beta()], { error: () => ' must be [beta1, beta2]' })
    .default(() => [...D().optimizer[kind].betas] as [number, number])
    .describe('Adam β₁, β₂');

const lr = () => positive(10).describe('learning rate');
const weightDecay = (kind: 'adam' | 'adamw' | 'sgd') =>
  num({ min: 0 })
    .default(() => D().optimizer[kind].weightDecay)
    .describe('L2 weight decay (AdamW: decoupled)');
const adam = (kind: 'adam' | 'adamw') =>
  obj({
    kind: z.literal(kind),
    lr: lr(),
    betas: betas(kind),
    eps: positive()
      .default(() => D().optimizer[kind].eps)
      .describe('ε'),
    weightDecay: weightDecay(kind),
    fused: bool()
      .default(() => D().optimizer[kind].fused)
      .describe("one pass per parameter on CPU float32 (false: LibTorch's own step; the same state either way)"),
  });
const SgdSchema = obj({
  kind: z.literal('sgd'),
  lr: lr(),
  momentum: num({ min: 0, max: 0.999999 })
    .default(() => D().optimizer.sgd.momentum)
    .describe('momentum'),
  weightDecay: weightDecay('sgd'),
});

/** The optimiser: Adam, AdamW or SGD. */
export const OptimizerSchema = pick([adam('adam'), adam('adamw'), SgdSchema], byKind(['adam', 'adamw', 'sgd']));
/**
 * The optimiser: Adam, AdamW or SGD (absent: Adam at the native default rate).
 * @useDeclaredType
 */
export type OptimizerConfig = z.input<typeof OptimizerSchema>;

const schedule = (kind: 'constant' | 'cosine') =>
  obj({
    kind: z.literal(kind),
    warmupSteps: int(0)
      .default(() => D().train.schedule.warmupSteps)
      .describe('linear warm-up over the first steps'),
    minLr: num({ min: 0 })
      .default(() => D().train.schedule.minLr)
      .describe('cosine floor'),
  });

/** The learning-rate schedule: constant or cosine, with an optional linear warm-up. */
export const ScheduleSchema = pick([schedule('constant'), schedule('cosine')], byKind(['constant', 'cosine']));
/**
 * The learning-rate schedule: constant or cosine, with an optional linear warm-up.
 * @useDeclaredType
 */
export type ScheduleConfig = z.input<typeof ScheduleSchema>;

/** The fields of train() that a config file may hold too. */
const trainShape = {
  loss: LossSchema.describe('the loss, by kind'),
  optimizer: OptimizerSchema.prefault(() => D().train.optimizer).describe('the optimiser'),
  schedule: ScheduleSchema.prefault(() => D().train.schedule).describe('the learning-rate schedule'),
  // 1e8: the bound of options.n in sample() and of a CD buffer; far larger batches only reach the allocator's error
  batchSize: int(1, 1e8).describe('rows per step (per rank when distributed)'),
  steps: int(1, 1e9).describe('number of optimiser steps'),
  seed: seed()
    .default(() => D().train.seed)
    .describe('fixes data order and all noise'),
  replacement: bool()
    .default(() => D().train.replacement)
    .describe('draw batches with replacement (false: shuffled epochs)'),
  logEvery: int(1)
    .default(() => D().train.logEvery)
    .describe('a history entry and a progress event every logEvery steps'),
  ema: obj({ decay: num({ min: 0, max: 0.999999999 }).describe('decay of the average') })
    .optional()
    .describe('exponential moving average of the weights; copied into the model at the end'),
  gradClip: num({ min: 0 })
    .optional()
    .describe("clip the global gradient norm (0 = off); default: the loss's (diffclf 1, else 0)"),
  resumeFrom: text('a checkpoint path (a non-empty string)')
    .optional()
    .describe(
      'continue the run a checkpoint written by `checkpoint` holds, up to `steps`: the result equals one ' +
        'uninterrupted run bit for bit (model, data, loss, optimizer, schedule, batchSize, seed, replacement, ' +
        'ema and gradClip as in the run that wrote it)',
    ),
  distributed: DistributedSchema.optional(),
};

type TrainShapeOutput = z.output<z.ZodObject<typeof trainShape>>;

/** checkpoint.every must fall on a report (a multiple of min(steps, logEvery)). */
function refineTrain(o: TrainShapeOutput, ctx: z.core.$RefinementCtx): void {
  refineCheckpointEvery(
    o,
    ctx,
    (every, logEvery) => ` (${every}) must be a multiple of logEvery (${logEvery}): checkpoints are written at reports`,
  );
}

/** The loss's default of gradClip where none is given. */
function withGradClip<T extends TrainShapeOutput>(o: T): T & { gradClip: number } {
  return { ...o, gradClip: o.gradClip ?? D().lossGradClip[o.loss.kind] };
}

const checkpointDescription =
  'write the model and the whole training state (optimiser, EMA, loss state, random generator, data order) ' +
  'every `every` steps, at the end, and when the run is aborted';

/** train's options in a run-config file: the serialisable ones. */
export const TrainOptionsSchema = obj(
  { ...trainShape, checkpoint: checkpointSchema(true, () => D().train.checkpoint.every, checkpointDescription) },
  {
    unknownKey: (key, known) =>
      key === 'onProgress' || key === 'signal'
        ? `.${key} cannot be set in a config file`
        : `.${key} is not a known option (known: ${known.join(', ')})`,
  },
)
  .superRefine(refineTrain)
  .transform(withGradClip);

/**
 * Options of a training run that cross into the native trainer (what a config file holds).
 * @interface
 */
export type TrainOptions = z.input<typeof TrainOptionsSchema>;
/** A training run's options with every default filled in (written to a run folder's config.json). */
export type ResolvedTrainOptions = z.output<typeof TrainOptionsSchema>;

/** train()'s config: the options, the hooks and the labels of the 'ce' loss. */
export const TrainConfigSchema = obj({
  ...trainShape,
  checkpoint: checkpointSchema(false, () => D().train.checkpoint.every, checkpointDescription),
  // checked against the data and the model by train()
  labels: z
    .custom<Int32Array | Uint8Array>(() => true)
    .optional()
    .describe("class index per data row, for the 'ce' loss"),
  onProgress: instance<(progress: TrainProgress) => void>((v) => typeof v === 'function', 'a function')
    .optional()
    .describe('called every logEvery steps'),
  signal: instance<AbortSignal>((v) => v instanceof AbortSignal, 'an AbortSignal')
    .optional()
    .describe('aborting rejects with EbmAbortError within a step; the model keeps its last completed step'),
})
  .superRefine(refineTrain)
  .transform(withGradClip);

/** What a training run is checked against: the model and the data. */
export interface TrainContext {
  timeConditioned: boolean;
  rows: number;
  /** the model's kind (a loss may need one, e.g. 'ce' a 'classifier') */
  modelKind?: string;
}

/** The message tail when a batch cannot be drawn without replacement from `rows` rows. */
export function batchSizeTail(batchSize: number, rows: number, replacement: boolean): string | undefined {
  if (replacement || batchSize <= rows) return undefined;
  return ` (${batchSize}) is larger than the dataset (${rows} rows); use a smaller batch or replacement: true`;
}

/**
 * The rules that join the options to the model and the data, as a refinement: the loss against
 * the model (its timeConditioned and kind, as the loss kind's traits say), the batch size against the rows.
 */
export function refineTrainContext(
  o: { loss: { kind: string; path?: unknown }; batchSize: number; replacement: boolean; labels?: unknown },
  ctx: z.core.$RefinementCtx,
  context: TrainContext,
): void {
  const lossTail = lossModelTail(o.loss, context.timeConditioned, context.modelKind);
  if (lossTail !== undefined) fail(ctx, ['loss'], lossTail);
  const batchTail = batchSizeTail(o.batchSize, context.rows, o.replacement);
  if (batchTail !== undefined) fail(ctx, ['batchSize'], batchTail);
}

/** The effective config train() runs with. */
export type ResolvedTrainConfig = z.output<typeof TrainConfigSchema>;

/**
 * Checks a whole training config before any native work: every field, the loss against the
 * model, and the batch size against the number of rows. Returns it with every default filled in.
 * With `modelKind` (the model's config.kind, as train() passes it) the 'ce' loss also needs a
 * 'classifier' model and `labels`.
 */
export function validateTrainOptions(
  value: unknown,
  timeConditioned: boolean,
  rows: number,
  modelKind?: string,
): ResolvedTrainConfig {
  const context: TrainContext = { timeConditioned, rows, modelKind };
  const schema = TrainConfigSchema.superRefine((o, ctx) => {
    refineTrainContext(o, ctx, context);
    if (lossTraits(o.loss.kind).labels && modelKind !== undefined && o.labels === undefined) {
      fail(ctx, ['labels'], ` is required for the '${o.loss.kind}' loss`);
    }
  });
  return parseConfig(schema, value, 'config');
}

/** Checks a sampler config; returns it with every default filled in. */
export function validateSamplerConfig(value: unknown, path = 'sampler'): z.output<typeof SamplerSchema> {
  return parseConfig(SamplerSchema, value, path);
}

/**
 * Checks a loss config; `timeConditioned` says what the model is, so mismatches fail early.
 * Returns it with every default filled in.
 */
export function validateLossConfig(
  value: unknown,
  timeConditioned: boolean,
  path = 'loss',
): z.output<typeof LossSchema> {
  const schema = LossSchema.superRefine((o, ctx) => {
    const tail = lossModelTail(o, timeConditioned);
    if (tail !== undefined) fail(ctx, [], tail);
  });
  return parseConfig(schema, value, path);
}

/** Checks an optimiser config; returns it with every default filled in. */
export function validateOptimizerConfig(value: unknown, path = 'optimizer'): z.output<typeof OptimizerSchema> {
  return parseConfig(OptimizerSchema, value, path);
}

/** A validated config as the JSON the native side reads (typed arrays become plain arrays). */
export function configJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v));
}
