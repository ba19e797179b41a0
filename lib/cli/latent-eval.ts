/**
 * `ebm eval <latent model> --images <folder | fashion-mnist:test[:n]>`: metrics.imagePrior on
 * held-out images, as JSON on stdout, with progress on stderr and image grids in an output folder.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { EbmConfigError, EbmError, EbmShapeError, EnergyModel, LatentEbm, loadModel, metrics, Tensor } from '../index';
import { fashionMnist } from '../data/fashion';
import { imageFolder } from '../data/image-folder';
import { writeFileAtomic } from '../log/run';
import type { ImagePriorImages, ImagePriorOptions } from '../metrics/image-prior';
import { displayPath, numberFlag, ParsedArgs, parseNumber, stringFlag, UsageError } from './args';
import { interruptible, INTERRUPTED_EXIT } from './interrupt';
import { samplesGridPng, shadeMissing, shownLayout, STRIP_COLUMNS, stripsPng } from './latent-figures';
import { formatSeconds } from './progress';
import { firstRows } from '../tensor';
import { deviceFlag } from './sample';
import { MAX_INT } from '../validate';

/** Images per posterior metric when --n is not given (or all, if fewer were loaded). */
export const DEFAULT_EVAL_IMAGES = 1000;
/** Generated images drawn into generated.png. */
const SHOWN_GENERATED = 64;

/** The flags of an energy model's evaluation, which a latent model does not take, and what to use instead. */
const energyOnly: Record<string, string> = {
  data: '--data applies to energy models; a latent image model is evaluated on held-out images with --images',
  grid: '--grid applies only to 2D energy models (with --data)',
  t: '--t applies only to time-conditioned energy models (with --data)',
  nll: '--nll applies only to energy models (with --data)',
  particles: '--particles applies only with --nll ais (energy models)',
  levels: '--levels applies only with --nll ais (energy models)',
  steps: "--steps applies only with --nll ais; a latent model's posterior chain takes --posterior-steps",
  'step-size': "--step-size applies only with --nll ais; a latent model's posterior chain takes --posterior-step-size",
  repeats: '--repeats applies only with --nll ais (energy models)',
};

/** The flags only a latent model's evaluation takes (rejected with --data). */
export const latentOnlyFlags = [
  'n',
  'posterior-steps',
  'posterior-step-size',
  'noise',
  'out',
  'no-frechet',
  'classifier',
] as const;

/** The flags of a latent model's evaluation. */
export const latentEvalFlags = {
  images: { type: 'string' },
  n: { type: 'string' },
  'posterior-steps': { type: 'string' },
  'posterior-step-size': { type: 'string' },
  noise: { type: 'string' },
  out: { type: 'string' },
  'no-frechet': { type: 'boolean' },
  classifier: { type: 'string' },
} as const;

/** Where --images reads from: a folder of PNGs or a Fashion-MNIST split. */
type ImagesSource = { folder: string } | { split: 'train' | 'test'; limit?: number };

/** Parses --images: `fashion-mnist[:test|train[:n]]` or a folder. */
export function parseImagesArg(text: string): ImagesSource {
  if (text !== 'fashion-mnist' && !text.startsWith('fashion-mnist:')) return { folder: text };
  const parts = text.split(':').slice(1);
  if (parts.length > 2) throw new UsageError(`--images fashion-mnist[:test|train[:n]], got '${text}'`);
  const split = parts[0] ?? 'test';
  if (split !== 'test' && split !== 'train') {
    throw new UsageError(`--images fashion-mnist: the split must be 'test' or 'train', got '${split}'`);
  }
  if (parts[1] === undefined) return { split };
  return { split, limit: parseNumber(parts[1], '--images fashion-mnist n', { integer: true, min: 2, max: 1e7 }) };
}

