/** Latent image priors: latentEbm, trainLatent, the image methods, and their validators both ways. */
import * as path from 'node:path';
import * as ebm from '../../lib';
import { loss } from './config-specs';
import { absent, device, entry, fixed, grid, model, modelState, scratchDir, tensorArg } from './fixtures';
import { casesOf, Entry, Group } from './harness';
import {
  arr,
  bool,
  custom,
  hooks,
  int,
  num,
  obj,
  oneOf,
  opt,
  positive,
  seed,
  str,
  tensorSpec,
  tuple,
  union,
} from './spec';

const IMAGE = [1, 8, 8];
const LATENT = 2;
const ROWS = 4;

const even = (v: number) => v % 2 === 0;
const chain = () => ({ steps: opt(int(0, 1e6)), stepSize: opt(positive({ max: 10 })) });
const beta = () => num({ min: 0, max: 0.999999 });

export const latentConfigSpec = obj({
  kind: opt(oneOf('latent')),
  imageShape: tuple(int(1, 64), int(6, 4096, { rule: even }), int(6, 4096, { rule: even })),
  latentDim: opt(int(1, 4096)),
  generator: opt(obj({ channels: opt(int(1, 4096)), batchNorm: opt(bool()) }), () => ({ channels: 2 })),
  prior: opt(
    obj({
      hidden: opt(arr(int(1, 65536), { minLength: 1, maxLength: 16 })),
      activation: opt(oneOf(...ebm.activations)),
    }),
    () => ({
      hidden: [4],
    }),
  ),
  likelihoodSigma: opt(positive({ max: 100 })),
  device: device(),
  seed: seed(),
});

export const latentConfigBase = () => ({
  imageShape: [...IMAGE],
  latentDim: LATENT,
  generator: { channels: 2 },
  prior: { hidden: [4] },
  device: 'cpu',
});

/** trainLatent's options for `rows` images (a config file's `train` without the hooks). */
export function latentTrainSpec(rows: number, checkpointPath: string, withHooks: boolean) {
  // a config file (no hooks) may leave the checkpoint path out: it means the run folder's model
  const inFile = !withHooks;
  return obj({
    batchSize: int(1, Math.min(rows, 1e6)),
    steps: int(1, 1e9),
    prior: opt(
      union(
        oneOf('gaussian'),
        obj({
          loss: opt(union(loss('ed').spec, loss('cd').spec)),
          lr: opt(positive({ max: 10 })),
          gradClip: opt(num({ min: 0 })),
        }),
      ),
      () => ({ loss: loss('ed').base() }),
    ),
    posterior: opt(obj({ ...chain(), sigma: opt(positive({ max: 100 })), persistent: opt(bool()) }), () => ({
      steps: 1,
    })),
    generatorLr: opt(positive({ max: 10 })),
    betas: opt(tuple(beta(), beta())),
    seed: seed(),
    logEvery: opt(int(1)),
    ema: opt(obj({ decay: num({ min: 0, max: 0.999999 }) }), () => ({ decay: 0.9 })),
    checkpoint: opt(obj({ path: inFile ? opt(str()) : str(), every: opt(int(0)) }), () => ({ path: checkpointPath })),
    ...(withHooks ? hooks : {}),
  });
}

