/**
 * The CUDA check (scripts/gpu-check.sh runs it): every loss and sampler on `device` against the
 * same computation on the CPU, a short ED run, a few latent image-prior steps, the build's CUDA
 * and NCCL support. One summary line per check: `PASS`, `FAIL` or `SKIP`, the numbers, and why.
 *
 *   node dist/test/gpu-check.js [--device cuda]
 *
 * Without a CUDA device (`--device cpu`) the same checks run CPU against CPU, which shows that the
 * script works up to the device. Random draws come from the device's own generator, so a loss at
 * one seed differs between devices: losses are compared as means over seeds, to 4 standard errors;
 * a loss that is deterministic given its draws (evaluated twice, same seed) must agree to 1e-5.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ebm from '../lib';

type Verdict = 'PASS' | 'FAIL' | 'SKIP';
const lines: { name: string; verdict: Verdict; detail: string }[] = [];

function report(name: string, verdict: Verdict, detail: string): void {
  lines.push({ name, verdict, detail });
  console.log(`${verdict.padEnd(4)}  ${name}: ${detail}`);
}

async function check(name: string, body: () => Promise<[boolean, string] | string>): Promise<void> {
  const start = Date.now();
  try {
    const r = await body();
    const seconds = ((Date.now() - start) / 1000).toFixed(1);
    if (typeof r === 'string') report(name, 'SKIP', r);
    else report(name, r[0] ? 'PASS' : 'FAIL', `${r[1]} (${seconds} s)`);
  } catch (e) {
    report(name, 'FAIL', e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  }
}

function meanAndStdErr(xs: number[]): { mean: number; se: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1);
  return { mean, se: Math.sqrt(v / xs.length) };
}

let saved = 0;

/** The same model on the CPU and on `device`: one initialisation, saved and loaded on each. */
async function pair(config: ebm.ModelConfig, dir: string, device: string): Promise<[ebm.EnergyModel, ebm.EnergyModel]> {
  const cpu = ebm.energyModel({ ...config, device: 'cpu' } as ebm.ModelConfig);
  const file = path.join(dir, `${config.kind}-${saved++}.safetensors`);
  await cpu.save(file);
  return [cpu, await ebm.loadModel(file, { device: device as ebm.Device })];
}

