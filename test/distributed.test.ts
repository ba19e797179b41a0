/**
 * Data-parallel training on c10d/Gloo, two processes on loopback: the same weights as one process
 * with the global batch, bit-identical ranks, one rank's abort or death stopping the other, and
 * the launchers. Skipped when the addon was built without distributed support.
 */
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ebm from '../lib';
import { freePort } from '../lib/cli/launch';
import { assertOneLineError, runCli } from './cli-helpers';
import { latentImages, latentOutcome } from './distributed-child';

const child = path.join(__dirname, 'distributed-child.js');
const plain: ebm.MlpConfig = { kind: 'mlp', inputDim: 2, hidden: [32, 32], activation: 'silu', device: 'cpu', seed: 1 };
const timed: ebm.MlpConfig = { ...plain, timeConditioned: true, timeEmbedDim: 8 };
const ROWS = 512;

interface RankResult {
  rank: number;
  worldSize: number;
  parameters: Record<string, number[]>;
  losses: number[];
}
interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ebm-dist-'));
}

function startRank(
  rank: number,
  worldSize: number,
  port: number,
  request: object,
  extraEnv = {},
): { proc: ChildProcess; done: Promise<Finished> } {
  const proc = spawn(process.execPath, [child, JSON.stringify(request)], {
    env: {
      ...process.env,
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      OMP_NUM_THREADS: '1',
      ...extraEnv,
    },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Finished>((resolve) => proc.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { proc, done };
}

function maxDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  let worst = 0;
  for (const k of Object.keys(a))
    for (let i = 0; i < a[k].length; i++) worst = Math.max(worst, Math.abs(a[k][i] - b[k][i]));
  return worst;
}

async function params(model: ebm.EnergyModel): Promise<Record<string, number[]>> {
  const p = await model.parameters();
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Array.from(v.data)]));
}

const available = ebm.version().distributed.includes('gloo');

