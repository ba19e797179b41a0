/**
 * One rank of a data-parallel test run (started with the torchrun variables in its environment):
 * trains a small model on a toy set with distributed 'env' and writes its parameters to
 * `<out>.<rank>.json`. `abortAtStep` aborts this rank's run through its AbortSignal after that
 * report; errors are printed as one JSON line on stdout, for the test to check.
 */
import * as fs from 'node:fs';
import * as ebm from '../lib';

interface Request {
  model: ebm.MlpConfig;
  options: Omit<ebm.TrainConfig, 'signal' | 'onProgress' | 'labels'>;
  rows: number;
  out: string;
  abortAtStep?: number;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2]) as Request;
  const rank = Number(process.env.RANK);
  const model = ebm.energyModel(request.model);
  const data = ebm.datasets.toy('8gaussians', request.rows, 5);
  const controller = new AbortController();
  try {
    const run = await ebm.train(model, data, {
      ...request.options,
      distributed: 'env',
      signal: controller.signal,
      onProgress: (p) => {
        if (request.abortAtStep !== undefined && p.step >= request.abortAtStep) controller.abort();
        process.stderr.write(`rank ${rank} step ${p.step}\n`);
      },
    });
    const params = await model.parameters();
    fs.writeFileSync(
      `${request.out}.${rank}.json`,
      JSON.stringify({
        rank: run.rank,
        worldSize: run.worldSize,
        parameters: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.from(v.data)])),
        losses: run.history.map((h) => h.loss),
      }),
    );
  } catch (err) {
    const e = err as ebm.EbmError;
    process.stdout.write(JSON.stringify({ error: e.name, code: e.code, message: e.message }) + '\n');
    process.exit(3);
  }
}

void main();
