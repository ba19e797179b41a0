/**
 * The thread rule under load: ED training on 8 gaussians (MLP 2-128-128-1, batch 128, M 16) with
 * the library's default thread count against one thread, on an idle machine and beside one
 * CPU-bound process, interleaved, each run in a process of its own:
 *   node dist/bench/thread-load.js [--reps N] [--steps N]
 * Prints steps/s (median and min–max) per setting and the default / one-thread ratios.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { option, summary } from './stats';

const child = `
const ebm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
(async () => {
  const [steps, threads] = process.argv.slice(1).map(Number);
  if (threads > 0) ebm.setNumThreads(threads);
  const data = ebm.datasets.toy('8gaussians', 20000, 0);
  const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [128, 128], device: 'cpu' });
  const warmup = 50;
  const run = await ebm.train(model, data, {
    loss: { kind: 'ed', t: 1, m: 16, w: 1 }, batchSize: 128, steps: warmup + steps, logEvery: warmup,
  });
  const h = run.history;
  console.log(JSON.stringify({ rate: steps / (h[h.length - 1].seconds - h[0].seconds), threads: run.threads }));
})();
`;

function measure(steps: number, threads: number): { rate: number; threads: number } {
  const env = { ...process.env };
  delete env.OMP_NUM_THREADS;
  const r = spawnSync(process.execPath, ['-e', child, String(steps), String(threads)], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim()) as { rate: number; threads: number };
}

/** One busy-looping process, until stopped. */
function busy(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

function main(): void {
  const reps = option('--reps', 3);
  const steps = option('--steps', 600);
  const results: Record<string, { median: number; min: number; max: number; threads: number }> = {};
  for (const load of ['idle', 'busy'] as const) {
    const competitor = load === 'busy' ? busy() : undefined;
    try {
      const rates: Record<string, number[]> = { default: [], one: [] };
      let threads = 0;
      for (let r = 0; r < reps; ++r) {
        const d = measure(steps, 0);
        threads = d.threads;
        rates.default.push(d.rate);
        rates.one.push(measure(steps, 1).rate);
      }
      results[`${load}, default`] = { ...summary(rates.default), threads };
      results[`${load}, 1 thread`] = { ...summary(rates.one), threads: 1 };
    } finally {
      competitor?.kill();
    }
  }
  console.log(`cores ${os.availableParallelism()}, ${reps} reps of ${steps} steps, steps/s:`);
  for (const [name, r] of Object.entries(results))
    console.log(
      `  ${name.padEnd(18)} ${r.median.toFixed(1)} (${r.min.toFixed(1)}–${r.max.toFixed(1)}), threads ${r.threads}`,
    );
  for (const load of ['idle', 'busy'])
    console.log(
      `  ${load}: default / 1 thread = ${(results[`${load}, default`].median / results[`${load}, 1 thread`].median).toFixed(2)}`,
    );
}

main();
