/** `ebm sample` of a latent image prior: images generated through the prior chain, not an energy sampler. */
import * as nodePath from 'node:path';
import { LatentEbm, latentDefaults } from '../index';
import { writeNpy } from '../data/npy';
import { writeFileAtomic } from '../log/run';
import { displayPath, numberFlag, ParsedArgs, UsageError } from './args';
import { interruptible, INTERRUPTED_EXIT } from './interrupt';
import { samplesGridPng, shownLayout } from './latent-figures';
import { formatSeconds } from './progress';

/** Most images drawn into --png (all of them go into --out). */
const MAX_SHOWN = 256;

/** Flags of the energy samplers, which a latent model does not take. */
const samplerOnly = ['t', 'leapfrog', 'adapt-steps', 'levels'];

export const latentSamplerMessage =
  '--sampler does not apply to a latent model: it samples through its prior chain ' +
  '(Langevin in latent space, then the generator); set that chain with --steps and --step-size';

/** Generates `n` images (default 64) into `out` as NPY [n, C, H, W] and, with `png`, an image grid. */
export async function latentSampleCommand(
  model: LatentEbm,
  args: ParsedArgs,
  o: { modelFile: string; n?: number; seed: number; out: string; png?: string },
): Promise<number> {
  for (const flag of samplerOnly) {
    if (args.values[flag] !== undefined) {
      throw new UsageError(`--${flag} applies only to energy samplers; a latent model samples through its prior chain`);
    }
  }
  const steps = numberFlag(args, 'steps', { integer: true, min: 0, max: 1e6 }) ?? latentDefaults.prior.steps;
  const stepSize = numberFlag(args, 'step-size', { above: 0, max: 10 }) ?? latentDefaults.prior.stepSize;
  // generate() draws at most 1e7 images
  if (o.n !== undefined && o.n > 1e7) throw new UsageError(`--n must be <= 10000000 for a latent model, got ${o.n}`);
  const n = o.n ?? 64;
  const shape = model.imageShape;
  const grid = shownLayout(n, shape, MAX_SHOWN);

  const started = Date.now();
  const images = await interruptible('sampling', (signal) =>
    model.generate({ n, prior: { steps, stepSize }, seed: o.seed, signal }),
  );
  if (!images) return INTERRUPTED_EXIT;
  const seconds = (Date.now() - started) / 1000;
  writeNpy(o.out, { data: images.data, shape: [...images.shape] });
  const lines = [
    `wrote ${displayPath(nodePath.resolve(o.out))} [${images.shape.join(', ')}] ` +
      `(latent prior chain: ${steps} Langevin steps of ${stepSize}, then the generator; ${formatSeconds(seconds)})`,
  ];
  if (o.png !== undefined) {
    const per = images.data.length / n;
    const first = { data: images.data.subarray(0, grid.shown * per), shape: [grid.shown, ...shape] };
    writeFileAtomic(o.png, samplesGridPng(first, grid.layout));
    const which = grid.shown < n ? ` (the first ${grid.shown} images)` : '';
    lines.push(`wrote ${displayPath(nodePath.resolve(o.png))}${which}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
