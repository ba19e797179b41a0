import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as ebm from '../lib';
import { rejectsWith } from './helpers';

// Jobs on one model run one at a time, in call order, queued in JS rather than on libuv's thread
// pool (4 threads by default): a job waiting for its model must not hold a pool thread.
describe('jobs on one model', () => {
  const data = ebm.datasets.toy('8gaussians', 4096, 0);
  const model = (): ebm.EnergyModel =>
    ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [64, 64], device: 'cpu', seed: 0 });
  const run = (m: ebm.EnergyModel, steps: number, extra: Partial<ebm.TrainConfig> = {}): Promise<ebm.TrainRun> =>
    ebm.train(m, data, {
      loss: { kind: 'ed', t: 1, m: 16, w: 1 },
      optimizer: { kind: 'adam', lr: 1e-2 },
      batchSize: 128,
      steps,
      seed: 0,
      ...extra,
    });
  /** 200 steps: long enough that calls made meanwhile have to wait */
  const shortRun = (m: ebm.EnergyModel): Promise<ebm.TrainRun> => run(m, 200);
  /** a run that lasts until its signal aborts it */
  const longRun = (m: ebm.EnergyModel, signal: AbortSignal, extra: Partial<ebm.TrainConfig> = {}) =>
    run(m, 100000, { signal, ...extra });
  const x = ebm.datasets.toy('8gaussians', 8, 1);

  it('leave the thread pool free while they wait (file reads finish during training)', async () => {
    const m = model();
    const stop = new AbortController();
    let trainingSettled = false;
    const training = longRun(m, stop.signal)
      .catch((e: unknown) => e)
      .finally(() => {
        trainingSettled = true;
      });
    const timer = setTimeout(() => stop.abort(), 1500); // the run ends in 1.5 s either way
    // Eight calls queued behind the training run: with the wait on the pool they would hold all
    // four threads and the read below would wait for the whole run.
    const queued = Array.from({ length: 8 }, () => m.energy(x));
    const t0 = performance.now();
    await fs.promises.readFile(__filename);
    const readMs = performance.now() - t0;
    const readDuringTraining = !trainingSettled;
    clearTimeout(timer);
    stop.abort();
    assert.ok((await training) instanceof ebm.EbmAbortError);
    const energies = await Promise.all(queued);
    // ordering, not a time limit: the read completed while the 100000-step run still held the model
    assert.ok(readDuringTraining, `the read waited for the training run (${readMs.toFixed(0)} ms)`);
    for (const e of energies) assert.deepEqual(e, energies[0]);
  });

  it('run in call order; a queued call sees the weights the run before it left, and its input as it was', async () => {
    const m = model();
    const before = await m.energy(x);
    const training = shortRun(m);
    const input = ebm.tensor(Float32Array.from(x.data), x.shape);
    const queued = m.energy(input);
    input.data.fill(100); // written after the call: the queued job must not see it
    await training;
    const after = await m.energy(x);
    const got = await queued;
    assert.deepEqual(got, after, 'the queued call ran after training, on the original rows');
    assert.ok(Math.abs(got[0] - before[0]) > 1e-3, 'training changed the energies');
  });

  it('a composition waits for a job on one of its parts', async () => {
    const part = model();
    const other = model();
    const product = ebm.compose([{ model: part }, { model: other, weight: 2 }]);
    const training = shortRun(part);
    const composed = product.energy(x);
    await training;
    const [p, o, c] = [await part.energy(x), await other.energy(x), await composed];
    for (let i = 0; i < c.length; i++) assert.ok(Math.abs(c[i] - (p[i] + 2 * o[i])) < 1e-4, `row ${i}`);
  });

  it('an abort while waiting rejects at once and the job never starts', async () => {
    const m = model();
    const stop = new AbortController();
    const training = longRun(m, stop.signal).catch((e: unknown) => e);
    const cancel = new AbortController();
    let progressed = false;
    const sampling = ebm.sample(m, {
      n: 100,
      seed: 0,
      sampler: { kind: 'langevin', steps: 10, stepSize: 0.01 },
      signal: cancel.signal,
      onProgress: () => {
        progressed = true;
      },
    });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    cancel.abort();
    await rejectsWith(sampling, ebm.EbmAbortError, /sampling was aborted before it started/);
    assert.ok(performance.now() - t0 < 100, 'rejected while the training run still holds the model');
    stop.abort();
    assert.ok((await training) instanceof ebm.EbmAbortError);
    assert.equal(progressed, false);
    // the model is free again
    assert.equal((await m.energy(x)).length, 8);
  });

  it('a queued run that has started is aborted by the run itself (its step count), not as "before it started"', async () => {
    const m = model();
    const first = shortRun(m);
    const stop = new AbortController();
    let reports = 0;
    const second = longRun(m, stop.signal, {
      logEvery: 10,
      onProgress: () => {
        if (++reports === 3) stop.abort();
      },
    });
    await first;
    await rejectsWith(second, ebm.EbmAbortError, /training was aborted after \d+ steps/);
    assert.ok(reports >= 3, 'it ran before the abort');
  });

  it('a queued call uses the options as they were at the call', async () => {
    const m = model();
    const stop = new AbortController();
    const training = longRun(m, stop.signal).catch((e: unknown) => e);
    const options = { n: 50, seed: 1, sampler: { kind: 'langevin', steps: 5, stepSize: 0.01 } as ebm.SamplerConfig };
    const a = ebm.sample(m, options);
    options.seed = 2;
    const b = ebm.sample(m, options);
    options.seed = 3;
    options.n = 7;
    setTimeout(() => stop.abort(), 200);
    await training;
    const [ra, rb] = [await a, await b];
    assert.deepEqual(
      [ra.shape, rb.shape],
      [
        [50, 2],
        [50, 2],
      ],
    );
    const again = await ebm.sample(m, { ...options, n: 50, seed: 1 });
    assert.deepEqual(ra.data, again.data, 'seed 1, as at the first call');
    assert.notDeepEqual(ra.data, rb.data);
  });
});
