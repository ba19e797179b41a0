/**
 * ebm-torch's side of one bench measurement, in a process of its own (so its peak RSS is its own):
 *   node dist/bench/ours.js '<job JSON>'
 * Runs the warm-up and timed steps of one workload (bench/workloads.ts) through the public API and
 * prints one JSON line (a Measurement).
 */
import * as fs from 'node:fs';
import * as ebm from '../lib';
import type { Job, Measurement } from './workloads';

type Settings = Record<string, unknown> & { batchSize: number; lr: number };

function readData(job: Job): ebm.Tensor {
  if (!job.data) throw new Error(`workload ${job.workload} has no data`);
  const bytes = fs.readFileSync(job.data.path);
  // a view, as the Python side's torch.frombuffer, unless the buffer is misaligned for floats
  const data =
    bytes.byteOffset % 4 === 0
      ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
      : new Float32Array(new Uint8Array(bytes).buffer);
  return ebm.tensor(data, job.data.shape);
}

/** Seconds and rate of the timed steps, and the first and last loss reports (every `warmup` steps). */
function fromHistory(job: Job, run: ebm.TrainRun): Omit<Measurement, 'side' | 'torch' | 'maxRssMB'> {
  const first = run.history[0];
  const last = run.history[run.history.length - 1];
  const seconds = last.seconds - first.seconds;
  return { seconds, rate: job.steps / seconds, threads: run.threads, lossFirst: first.loss, lossLast: last.loss };
}

async function train(job: Job): Promise<Omit<Measurement, 'side' | 'torch' | 'maxRssMB'>> {
  const s = job.settings as Settings;
  const model = await ebm.loadModel(job.model);
  const run = await ebm.train(model, readData(job), {
    loss: s.loss as ebm.LossConfig,
    optimizer: { kind: 'adam', lr: s.lr },
    batchSize: s.batchSize,
    steps: job.warmup + job.steps,
    logEvery: job.warmup,
    seed: 0,
    ...(s.gradClip === undefined ? {} : { gradClip: s.gradClip as number }),
  });
  return fromHistory(job, run);
}

async function trainLatent(job: Job): Promise<Omit<Measurement, 'side' | 'torch' | 'maxRssMB'>> {
  const s = job.settings as Pick<
    ebm.ResolvedLatentTrainOptions,
    'batchSize' | 'prior' | 'posterior' | 'generatorLr' | 'betas'
  >;
  const model = await ebm.loadLatentEbm(job.model);
  const run = await ebm.trainLatent(model, readData(job), {
    ...s,
    steps: job.warmup + job.steps,
    logEvery: job.warmup,
    seed: 0,
  });
  return fromHistory(job, run);
}

async function sample(job: Job): Promise<Omit<Measurement, 'side' | 'torch' | 'maxRssMB'>> {
  const s = job.settings as { chains: number; sampler: Record<string, unknown> };
  const model = await ebm.loadModel(job.model);
  const run = (steps: number, seed: number) =>
    ebm.sample(model, { n: s.chains, sampler: { ...s.sampler, steps } as ebm.SamplerConfig, seed });
  await run(job.warmup, 1);
  const t0 = performance.now();
  const result = await run(job.steps, 0);
  const seconds = (performance.now() - t0) / 1000;
  const mean = (a: Float32Array) => a.reduce((sum, v) => sum + v, 0) / a.length;
  return {
    seconds,
    rate: ((job.unit === 'chain-steps/s' ? s.chains : 1) * job.steps) / seconds,
    threads: ebm.version().numThreads,
    energy: mean(result.energy),
    ...(result.acceptRate ? { acceptRate: mean(result.acceptRate) } : {}),
    ...(s.sampler.kind === 'wgf' && result.stepSize ? { bandwidth: result.stepSize[0] } : {}),
  };
}

/** SMC: a short warm-up run, then one timed run of job.steps levels; its rate in levels/s. */
async function smc(job: Job): Promise<Omit<Measurement, 'side' | 'torch' | 'maxRssMB'>> {
  const s = job.settings as { particles: number; sampler: Omit<ebm.SmcOptions, 'n' | 'levels' | 'seed'> };
  const model = await ebm.loadModel(job.model);
  const run = (levels: number, seed: number) => ebm.smc(model, { ...s.sampler, n: s.particles, levels, seed });
  await run(job.warmup, 1);
  const t0 = performance.now();
  const result = await run(job.steps, 0);
  const seconds = (performance.now() - t0) / 1000;
  const mean = (a: Float32Array) => a.reduce((sum, v) => sum + v, 0) / a.length;
  return {
    seconds,
    rate: job.steps / seconds,
    threads: ebm.version().numThreads,
    energy: mean(result.energy),
    acceptRate: mean(result.acceptRate),
    logZ: result.logZ,
    resamplings: result.resampledAt.length,
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as Job;
  if (job.threads !== undefined) ebm.setNumThreads(job.threads);
  const kind = { train, latent: trainLatent, sample, smc }[job.kind];
  const out: Measurement = {
    side: 'ours',
    ...(await kind(job)),
    torch: ebm.version().torch,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  };
  console.log(JSON.stringify(out));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
