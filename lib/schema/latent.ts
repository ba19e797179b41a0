/**
 * The options of latent EBMs (latent.ts): the model config, the Langevin chains, trainLatent's
 * options and those of the image methods, one schema each, checked with their defaults filled in.
 * The defaults of the latent training and image options live in this file, once (latentDefaults);
 * the model's own (generator.batchNorm, seed, device) are the native ones (schema/defaults.ts).
 */
import { z } from 'zod';
import { DistributedSchema } from '../distributed';
import { Activation, activations, Device } from './models';
import { EbmConfigError } from '../errors';
import {
  bool,
  checkpointSchema,
  device,
  fail,
  instance,
  int,
  kindOf,
  num,
  obj,
  oneOf,
  oneOfTail,
  pick,
  refineCheckpointEvery,
  seed,
  text,
} from './fields';
import { CdSchema, EdLossConfig, EdSchema, lossKinds } from './losses';
import { parseConfig } from './parse';
import { lossTraits } from './traits';
import type { TrainProgress } from '../train';
import { optionDefaults as D } from './defaults';
import { describeValue } from '../validate';

/** Defaults (METHODS.md, "Latent image prior"). */
export const latentDefaults = {
  latentDim: 64,
  generatorChannels: 64,
  priorHidden: [200, 200, 200],
  priorActivation: 'leaky_relu' as Activation,
  likelihoodSigma: 0.3,
  /** of training, generation and evaluation chains (the model's own defaults are the native ones) */
  seed: 0,
  /** posterior chains, in training and inference */
  posterior: { steps: 20, stepSize: 0.1 },
  /** prior chains of generate() */
  prior: { steps: 500, stepSize: 0.2 },
  priorLoss: { kind: 'ed', t: 0.25, m: 16, w: 1 } as EdLossConfig,
  generatorLr: 1e-4,
  priorLr: 5e-5,
  priorGradClip: 0,
  betas: [0.5, 0.999] as [number, number],
  logEvery: 10,
  checkpointEvery: 0,
} as const;

/** A short-run Langevin chain z ← z − (s²/2)∇U(z) + s ξ (Pang et al.'s step size s), with its defaults. */
export function chainFields(defaults: { steps: number; stepSize: number }) {
  return {
    steps: int(0, 1e6).default(defaults.steps).describe('Langevin steps'),
    stepSize: num({ above: 0, max: 10 }).default(defaults.stepSize).describe("step size s (Pang et al.'s)"),
  };
}

const latentEbmShape = {
  kind: z
    .literal('latent', { error: (iss) => ` must be 'latent' (or left out), got ${describeValue(iss.input)}` })
    .optional()
    .describe("'latent' (a run-config file needs it)"),
  imageShape: z
    .tuple([int(1, 64), int(6, 4096), int(6, 4096)], {
      error: () => ' must be [channels, height, width], e.g. [1, 28, 28]',
    })
    .describe('[channels, height, width]; height and width even (28×28 grows from 7×7, 32×32 from 4×4)'),
  latentDim: int(1, 4096).default(latentDefaults.latentDim).describe('dimension of the latent z'),
  generator: obj({
    channels: int(1, 4096)
      .default(latentDefaults.generatorChannels)
      .describe('channels of the last hidden layer; they double towards the base'),
    batchNorm: bool()
      .default(() => D().model.latent.generator.batchNorm)
      .describe('BatchNorm after each hidden transposed convolution'),
  })
    .prefault({})
    .describe('the generator g(z)'),
  prior: obj({
    hidden: z
      .array(int(1, 65536), { error: () => ' must list 1 to 16 layer widths, e.g. [200, 200, 200]' })
      .min(1, { error: () => ' must list 1 to 16 layer widths, e.g. [200, 200, 200]' })
      .max(16, { error: () => ' must list 1 to 16 layer widths, e.g. [200, 200, 200]' })
      .default(() => [...latentDefaults.priorHidden])
      .describe('hidden widths of the energy E(z), an MLP latentDim → hidden… → 1'),
    activation: oneOf(activations)
      .default(latentDefaults.priorActivation)
      .describe("activation of E(z) ('leaky_relu': slope 0.2)"),
  })
    .prefault({})
    .describe('the energy E(z)'),
  likelihoodSigma: num({ above: 0, max: 100 })
    .default(latentDefaults.likelihoodSigma)
    .describe('std σ of the Gaussian likelihood p(x | z) = N(g(z), σ²I)'),
  device: device()
    .default(() => D().model.latent.device as Device)
    .describe("'auto': CUDA when available"),
  seed: seed()
    .default(() => D().model.latent.seed)
    .describe('seeds the weight initialisation'),
};

