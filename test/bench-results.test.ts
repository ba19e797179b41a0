import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import {
  BenchResults,
  mergeConflict,
  mergeResults,
  renderPerformance,
  readmePath,
  resultsPath,
  runOf,
} from '../bench/readme';

// bench/results.json after a run with --only: the rows it measured replace theirs, every other row
// keeps the run that measured it, and the README names each run with its own load average.
const stored = JSON.parse(fs.readFileSync(resultsPath, 'utf8')) as BenchResults;

function fileOf(command: string, generated: string, load: number, names: string[], peakThreads: number[]) {
  const results: BenchResults = {
    ...stored,
    command,
    generated,
    machine: { ...stored.machine, loadAverageStart: load, loadAverageEnd: load + 0.5 },
    peaks: peakThreads.map((threads) => ({ threads, gemm: 100 * threads + load, conv: 10, ed_hidden: 50 })),
    workloads: stored.workloads
      .filter((w) => names.includes(w.name))
      .map((w) => ({ ...w, ratio: load, run: undefined })),
  };
  for (const w of results.workloads) w.run = runOf(results);
  return results;
}

describe('bench results: merging a run with --only', () => {
  const order = stored.workloads.map((w) => w.name);
  const [first, second] = order;

  it('keeps the other rows with the run that measured them, and every thread count’s peak', () => {
    const full = fileOf('npm run bench', '2026-01-01T10:00:00Z', 1, order, [2, 1]);
    const partial = fileOf(`npm run bench -- --only ${second}`, '2026-01-02T10:00:00Z', 3, [second], [2]);
    const merged = mergeResults(full, partial, order);
    assert.deepEqual(
      merged.workloads.map((w) => w.name),
      order,
    );
    for (const w of merged.workloads) {
      const from = w.name === second ? partial : full;
      assert.equal(w.ratio, from === partial ? 3 : 1, w.name);
      assert.deepEqual(w.run, runOf(from), w.name);
    }
    assert.deepEqual(
      merged.peaks?.map((p) => [p.threads, p.gemm]),
      [
        [2, 203],
        [1, 101],
      ],
    );
    const text = renderPerformance(merged).replace(/\s+/g, ' ');
    assert.match(
      text,
      new RegExp(
        `the \`${second}\` row by \`npm run bench -- --only ${second}\` on 2026-01-02 \\(load average 3\\.0 at the start and 3\\.5 at the end\\)`,
      ),
    );
    assert.match(
      text,
      /every other row by `npm run bench` on 2026-01-01 \(load average 1\.0 at the start and 1\.5 at the end\)/,
    );
  });

  it('a file from before rows recorded their run: the file’s own run is theirs', () => {
    const old = fileOf('npm run bench', '2026-01-01T10:00:00Z', 1, order, [2]);
    for (const w of old.workloads) delete w.run;
    const partial = fileOf(`npm run bench -- --only ${first}`, '2026-01-03T10:00:00Z', 2, [first], [2]);
    const merged = mergeResults(old, partial, order);
    assert.deepEqual(merged.workloads.find((w) => w.name === second)?.run, runOf(old));
    assert.equal(merged.peaks?.length, 1);
    assert.equal(merged.peaks?.[0].gemm, 202);
  });

  it('refuses to merge a run under another BLAS kernel, thread setting or LibTorch', () => {
    const versions = { libtorch: stored.versions.libtorch, pythonTorch: stored.versions.pythonTorch };
    assert.equal(mergeConflict(stored, stored.threads, versions), undefined);
    const unpinned = { ...stored.threads, OPENBLAS_CORETYPE: stored.threads.OPENBLAS_CORETYPE ? undefined : 'Haswell' };
    assert.match(mergeConflict(stored, unpinned, versions) ?? '', /OPENBLAS_CORETYPE .* there, .* here/);
    assert.ok(
      (mergeConflict(stored, { ...stored.threads, ours: 77 }, versions) ?? '').includes(
        `ours ${stored.threads.ours} there, 77 here`,
      ),
    );
    assert.ok(
      (mergeConflict(stored, stored.threads, { ...versions, libtorch: '9.9.9' }) ?? '').includes(
        `LibTorch ${stored.versions.libtorch} there, 9.9.9 here`,
      ),
    );
  });

  it('one run: every row by it', () => {
    const text = renderPerformance(fileOf('npm run bench', '2026-01-01T10:00:00Z', 1, order, [2])).replace(/\s+/g, ' ');
    assert.match(text, /every row by `npm run bench` on 2026-01-01/);
    assert.doesNotMatch(text, /every other row/);
  });

  it('the stored results name a run for every row, and the README shows them', () => {
    const readme = fs.readFileSync(readmePath, 'utf8');
    for (const w of stored.workloads) assert.ok(w.run, `${w.name} has no run`);
    assert.ok(readme.includes(renderPerformance(stored)), 'README Performance is not bench/results.json’s');
  });
});