const seeds = Array.from({ length: 24 }, (_, i) => 100 + i);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--device');
  const device = at >= 0 && args[at + 1] ? args[at + 1] : 'cuda';
  const v = ebm.version();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebm-gpu-check-'));
  console.log(
    `ebm-torch ${v.ebmTorch}, LibTorch ${v.torch}, CUDA available ${v.cudaAvailable} (${v.cudaDeviceCount} devices), ` +
      `distributed: ${v.distributed.join(', ') || 'none'}; checks on '${device}' against 'cpu'`,
  );
  const onCuda = device.startsWith('cuda');
  if (onCuda && !v.cudaAvailable) {
    report(
      'cuda',
      'FAIL',
      'this build sees no CUDA device: a CPU LibTorch, or no driver (use --device cpu to test the script)',
    );
    finish();
    return;
  }
  await check('version', async () => [
    !onCuda || (v.cudaAvailable && v.cudaDeviceCount > 0),
    `cudaAvailable ${v.cudaAvailable}, cudaDeviceCount ${v.cudaDeviceCount}, default device ${v.device}`,
  ]);

  const plain: ebm.ModelConfig = { kind: 'mlp', inputDim: 2, hidden: [64, 64], seed: 1 };
  const timed: ebm.ModelConfig = {
    kind: 'mlp',
    inputDim: 2,
    hidden: [64, 64],
    timeConditioned: true,
    timeEmbedDim: 16,
    seed: 2,
  };
  const data = ebm.datasets.toy('8gaussians', 256, 3);
  const losses: { name: string; model: ebm.ModelConfig; loss: ebm.LossConfig }[] = [
    { name: 'ed', model: plain, loss: { kind: 'ed', t: 1, m: 16, w: 1 } },
    { name: 'dsm', model: plain, loss: { kind: 'dsm', sigma: 0.3 } },
    { name: 'dsm vp', model: timed, loss: { kind: 'dsm', path: 'vp' } },
    { name: 'diffclf', model: timed, loss: { kind: 'diffclf', path: 'vp', levels: 16, k: 4, clfWeight: 1 } },
    { name: 'cd', model: plain, loss: { kind: 'cd', sampler: { kind: 'langevin', steps: 10, stepSize: 0.05 } } },
    { name: 'ssm', model: plain, loss: { kind: 'ssm' } },
  ];
  for (const c of losses) {
    await check(`loss ${c.name}`, async () => {
      const [cpu, dev] = await pair(c.model, dir, device);
      const a: number[] = [];
      const b: number[] = [];
      for (const seed of seeds) {
        a.push((await ebm.evaluateLoss(cpu, data, c.loss, { seed })).loss);
        b.push((await ebm.evaluateLoss(dev, data, c.loss, { seed })).loss);
      }
      const again = (await ebm.evaluateLoss(dev, data, c.loss, { seed: seeds[0] })).loss;
      const [ma, mb] = [meanAndStdErr(a), meanAndStdErr(b)];
      const bound = 4 * Math.hypot(ma.se, mb.se) + 1e-5 * Math.max(1, Math.abs(ma.mean));
      const repeatable = Math.abs(again - b[0]) <= 1e-5 * Math.max(1, Math.abs(b[0]));
      return [
        Math.abs(ma.mean - mb.mean) <= bound && repeatable,
        `mean over ${seeds.length} seeds ${mb.mean.toFixed(5)} vs cpu ${ma.mean.toFixed(5)} ` +
          `(|Δ| ${Math.abs(ma.mean - mb.mean).toExponential(2)} ≤ ${bound.toExponential(2)}); same seed twice: ` +
          `${repeatable ? 'same' : `${b[0]} vs ${again}`}`,
      ];
    });
  }

  const target: ebm.ModelConfig = {
    kind: 'gaussian',
    mean: [1, -2],
    cov: [
      [1, 0.6],
      [0.6, 0.8],
    ],
  };
  const samplers: { name: string; sampler: ebm.SamplerConfig }[] = [
    { name: 'langevin', sampler: { kind: 'langevin', steps: 400, stepSize: 0.1 } },
    { name: 'mala', sampler: { kind: 'mala', steps: 400, stepSize: 0.6 } },
    { name: 'hmc', sampler: { kind: 'hmc', steps: 100, stepSize: 0.2, leapfrogSteps: 8 } },
    { name: 'wgf', sampler: { kind: 'wgf', steps: 200, stepSize: 0.05 } },
  ];
  for (const s of samplers) {
    await check(`sampler ${s.name}`, async () => {
      const [cpu, dev] = await pair(target, dir, device);
      const n = 2000;
      const [x, y] = [
        await ebm.sample(cpu, { n, seed: 5, sampler: s.sampler }),
        await ebm.sample(dev, { n, seed: 5, sampler: s.sampler }),
      ];
      const [mx, my] = [ebm.metrics.meanAndCovariance(x), ebm.metrics.meanAndCovariance(y)];
      // each chain is one draw: the mean's standard error is about sqrt(var / n); wgf's
      // particles interact and the Langevin step's bias is the same on both devices
      const tol = 4 * Math.sqrt(2 / n) * Math.sqrt(Math.max(mx.cov[0][0], mx.cov[1][1]));
      const dMean = Math.max(...mx.mean.map((m, i) => Math.abs(m - my.mean[i])));
      const dCov = Math.max(...mx.cov.flatMap((row, i) => row.map((c, j) => Math.abs(c - my.cov[i][j]))));
      return [
        dMean <= tol && dCov <= 1.5 * tol && y.data.every(Number.isFinite),
        `mean ${my.mean.map((m) => m.toFixed(3)).join(', ')} vs cpu ${mx.mean.map((m) => m.toFixed(3)).join(', ')}; ` +
          `max |Δmean| ${dMean.toFixed(4)} ≤ ${tol.toFixed(4)}, max |Δcov| ${dCov.toFixed(4)} ≤ ${(1.5 * tol).toFixed(4)}`,
      ];
    });
  }
  await check('sampler annealed', async () => {
    const [cpu, dev] = await pair(timed, dir, device);
    const opts = { n: 1000, seed: 6, sampler: { kind: 'annealed', steps: 5, stepSize: 0.01 } as ebm.SamplerConfig };
    const [x, y] = [await ebm.sample(cpu, opts), await ebm.sample(dev, opts)];
    const [mx, my] = [ebm.metrics.meanAndCovariance(x), ebm.metrics.meanAndCovariance(y)];
    const d = Math.max(...mx.mean.map((m, i) => Math.abs(m - my.mean[i])));
    return [
      d < 0.2 && y.data.every(Number.isFinite),
      `untrained model, 1000 chains: max |Δmean| ${d.toFixed(4)} < 0.2`,
    ];
  });
  await check('smc', async () => 'ebm.smc is not in this version (issue 28)');

  await check('train ed', async () => {
    const [cpu, dev] = await pair(plain, dir, device);
    const opts: ebm.TrainConfig = { loss: { kind: 'ed', t: 1, m: 16, w: 1 }, batchSize: 128, steps: 300, seed: 7 };
    const big = ebm.datasets.toy('8gaussians', 4096, 8);
    const [ra, rb] = [await ebm.train(cpu, big, opts), await ebm.train(dev, big, opts)];
    const tail = (r: ebm.TrainRun) => meanAndStdErr(r.history.slice(-5).map((h) => h.loss));
    const [ta, tb] = [tail(ra), tail(rb)];
    return [
      Math.abs(ta.mean - tb.mean) < 0.1 && Number.isFinite(tb.mean),
      `final loss ${tb.mean.toFixed(4)} vs cpu ${ta.mean.toFixed(4)} (|Δ| < 0.1), ${(opts.steps / rb.seconds).toFixed(0)} steps/s`,
    ];
  });

  await check('latent prior', async () => {
    const images = ebm.datasets.fashionMnistAvailable()
      ? ebm.datasets.fashionMnist({ split: 'train', limit: 256, scale: '-11' }).images
      : { data: Float32Array.from({ length: 256 * 784 }, (_, i) => Math.sin(i * 0.37)), shape: [256, 1, 28, 28] };
    const model = ebm.latentEbm({
      imageShape: [1, 28, 28],
      latentDim: 8,
      generator: { channels: 8 },
      prior: { hidden: [32, 32] },
      device: device as ebm.Device,
      seed: 0,
    });
    const r = await ebm.trainLatent(model, images, { batchSize: 32, steps: 10, logEvery: 5 });
    const finite = r.history.every((h) => Number.isFinite(h.loss));
    return [finite, `10 steps, losses ${r.history.map((h) => h.loss.toFixed(3)).join(' → ')}`];
  });

  await check('nccl group of one', async () => {
    if (!onCuda) return 'NCCL needs CUDA';
    if (!v.distributed.includes('nccl'))
      return `this build has no NCCL (distributed: ${v.distributed.join(', ') || 'none'})`;
    const [, dev] = await pair(plain, dir, device);
    const r = await ebm.train(dev, data, {
      loss: { kind: 'ed', t: 1, m: 8, w: 1 },
      batchSize: 64,
      steps: 20,
      distributed: { backend: 'nccl', rank: 0, worldSize: 1, masterPort: 29611 },
    });
    return [r.history.every((h) => Number.isFinite(h.loss)), `20 ED steps on one NCCL rank`];
  });
  fs.rmSync(dir, { recursive: true, force: true });
  finish();
}

function finish(): void {
  const count = (verdict: Verdict) => lines.filter((l) => l.verdict === verdict).length;
  console.log(`gpu-check: ${count('PASS')} passed, ${count('FAIL')} failed, ${count('SKIP')} skipped`);
  process.exitCode = count('FAIL') > 0 ? 1 : 0;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