function refineImageShape(o: { imageShape: [number, number, number] }, ctx: z.core.$RefinementCtx): void {
  const [, h, w] = o.imageShape;
  if (h % 2 !== 0 || w % 2 !== 0) {
    fail(
      ctx,
      ['imageShape'],
      `: height and width must be even (the generator doubles a base of at least 3×3 pixels), got ${h} × ${w}`,
    );
  }
}

export const LatentEbmSchema = obj(latentEbmShape)
  .superRefine(refineImageShape)
  .transform((o) => ({ ...o, kind: 'latent' as const }));

/** The latent model of a run-config file: `"kind": "latent"` required (it tells the file's kind). */
export const LatentModelFileSchema = obj({
  ...latentEbmShape,
  kind: z.literal('latent', { error: (iss) => ` must be 'latent', got ${describeValue(iss.input)}` }),
}).superRefine(refineImageShape);

/**
 * What ebm.latentEbm() takes; every field but imageShape has a default.
 * @interface
 */
export type LatentEbmConfig = z.input<typeof LatentEbmSchema>;
/**
 * The config a latent model holds, with every default filled in (as saved in its checkpoint).
 * @interface
 */
export type LatentModelConfig = z.output<typeof LatentEbmSchema>;

/** A short-run Langevin chain z ← z − (s²/2)∇U(z) + s ξ (Pang et al.'s step size s). */
export interface LatentChain {
  steps?: number;
  stepSize?: number;
}

/** Checks a latent model config and fills in its defaults. */
export function validateLatentConfig(value: unknown, path = 'config'): LatentModelConfig {
  return parseConfig(LatentEbmSchema, value, path);
}

// The loss kinds whose traits say they can train a latent prior, each with its schema.
const priorLossSchemas = { ed: EdSchema, cd: CdSchema } as const;
const priorLoss = pick([priorLossSchemas.ed, priorLossSchemas.cd], (v) => {
  const kind = kindOf(v);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return ` must be an object, got ${describeValue(v)}`;
  if (!(lossKinds as readonly unknown[]).includes(kind)) return `.kind${oneOfTail(lossKinds, kind)}`;
  const accepted = lossKinds.filter((k) => lossTraits(k).latentPrior);
  const i = Object.keys(priorLossSchemas).indexOf(String(kind));
  if (i >= 0 && accepted.includes(kind as (typeof lossKinds)[number])) return i;
  return `.kind must be ${accepted.map((k) => `'${k}'`).join(' or ')} for a latent prior, got '${String(kind)}'`;
});

const PriorSchema = pick(
  [
    z.literal('gaussian'),
    obj({
      loss: priorLoss
        .prefault(() => latentDefaults.priorLoss)
        .describe("'ed' or 'cd' (short-run prior Langevin negatives)"),
      lr: num({ above: 0, max: 10 }).default(latentDefaults.priorLr).describe('Adam learning rate of the energy'),
      gradClip: num({ min: 0 })
        .default(latentDefaults.priorGradClip)
        .describe("clip the energy's gradient norm (0: off)"),
    }),
  ],
  (v) =>
    v === 'gaussian'
      ? 0
      : typeof v === 'object' && v !== null && !Array.isArray(v)
        ? 1
        : ` must be 'gaussian' or an object { loss, lr, gradClip }, got ${describeValue(v)}`,
);

