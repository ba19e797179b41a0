/** `ebm eval <model.safetensors> --data ...`: numbers for a saved model on a data set, as JSON. */
import * as nodePath from 'node:path';
import { LatentEbm, Tensor, loadModel, metrics } from '../index';
import { readCsv } from '../data/csv';
import { readNpy } from '../data/npy';
import { toy, toyLogDensity, toyMixture, ToyName, toyNames } from '../data/toy';
import {
  ParsedArgs,
  UsageError,
  numberFlag,
  parseCommand,
  parseGrid,
  parseNumber,
  requiredFlag,
  stringFlag,
} from './args';
import { energies, gridNllAt, is2dShape, mean } from './figures';
import { fitRows } from '../data/spec';
import { optionDefaults } from '../schema/defaults';
import { deviceFlag } from './sample';
import { DEFAULT_EVAL_IMAGES, latentEvalCommand, latentEvalFlags, latentOnlyFlags } from './latent-eval';

/** Asked of a latent model without --images, or with --data. */
const latentNeedsImages =
  "this is a latent image model: evaluate it on held-out images with --images FOLDER|fashion-mnist:test[:n] (see 'ebm eval --help')";

export const evalHelp = `Usage: ebm eval <model.safetensors> --data DATA [--grid lo,hi,res] [--t T] [--nll ais] [--device D]
       ebm eval <latent model.safetensors> --images FOLDER|fashion-mnist:test[:n] [--n N] [--out DIR] [options]

Evaluates a saved model on data and prints one JSON object on stdout:
  rows         number of rows evaluated
  meanEnergy   mean E(x) over the rows
  gridNll      2D models: NLL of the rows under exp(-E) normalised on the grid (mean E + log Z)
  trueNll      toy:8gaussians and toy:25gaussians: NLL under the true density
  nllGap       gridNll - trueNll
  aisNll       with --nll ais, any dimension: { nll, stdErr, logZ, ... }: mean E + log Z, log Z by
               annealed importance sampling with resampling (ebm.metrics.nll), its error bar from
               the spread of --repeats independent runs

A latent image prior is evaluated on held-out images instead (ebm.metrics.imagePrior), with
progress on stderr; the JSON holds:
  frechet      Fréchet distance of as many generated images as were loaded against all of them, in
               the features of the Fashion-MNIST classifier (or --classifier; null with --no-frechet)
  reconMse     per-pixel MSE of the reconstructions of the first --n images
  inpaintMse   MSE over the missing pixels of the 'centre' and 'half' masks, and meanFillMse, the
               same for a fill with each pixel's mean over the loaded images
  denoise      per noise std: PSNR (dB, range 2) of the denoised images and of the noisy input
and it writes generated.png, reconstructed.png, inpainted-centre.png, inpainted-half.png,
denoised.png and metrics.json into --out.

Options:
  --data DATA       file.npy | file.csv | toy:NAME[:n[:seed]]   (toy defaults: n 5000, seed 1)
                    toys: ${toyNames.join(' ')}
  --grid lo,hi,res  the square grid for 2D models (default -4,4,300)
  --t T             time for a time-conditioned model (default 0.001)
  --nll ais         also the NLL by SMC/AIS (progress on stderr); with
  --particles N       particles per run (default 2000)
  --levels L          levels (default 100)
  --steps K           MALA steps per level (default 2)
  --step-size X       the moves' first step size (default 0.05; adapted between levels)
  --repeats R         independent runs (default 4)
  --seed S            the first run's seed (default 0)
  --device D        auto | cpu | cuda | cuda:N (default: the device saved in the model)
  -h, --help        show this help

Latent image models:
  --images SRC      held-out images in [-1, 1]: a folder of PNGs of the model's size (grey for a
                    1-channel model, else RGB), or fashion-mnist:test[:n] (also :train; default
                    all 10000 test images)
  --n N             images for reconstruction, inpainting and denoising: the first N
                    (default ${DEFAULT_EVAL_IMAGES}, or all if fewer)
  --posterior-steps K       Langevin steps of the posterior chains (default 20)
  --posterior-step-size S   their step size (default 0.1)
  --noise A,B,...   noise stds of denoising, on the [-1, 1] scale (default 0.1,0.2,0.4)
  --seed S          fixes every chain and the noise (default 0)
  --classifier FILE the Fréchet classifier (a 'classifier' model for the images' shape)
  --no-frechet      skip the Fréchet distance
  --out DIR         the folder of the pictures (default: eval/ beside the model)

Examples:
  ebm eval runs/8gaussians-ed/model.safetensors --data toy:8gaussians
  ebm eval model.safetensors --data test.npy --grid -6,6,400
  ebm eval model-d8.safetensors --data test.npy --nll ais --particles 5000
  ebm eval runs/fashion-mnist-latent-ed/model.safetensors --images fashion-mnist:test`;

interface EvalData {
  tensor: Tensor;
  toyName?: ToyName;
}

/** Parses and loads --data. */
export function loadDataArg(text: string): EvalData {
  if (text.startsWith('toy:')) {
    const parts = text.slice(4).split(':');
    if (parts.length > 3) throw new UsageError(`--data toy:NAME[:n[:seed]], got '${text}'`);
    const name = parts[0];
    if (!(toyNames as readonly string[]).includes(name)) {
      throw new UsageError(`--data: unknown toy '${name}' (toys: ${toyNames.join(', ')})`);
    }
    const n =
      parts[1] !== undefined ? parseNumber(parts[1], '--data toy n', { integer: true, min: 1, max: 1e7 }) : 5000;
    const seed = parts[2] !== undefined ? parseNumber(parts[2], '--data toy seed', { integer: true, min: 0 }) : 1;
    return { tensor: toy(name as ToyName, n, seed), toyName: name as ToyName };
  }
  const ext = nodePath.extname(text).toLowerCase();
  if (ext === '.npy') return { tensor: readNpy(text) };
  if (ext === '.csv') return { tensor: readCsv(text, { header: 'auto' }) };
  throw new UsageError(`--data must be a .npy file, a .csv file or toy:NAME[:n[:seed]], got '${text}'`);
}

