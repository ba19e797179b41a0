/**
 * Side-by-side: one Energy Discrepancy training step (MLP 2-128-128-1, batch 128, M 16) in
 * ebm-torch's C++ loop versus PyTorch's Python eager loop on the same LibTorch, same threads.
 *   npm run bench            (needs /usr/bin/python3 with torch for the reference column)
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as ebm from '../lib';

async function main(): Promise<void> {
  const threads = ebm.version().numThreads;
  const cfg = { hidden: [128, 128], batch: 128, m: 16, steps: 1000, warmup: 50, threads };
  const data = ebm.datasets.toy('8gaussians', 20000, 0);
  const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: cfg.hidden, device: 'cpu' });
  const loss: ebm.LossConfig = { kind: 'ed', t: 1, m: cfg.m, w: 1 };
  await ebm.train(model, data, { loss, batchSize: cfg.batch, steps: cfg.warmup, logEvery: cfg.warmup });
  const run = await ebm.train(model, data, { loss, batchSize: cfg.batch, steps: cfg.steps, logEvery: cfg.steps });
  const ours = cfg.steps / run.seconds;
  let reference: number | undefined;
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [path.join(__dirname, '..', '..', 'bench', 'ed_step.py'), JSON.stringify(cfg)],
      {
        env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
      },
    );
    reference = (JSON.parse(out.toString()) as { stepsPerSecond: number }).stepsPerSecond;
  } catch {
    reference = undefined;
  }
  const v = ebm.version();
  console.log(
    `ED step, MLP 2-${cfg.hidden.join('-')}-1, batch ${cfg.batch}, M ${cfg.m}, LibTorch ${v.torch}, ${threads} threads`,
  );
  console.log(`  ebm-torch (C++ loop): ${ours.toFixed(1)} steps/s`);
  if (reference !== undefined) {
    console.log(`  PyTorch (Python):     ${reference.toFixed(1)} steps/s`);
    console.log(`  ratio:                ${(ours / reference).toFixed(2)}x`);
  } else {
    console.log('  PyTorch reference skipped: /usr/bin/python3 with torch not found');
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