const latentTrainShape = {
  batchSize: int(1, 1e6).describe('images per step (per rank when distributed)'),
  steps: int(1, 1e9).describe('number of steps'),
  prior: PriorSchema.prefault({}).describe("the prior's training: a loss on the posterior latents, or 'gaussian'"),
  posterior: obj({
    ...chainFields(latentDefaults.posterior),
    sigma: num({ above: 0, max: 100 }).optional().describe("likelihood std (default: the model's likelihoodSigma)"),
    persistent: bool()
      .default(false)
      .describe("each image's chain continues from its previous latents (false: from N(0, I))"),
  })
    .prefault({})
    .describe('the posterior chains'),
  generatorLr: num({ above: 0, max: 10 })
    .default(latentDefaults.generatorLr)
    .describe('Adam learning rate of the generator'),
  betas: z
    .tuple([num({ min: 0, max: 0.999999 }), num({ min: 0, max: 0.999999 })], {
      error: () => ' must be [beta1, beta2]',
    })
    .default(() => [...latentDefaults.betas] as [number, number])
    .describe('Adam betas of both networks'),
  seed: seed().default(latentDefaults.seed).describe('fixes data order and all noise'),
  logEvery: int(1).default(latentDefaults.logEvery).describe('a progress report every logEvery steps'),
  ema: obj({ decay: num({ min: 0, max: 0.999999 }) })
    .optional()
    .describe('exponential moving average of all weights, swapped in at the end'),
  resumeFrom: text('a checkpoint path (a non-empty string)')
    .optional()
    .describe(
      'continue the run a checkpoint written by `checkpoint` holds, up to `steps`: the result equals one ' +
        'uninterrupted run bit for bit (model, images, posterior, prior, learning rates, betas, ema, batchSize, ' +
        'seed and number of ranks as in the run that wrote it)',
    ),
  distributed: DistributedSchema.optional(),
};

const checkpointDescription =
  'write both networks and the whole training state (both optimisers, EMA, persistent chains, random generator, ' +
  'data order) every `every` steps, at the end, and when the run is aborted';

type LatentTrainShapeOutput = z.output<z.ZodObject<typeof latentTrainShape>>;

function refineLatentTrain(o: LatentTrainShapeOutput, ctx: z.core.$RefinementCtx): void {
  refineCheckpointEvery(
    o,
    ctx,
    (_every, logEvery) =>
      ` must be a multiple of logEvery (${logEvery}): checkpoints are written at reports, after the finiteness check`,
  );
}

/** trainLatent's options in a run-config file (no hooks). */
export const LatentTrainFileSchema = obj(
  {
    ...latentTrainShape,
    checkpoint: checkpointSchema(true, () => latentDefaults.checkpointEvery, checkpointDescription),
  },
  {
  unknownKey: (key, known) =>
    key === 'onProgress' || key === 'signal'
      ? `.${key} cannot be set in a config file`
      : `.${key} is not a known option (known: ${known.join(', ')})`,
  },
).superRefine(refineLatentTrain);

const hooks = {
  onProgress: instance<(progress: TrainProgress) => void>((v) => typeof v === 'function', 'a function').optional(),
  /** aborting rejects with EbmAbortError (within a posterior chain step, else at the next step); the model keeps its last completed step */
  signal: instance<AbortSignal>((v) => v instanceof AbortSignal, 'an AbortSignal').optional(),
};

const LatentTrainSchema = obj({
  ...latentTrainShape,
  checkpoint: checkpointSchema(false, () => latentDefaults.checkpointEvery, checkpointDescription),
  ...hooks,
}).superRefine(refineLatentTrain);

/**
 * The prior's training: a loss on the posterior latents, or 'gaussian' (no EBM: N(0, I)).
 * @useDeclaredType
 */
