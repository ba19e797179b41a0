/**
 * Training reads its dataset in place (native/bindings/tensor_bridge.cc: the Float32Array's memory,
 * held through V8's backing store), so a dataset is in memory once, not twice. Each check runs in
 * a child process: a broken hold would crash it, and the crash is reported here as a failure.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';

const lib = JSON.stringify(path.join(__dirname, '..', 'lib'));

function runChild(body: string): Record<string, unknown> {
  const script = `
const ebm = require(${lib});
const v8 = require('v8');
const vm = require('vm');
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const rows = (n) => {
  // 8 tight clusters on a circle, deterministic
  const a = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const k = i % 8, r = ((i * 7919) % 1000) / 1000 - 0.5;
    a[2 * i] = 2 * Math.cos((k * Math.PI) / 4) + 0.1 * r;
    a[2 * i + 1] = 2 * Math.sin((k * Math.PI) / 4) - 0.1 * r;
  }
  return a;
};
const maxParameterDiff = async (x, y) => {
  const [a, b] = [await x.parameters(), await y.parameters()];
  let diff = 0;
  for (const k of Object.keys(a)) a[k].data.forEach((v, i) => { diff = Math.max(diff, Math.abs(v - b[k].data[i])); });
  return diff;
};
const cfg = { kind: 'mlp', inputDim: 2, hidden: [16], device: 'cpu', seed: 2 };
const options = (onProgress, steps = 400) => ({ loss: { kind: 'ed', t: 1, m: 4, w: 1 }, optimizer: { kind: 'adam', lr: 1e-2 },
  batchSize: 64, steps, logEvery: 20, seed: 1, onProgress });
(async () => { ${body} })().catch((e) => { console.error(e); process.exit(1); });
`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `child exited with ${r.status} (signal ${r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

describe('training datasets are read in place', () => {
  it('a dataset whose ArrayBuffer is transferred away and collected mid-run still trains to the same weights', function () {
    this.timeout(120_000);
    // 10M floats (40 MB): its memory is its own mapping, unmapped when freed, so reading it after
    // the free would crash the child rather than read stale values
    const out = runChild(`
      const n = 5_000_000;
      const reference = ebm.energyModel(cfg);
      await ebm.train(reference, ebm.tensor(rows(n), [n, 2]), options());
      const model = ebm.energyModel(cfg);
      let data = rows(n);
      let detachedLength = -1;
      await ebm.train(model, ebm.tensor(data, [n, 2]), options((p) => {
        if (detachedLength >= 0) return;
        // transfer the buffer to a clone, drop the clone, collect: only the run's hold keeps the memory
        structuredClone(data.buffer, { transfer: [data.buffer] });
        detachedLength = data.length;
        data = null;
        gc();
        gc();
      }));
      const diff = await maxParameterDiff(reference, model);
      console.log(JSON.stringify({ detachedLength, diff }));
    `);
    assert.equal(out.detachedLength, 0, 'the buffer was detached during the run');
    assert.equal(out.diff, 0);
  });

  it('writes to the dataset while a run reads it reach the run (no copy is taken)', function () {
    this.timeout(120_000);
    // Documented: do not write to a dataset until its run settles. This shows that the run does
    // read the caller's memory: the same run, with the rows moved mid-run, ends elsewhere.
    const out = runChild(`
      const n = 4096;
      const reference = ebm.energyModel(cfg);
      await ebm.train(reference, ebm.tensor(rows(n), [n, 2]), options(undefined, 3000));
      const model = ebm.energyModel(cfg);
      const data = rows(n);
      let reports = 0;
      await ebm.train(model, ebm.tensor(data, [n, 2]), options(() => {
        if (++reports === 5) data.fill(50);
      }, 3000));
      const diff = await maxParameterDiff(reference, model);
      console.log(JSON.stringify({ diff }));
    `);
    assert.ok((out.diff as number) > 1e-2, `max parameter difference ${out.diff as number}`);
  });
});
