/**
 * Data-parallel scaling on this machine: ED with the ConvNet energy on 28×28 images (M 8, batch 64
 * per process), one process with one thread against two processes with one thread each (Gloo on
 * loopback, global batch 128). Prints images/s, the speed-up and the scaling efficiency.
 *   node dist/bench/ddp-scaling.js [--steps N] [--reps N]
 */
import { spawn } from 'node:child_process';
import * as ebm from '../lib';
import { freePort } from '../lib/cli/launch';
import { fashionMnistAvailable } from '../lib/data/fashion';
import { convnet28 } from './workloads';

const model: ebm.ConvNetConfig = {
  ...convnet28,
  channels: [...convnet28.channels],
  inputShape: [...convnet28.inputShape],
};
const batchSize = 64;

function images(): ebm.Tensor {
  if (fashionMnistAvailable()) return ebm.datasets.fashionMnist({ split: 'train', limit: 2048, scale: '01' }).images;
  const data = new Float32Array(2048 * 784);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 1000) / 1000;
  return ebm.tensor(data, [2048, 1, 28, 28]);
}

async function worker(steps: number): Promise<void> {
  const worldSize = Number(process.env.WORLD_SIZE ?? '1');
  const data = images();
  const options: ebm.TrainConfig = {
    loss: { kind: 'ed', t: 0.01, m: 8, w: 1 },
    optimizer: { kind: 'adam', lr: 1e-4 },
    batchSize,
    steps: 2,
    logEvery: 2,
    ...(worldSize > 1 ? { distributed: 'env' as const } : {}),
  };
  const m = ebm.energyModel(model);
  await ebm.train(m, data, options); // warm-up (and the rendezvous)
  const run = await ebm.train(m, data, { ...options, steps, logEvery: steps });
  process.stdout.write(JSON.stringify({ imagesPerSecond: (steps * batchSize * worldSize) / run.seconds }) + '\n');
}

function child(rank: number, worldSize: number, port: number, steps: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      OMP_NUM_THREADS: '1',
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
    };
    const p = spawn(process.execPath, [__filename, '--worker', '--steps', String(steps)], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) =>
      code === 0
        ? resolve((JSON.parse(out) as { imagesPerSecond: number }).imagesPerSecond)
        : reject(new Error(`rank ${rank} failed (${code})`)),
    );
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const steps = arg('--steps', 20);
  if (process.argv.includes('--worker')) return worker(steps);
  const reps = arg('--reps', 3);
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < reps; r++) {
    one.push(await child(0, 1, 0, steps));
    const port = await freePort();
    const rates = await Promise.all([child(0, 2, port, steps), child(1, 2, port, steps)]);
    two.push(rates[0]);
  }
  const a = median(one);
  const b = median(two);
  console.log(
    `ED, ConvNet [32, 64] on 28×28, M 8, batch ${batchSize} per process, ${steps} steps, ${reps} repetitions (median, min-max)`,
  );
  console.log(
    `  1 process  × 1 thread : ${a.toFixed(1)} images/s (${Math.min(...one).toFixed(1)}-${Math.max(...one).toFixed(1)})`,
  );
  console.log(
    `  2 processes × 1 thread: ${b.toFixed(1)} images/s (${Math.min(...two).toFixed(1)}-${Math.max(...two).toFixed(1)})`,
  );
  console.log(`  speed-up ${(b / a).toFixed(2)}×, scaling efficiency ${((100 * b) / (2 * a)).toFixed(0)} %`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