describe('data-parallel training (c10d, Gloo, 2 processes on loopback)', function () {
  this.timeout(300_000);
  before(function () {
    if (!available) this.skip();
  });

  // ED with SGD + momentum: ED is unchanged by shifting the energy, so the output bias's gradient
  // is zero up to rounding, and Adam's normalisation turns that rounding noise into ±lr steps
  // (any other summation order, e.g. another thread count, differs there the same way). DSM's
  // loss does not reach the bias at all, so it runs with Adam.
  for (const c of [
    {
      name: 'ED (SGD with momentum)',
      model: plain,
      loss: { kind: 'ed', t: 1, m: 4, w: 1 } as ebm.LossConfig,
      optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 } as ebm.OptimizerConfig,
    },
    {
      name: 'DSM on the VP path (Adam)',
      model: timed,
      loss: { kind: 'dsm', path: 'vp', levels: 32 } as ebm.LossConfig,
      optimizer: { kind: 'adam', lr: 1e-2 } as ebm.OptimizerConfig,
    },
  ]) {
    it(`${c.name}: 2 ranks × batch 32 give 1 process × batch 64's weights after 10 steps; the ranks agree bit for bit`, async function () {
      const dir = tmpDir();
      const options = {
        loss: c.loss,
        optimizer: c.optimizer,
        steps: 10,
        seed: 4,
        logEvery: 5,
      };
      const single = ebm.energyModel(c.model);
      const one = await ebm.train(single, ebm.datasets.toy('8gaussians', ROWS, 5), { ...options, batchSize: 64 });
      const port = await freePort();
      const out = path.join(dir, 'run');
      const checkpoint = path.join(dir, 'ckpt.safetensors');
      const request = {
        model: c.model,
        options: { ...options, batchSize: 32, checkpoint: { path: checkpoint } },
        rows: ROWS,
        out,
      };
      const ranks = [startRank(0, 2, port, request), startRank(1, 2, port, request)];
      const finished = await Promise.all(ranks.map((r) => r.done));
      finished.forEach((f, i) => assert.equal(f.code, 0, `rank ${i}: ${f.stdout} ${f.stderr}`));
      const [r0, r1] = [0, 1].map((r) => JSON.parse(fs.readFileSync(`${out}.${r}.json`, 'utf8')) as RankResult);
      assert.equal(r0.worldSize, 2);
      assert.equal(r1.rank, 1);
      assert.equal(maxDiff(r0.parameters, r1.parameters), 0, 'ranks end with identical weights');
      const diff = maxDiff(r0.parameters, await params(single));
      console.log(`      max |2 ranks - 1 process| over the weights: ${diff.toExponential(2)}`);
      assert.ok(diff < 1e-5, `differs by ${diff}`);
      // reported losses are the means over both ranks: those of the single run
      r0.losses.forEach((l, i) =>
        assert.ok(Math.abs(l - one.history[i].loss) < 1e-4, `loss ${l} vs ${one.history[i].loss}`),
      );
      assert.deepEqual(r0.losses, r1.losses);
      // rank 0's checkpoint is the model
      const loaded = await ebm.loadModel(checkpoint);
      assert.equal(maxDiff(await params(loaded), r0.parameters), 0);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  it('latent image prior: 2 ranks × batch 8 give 1 process × batch 16 (generator only); with an ED prior and persistent chains the ranks stay identical', async function () {
    const dir = tmpDir();
    const latentModel: ebm.LatentEbmConfig = {
      imageShape: [1, 16, 16],
      latentDim: 4,
      generator: { channels: 8 },
      prior: { hidden: [16] },
      seed: 3,
    };
    const rows = 64;
    const gaussian: Omit<ebm.LatentTrainOptions, 'batchSize'> = {
      steps: 6,
      logEvery: 3,
      seed: 2,
      prior: 'gaussian',
      posterior: { steps: 5 },
      generatorLr: 1e-3,
    };
    const single = ebm.latentEbm(latentModel);
    await ebm.trainLatent(single, latentImages(rows, [1, 16, 16]), { ...gaussian, batchSize: 16 });
    const runPair = async (options: ebm.LatentTrainOptions, name: string): Promise<RankResult[]> => {
      const port = await freePort();
      const out = path.join(dir, name);
      const request = { model: plain, options: {}, rows, out, latent: { model: latentModel, options } };
      const finished = await Promise.all([startRank(0, 2, port, request).done, startRank(1, 2, port, request).done]);
      finished.forEach((f, i) => assert.equal(f.code, 0, `rank ${i}: ${f.stdout} ${f.stderr}`));
      return [0, 1].map((r) => JSON.parse(fs.readFileSync(`${out}.${r}.json`, 'utf8')) as RankResult);
    };
    const [g0, g1] = await runPair({ ...gaussian, batchSize: 8 }, 'gaussian');
    assert.equal(maxDiff(g0.parameters, g1.parameters), 0);
    const diff = maxDiff(g0.parameters, await latentOutcome(single));
    console.log(`      latent, generator only: max |2 ranks - 1 process| = ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-5, `differs by ${diff}`);
    const [p0, p1] = await runPair(
      {
        ...gaussian,
        batchSize: 8,
        prior: { loss: { kind: 'ed', t: 0.25, m: 4, w: 1 } },
        posterior: { steps: 5, persistent: true },
      },
      'prior',
    );
    assert.equal(maxDiff(p0.parameters, p1.parameters), 0, 'ranks identical with a trained prior');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('latent image prior on 2 ranks: aborted on one rank, resumed on 2, equals an uninterrupted 2-rank run', async function () {
    const dir = tmpDir();
    const latentModel: ebm.LatentEbmConfig = {
      imageShape: [1, 16, 16],
      latentDim: 4,
      generator: { channels: 8, batchNorm: true },
      prior: { hidden: [16] },
      seed: 3,
    };
    const options: ebm.LatentTrainOptions = {
      batchSize: 8,
      steps: 12,
      logEvery: 2,
      seed: 2,
      prior: { loss: { kind: 'ed', t: 0.25, m: 4, w: 1 } },
      posterior: { steps: 5, persistent: true },
      ema: { decay: 0.9 },
    };
    const rows = 60;
    const runPair = async (name: string, extra: object, abortAtStep?: number): Promise<Finished[]> => {
      const port = await freePort();
      const request = { model: plain, options: {}, rows, out: path.join(dir, name) };
      const latent = (rank: number) => ({
        ...request,
        latent: { model: latentModel, options: { ...options, ...extra } },
        ...(rank === 1 && abortAtStep !== undefined ? { abortAtStep } : {}),
      });
      return Promise.all([startRank(0, 2, port, latent(0)).done, startRank(1, 2, port, latent(1)).done]);
    };
    const whole = await runPair('whole', {});
    whole.forEach((f, i) => assert.equal(f.code, 0, `rank ${i}: ${f.stdout} ${f.stderr}`));
    const file = path.join(dir, 'ckpt.safetensors');
    // rank 1 asks to stop after step 4's report; both stop at the same later step, rank 0 saves
    const stopped = await runPair('stopped', { checkpoint: { path: file } }, 4);
    for (const f of stopped) assert.match(f.stdout, /"error":"AbortError"/, f.stdout + f.stderr);
    assert.match(stopped[0].stdout, /the training state was saved to/);
    const resumed = await runPair('resumed', { resumeFrom: file });
    resumed.forEach((f, i) => assert.equal(f.code, 0, `rank ${i}: ${f.stdout} ${f.stderr}`));
    const read = (name: string, rank: number) =>
      JSON.parse(fs.readFileSync(path.join(dir, `${name}.${rank}.json`), 'utf8')) as RankResult;
    for (const rank of [0, 1])
      assert.equal(maxDiff(read('resumed', rank).parameters, read('whole', rank).parameters), 0, `rank ${rank}`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an abort on one rank stops both at the same step', async function () {
    const dir = tmpDir();
    const port = await freePort();
    const base = { model: plain, rows: ROWS, out: path.join(dir, 'run') };
    const options = { loss: { kind: 'ed', t: 1, m: 4, w: 1 }, batchSize: 32, steps: 1_000_000, seed: 0, logEvery: 10 };
    const r0 = startRank(0, 2, port, { ...base, options });
    const r1 = startRank(1, 2, port, { ...base, options, abortAtStep: 30 });
    const [f0, f1] = await Promise.all([r0.done, r1.done]);
    const e0 = JSON.parse(f0.stdout) as { error: string; message: string };
    const e1 = JSON.parse(f1.stdout) as { error: string; message: string };
    assert.equal(e0.error, 'AbortError', f0.stdout);
    assert.equal(e1.error, 'AbortError', f1.stdout);
    assert.match(e0.message, /asked on one of the 2 ranks/);
    const steps = [e0, e1].map((e) => Number(/after (\d+) steps/.exec(e.message)?.[1]));
    assert.equal(steps[0], steps[1], 'both stop after the same step');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a killed rank makes the other fail with a clear error within the timeout; the last checkpoint stays intact', async function () {
    const dir = tmpDir();
    const port = await freePort();
    const checkpoint = path.join(dir, 'ckpt.safetensors');
    const options = {
      loss: { kind: 'ed', t: 1, m: 4, w: 1 },
      batchSize: 32,
      steps: 1_000_000,
      seed: 0,
      logEvery: 10,
      checkpoint: { path: checkpoint, every: 20 },
    };
    const request = { model: plain, rows: ROWS, out: path.join(dir, 'run'), options };
    const env = { EBM_DIST_TIMEOUT: '15' };
    const r0 = startRank(0, 2, port, request, env);
    const r1 = startRank(1, 2, port, request, env);
    // Kill rank 1 once a checkpoint exists.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (fs.existsSync(checkpoint)) {
          clearInterval(poll);
          resolve();
        }
      }, 50);
    });
    const killedAt = Date.now();
    r1.proc.kill('SIGKILL');
    const f0 = await r0.done;
    const seconds = (Date.now() - killedAt) / 1000;
    const e0 = JSON.parse(f0.stdout) as { error: string; message: string };
    console.log(`      rank 0 failed ${seconds.toFixed(1)} s after rank 1 was killed: ${e0.message.slice(0, 120)}...`);
    assert.equal(e0.error, 'EbmDistributedError');
    assert.match(e0.message, /rank 0: an all-reduce failed: another rank died/);
    assert.ok(seconds < 15 + 5, `took ${seconds} s`);
    const loaded = await ebm.loadModel(checkpoint);
    assert.ok(Object.keys(await loaded.parameters()).length > 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a rank that stops answering (SIGSTOP) makes the other fail after the timeout, not hang', async function () {
    const dir = tmpDir();
    const port = await freePort();
    const options = { loss: { kind: 'ed', t: 1, m: 4, w: 1 }, batchSize: 32, steps: 1_000_000, seed: 0, logEvery: 10 };
    const request = { model: plain, rows: ROWS, out: path.join(dir, 'run'), options };
    const env = { EBM_DIST_TIMEOUT: '4' };
    const r0 = startRank(0, 2, port, request, env);
    const r1 = startRank(1, 2, port, request, env);
    await new Promise<void>((resolve) => {
      r1.proc.stderr?.on('data', (d: Buffer) => {
        if (/step 20\b/.test(d.toString())) resolve();
      });
    });
    const stoppedAt = Date.now();
    r1.proc.kill('SIGSTOP');
    const f0 = await r0.done;
    const seconds = (Date.now() - stoppedAt) / 1000;
    r1.proc.kill('SIGKILL');
    await r1.done;
    const e0 = JSON.parse(f0.stdout) as { error: string; message: string };
    console.log(`      rank 0 failed ${seconds.toFixed(1)} s after rank 1 stopped (timeout 4 s)`);
    assert.equal(e0.error, 'EbmDistributedError', f0.stdout);
    assert.match(e0.message, /did not answer in time/);
    assert.ok(seconds >= 3 && seconds < 15, `took ${seconds} s`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names a master port that is already in use', async function () {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as net.AddressInfo).port;
    const dir = tmpDir();
    const options = { loss: { kind: 'ed', t: 1, m: 4, w: 1 }, batchSize: 32, steps: 5 };
    const r0 = startRank(
      0,
      2,
      port,
      { model: plain, rows: ROWS, out: path.join(dir, 'run'), options },
      { EBM_DIST_TIMEOUT: '5' },
    );
    const f0 = await r0.done;
    server.close();
    const e0 = JSON.parse(f0.stdout) as { error: string; message: string };
    assert.equal(e0.error, 'EbmDistributedError', f0.stdout);
    assert.match(e0.message, new RegExp(`masterPort ${port} is already in use`));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("'env' without the torchrun variables is a clear config error", async function () {
    const model = ebm.energyModel(plain);
    await assert.rejects(
      ebm.train(model, ebm.datasets.toy('8gaussians', 64, 0), {
        loss: { kind: 'ed', t: 1, m: 4, w: 1 },
        batchSize: 8,
        steps: 1,
        distributed: 'env',
      }),
      (err: unknown) => err instanceof ebm.EbmConfigError && /needs WORLD_SIZE/.test(err.message),
    );
    await assert.rejects(
      ebm.train(model, ebm.datasets.toy('8gaussians', 64, 0), {
        loss: { kind: 'ed', t: 1, m: 4, w: 1 },
        batchSize: 8,
        steps: 1,
        distributed: { rank: 2, worldSize: 2 },
      }),
      (err: unknown) => err instanceof ebm.EbmConfigError && /distributed\.rank must be <= 1, got 2/.test(err.message),
    );
  });

  it('ebm train --nproc 2 writes one run folder with the weights of a 1-process run at the global batch', async function () {
    const dir = tmpDir();
    const config = path.join(dir, 'run.json');
    const cfg = {
      name: 'dist-cli',
      data: { toy: '8gaussians', n: 512, seed: 0 },
      model: { kind: 'mlp', inputDim: 2, hidden: [16, 16], seed: 0 },
      train: {
        loss: { kind: 'ed', t: 1, m: 4, w: 1 },
        optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
        batchSize: 32,
        steps: 20,
        seed: 0,
        logEvery: 10,
      },
      eval: { grid: { lo: -4, hi: 4, resolution: 40 } },
    };
    fs.writeFileSync(config, JSON.stringify(cfg));
    const two = await runCli(['train', config, '--nproc', '2', '--out', 'two', '--quiet'], dir, { timeout: 120_000 });
    assert.equal(two.code, 0, two.stderr);
    cfg.train.batchSize = 64;
    fs.writeFileSync(config, JSON.stringify(cfg));
    assert.equal((await runCli(['train', config, '--out', 'one', '--quiet'], dir)).code, 0);
    const [a, b] = await Promise.all(['two', 'one'].map((d) => ebm.loadModel(path.join(dir, d, 'model.safetensors'))));
    const diff = maxDiff(await params(a), await params(b));
    assert.ok(diff < 1e-5, `differs by ${diff}`);
    assert.ok(fs.existsSync(path.join(dir, 'two', 'metrics.json')));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ebm launch fails as a whole, naming the rank, when one rank fails', async function () {
    const dir = tmpDir();
    const script = path.join(dir, 'fail.js');
    fs.writeFileSync(
      script,
      "if (process.env.RANK === '1') { console.error('ebm: rank one gives up'); process.exit(4); } setTimeout(() => {}, 60000);",
    );
    const r = await runCli(['launch', '--nproc', '2', script], dir, { timeout: 30_000 });
    assertOneLineError(r, 1, /rank 1 of 2 exited with status 4 \(rank one gives up\); the other ranks were stopped/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