/** The images of --images [N, ...model.imageShape] in [-1, 1]; errors name --images. */
function loadImages(source: ImagesSource, text: string, shape: readonly number[]): Tensor {
  const [c, h, w] = shape;
  let images: Tensor;
  try {
    if ('folder' in source) {
      if (c !== 1 && c !== 3) {
        throw new EbmShapeError(`PNG images have 1 (grey) or 3 (RGB) channels, but the model takes ${c}`);
      }
      images = imageFolder(source.folder, { grayscale: c === 1 }).images;
    } else {
      images = fashionMnist({
        split: source.split,
        scale: '-11',
        ...(source.limit ? { limit: source.limit } : {}),
      }).images;
    }
  } catch (err) {
    if (err instanceof EbmError) err.message = `--images ${text}: ${err.message}`;
    throw err;
  }
  const got = images.shape.slice(1);
  if (got.length !== 3 || got[0] !== c || got[1] !== h || got[2] !== w) {
    throw new EbmShapeError(
      `--images ${text}: the images are [${got.join(', ')}] but the model takes [${shape.join(', ')}] ` +
        '(channels, height, width); resize them to the model size',
    );
  }
  return images;
}

/** Parses --noise: comma-separated noise stds on the [-1, 1] scale. */
function noiseFlag(args: ParsedArgs): number[] | undefined {
  const text = stringFlag(args, 'noise');
  if (text === undefined) return undefined;
  const parts = text.split(',');
  if (parts.length > 16) throw new UsageError(`--noise takes at most 16 levels, got ${parts.length}`);
  return parts.map((p) => parseNumber(p, '--noise level', { above: 0, max: 100 }));
}

/** The pictures of an evaluation, as file name → PNG. */
function pictures(kept: ImagePriorImages, shape: readonly number[]): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  if (kept.generated) {
    const g = shownLayout(kept.generated.shape[0], shape, SHOWN_GENERATED);
    out.push(['generated.png', samplesGridPng(firstRows(kept.generated, g.shown), g.layout)]);
  }
  const strips = (bands: Tensor[]): Buffer => {
    const s = shownLayout(bands[0].shape[0], shape, STRIP_COLUMNS, bands.length, STRIP_COLUMNS);
    return stripsPng(
      bands.map((t) => firstRows(t, s.shown)),
      s.layout,
    );
  };
  const x = kept.heldOut;
  out.push(['reconstructed.png', strips([x, kept.reconstructed])]);
  for (const [kind, { mask, filled }] of Object.entries(kept.inpainted)) {
    out.push([`inpainted-${kind}.png`, strips([shadeMissing(x, mask), filled, x])]);
  }
  if (kept.denoised.length > 0) {
    out.push(['denoised.png', strips([x, ...kept.denoised.flatMap((d) => [d.noisy, d.denoised])])]);
  }
  return out;
}

/** The classifier of the Fréchet distance: --classifier FILE, or the default one for [1, 28, 28]. */
async function classifierFor(args: ParsedArgs, shape: readonly number[], signal: AbortSignal): Promise<EnergyModel> {
  const file = stringFlag(args, 'classifier');
  if (file !== undefined) {
    const classifier = await loadModel(file);
    if (classifier.config.kind !== 'classifier') {
      throw new EbmConfigError(`--classifier ${file} holds a '${classifier.config.kind}' model, not a 'classifier'`);
    }
    if (classifier.inputShape.join(',') !== shape.join(',')) {
      throw new EbmShapeError(
        `--classifier ${file} takes images [${classifier.inputShape.join(', ')}] but the model's are [${shape.join(', ')}]`,
      );
    }
    return classifier;
  }
  if (shape.join(',') !== '1,28,28') {
    throw new UsageError(
      `the default Fréchet classifier takes Fashion-MNIST-sized images [1, 28, 28], but the model's are ` +
        `[${shape.join(', ')}]; pass --classifier FILE (a 'classifier' model for this shape) or --no-frechet`,
    );
  }
  const say = (line: string) => process.stderr.write(`ebm eval: ${line}\n`);
  const fc = await metrics.fashionClassifier({
    signal,
    onProgress: (p) => say(`training the Fashion-MNIST classifier (once; it is cached): step ${p.step}`),
  });
  say(`Fashion-MNIST classifier: test accuracy ${fc.testAccuracy.toFixed(3)}${fc.trained ? ' (trained now)' : ''}`);
  return fc.model;
}

