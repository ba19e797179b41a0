import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { native } from '../lib/native';
import { maxAbsDiff, rejectsWith, tmpDir } from './helpers';

const mlp = (extra: Partial<ebm.MlpConfig> = {}): ebm.EnergyModel =>
  ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [32, 32], device: 'cpu', ...extra });
const ed: ebm.LossConfig = { kind: 'ed', t: 1, m: 4, w: 1 };

/** Every weight of a model, in name order, as one array. */
async function flatParameters(model: ebm.EnergyModel): Promise<number[]> {
  const params = await model.parameters();
  return Object.keys(params)
    .sort()
    .flatMap((name) => Array.from(params[name].data));
}

/** L2 distance between two flat weight vectors. */
function distance(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
}

const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

describe('training', () => {
  it('ED on 8 gaussians reaches the true NLL within 0.15 nats (2-128-128-1, batch 128, M 16, 2000 steps, seed 0)', async () => {
    const data = ebm.datasets.toy('8gaussians', 20000, 0);
    const test = ebm.datasets.toy('8gaussians', 5000, 1);
    const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [128, 128], device: 'cpu', seed: 0 });
    const run = await ebm.train(model, data, {
      loss: { kind: 'ed', t: 1, m: 16, w: 1 },
      optimizer: { kind: 'adam', lr: 1e-3 },
      batchSize: 128,
      steps: 2000,
      seed: 0,
      logEvery: 100,
    });
    const nll = await ebm.metrics.gridNll(model, test, { lo: -4, hi: 4, resolution: 300 });
    const truth = ebm.datasets.toyLogDensity(ebm.datasets.toyMixture('8gaussians'), test);
    const trueNll = -truth.reduce((s, v) => s + v, 0) / truth.length;
    console.log(
      `      ED 8gaussians: grid NLL ${nll.toFixed(4)}, true NLL ${trueNll.toFixed(4)}, gap ${(nll - trueNll).toFixed(4)}, ` +
        `${run.seconds.toFixed(1)} s (${(2000 / run.seconds).toFixed(0)} steps/s)`,
    );
    assert.equal(run.steps, 2000);
    assert.equal(run.history.length, 20);
    assert.ok(nll - trueNll < 0.15, `grid NLL ${nll} is not within 0.15 of ${trueNll}`);
    assert.ok(nll - trueNll > -0.05, 'a model cannot beat the true density by much on 5000 test points');
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const data = ebm.datasets.toy('moons', 500, 3);
    const history = async (seed: number) =>
      (await ebm.train(mlp(), data, { loss: ed, batchSize: 64, steps: 60, seed, logEvery: 10 })).history.map(
        (h) => h.loss,
      );
    const a = await history(7);
    const b = await history(7);
    const c = await history(8);
    assert.equal(a.length, 6);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('reports progress every logEvery steps with the loss metrics', async () => {
    const events: ebm.TrainProgress[] = [];
    const run = await ebm.train(mlp(), ebm.datasets.toy('rings', 400, 1), {
      loss: ed,
      batchSize: 50,
      steps: 45,
      logEvery: 10,
      onProgress: (p) => events.push(p),
    });
    assert.deepEqual(
      events.map((e) => e.step),
      [10, 20, 30, 40, 45],
    );
    assert.deepEqual(run.history, events);
    for (const e of events) {
      for (const k of ['loss', 'energyPos', 'energyNeg', 'gap', 'gradNorm', 'stepsPerSecond', 'lr'] as const) {
        assert.ok(Number.isFinite(e[k]), `${k} missing or non-finite`);
      }
    }
  });

  it('is cancelled by an AbortSignal within a second and the model stays usable', async () => {
    const model = mlp();
    const controller = new AbortController();
    let lastStep = 0;
    const running = ebm.train(model, ebm.datasets.toy('8gaussians', 1000, 0), {
      loss: ed,
      batchSize: 128,
      steps: 10_000_000,
      logEvery: 5,
      signal: controller.signal,
      onProgress: (p) => (lastStep = p.step),
    });
    await new Promise((r) => setTimeout(r, 400));
    const abortedAt = performance.now();
    controller.abort();
    const err = await rejectsWith(running, ebm.EbmAbortError, /aborted after \d+ steps/);
    const latency = performance.now() - abortedAt;
    assert.equal(err.name, 'AbortError');
    assert.ok(latency < 1000, `took ${latency.toFixed(0)} ms to stop`);
    assert.ok(lastStep > 0, 'it was running');
    const e = await model.energy(ebm.tensor([0, 0, 1, 1], [2, 2]));
    assert.ok(e.every(Number.isFinite));
    const again = await ebm.train(model, ebm.datasets.toy('8gaussians', 1000, 0), {
      loss: ed,
      batchSize: 64,
      steps: 5,
    });
    assert.equal(again.steps, 5);
  });

  it('a throwing progress callback stops training and becomes the rejection, even a thrown string', async () => {
    let calls = 0;
    const err = await ebm
      .train(mlp(), ebm.datasets.toy('moons', 256, 0), {
        loss: ed,
        batchSize: 32,
        steps: 100000,
        logEvery: 5,
        onProgress: () => {
          calls++;
          throw 'stop here';
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.equal(err, 'stop here');
    assert.equal(calls, 1);
  });

  it('rejects an already-aborted signal before starting', async () => {
    const controller = new AbortController();
    controller.abort();
    await rejectsWith(
      ebm.train(mlp(), ebm.datasets.toy('moons', 100, 0), {
        loss: ed,
        batchSize: 10,
        steps: 5,
        signal: controller.signal,
      }),
      ebm.EbmAbortError,
      /before it started/,
    );
  });

  it('stops on a non-finite loss with EbmNumericsError and keeps exactly the weights of the last good report', async () => {
    const x = ebm.datasets.toy('8gaussians', 256, 0);
    const big = ebm.tensor(
      x.data.map((v) => v * 1e4),
      x.shape,
    );
    const config = (steps: number): ebm.TrainConfig => ({
      loss: { kind: 'cd', alpha: 0, sampler: { kind: 'langevin', steps: 1, stepSize: 1 } },
      optimizer: { kind: 'sgd', lr: 1 },
      batchSize: 64,
      steps,
      logEvery: 5,
      seed: 2,
    });
    const model = mlp({ activation: 'softplus' });
    const initial = await flatParameters(model);
    const err = await rejectsWith(
      ebm.train(model, big, config(200)),
      ebm.EbmNumericsError,
      /became non-finite between steps (\d+) and (\d+); the model keeps the weights of step (\d+)/,
    );
    const [, from, to, kept] = /between steps (\d+) and (\d+); the model keeps the weights of step (\d+)/
      .exec(err.message)!
      .map(Number);
    assert.equal(kept, from);
    assert.equal(to, from + 5, 'it is detected at the next report');
    assert.ok(kept > 0, `diverges only after some good reports (kept step ${kept})`);
    const after = await flatParameters(model);
    assert.ok(after.every(Number.isFinite));
    assert.ok(maxAbsDiff(after, initial) > 1e-3, 'the model is not simply reset to its initial weights');
    // the same seeded run stopped at exactly that step has bit-identical weights
    const reference = mlp({ activation: 'softplus' });
    await ebm.train(reference, big, config(kept));
    assert.deepEqual(after, await flatParameters(reference), `the weights of step ${kept}`);
  });

  it('follows the cosine schedule with warm-up, applies EMA and writes checkpoints', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'ckpt.safetensors');
    const model = mlp();
    const run = await ebm.train(model, ebm.datasets.toy('circles', 500, 0), {
      loss: ed,
      optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 0.01 },
      schedule: { kind: 'cosine', warmupSteps: 10, minLr: 1e-4 },
      ema: { decay: 0.9 },
      batchSize: 50,
      steps: 100,
      logEvery: 5,
      checkpoint: { path: file, every: 50 },
    });
    const lr = run.history.map((h) => h.lr);
    // the lr of the 5th step (index 4): cosine value times the warm-up factor 5/10
    const cosine = 1e-4 + (1e-2 - 1e-4) * 0.5 * (1 + Math.cos((Math.PI * 4) / 100));
    assert.ok(Math.abs(lr[0] - cosine * 0.5) < 1e-12, `warm-up lr ${lr[0]}`);
    assert.ok(lr[lr.length - 1] < 2e-4, 'decays to minLr');
    const loaded = await ebm.loadModel(file);
    const x = ebm.tensor([0.3, -0.2], [1, 2]);
    assert.deepEqual(
      await loaded.energy(x),
      await model.energy(x),
      'the final checkpoint holds the final (EMA) weights',
    );
  });

  it('clips the global gradient norm (SGD: each step moves the weights by at most lr × clip)', async () => {
    const model = mlp();
    const before = await model.parameters();
    const run = await ebm.train(model, ebm.datasets.toy('8gaussians', 256, 0), {
      loss: ed,
      optimizer: { kind: 'sgd', lr: 1 },
      gradClip: 1e-3,
      batchSize: 64,
      steps: 10,
      logEvery: 10,
    });
    const after = await model.parameters();
    let moved = 0;
    for (const name of Object.keys(before)) {
      before[name].data.forEach((v, i) => (moved += (after[name].data[i] - v) ** 2));
    }
    assert.ok((run.history[0].gradNorm ?? 0) > 1e-2, 'the raw gradients are far larger than the clip');
    assert.ok(Math.sqrt(moved) <= 10 * 1e-3 * 1.001, `weights moved ${Math.sqrt(moved)}`);
    assert.ok(Math.sqrt(moved) > 1e-3, 'but they did move');
  });

  it('re-centres the DiffCLF offsets after every step (last level pinned at 0)', async () => {
    const run = await ebm.train(mlp({ timeConditioned: true }), ebm.datasets.toy('8gaussians', 256, 0), {
      loss: { kind: 'diffclf', path: 'vp', levels: 16, k: 4, clfWeight: 1 },
      batchSize: 32,
      steps: 20,
      logEvery: 10,
    });
    const f = run.lossParameters['diffclf.offsets'];
    assert.deepEqual(f.shape, [16]);
    assert.equal(f.data[15], 0);
    assert.ok(
      f.data.some((v) => Math.abs(v) > 1e-4),
      'the other offsets were learned',
    );
    // their own optimiser group: a 10x larger offsetLr moves them further in the same steps
    const fast = await ebm.train(mlp({ timeConditioned: true }), ebm.datasets.toy('8gaussians', 256, 0), {
      loss: { kind: 'diffclf', path: 'vp', levels: 16, k: 4, clfWeight: 1, offsetLr: 1e-2 },
      batchSize: 32,
      steps: 20,
      logEvery: 10,
    });
    const norm = (t: ebm.Tensor) => Math.hypot(...t.data);
    assert.ok(norm(fast.lossParameters['diffclf.offsets']) > 3 * norm(f), "offsetLr sets the offsets' rate");
  });

  for (const [name, model, loss] of [
    ['DSM, single sigma', mlp(), { kind: 'dsm', sigma: 0.2 }],
    ['DSM on the VP path', mlp({ timeConditioned: true }), { kind: 'dsm', path: 'vp' }],
    [
      'DiffCLF after a DSM warm-up',
      mlp({ timeConditioned: true }),
      { kind: 'diffclf', path: 'vp', levels: 32, k: 4, clfWeight: 1, warmupSteps: 10 },
    ],
    [
      'persistent CD',
      mlp(),
      { kind: 'cd', sampler: { kind: 'langevin', steps: 10, stepSize: 0.01 }, buffer: { size: 500 } },
    ],
    ['SSM', mlp(), { kind: 'ssm' }],
    [
      'DiffCLF on a spectrally normalised model (two forward passes per step)',
      mlp({ timeConditioned: true, spectralNorm: true }),
      { kind: 'diffclf', path: 'vp', levels: 16, k: 2, clfWeight: 1 },
    ],
  ] as Array<[string, ebm.EnergyModel, ebm.LossConfig]>) {
    it(`trains with ${name}`, async () => {
      const run = await ebm.train(model, ebm.datasets.toy('8gaussians', 512, 0), {
        loss,
        batchSize: 64,
        steps: 40,
        logEvery: 10,
      });
      assert.equal(run.history.length, 4);
      assert.ok(run.history.every((h) => Number.isFinite(h.loss)));
      if (loss.kind === 'diffclf' && loss.warmupSteps) {
        assert.equal(run.history[0].clf, undefined, 'no CLF term during the warm-up');
        assert.ok(Number.isFinite(run.history[3].clf));
      }
    });
  }
});

