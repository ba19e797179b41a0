/** `ebm sample <model.safetensors>`: draws samples from a saved model into an NPY (and a PNG). */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { Device, EbmConfigError, LatentEbm, SamplerConfig, loadModel, samplerKinds } from '../index';
import { sampleValidated } from '../sample';
import { optionDefaults } from '../schema/defaults';
import type { ResolvedSamplerConfig } from '../schema/samplers';
import { writeNpy } from '../data/npy';
import { writeFileAtomic } from '../log/run';
import { checkOneOf } from '../validate';
import { validateSamplerConfig } from '../config';
import { samplersWithOption, samplerTraits } from '../schema/traits';
import { ParsedArgs, UsageError, numberFlag, parseCommand, requiredFlag, stringFlag } from './args';
import { is2dShape, isImageShape, mean, samplesFigure } from './figures';
import { interruptible, INTERRUPTED_EXIT } from './interrupt';
import { latentSampleCommand, latentSamplerMessage } from './latent-sample';
import { displayPath } from './args';

export const sampleHelp = `Usage: ebm sample <model.safetensors> --sampler KIND --steps N --step-size X [options]
       ebm sample <latent model.safetensors> [--n N] [--steps N] [--step-size X] [--seed S] [--png FILE]

Draws samples from p(x) ∝ exp(-E(x)) of a saved model and writes them as an NPY file
(float32, shape [n, ...model input shape]); prints the acceptance rate for MALA and HMC.

A latent image prior (trained with a "kind": "latent" model) generates images instead: Langevin
on its prior over latents, then the generator; --out gets the images [n, C, H, W] in [-1, 1],
--png a grid of (up to 256 of) them. There --steps and --step-size set the prior chain (default
500 steps of 0.2), --n defaults to 64, and --sampler, --t, --leapfrog, --adapt-steps and
--levels do not apply.

Options:
  --sampler KIND     langevin | mala | hmc | annealed | wgf | smc (smc also writes OUT.log-weights.npy)
  --steps N          sampler steps (annealed: steps per noise level)
  --step-size X      step size (annealed: the step at the smallest noise level)
  --n N              number of chains (default 1000)
  --seed S           fixes the initial draw and all noise (default 0)
  --t T              time for a time-conditioned model (not with annealed)
  --leapfrog L       HMC leapfrog steps per proposal
  --adapt-steps K    MALA/HMC: adapt the step size towards the target acceptance for K steps
  --levels L         annealed: number of noise levels (default 10)
  --device D         auto | cpu | cuda | cuda:N (default: the device saved in the model)
  --out FILE         NPY output (default samples.npy)
  --png FILE         also draw the samples: a scatter plot (2D) or an image grid (images)
  -h, --help         show this help

Ctrl-C stops sampling and exits with status 130 without writing files.

Examples:
  ebm sample runs/8gaussians-ed/model.safetensors --sampler mala --steps 500 --step-size 0.01 --png s.png
  ebm sample model.safetensors --sampler hmc --steps 200 --step-size 0.05 --leapfrog 10 --n 500
  ebm sample runs/fashion-mnist-latent-ed/model.safetensors --n 100 --png grid.png --out images.npy`;

const flagOfField: Record<string, string> = {
  stepSize: '--step-size',
  steps: '--steps',
  adaptSteps: '--adapt-steps',
  leapfrogSteps: '--leapfrog',
  levels: '--levels',
};

/** The sampler config the flags describe; every mistake is a UsageError naming the flag. */
export function samplerFromFlags(args: ParsedArgs, command: string): ResolvedSamplerConfig {
  const kindText = requiredFlag(args, command, 'sampler', `(${samplerKinds.join(' | ')})`);
  let kind: SamplerConfig['kind'];
  try {
    kind = checkOneOf(kindText, samplerKinds, '--sampler');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  requiredFlag(args, command, 'steps', 'N');
  requiredFlag(args, command, 'step-size', 'X');
  const steps = numberFlag(args, 'steps', { integer: true, min: 1, max: 1e7 }) as number;
  const stepSize = numberFlag(args, 'step-size', { above: 0 }) as number;
  const leapfrog = numberFlag(args, 'leapfrog', { integer: true, min: 1, max: 10000 });
  const adaptSteps = numberFlag(args, 'adapt-steps', { integer: true, min: 0 });
  const levels = numberFlag(args, 'levels', { integer: true, min: 1, max: 100000 });
  const cfg: Record<string, unknown> = { kind, steps, stepSize };
  // each flag sets one option; the kind's traits say whether it has that option
  for (const [field, value] of [
    ['leapfrogSteps', leapfrog],
    ['adaptSteps', adaptSteps],
    ['levels', levels],
  ] as const) {
    if (value === undefined) continue;
    if (!samplerTraits(kind).options.includes(field)) {
      throw new UsageError(`${flagOfField[field]} applies only to --sampler ${samplersWithOption(field).join(' or ')}`);
    }
    cfg[field] = value;
  }
  try {
    return validateSamplerConfig(cfg, 'sampler');
  } catch (err) {
    if (!(err instanceof EbmConfigError)) throw err;
    const msg = err.message.replace(/sampler\.(\w+)/g, (m: string, field: string) => flagOfField[field] ?? m);
    throw new UsageError(msg);
  }
}

/** Checks a --device value. */
export function deviceFlag(args: ParsedArgs): Device | undefined {
  const d = stringFlag(args, 'device');
  if (d === undefined) return undefined;
  if (!/^(auto|cpu|cuda|cuda:\d{1,3})$/.test(d)) {
    throw new UsageError(`--device must be auto, cpu, cuda or cuda:N, got '${d}'`);
  }
  return d as Device;
}

function checkOutputFolder(file: string, flag: string): void {
  const dir = nodePath.dirname(nodePath.resolve(file));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UsageError(`${flag} ${file}: folder ${dir} does not exist`);
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory())
    throw new UsageError(`${flag} ${file} is a folder, not a file`);
}