export async function evalCommand(argv: readonly string[]): Promise<number> {
  const command = 'ebm eval';
  const args = parseCommand(
    command,
    argv,
    {
      data: { type: 'string' },
      grid: { type: 'string' },
      t: { type: 'string' },
      device: { type: 'string' },
      nll: { type: 'string' },
      particles: { type: 'string' },
      levels: { type: 'string' },
      steps: { type: 'string' },
      'step-size': { type: 'string' },
      repeats: { type: 'string' },
      seed: { type: 'string' },
      ...latentEvalFlags,
    },
    ['model.safetensors'],
  );
  const modelFile = args.positionals[0];
  const imagesText = stringFlag(args, 'images');
  if (imagesText !== undefined && args.values.data !== undefined) {
    throw new UsageError(
      '--images and --data exclude each other: --data for energy models, --images for latent image models',
    );
  }
  if (imagesText !== undefined) return latentEvalCommand(args, modelFile, imagesText);
  const stray = latentOnlyFlags.find((f) => args.values[f] !== undefined);
  if (stray !== undefined) throw new UsageError(`--${stray} applies only with --images (a latent image model)`);
  const device = deviceFlag(args);
  if (args.values.data === undefined) {
    // a latent model is missing --images, not --data
    const model = await loadModel(modelFile, device !== undefined ? { device } : {});
    if (model instanceof LatentEbm) throw new UsageError(latentNeedsImages);
  }
  const dataText = requiredFlag(args, command, 'data', 'file.npy|file.csv|toy:NAME');
  const gridText = stringFlag(args, 'grid');
  const grid = gridText !== undefined ? parseGrid(gridText) : { lo: -4, hi: 4, resolution: 300 };
  const tFlag = numberFlag(args, 't', { min: 0, max: 1 });
  const ais = aisFlags(args);
  const data = loadDataArg(dataText);

  const model = await loadModel(modelFile, device !== undefined ? { device } : {});
  if (model instanceof LatentEbm) throw new UsageError(`--data: ${latentNeedsImages}`);
  if (tFlag !== undefined && !model.timeConditioned)
    throw new UsageError('--t applies only to time-conditioned models');
  if (gridText !== undefined && !is2dShape(model.inputShape)) {
    throw new UsageError(`--grid applies only to 2D models; this model takes [${model.inputShape.join(', ')}]`);
  }
  const t = model.timeConditioned ? (tFlag ?? optionDefaults().loss.dsm.tMin) : undefined;
  const raw =
    data.tensor.shape.length === 1 ? { data: data.tensor.data, shape: [data.tensor.shape[0], 1] } : data.tensor;
  const x = fitRows(raw, model.inputShape, `--data ${dataText}`);

  const result: Record<string, unknown> = {
    model: modelFile,
    data: dataText,
    rows: x.shape[0],
    inputShape: [...model.inputShape],
  };
  if (t !== undefined) result.t = t;
  result.meanEnergy = mean(await energies(model, x, t));
  if (is2dShape(model.inputShape)) {
    result.grid = grid;
    result.gridNll = await gridNllAt(model, x, grid, t, '--grid');
    if ((data.toyName === '8gaussians' || data.toyName === '25gaussians') && t === undefined) {
      const trueNll = -mean(toyLogDensity(toyMixture(data.toyName), x));
      result.trueNll = trueNll;
      result.nllGap = (result.gridNll as number) - trueNll;
    }
  }
  if (ais) {
    const runs = ais.repeats;
    const options = { ...ais, ...(t !== undefined ? { tMin: t } : {}) };
    const started = Date.now();
    const est = await metrics.nll(model, x, {
      ...options,
      onProgress: (run) =>
        process.stderr.write(`ebm eval: AIS run ${run}/${runs}, ${((Date.now() - started) / 1000).toFixed(1)} s\n`),
    });
    result.aisNll = { ...est, particles: ais.n, levels: ais.levels, steps: ais.steps, repeats: runs };
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return 0;
}

/** The SMC/AIS settings of --nll ais (undefined without it); the other AIS flags need it. */
function aisFlags(args: ParsedArgs) {
  const nll = stringFlag(args, 'nll');
  const flags = ['particles', 'levels', 'steps', 'step-size', 'repeats', 'seed'] as const;
  if (nll === undefined) {
    const stray = flags.find((f) => args.values[f] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray} applies only with --nll ais`);
    return undefined;
  }
  if (nll !== 'ais') throw new UsageError(`--nll must be 'ais', got '${nll}'`);
  return {
    n: numberFlag(args, 'particles', { integer: true, min: 2, max: 1e7 }) ?? 2000,
    levels: numberFlag(args, 'levels', { integer: true, min: 1, max: 100000 }) ?? 100,
    steps: numberFlag(args, 'steps', { integer: true, min: 1, max: 10000 }) ?? 2,
    stepSize: numberFlag(args, 'step-size', { above: 0 }) ?? 0.05,
    repeats: numberFlag(args, 'repeats', { integer: true, min: 1, max: 1000 }) ?? 4,
    seed: numberFlag(args, 'seed', { integer: true, min: 0 }) ?? 0,
  };
}