export type LatentPriorOptions = z.input<typeof PriorSchema>;
/**
 * trainLatent()'s options.
 * @interface
 */
export type LatentTrainOptions = z.input<typeof LatentTrainSchema>;

type ParsedLatentTrain = z.output<typeof LatentTrainFileSchema>;

/** The options trainLatent() runs with, every default filled in. */
export interface ResolvedLatentTrainOptions extends Omit<ParsedLatentTrain, 'posterior'> {
  posterior: ParsedLatentTrain['posterior'] & { sigma: number };
  /** the prior's learning rate (prior.lr, or the default with a Gaussian prior) */
  priorLr: number;
}

/**
 * The model's part of the options (the posterior's sigma defaults to its likelihoodSigma), the
 * prior's lr at the top and logEvery capped at steps; the batch size against the images.
 */
export function resolveLatentTrain(
  o: ParsedLatentTrain,
  model: { config: LatentModelConfig },
  rows: number,
  path: string,
): ResolvedLatentTrainOptions {
  if (o.batchSize > rows) {
    throw new EbmConfigError(`${path}.batchSize (${o.batchSize}) is larger than the dataset (${rows} images)`);
  }
  return {
    ...o,
    posterior: { ...o.posterior, sigma: o.posterior.sigma ?? model.config.likelihoodSigma },
    priorLr: o.prior === 'gaussian' ? latentDefaults.priorLr : o.prior.lr,
    logEvery: Math.min(o.steps, o.logEvery),
  };
}

/** Checks trainLatent options against a model and fills in the defaults. */
export function validateLatentTrainOptions(
  value: unknown,
  model: { config: LatentModelConfig },
  rows: number,
  path = 'options',
): ResolvedLatentTrainOptions & z.output<z.ZodObject<typeof hooks>> {
  const { onProgress, signal, ...options } = parseConfig(LatentTrainSchema, value, path);
  return {
    ...resolveLatentTrain(options, model, rows, path),
    ...(onProgress !== undefined ? { onProgress } : {}),
    ...(signal !== undefined ? { signal } : {}),
  };
}

/** The options of generate(). */
const GenerateSchema = obj({
  n: int(1, 1e7).describe('number of images'),
  prior: obj(chainFields(latentDefaults.prior)).prefault({}).describe('the prior chain'),
  seed: seed().default(latentDefaults.seed),
  onProgress: instance<(done: number, total: number) => void>((v) => typeof v === 'function', 'a function').optional(),
  signal: hooks.signal,
});

/**
 * The options of LatentEbm.generate(): n images from prior chains.
 * @interface
 */
export type GenerateOptions = z.input<typeof GenerateSchema>;

/** @internal checks generate()'s options */
export function validateGenerateOptions(value: unknown) {
  return parseConfig(GenerateSchema, value, 'options');
}

const posteriorShape = {
  ...chainFields(latentDefaults.posterior),
  sigma: num({ above: 0, max: 100 }).optional().describe("likelihood std (default: the model's likelihoodSigma)"),
  seed: seed().default(latentDefaults.seed).describe("fixes the chains' start and noise"),
  onProgress: GenerateSchema.shape.onProgress.describe('images finished so far, after every chunk of 1024'),
  signal: hooks.signal,
};
const PosteriorSchema = obj(posteriorShape);
const DenoiseSchema = obj({ ...posteriorShape, sigma: num({ above: 0, max: 100, typeWhenMissing: true }) });

/**
 * Options shared by the posterior calls (infer, reconstruct, inpaint, denoise).
 * @interface
 */
export type PosteriorOptions = z.input<typeof PosteriorSchema>;

/** @internal checks the options of a posterior call (denoise: sigma required) */
export function validatePosteriorOptions(value: unknown, denoise: boolean) {
  return parseConfig(denoise ? DenoiseSchema : PosteriorSchema, value, 'options');
}