describe('training options, each pinned against a run that isolates it', () => {
  it('EMA: the final weights are the EMA (decay 0.8) of the per-step raw weights, computed in JS', async () => {
    const data = ebm.datasets.toy('circles', 500, 0);
    const decay = 0.8;
    const steps = 6;
    const config = (n: number, ema: boolean): ebm.TrainConfig => ({
      loss: ed,
      optimizer: { kind: 'adam', lr: 1e-2 },
      batchSize: 50,
      steps: n,
      seed: 3,
      logEvery: 1,
      ...(ema ? { ema: { decay } } : {}),
    });
    // raw[k]: the weights after step k (a k-step run with the same seed takes the same k steps)
    const raw = [await flatParameters(mlp())];
    let plainHistory: number[] = [];
    for (let k = 1; k <= steps; k++) {
      const m = mlp();
      const run = await ebm.train(m, data, config(k, false));
      raw.push(await flatParameters(m));
      plainHistory = run.history.map((h) => h.loss);
    }
    let expected = raw[0];
    for (let k = 1; k <= steps; k++) expected = expected.map((e, i) => e + (1 - decay) * (raw[k][i] - e));
    const model = mlp();
    const run = await ebm.train(model, data, config(steps, true));
    const got = await flatParameters(model);
    const vsJs = maxAbsDiff(got, expected);
    const vsRaw = maxAbsDiff(got, raw[steps]);
    const vsInit = maxAbsDiff(got, raw[0]);
    console.log(
      `      EMA: max |model - JS EMA| ${vsJs.toExponential(2)}, max |model - raw step ${steps}| ${vsRaw.toExponential(2)}, ` +
        `max |model - initial| ${vsInit.toExponential(2)}`,
    );
    assert.ok(vsJs < 1e-6, `the model holds the EMA of the raw weights (max diff ${vsJs})`);
    assert.ok(vsRaw > 1e-2, 'and not the raw weights of the last step');
    assert.ok(vsInit > 1e-2, 'nor the initial weights');
    assert.deepEqual(
      run.history.map((h) => h.loss),
      plainHistory,
      'the EMA shadows the weights: it does not change the training trajectory',
    );
  });

  it('persistent CD keeps its replay buffer between steps (reinit 0 vs 1 on a frozen model)', async () => {
    // A frozen model (lr 1e-9) and noise-free Langevin (gradient descent): chains that resume from
    // the buffer keep descending, so the negatives' energy falls report after report; chains that
    // restart from noise every step (reinit 1) stay at the same level.
    const data = ebm.datasets.toy('8gaussians', 512, 0);
    const energyNeg = async (reinit: number) =>
      (
        await ebm.train(mlp(), data, {
          loss: {
            kind: 'cd',
            sampler: { kind: 'langevin', steps: 5, stepSize: 1, noiseScale: 0 },
            buffer: { size: 64, reinit },
          },
          optimizer: { kind: 'sgd', lr: 1e-9 },
          batchSize: 64,
          steps: 100,
          logEvery: 10,
          seed: 1,
        })
      ).history.map((h) => h.energyNeg ?? NaN);
    const kept = await energyNeg(0);
    const fresh = await energyNeg(1);
    console.log(
      `      energyNeg per report: reinit 0 ${kept.map((v) => v.toFixed(3)).join(' ')}; ` +
        `reinit 1 ${fresh.map((v) => v.toFixed(3)).join(' ')}`,
    );
    for (let i = 1; i < kept.length; i++) assert.ok(kept[i] < kept[i - 1], `reinit 0: report ${i} did not descend`);
    assert.ok(kept[0] - kept[kept.length - 1] > 1, 'persistent chains descend far over 100 steps');
    const freshRange = Math.max(...fresh) - Math.min(...fresh);
    assert.ok(freshRange < 0.1, `reinit 1 restarts every chain: flat energyNeg (range ${freshRange})`);
    assert.ok(kept[kept.length - 1] < Math.min(...fresh) - 1);
  });

  it("CD with the 'wgf' sampler uses the gradient flow's particles as negatives", async () => {
    const model = mlp();
    const batch = ebm.datasets.toy('8gaussians', 64, 2);
    const spread = (x: ebm.Tensor) => {
      const n = x.shape[0];
      const mx = [0, 1].map((d) => mean(Array.from({ length: n }, (_, i) => x.data[2 * i + d])));
      let s = 0;
      for (let i = 0; i < n; i++) s += (x.data[2 * i] - mx[0]) ** 2 + (x.data[2 * i + 1] - mx[1]) ** 2;
      return Math.sqrt(s / n);
    };
    const results: Record<string, { energyNeg: number; sampled: number; spread: number }> = {};
    for (const [name, extra] of [
      ['repulsion', {}],
      ['no repulsion', { repulsion: false }],
    ] as Array<[string, Partial<ebm.WgfConfig>]>) {
      const sampler: ebm.WgfConfig = { kind: 'wgf', steps: 10, stepSize: 0.05, ...extra };
      const ev = await ebm.evaluateLoss(model, batch, { kind: 'cd', alpha: 0, sampler });
      // the sampler is deterministic: the same flow started at the batch gives CD's negatives
      const particles = await ebm.sample(model, { sampler, init: batch });
      const sampled = mean(await model.energy(particles));
      assert.ok(
        Math.abs(ev.metrics.energyNeg - sampled) < 1e-6,
        `${name}: CD's energyNeg ${ev.metrics.energyNeg} is the mean energy of the flow's particles ${sampled}`,
      );
      assert.ok(Math.abs(ev.loss - (ev.metrics.energyPos - ev.metrics.energyNeg)) < 1e-6, 'alpha 0: loss = E+ - E-');
      results[name] = { energyNeg: ev.metrics.energyNeg, sampled, spread: spread(particles) };
    }
    console.log(`      ${JSON.stringify(results)}`);
    // the kernel terms act: the particles spread out and climb in energy compared with plain descent
    assert.ok(results['repulsion'].spread > results['no repulsion'].spread + 0.1);
    assert.ok(results['repulsion'].energyNeg > results['no repulsion'].energyNeg + 1e-3);

    // in training: without repulsion, Euler steps of the flow are exactly noise-free Langevin steps;
    // with repulsion the history differs. One epoch (640 rows, 10 batches of 64): one shuffle only.
    const data = ebm.datasets.toy('8gaussians', 640, 3);
    const history = async (sampler: ebm.SamplerConfig) =>
      (
        await ebm.train(mlp(), data, {
          loss: { kind: 'cd', sampler },
          batchSize: 64,
          steps: 10,
          logEvery: 2,
          seed: 5,
        })
      ).history.map((h) => [h.loss, h.energyNeg ?? NaN]);
    const plainFlow = await history({ kind: 'wgf', steps: 5, stepSize: 0.05, repulsion: false, integrator: 'euler' });
    const descent = await history({ kind: 'langevin', steps: 5, stepSize: 0.05, noiseScale: 0 });
    const flow = await history({ kind: 'wgf', steps: 5, stepSize: 0.05 });
    for (let i = 0; i < descent.length; i++) {
      assert.ok(maxAbsDiff(plainFlow[i], descent[i]) < 1e-6, `report ${i}: ${plainFlow[i]} vs ${descent[i]}`);
    }
    assert.ok(flow.every(([l, e]) => Number.isFinite(l) && Number.isFinite(e)));
    assert.ok(maxAbsDiff(flow.flat(), descent.flat()) > 1e-4, 'the repulsion changes the negatives');
  });

  it('cancels CD inside a very long sampler chain within a second; the model keeps its weights', async () => {
    const data = ebm.datasets.toy('8gaussians', 256, 0);
    // how long one CD step with this chain takes: time a chain 100x shorter
    const t0 = performance.now();
    await ebm.train(mlp(), data, {
      loss: { kind: 'cd', sampler: { kind: 'langevin', steps: 2000, stepSize: 0.01 } },
      batchSize: 64,
      steps: 1,
    });
    const oneStepMs = (performance.now() - t0) * 100;
    assert.ok(oneStepMs > 2000, `one step of the long chain takes far more than the abort budget (${oneStepMs} ms)`);

    const model = mlp();
    const initial = await flatParameters(model);
    const controller = new AbortController();
    let reports = 0;
    const running = ebm.train(model, data, {
      loss: { kind: 'cd', sampler: { kind: 'langevin', steps: 200000, stepSize: 0.01 } },
      batchSize: 64,
      steps: 3,
      logEvery: 1,
      signal: controller.signal,
      onProgress: () => reports++,
    });
    await new Promise((r) => setTimeout(r, 300));
    const abortedAt = performance.now();
    controller.abort();
    const err = await rejectsWith(
      running,
      ebm.EbmAbortError,
      /training was aborted after \d+ steps \(during step \d+'s negative sampling\)/,
    );
    const latency = performance.now() - abortedAt;
    console.log(
      `      one step of the 200000-step chain ≈ ${(oneStepMs / 1000).toFixed(1)} s; stopped ${latency.toFixed(0)} ms after the abort`,
    );
    assert.equal(err.name, 'AbortError');
    assert.ok(latency < 1000, `took ${latency.toFixed(0)} ms to stop`);
    assert.equal(reports, 0, 'no step completed');
    assert.deepEqual(await flatParameters(model), initial, 'the model keeps the weights of its last completed step');
    const e = await model.energy(ebm.tensor([0, 0, 1, 1], [2, 2]));
    assert.ok(e.every(Number.isFinite));
    const again = await ebm.train(model, data, { loss: ed, batchSize: 64, steps: 2 });
    assert.equal(again.steps, 2, 'the model is not left locked');
  });

  it('writes checkpoints during the run (every 50 steps), holding the weights of that step', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'mid.safetensors');
    const data = ebm.datasets.toy('moons', 500, 0);
    const config = (steps: number): ebm.TrainConfig => ({
      loss: ed,
      optimizer: { kind: 'adam', lr: 1e-2 },
      batchSize: 50,
      steps,
      seed: 6,
      logEvery: 10,
    });
    assert.equal(fs.existsSync(file), false);
    const controller = new AbortController();
    let existsAtReport60: boolean | undefined;
    const running = ebm.train(mlp(), data, {
      ...config(10_000_000),
      checkpoint: { path: file, every: 50 },
      signal: controller.signal,
      onProgress: (p) => {
        // the step-50 checkpoint is written before steps 51..60 run, so it exists at report 60
        if (existsAtReport60 === undefined && p.step >= 60) existsAtReport60 = fs.existsSync(file);
        if (p.step >= 120) controller.abort();
      },
    });
    const err = await rejectsWith(running, ebm.EbmAbortError, /aborted after (\d+) steps/);
    const stopped = Number(/aborted after (\d+) steps/.exec(err.message)![1]);
    console.log(`      file present at report 60: ${existsAtReport60}; stopped after ${stopped} steps`);
    assert.equal(existsAtReport60, true, 'the step-50 checkpoint exists while the run goes on');
    assert.ok(stopped >= 120);
    assert.match(err.message, /the training state was saved to/);
    // the abort writes the state of the last completed step (see test/resume.test.ts for resuming it)
    const written = stopped;
    const loaded = await ebm.loadModel(file);
    const reference = mlp();
    await ebm.train(reference, data, config(written));
    assert.deepEqual(await flatParameters(loaded), await flatParameters(reference), `the weights of step ${written}`);
  });

  it('SGD momentum: step 1 equals plain SGD, step 2 adds momentum × the first update; it trains', async () => {
    const data = ebm.datasets.toy('8gaussians', 512, 0);
    const run = async (momentum: number, steps: number) => {
      const m = mlp();
      const r = await ebm.train(m, data, {
        loss: ed,
        optimizer: { kind: 'sgd', lr: 0.05, momentum },
        batchSize: 64,
        steps,
        logEvery: Math.min(steps, 50),
        seed: 4,
      });
      return { w: await flatParameters(m), loss: r.history.map((h) => h.loss) };
    };
    const w0 = await flatParameters(mlp());
    const [w1, w2, m1, m2] = [(await run(0, 1)).w, (await run(0, 2)).w, (await run(0.9, 1)).w, (await run(0.9, 2)).w];
    assert.deepEqual(m1, w1, 'the first step has no momentum yet');
    // the second gradient is the same in both runs (same weights after step 1, same batch and noise)
    const predicted = w2.map((v, i) => v + 0.9 * (w1[i] - w0[i]));
    const err = maxAbsDiff(m2, predicted);
    console.log(
      `      momentum: max |w2 - (w2 plain + 0.9 (w1 - w0))| ${err.toExponential(2)}, |w2 - w2 plain| ${distance(m2, w2).toFixed(4)}`,
    );
    assert.ok(err < 1e-6);
    assert.ok(distance(m2, w2) > 1e-2);
    const long = (await run(0.9, 300)).loss;
    console.log(`      ED loss with momentum 0.9 per 50 steps: ${long.map((v) => v.toFixed(3)).join(' ')}`);
    assert.ok(long.every(Number.isFinite));
    assert.ok(long[long.length - 1] < long[0] - 0.1, 'the loss falls');
  });

  it("the 'constant' schedule keeps lr constant; its warm-up scales the first SGD update", async () => {
    const data = ebm.datasets.toy('8gaussians', 512, 0);
    const run = async (schedule: ebm.ScheduleConfig | undefined, steps: number) => {
      const m = mlp();
      const r = await ebm.train(m, data, {
        loss: ed,
        optimizer: { kind: 'sgd', lr: 0.02 },
        ...(schedule ? { schedule } : {}),
        batchSize: 64,
        steps,
        logEvery: 1,
        seed: 9,
      });
      return { w: await flatParameters(m), lr: r.history.map((h) => h.lr) };
    };
    assert.deepEqual((await run({ kind: 'constant' }, 8)).lr, Array(8).fill(0.02));
    const warm = await run({ kind: 'constant', warmupSteps: 4 }, 8);
    const expectedLr = [0.005, 0.01, 0.015, 0.02, 0.02, 0.02, 0.02, 0.02];
    assert.ok(maxAbsDiff(warm.lr, expectedLr) < 1e-15, `lr ${warm.lr}`);
    // the optimiser really uses it: the first warm-up step moves the weights by a quarter
    const w0 = await flatParameters(mlp());
    const full = (await run(undefined, 1)).w;
    const quarter = (await run({ kind: 'constant', warmupSteps: 4 }, 1)).w;
    const err = maxAbsDiff(
      quarter.map((v, i) => v - w0[i]),
      full.map((v, i) => (v - w0[i]) / 4),
    );
    assert.ok(err < 1e-7, `max diff ${err}`);
  });

  it('replacement: true draws batches with replacement; false visits every row once per epoch', async () => {
    // Full batches of a 64-row set on a frozen model: without replacement every batch is the whole
    // set, so the mean positive energy is the same at every step; with replacement it varies.
    const data = ebm.datasets.toy('8gaussians', 64, 0);
    const energyPos = async (replacement: boolean, seed = 0) =>
      (
        await ebm.train(mlp(), data, {
          loss: ed,
          optimizer: { kind: 'sgd', lr: 1e-9 },
          batchSize: 64,
          steps: 10,
          logEvery: 1,
          replacement,
          seed,
        })
      ).history.map((h) => h.energyPos ?? NaN);
    const without = await energyPos(false);
    const withR = await energyPos(true);
    const range = (a: number[]) => Math.max(...a) - Math.min(...a);
    console.log(
      `      energyPos range over 10 full batches: without ${range(without).toExponential(2)}, with ${range(withR).toExponential(2)}`,
    );
    assert.ok(range(without) < 1e-6);
    assert.ok(range(withR) > 1e-3);
    assert.deepEqual(await energyPos(true), withR, 'deterministic for a seed');
    assert.notDeepEqual(await energyPos(true, 1), withR);
    // and a batch larger than the dataset is allowed with replacement
    const big = await ebm.train(mlp(), ebm.datasets.toy('moons', 50, 0), {
      loss: ed,
      batchSize: 128,
      steps: 20,
      replacement: true,
    });
    assert.ok(big.history.every((h) => Number.isFinite(h.loss)));
  });

  it('DiffCLF clips the gradient norm at 1.0 by default (ED does not clip by default)', async () => {
    // output weights scaled up so the raw gradient norm is far above 1
    const steep = async (timeConditioned: boolean) => {
      const m = mlp({ timeConditioned });
      const p = await m.parameters();
      const w = p['out.weight'];
      await m.setParameters({
        'out.weight': ebm.tensor(
          w.data.map((v) => v * 100),
          w.shape,
        ),
      });
      return m;
    };
    const data = ebm.datasets.toy('8gaussians', 256, 0);
    const lr = 0.01;
    const step = async (loss: ebm.LossConfig, gradClip?: number) => {
      const m = await steep(loss.kind === 'diffclf');
      const before = await flatParameters(m);
      const r = await ebm.train(m, data, {
        loss,
        optimizer: { kind: 'sgd', lr },
        batchSize: 64,
        steps: 1,
        seed: 0,
        ...(gradClip === undefined ? {} : { gradClip }),
      });
      const after = await flatParameters(m);
      return { after, moved: distance(after, before), gradNorm: r.history[0].gradNorm ?? NaN };
    };
    const diffclf: ebm.LossConfig = { kind: 'diffclf', path: 'vp', levels: 16, k: 4, clfWeight: 1 };
    const byDefault = await step(diffclf);
    const clip1 = await step(diffclf, 1);
    const off = await step(diffclf, 0);
    console.log(
      `      DiffCLF: raw gradNorm ${byDefault.gradNorm.toFixed(2)}; weights moved ${byDefault.moved.toFixed(5)} (default), ` +
        `${clip1.moved.toFixed(5)} (gradClip 1), ${off.moved.toFixed(5)} (gradClip 0)`,
    );
    assert.ok(byDefault.gradNorm > 10, 'the reported gradNorm is the raw norm, before clipping');
    assert.deepEqual(byDefault.after, clip1.after, 'the default is gradClip: 1');
    assert.ok(byDefault.moved <= lr * 1.0001, 'a clipped SGD step moves the weights by at most lr × 1');
    assert.ok(byDefault.moved > lr * 0.9);
    assert.ok(off.moved > lr * 10, 'without the clip the step is lr × the raw norm');
    const edDefault = await step(ed);
    const edOff = await step(ed, 0);
    const edClip = await step(ed, 1);
    assert.ok(edDefault.gradNorm > 1, `ED raw gradNorm ${edDefault.gradNorm}`);
    assert.deepEqual(edDefault.after, edOff.after, 'ED: no clipping by default');
    assert.notDeepEqual(edDefault.after, edClip.after);
  });
});

