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
  const longRun = (m: ebm.EnergyModel, signal?: AbortSignal): Promise<ebm.TrainRun> =>
    ebm.train(m, data, {
      loss: { kind: 'ed', t: 1, m: 16, w: 1 },
      optimizer: { kind: 'adam', lr: 1e-3 },
      batchSize: 256,
      steps: 100000,
      seed: 0,
      ...(signal ? { signal } : {}),
    });
  const x = ebm.datasets.toy('8gaussians', 8, 1);

  it('leave the thread pool free while they wait (file reads finish during training)', async () => {
    const m = model();
    const stop = new AbortController();
    const training = longRun(m, stop.signal).catch((e: unknown) => e);
    const timer = setTimeout(() => stop.abort(), 1500); // the run ends in 1.5 s either way
    // Eight calls queued behind the training run: with the wait on the pool they would hold all
    // four threads and the read below would wait for the whole run.
    const queued = Array.from({ length: 8 }, () => m.energy(x));
    const t0 = performance.now();
    await fs.promises.readFile(__filename);
    const readMs = performance.now() - t0;
    clearTimeout(timer);
    stop.abort();
    assert.ok((await training) instanceof ebm.EbmAbortError);
    const energies = await Promise.all(queued);
    assert.ok(readMs < 500, `the read took ${readMs.toFixed(0)} ms`);
    for (const e of energies) assert.deepEqual(e, energies[0]);
  });

  it('run in call order; a queued call sees the weights the run before it left, and its input as it was', async () => {
    const m = model();
    const before = await m.energy(x);
    const training = ebm.train(m, data, {
      loss: { kind: 'ed', t: 1, m: 4, w: 1 },
      optimizer: { kind: 'adam', lr: 1e-2 },
      batchSize: 128,
      steps: 200,
      seed: 0,
    });
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
    const training = ebm.train(part, data, {
      loss: { kind: 'ed', t: 1, m: 4, w: 1 },
      optimizer: { kind: 'adam', lr: 1e-2 },
      batchSize: 128,
      steps: 200,
      seed: 0,
    });
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
});