export async function sampleCommand(argv: readonly string[]): Promise<number> {
  const command = 'ebm sample';
  const args = parseCommand(
    command,
    argv,
    {
      sampler: { type: 'string' },
      steps: { type: 'string' },
      'step-size': { type: 'string' },
      n: { type: 'string' },
      seed: { type: 'string' },
      t: { type: 'string' },
      leapfrog: { type: 'string' },
      'adapt-steps': { type: 'string' },
      levels: { type: 'string' },
      device: { type: 'string' },
      out: { type: 'string' },
      png: { type: 'string' },
    },
    ['model.safetensors'],
  );
  // a latent model takes no energy sampler: the sampler flags' errors wait until the model is read
  let sampler: ResolvedSamplerConfig | undefined;
  let samplerError: UsageError | undefined;
  try {
    sampler = samplerFromFlags(args, command);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    samplerError = err;
  }
  const nFlag = numberFlag(args, 'n', { integer: true, min: 1, max: 1e8 });
  const seed =
    numberFlag(args, 'seed', { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }) ?? optionDefaults().sample.seed;
  const t = numberFlag(args, 't', { min: 0, max: 1 });
  const device = deviceFlag(args);
  const out = stringFlag(args, 'out') ?? 'samples.npy';
  const png = stringFlag(args, 'png');
  checkOutputFolder(out, '--out');
  if (png !== undefined) checkOutputFolder(png, '--png');

  const modelFile = args.positionals[0];
  const model = await loadModel(modelFile, device !== undefined ? { device } : {}).catch((err: unknown) => {
    throw samplerError ?? err;
  });
  if (model instanceof LatentEbm) {
    if (args.values.sampler !== undefined) throw new UsageError(latentSamplerMessage);
    return latentSampleCommand(model, args, { modelFile, n: nFlag, seed, out, ...(png !== undefined ? { png } : {}) });
  }
  if (!sampler) throw samplerError ?? new UsageError(`'${command}' needs --sampler`);
  const n = nFlag ?? 1000;
  const rowShape = [...model.inputShape];
  const time = samplerTraits(sampler.kind).time;
  const followsLevels = time !== 'fixed';
  if (time === 'levels' && !model.timeConditioned) {
    throw new UsageError(`--sampler ${sampler.kind} needs a time-conditioned model; this one is E(x)`);
  }
  if (model.timeConditioned && !followsLevels && t === undefined) {
    throw new UsageError(`this model is time-conditioned: give --t T for --sampler ${sampler.kind}`);
  }
  if (!model.timeConditioned && t !== undefined) throw new UsageError('--t applies only to time-conditioned models');
  if (png !== undefined && !is2dShape(rowShape) && !isImageShape(rowShape)) {
    throw new UsageError(`--png needs a 2D or an image model; this model takes [${rowShape.join(', ')}]`);
  }
  if (followsLevels && t !== undefined) throw new UsageError(`--t does not apply to --sampler ${sampler.kind}`);

  const started = Date.now();
  const result = await interruptible('sampling', (signal) =>
    // the flags are checked above, against the model: sample with them as they are
    sampleValidated(model, { n, sampler, seed, signal, ...(t !== undefined ? { t } : {}) }),
  );
  if (!result) return INTERRUPTED_EXIT;
  const seconds = (Date.now() - started) / 1000;
  const samples = { data: result.data, shape: [...result.shape] };
  writeNpy(out, samples);
  const lines = [
    `wrote ${displayPath(nodePath.resolve(out))} [${samples.shape.join(', ')}] (${sampler.kind}, ${sampler.steps} steps, ${seconds.toFixed(1)} s)`,
    `mean energy ${mean(result.energy).toFixed(4)}`,
  ];
  if (result.logWeights) {
    // weighted particles: the samples alone follow the path, not the model
    const weightsFile = out.replace(/(\.npy)?$/i, '.log-weights.npy');
    writeNpy(weightsFile, { data: result.logWeights, shape: [result.logWeights.length] });
    lines.push(
      `log Z ${(result.logZ as number).toFixed(4)}, final ESS ${((result.ess as number) * 100).toFixed(1)}% of ${n}, resampled ${result.resampledAt?.length ?? 0} times`,
      `wrote ${displayPath(nodePath.resolve(weightsFile))} (normalised log weights: weight the samples by them)`,
    );
  }
  if (result.acceptRate) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const a of result.acceptRate) [lo, hi] = [Math.min(lo, a), Math.max(hi, a)];
    lines.push(
      `acceptance rate ${mean(result.acceptRate).toFixed(3)} (mean over ${result.acceptRate.length} chains; min ${lo.toFixed(3)}, max ${hi.toFixed(3)})`,
    );
  }
  if (png !== undefined) {
    const image = samplesFigure(samples, rowShape, {
      title: `${nodePath.basename(modelFile)}: ${sampler.kind} samples`,
      label: `${sampler.kind} samples`,
    });
    writeFileAtomic(png, image);
    lines.push(`wrote ${displayPath(nodePath.resolve(png))}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
