/**
 * One leg of a latent resume test in its own process: trains the latent model of the JSON request
 * in argv[2] on seeded images (optionally resuming from a checkpoint) and writes what the run
 * ended with (see latentOutcome) to the request's `out` file.
 */
import * as fs from 'node:fs';
import * as ebm from '../lib';
import { latentImages, latentOutcome } from './distributed-child';

interface Request {
  model: ebm.LatentEbmConfig;
  options: Omit<ebm.LatentTrainOptions, 'signal' | 'onProgress'>;
  rows: number;
  out: string;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2]) as Request;
  const model = ebm.latentEbm(request.model);
  const run = await ebm.trainLatent(model, latentImages(request.rows, model.imageShape), request.options);
  fs.writeFileSync(request.out, JSON.stringify({ startStep: run.startStep, outcome: await latentOutcome(model) }));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    process.exit(1);
  });
}
