/**
 * One rank of a data-parallel test run (started with the torchrun variables in its environment):
 * trains a small model on a toy set with distributed 'env' and writes its parameters to
 * `<out>.<rank>.json`. `abortAtStep` aborts this rank's run through its AbortSignal after that
 * report; errors are printed as one JSON line on stdout, for the test to check. A latent run's
 * `parameters` also hold `decoded`: its generator's images of fixed latents (see latentOutcome).
 */
import * as fs from 'node:fs';
import * as ebm from '../lib';

interface Request {
  model: ebm.MlpConfig;
  options: Omit<ebm.TrainConfig, 'signal' | 'onProgress' | 'labels'>;
  /** a latent image prior run instead (ebm.trainLatent on seeded random images) */
  latent?: { model: ebm.LatentEbmConfig; options: ebm.LatentTrainOptions };
  rows: number;
  out: string;
  abortAtStep?: number;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2]) as Request;
  const rank = Number(process.env.RANK);
  const controller = new AbortController();
  const onProgress = (p: ebm.TrainProgress): void => {
    if (request.abortAtStep !== undefined && p.step >= request.abortAtStep) controller.abort();
    process.stderr.write(`rank ${rank} step ${p.step}\n`);
  };
  try {
    let model: ebm.EnergyModel;
    let run: ebm.TrainRun;
    if (request.latent) {
      const latent = ebm.latentEbm(request.latent.model);
      model = latent;
      run = await ebm.trainLatent(latent, latentImages(request.rows, latent.imageShape), {
        ...request.latent.options,
        distributed: 'env',
        signal: controller.signal,
        onProgress,
      });
    } else {
      model = ebm.energyModel(request.model);
      const data = ebm.datasets.toy('8gaussians', request.rows, 5);
      run = await ebm.train(model, data, {
        ...request.options,
        distributed: 'env',
        signal: controller.signal,
        onProgress,
      });
    }
    const params = model instanceof ebm.LatentEbm ? await latentOutcome(model) : await plainParameters(model);
    fs.writeFileSync(
      `${request.out}.${rank}.json`,
      JSON.stringify({
        rank: run.rank,
        worldSize: run.worldSize,
        parameters: params,
        losses: run.history.map((h) => h.loss),
      }),
    );
  } catch (err) {
    const e = err as ebm.EbmError;
    process.stdout.write(JSON.stringify({ error: e.name, code: e.code, message: e.message }) + '\n');
    process.exit(3);
  }
}

/** The parameters and, through decode (batch norm's running averages), the buffers' effect. */
export async function latentOutcome(model: ebm.LatentEbm): Promise<Record<string, number[]>> {
  const params = await model.parameters();
  const z = new Float32Array(4 * model.latentDim).map((_, i) => Math.sin(i));
  const decoded = await model.decode(ebm.tensor(z, [4, model.latentDim]));
  return {
    ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.from(v.data)])),
    decoded: Array.from(decoded.data),
  };
}

async function plainParameters(model: ebm.EnergyModel): Promise<Record<string, number[]>> {
  const p = await model.parameters();
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Array.from(v.data)]));
}

/** Seeded images in [-1, 1] (smooth blobs, so a generator has something to fit). */
export function latentImages(n: number, shape: readonly number[]): ebm.Tensor {
  const [c, h, w] = shape;
  const data = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    const cx = (i * 7) % w;
    const cy = (i * 13) % h;
    for (let k = 0; k < c * h * w; k++) {
      const x = k % w;
      const y = Math.floor(k / w) % h;
      data[i * c * h * w + k] = Math.tanh(2 * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 8) - 1);
    }
  }
  return ebm.tensor(data, [n, c, h, w]);
}

if (require.main === module) void main();
