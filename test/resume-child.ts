/**
 * One leg of a resume test in its own process: trains a small model on a toy set as the JSON
 * request in argv[2] says (optionally resuming from a checkpoint) and writes its parameters,
 * the loss-owned tensors and the run's step range to the request's `out` file.
 */
import * as fs from 'node:fs';
import * as ebm from '../lib';

interface Request {
  model: ebm.MlpConfig;
  options: Omit<ebm.TrainConfig, 'signal' | 'onProgress' | 'labels'>;
  rows: number;
  out: string;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2]) as Request;
  const model = ebm.energyModel(request.model);
  const data = ebm.datasets.toy('8gaussians', request.rows, 5);
  const run = await ebm.train(model, data, request.options);
  const params = await model.parameters();
  const plain = (t: ebm.Tensor) => Array.from(t.data);
  fs.writeFileSync(
    request.out,
    JSON.stringify({
      startStep: run.startStep,
      steps: run.steps,
      parameters: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, plain(v)])),
      lossParameters: Object.fromEntries(Object.entries(run.lossParameters).map(([k, v]) => [k, plain(v)])),
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  process.exit(1);
});
