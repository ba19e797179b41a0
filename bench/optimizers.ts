/**
 * What the optimiser step costs: ED training on 8 gaussians (MLP 2-128-128-1 SiLU, batch 128, M 16)
 * with the one-pass Adam, LibTorch's Adam (optimizer.fused: false) and plain SGD, interleaved, each
 * run in a process of its own:
 *   node dist/bench/optimizers.js [--reps N] [--steps N]
 * Prints steps/s (median and min–max) per optimiser.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { option, summary } from './stats';

const child = `
const ebm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
(async () => {
  const steps = Number(process.argv[1]);
  const optimizer = JSON.parse(process.argv[2]);
  const data = ebm.datasets.toy('8gaussians', 20000, 0);
  const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [128, 128], device: 'cpu', seed: 0 });
  const warmup = 100;
  const run = await ebm.train(model, data, {
    loss: { kind: 'ed', t: 1, m: 16, w: 1 }, optimizer, batchSize: 128, steps: warmup + steps, logEvery: warmup, seed: 0,
  });
  const h = run.history;
  console.log(JSON.stringify({ rate: steps / (h[h.length - 1].seconds - h[0].seconds) }));
})();
`;

const optimizers: Record<string, Record<string, unknown>> = {
  'adam, one pass': { kind: 'adam', lr: 1e-3 },
  "adam, LibTorch's": { kind: 'adam', lr: 1e-3, fused: false },
  sgd: { kind: 'sgd', lr: 1e-3 },
};

function measure(steps: number, optimizer: Record<string, unknown>): number {
  const r = spawnSync(process.execPath, ['-e', child, String(steps), JSON.stringify(optimizer)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout.trim()) as { rate: number }).rate;
}

function main(): void {
  const reps = option('--reps', 3);
  const steps = option('--steps', 800);
  const rates: Record<string, number[]> = Object.fromEntries(Object.keys(optimizers).map((k) => [k, []]));
  for (let r = 0; r < reps; ++r)
    for (const [name, o] of Object.entries(optimizers)) rates[name].push(measure(steps, o));
  console.log(`ED, 8 gaussians, MLP 2-128-128-1, ${reps} reps of ${steps} steps, steps/s:`);
  for (const [name, list] of Object.entries(rates)) {
    const s = summary(list);
    console.log(`  ${name.padEnd(18)} ${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`);
  }
}

main();
