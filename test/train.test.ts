import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { native } from '../lib/native';
import { rejectsWith, tmpDir } from './helpers';

const mlp = (extra: Partial<ebm.MlpConfig> = {}): ebm.EnergyModel =>
  ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [32, 32], device: 'cpu', ...extra });
const ed: ebm.LossConfig = { kind: 'ed', t: 1, m: 4, w: 1 };

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
      for (const k of ['loss', 'energyPos', 'energyNeg', 'gap', 'gradNorm', 'stepsPerSecond', 'lr']) {
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

  it('stops on a non-finite loss with EbmNumericsError and keeps finite weights', async () => {
    const model = mlp({ activation: 'softplus' });
    const x = ebm.datasets.toy('8gaussians', 256, 0);
    const big = ebm.tensor(
      x.data.map((v) => v * 1e4),
      x.shape,
    );
    await rejectsWith(
      ebm.train(model, big, {
        loss: { kind: 'cd', alpha: 0, sampler: { kind: 'langevin', steps: 1, stepSize: 1 } },
        optimizer: { kind: 'sgd', lr: 10 },
        batchSize: 64,
        steps: 200,
        logEvery: 5,
      }),
      ebm.EbmNumericsError,
      /became non-finite between steps \d+ and \d+; the model keeps the weights of step \d+/,
    );
    for (const [name, t] of Object.entries(await model.parameters())) {
      assert.ok(t.data.every(Number.isFinite), `${name} is not finite`);
    }
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
    assert.ok(run.history[0].gradNorm > 1e-2, 'the raw gradients are far larger than the clip');
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