describe('training configs are rejected before any native work', () => {
  const data = ebm.datasets.toy('8gaussians', 100, 0);
  const timeModel = mlp({ timeConditioned: true });
  const bad: Array<[string, () => Promise<unknown>, RegExp]> = [
    [
      'negative t',
      () => ebm.train(mlp(), data, { loss: { ...ed, t: -1 }, batchSize: 10, steps: 5 }),
      /config\.loss\.t must be > 0/,
    ],
    [
      'm = 0',
      () => ebm.train(mlp(), data, { loss: { ...ed, m: 0 }, batchSize: 10, steps: 5 }),
      /config\.loss\.m must be >= 1/,
    ],
    [
      'unknown loss kind',
      () => ebm.train(mlp(), data, { loss: { kind: 'nce' } as unknown as ebm.LossConfig, batchSize: 10, steps: 5 }),
      /config\.loss\.kind must be one of 'ed', 'dsm'/,
    ],
    [
      'batch larger than the dataset without replacement',
      () => ebm.train(mlp(), data, { loss: ed, batchSize: 101, steps: 5 }),
      /config\.batchSize \(101\) is larger than the dataset \(100 rows\)/,
    ],
    [
      'DiffCLF K larger than the level count',
      () =>
        ebm.train(timeModel, data, {
          loss: { kind: 'diffclf', path: 'vp', levels: 4, k: 8, clfWeight: 1 },
          batchSize: 10,
          steps: 5,
        }),
      /config\.loss\.k must be <= levels \(4\), got 8/,
    ],
    [
      'a loss that needs a time-conditioned model',
      () => ebm.train(mlp(), data, { loss: { kind: 'dsm', path: 'vp' }, batchSize: 10, steps: 5 }),
      /needs a model with timeConditioned: true/,
    ],
    ['zero steps', () => ebm.train(mlp(), data, { loss: ed, batchSize: 10, steps: 0 }), /config\.steps must be >= 1/],
    [
      'non-positive learning rate',
      () => ebm.train(mlp(), data, { loss: ed, batchSize: 10, steps: 5, optimizer: { kind: 'adam', lr: 0 } }),
      /config\.optimizer\.lr must be > 0/,
    ],
    [
      'unknown optimizer',
      () =>
        ebm.train(mlp(), data, {
          loss: ed,
          batchSize: 10,
          steps: 5,
          optimizer: { kind: 'lbfgs', lr: 1 } as unknown as ebm.OptimizerConfig,
        }),
      /config\.optimizer\.kind must be one of 'adam', 'adamw', 'sgd'/,
    ],
    [
      'EMA decay of 1',
      () => ebm.train(mlp(), data, { loss: ed, batchSize: 10, steps: 5, ema: { decay: 1 } }),
      /config\.ema\.decay must be <= /,
    ],
    [
      'Langevin step size 0 inside CD',
      () =>
        ebm.train(mlp(), data, {
          loss: { kind: 'cd', sampler: { kind: 'langevin', steps: 5, stepSize: 0 } },
          batchSize: 10,
          steps: 5,
        }),
      /config\.loss\.sampler\.stepSize must be > 0/,
    ],
    [
      'checkpoints between reports',
      () =>
        ebm.train(mlp(), data, {
          loss: ed,
          batchSize: 10,
          steps: 50,
          logEvery: 10,
          checkpoint: { path: '/tmp/never.safetensors', every: 25 },
        }),
      /config\.checkpoint\.every \(25\) must be a multiple of logEvery \(10\)/,
    ],
    [
      'misspelt option',
      () => ebm.train(mlp(), data, { loss: ed, batchSize: 10, steps: 5, stpes: 3 } as unknown as ebm.TrainConfig),
      /config\.stpes is not a known option/,
    ],
  ];
  for (const [name, fn, pattern] of bad) {
    it(name, async () => {
      const addon = native();
      const original = addon.train;
      let called = false;
      addon.train = (...args) => {
        called = true;
        return original(...args);
      };
      try {
        await rejectsWith(fn(), ebm.EbmConfigError, pattern);
      } finally {
        addon.train = original;
      }
      assert.equal(called, false, 'native training was started');
    });
  }

  it('data of the wrong width and data with NaN', async () => {
    await rejectsWith(
      ebm.train(mlp(), ebm.tensor([1, 2, 3], [1, 3]), { loss: ed, batchSize: 1, steps: 1 }),
      ebm.EbmShapeError,
      /data must have shape \[N, 2\]/,
    );
    await rejectsWith(
      ebm.train(mlp(), ebm.tensor([1, NaN, 3, 4], [2, 2]), { loss: ed, batchSize: 1, steps: 1 }),
      ebm.EbmNumericsError,
      /data contains a non-finite value/,
    );
    assert.ok(fs.existsSync(__filename));
  });
});