export async function latentGroup(): Promise<Group> {
  const dir = scratchDir('latent');
  const lm = ebm.latentEbm(latentConfigBase() as ebm.LatentEbmConfig);
  const images = () => grid(ROWS, IMAGE);
  const mask = () => ebm.metrics.inpaintMask(ROWS, IMAGE, 'centre');
  const imageSpec = { rowShape: IMAGE, finite: true };
  const posterior = opt(obj({ ...chain(), sigma: opt(positive({ max: 100 })), seed: seed(), ...hooks }), () => ({
    steps: 1,
  }));
  const state = { state: () => modelState(lm) };
  const saved = await lm.parameters();
  const trainSpec = latentTrainSpec(ROWS, path.join(dir, 'latent.safetensors'), true);
  const trainBase = () => ({ batchSize: 2, steps: 1, posterior: { steps: 1 } });
  const counter = { skipped: 0 };
  const entries: Entry[] = [
    entry('latentEbm', [{ name: 'config', spec: latentConfigSpec, base: latentConfigBase }], (c) =>
      ebm.latentEbm(c as ebm.LatentEbmConfig),
    ),
    entry(
      'validateLatentConfig',
      [{ name: 'config', spec: latentConfigSpec, base: latentConfigBase }],
      (c) => ebm.validateLatentConfig(c),
      {
        validator: true,
      },
    ),
    entry(
      'trainLatent',
      [fixed('model', () => lm), fixed('images', images), { name: 'options', spec: trainSpec, base: trainBase }],
      (m, x, o) => ebm.trainLatent(m as ebm.LatentEbm, x as ebm.Tensor, o as ebm.LatentTrainOptions),
      { ...state, restore: () => lm.setParameters(saved) },
    ),
    entry(
      'trainLatent(model, images)',
      [
        { name: 'model', spec: model(), base: () => lm },
        tensorArg('images', images, { ...imageSpec, rows: (n) => n >= 2 }),
        fixed('options', trainBase),
      ],
      (m, x, o) => ebm.trainLatent(m as ebm.LatentEbm, x as ebm.Tensor, o as ebm.LatentTrainOptions),
      // a plain EnergyModel is a model, but not a latent one
      { ...state, alsoNames: ['trainLatent'] },
    ),
    entry(
      'validateLatentTrainOptions',
      [{ name: 'options', spec: latentTrainSpec(ROWS, path.join(dir, 'latent.safetensors'), true), base: trainBase }],
      (o) => ebm.validateLatentTrainOptions(o, lm, ROWS),
      { validator: true },
    ),
    entry(
      'generate',
      [
        {
          name: 'options',
          spec: obj({ n: int(1, 1e7), prior: opt(obj(chain()), () => ({ steps: 1 })), seed: seed(), ...hooks }),
          base: () => ({ n: 1, prior: { steps: 1 } }),
        },
      ],
      (o) => lm.generate(o as ebm.GenerateOptions),
      state,
    ),
    entry(
      'decode',
      [tensorArg('z', () => grid(2, [LATENT]), { rowShape: [LATENT], finite: true })],
      (z) => lm.decode(z as ebm.Tensor),
      state,
    ),
  ];
  for (const method of ['infer', 'reconstruct'] as const) {
    entries.push(
      entry(
        method,
        [tensorArg('images', images, imageSpec), { name: 'options', spec: posterior, base: () => ({ steps: 1 }) }],
        (x, o) => lm[method](x as ebm.Tensor, o as ebm.PosteriorOptions),
        state,
      ),
    );
  }
  entries.push(
    entry(
      'inpaint',
      [
        tensorArg('images', images, imageSpec),
        tensorArg('mask', mask, { rowShape: IMAGE, finite: true, rows: (n) => n === ROWS }),
        { name: 'options', spec: posterior, base: () => ({ steps: 1 }) },
      ],
      (x, k, o) => lm.inpaint(x as ebm.Tensor, k as ebm.Tensor, o as ebm.PosteriorOptions),
      { ...state, alsoNames: ['mask'] },
    ),
    entry(
      'denoise',
      [
        tensorArg('images', images, imageSpec),
        {
          name: 'options',
          spec: obj({ ...chain(), sigma: positive({ max: 100 }), seed: seed(), ...hooks }),
          base: () => ({ steps: 1, sigma: 0.5 }),
        },
      ],
      (x, o) => lm.denoise(x as ebm.Tensor, o as ebm.PosteriorOptions & { sigma: number }),
      state,
    ),
  );
  // metrics.imagePrior: no classifier fits these 8 × 8 images, so the Fréchet part stays off
  const imagePriorSpec = obj({
    n: opt(int(1, ROWS)),
    frechet: custom(
      (v) => v === false,
      () => [true, 0, 'false'],
    ),
    classifier: absent([lm]),
    generated: absent([4]),
    prior: opt(obj(chain())),
    posterior: opt(obj({ ...chain(), sigma: opt(positive({ max: 100 })) })),
    noise: opt(arr(positive({ max: 100 }), { maxLength: 16 })),
    reference: opt(tensorSpec({ rowShape: IMAGE, finite: true })),
    keep: absent([1]),
    // the phases use seed + 1 … seed + 20
    seed: opt(int(0, 9e15 - 32)),
    ...hooks,
  });
  const imagePriorBase = () => ({ frechet: false, n: 2, prior: { steps: 1 }, posterior: { steps: 1 }, noise: [0.1] });
  entries.push(
    entry(
      'metrics.imagePrior',
      [
        { name: 'model', spec: model(), base: () => lm },
        tensorArg('images', images, { ...imageSpec, rows: (n) => n >= 2 }),
        { name: 'options', spec: imagePriorSpec, base: imagePriorBase },
      ],
      (m, x, o) => ebm.metrics.imagePrior(m as ebm.LatentEbm, x as ebm.Tensor, o as ebm.metrics.ImagePriorOptions),
      // a plain EnergyModel is a model, but not a latent one
      { ...state, alsoNames: ['imagePrior', 'options.n'] },
    ),
  );
  return {
    cases: entries.flatMap((e) => casesOf(e, counter)),
    skipped: counter.skipped,
    probe: async () => [
      await lm.generate({ n: 2, seed: 1, prior: { steps: 2 } }),
      await lm.reconstruct(images(), { steps: 2, seed: 2 }),
    ],
  };
}