/** Evaluates the latent model `modelFile` on the held-out images of --images; returns the exit status. */
export async function latentEvalCommand(args: ParsedArgs, modelFile: string, imagesText: string): Promise<number> {
  for (const [flag, message] of Object.entries(energyOnly)) {
    if (args.values[flag] !== undefined) throw new UsageError(message);
  }
  const n = numberFlag(args, 'n', { integer: true, min: 1, max: 1e7 });
  const steps = numberFlag(args, 'posterior-steps', { integer: true, min: 0, max: 1e6 });
  const stepSize = numberFlag(args, 'posterior-step-size', { above: 0, max: 10 });
  const noise = noiseFlag(args);
  // metrics.imagePrior runs its phases with seed + 1 … seed + 20
  const seed = numberFlag(args, 'seed', { integer: true, min: 0, max: MAX_INT - 32 }) ?? 0;
  const frechet = args.values['no-frechet'] !== true;
  if (!frechet && args.values.classifier !== undefined) {
    throw new UsageError('--classifier applies only to the Fréchet distance, which --no-frechet skips');
  }
  const device = deviceFlag(args);
  const source = parseImagesArg(imagesText);
  const outText = stringFlag(args, 'out');
  const outDir = nodePath.resolve(outText ?? nodePath.join(nodePath.dirname(modelFile), 'eval'));
  if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) {
    throw new UsageError(`--out ${outText ?? outDir} is a file, not a folder`);
  }

  const model = await loadModel(modelFile, device !== undefined ? { device } : {});
  if (!(model instanceof LatentEbm)) {
    throw new UsageError(
      `--images applies only to latent image models; this is a '${String(model.config.kind)}' energy model ` +
        `taking [${model.inputShape.join(', ')}]: evaluate it with --data`,
    );
  }
  const shape = model.imageShape;
  const images = loadImages(source, imagesText, shape);
  const rows = images.shape[0];
  if (n !== undefined && n > rows) {
    throw new UsageError(`--n ${n} is more than the ${rows} images of --images ${imagesText}`);
  }
  let classifier: EnergyModel | undefined;
  if (frechet) {
    classifier = await interruptible('classifier training', (signal) => classifierFor(args, shape, signal));
    if (!classifier) return INTERRUPTED_EXIT;
  }

  const options: ImagePriorOptions = {
    n: n ?? Math.min(rows, DEFAULT_EVAL_IMAGES),
    frechet,
    ...(classifier ? { classifier } : {}),
    posterior: { ...(steps !== undefined ? { steps } : {}), ...(stepSize !== undefined ? { stepSize } : {}) },
    ...(noise ? { noise } : {}),
    seed,
  };
  const started = Date.now();
  let shown = '';
  const evaluated = await interruptible('evaluation', (signal) =>
    metrics.imagePriorWithImages(model, images, {
      ...options,
      keep: SHOWN_GENERATED,
      signal,
      onProgress: (done, total, phase) => {
        // one line per report, the phase's first included
        const line = `${phase} ${done}/${total} images`;
        if (line === shown) return;
        shown = line;
        process.stderr.write(`ebm eval: ${line}, ${formatSeconds((Date.now() - started) / 1000)}\n`);
      },
    }),
  );
  if (!evaluated) return INTERRUPTED_EXIT;

  const report = { model: modelFile, images: imagesText, ...evaluated.result };
  fs.mkdirSync(outDir, { recursive: true });
  const files = pictures(evaluated.images, shape);
  for (const [file, png] of files) writeFileAtomic(nodePath.join(outDir, file), png);
  writeFileAtomic(nodePath.join(outDir, 'metrics.json'), JSON.stringify(report, null, 2) + '\n');
  const names = [...files.map(([f]) => f), 'metrics.json'];
  process.stderr.write(`ebm eval: wrote ${displayPath(outDir)}/{${names.join(', ')}}\n`);
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  return 0;
}
