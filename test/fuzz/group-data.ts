/** datasets.*: toys, file readers and writers, transforms, Fashion-MNIST, Gaussian mixtures, image folders. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as ebm from '../../lib';
import { pathRanges } from './config-specs';
import { entriesFor, entry, existingFile, fixed, grid, scratchDir, tensorArg, writablePath } from './fixtures';
import { casesOf, Entry, Group } from './harness';
import { arr, bool, custom, int, num, obj, oneOf, opt, positive, Spec, str, tuple, union } from './spec';

const { datasets } = ebm;
const idxArrays = [Uint8Array, Int8Array, Int16Array, Int32Array, Float32Array, Float64Array];
const sumsToOne = (w: readonly unknown[]) => Math.abs((w as number[]).reduce((a, b) => a + b, 0) - 1) <= 1e-6;

/** Files the readers are pointed at: one good file each, and the same bad ones for all. */
function files(dir: string) {
  const good = {
    idx: path.join(dir, 'good.idx'),
    npy: path.join(dir, 'good.npy'),
    csv: path.join(dir, 'good.csv'),
  };
  datasets.writeIdx(good.idx, Uint8Array.of(1, 2, 3, 4), [2, 2]);
  datasets.writeNpy(good.npy, grid(2, [2]));
  fs.writeFileSync(good.csv, 'a,b\n1,2\n3,4\n');
  const text = path.join(dir, 'notes.txt');
  fs.writeFileSync(text, 'not data\n');
  const empty = path.join(dir, 'empty.bin');
  fs.writeFileSync(empty, '');
  const truncated = path.join(dir, 'truncated.idx');
  fs.writeFileSync(truncated, fs.readFileSync(good.idx).subarray(0, 9));
  const images = path.join(dir, 'images');
  fs.mkdirSync(images);
  const png = new PNG({ width: 4, height: 4 });
  png.data.fill(200);
  fs.writeFileSync(path.join(images, 'a.png'), PNG.sync.write(png));
  fs.writeFileSync(path.join(images, 'b.png'), 'not a png');
  const onePng = path.join(dir, 'one-png');
  fs.mkdirSync(onePng);
  fs.copyFileSync(path.join(images, 'a.png'), path.join(onePng, 'a.png'));
  const bad = () => [dir, path.join(dir, 'missing'), text, empty, truncated, `${good.csv}/x`];
  return { good, bad, images, onePng, emptyDir: fs.mkdtempSync(path.join(dir, 'empty-')) };
}

const gmSpec: Spec = obj({
  means: arr(arr(num(), { minLength: 2, maxLength: 2 }), { minLength: 2, maxLength: 2, also: ['weights', 'stds'] }),
  stds: union(
    positive(),
    arr(union(positive(), arr(positive(), { minLength: 2, maxLength: 2 })), { minLength: 2, maxLength: 2 }),
  ),
  weights: arr(positive(), { minLength: 2, maxLength: 2, rule: sumsToOne }),
});
const gmBase = () => ({
  means: [
    [0, 0],
    [1, 1],
  ],
  stds: [0.5, [0.5, 1]],
  weights: [0.5, 0.5],
});
const atSpec = (): Spec => obj({ path: oneOf('vp', 've'), t: num({ min: 0, max: 1 }), ...pathRanges() });

export async function dataGroup(): Promise<Group> {
  const dir = scratchDir('data');
  const f = files(dir);
  const file = (good: string) => existingFile((p) => p === good, f.bad);
  const matrix = () => grid(4, [2]);
  // open: the whole result of standardize() ({ tensor, mean, std }) is a valid stats object
  const stats = obj(
    {
      mean: arr(num(), { minLength: 2, maxLength: 2, typed: [Float64Array, Float32Array] }),
      std: arr(positive(), { minLength: 2, maxLength: 2, typed: [Float64Array, Float32Array] }),
    },
    { open: true },
  );
  const csvOptions = obj({
    header: opt(union(bool(), oneOf('auto'))),
    delimiter: opt(
      custom(
        (v) => typeof v === 'string' && v !== '' && !/["\r\n]/.test(v),
        () => ['"', '\n', '\r\n'],
      ),
    ),
    columns: opt(arr(int(0, 1), { minLength: 1 })),
  });
  const mixture = datasets.toyMixture('8gaussians');
  const toyMixtureSpec = obj({
    means: arr(tuple(num(), num()), { minLength: 8, maxLength: 8, also: ['weights'] }),
    std: positive(),
    weights: arr(positive(), { minLength: 8, maxLength: 8, rule: sumsToOne }),
  });
  const gm = new datasets.GaussianMixture(gmBase());
  const counter = { skipped: 0 };
  const pathArg = (good: string) => ({ name: 'path', spec: file(good), base: () => good, namedByValue: true });
  const outArg = (name: string) => ({
    name: 'path',
    spec: writablePath(dir),
    base: () => path.join(dir, name),
    namedByValue: true,
  });
  const xArg = (n = 3) => tensorArg('x', () => grid(n, [2]), { rowShape: [2], finite: true });
  const atArg = { name: 'at', spec: opt(atSpec(), () => ({ path: 'vp', t: 0.5 })), base: () => undefined };
  const entries: Entry[] = [
    entry(
      'toy',
      [
        { name: 'name', spec: oneOf(...datasets.toyNames), base: () => 'moons' },
        { name: 'n', spec: int(1, 1e8), base: () => 3 },
        { name: 'seed', spec: { ...opt(int(0)), cheap: true }, base: () => 1 },
      ],
      (name, n, seed) => datasets.toy(name as ebm.datasets.ToyName, n as number, seed as number),
    ),
    entry(
      'toyMixture',
      [{ name: 'name', spec: oneOf('8gaussians', '25gaussians'), base: () => '8gaussians' }],
      (name) => datasets.toyMixture(name as '8gaussians'),
    ),
    entry('toyLogDensity', [{ name: 'mixture', spec: toyMixtureSpec, base: () => mixture }, xArg()], (m, x) =>
      datasets.toyLogDensity(m as ebm.datasets.ToyMixture, x as ebm.Tensor),
    ),
    entry('readIdx', [pathArg(f.good.idx)], (p) => datasets.readIdx(p as string)),
    entry('readNpy', [pathArg(f.good.npy)], (p) => datasets.readNpy(p as string)),
    entry(
      'readCsv',
      [pathArg(f.good.csv), { name: 'readCsv options', spec: opt(csvOptions), base: () => ({ header: true }) }],
      (p, o) => datasets.readCsv(p as string, o as ebm.datasets.CsvReadOptions),
    ),
    entry(
      'readCsvTable',
      [
        fixed('path', () => f.good.csv),
        { name: 'readCsv options', spec: opt(csvOptions), base: () => ({ columns: [1, 0] }) },
      ],
      (p, o) => datasets.readCsvTable(p as string, o as ebm.datasets.CsvReadOptions),
    ),
    entry(
      'writeIdx',
      [
        outArg('out.idx'),
        {
          name: 'writeIdx: data',
          spec: custom(
            (v) => idxArrays.some((T) => v instanceof T) && (v as Uint8Array).length === 4,
            () => [new Uint16Array(4), new Uint8Array(3), [1, 2, 3, 4]],
          ),
          base: () => Uint8Array.of(1, 2, 3, 4),
        },
        {
          name: 'writeIdx: shape',
          spec: arr(int(0, 2 ** 32 - 1), {
            minLength: 1,
            maxLength: 16,
            rule: (s) => (s as number[]).reduce((a, b) => a * b, 1) === 4,
          }),
          base: () => [2, 2],
        },
        { name: 'options', spec: opt(obj({ gzip: opt(bool()) }), () => ({ gzip: true })), base: () => undefined },
      ],
      (p, d, s, o) => datasets.writeIdx(p as string, d as Uint8Array, s as number[], o as { gzip?: boolean }),
      { alsoNames: ['writeIdx: data'] },
    ),
    entry('writeNpy', [outArg('out.npy'), tensorArg('writeNpy tensor', matrix)], (p, t) =>
      datasets.writeNpy(p as string, t as ebm.Tensor),
    ),
    entry(
      'writeCsv',
      [
        outArg('out.csv'),
        tensorArg('writeCsv tensor', matrix, { rank: 2 }),
        {
          name: 'writeCsv options',
          spec: opt(
            obj({
              header: opt(
                arr(
                  custom(
                    (v) => typeof v === 'string' && !/[\r\n]/.test(v),
                    () => ['a\nb'],
                  ),
                  { minLength: 2, maxLength: 2 },
                ),
              ),
              delimiter: opt(
                custom(
                  (v) => typeof v === 'string' && v !== '' && !/["\r\n]/.test(v),
                  () => ['"'],
                ),
              ),
            }),
          ),
          base: () => ({ header: ['a', 'b'] }),
        },
      ],
      (p, t, o) => datasets.writeCsv(p as string, t as ebm.Tensor, o as ebm.datasets.CsvWriteOptions),
      { alsoNames: ['writeCsv'] },
    ),
    entry('standardize', [tensorArg('standardize input', matrix, { rank: 2, finite: true })], (t) =>
      datasets.standardize(t as ebm.Tensor),
    ),
    entry(
      'applyStandardize',
      [
        tensorArg('applyStandardize input', matrix, { rank: 2, finite: true, rowShape: [2] }),
        { name: 'stats', spec: stats, base: () => ({ mean: [0, 1], std: [1, 2] }) },
      ],
      (t, s) => datasets.applyStandardize(t as ebm.Tensor, s as ebm.datasets.StandardizeStats),
      { alsoNames: ['applyStandardize'] },
    ),
    entry(
      'undoStandardize',
      [
        tensorArg('undoStandardize input', matrix, { finite: true, rowShape: [2] }),
        { name: 'stats', spec: stats, base: () => ({ mean: [0, 1], std: [1, 2] }) },
      ],
      (t, s) => datasets.undoStandardize(t as ebm.Tensor, s as ebm.datasets.StandardizeStats),
      { alsoNames: ['undoStandardize'] },
    ),
    entry(
      'minMaxScale',
      [
        tensorArg('minMaxScale input', matrix, { rank: 2, finite: true }),
        { name: 'lo', spec: opt(num({ below: 1 })), base: () => -1 },
        { name: 'hi', spec: opt(num({ above: -1 })), base: () => 1 },
      ],
      (t, lo, hi) => datasets.minMaxScale(t as ebm.Tensor, lo as number, hi as number),
    ),
    entry(
      'trainTestSplit',
      [
        tensorArg('trainTestSplit input', matrix, { rows: (n) => n >= 2 && n * 0.25 >= 0.5 && n * 0.25 < n - 0.5 }),
        { name: 'testFraction', spec: num({ min: 0.125, below: 0.875 }), base: () => 0.25 },
        { name: 'seed', spec: { ...opt(int(0)), cheap: true }, base: () => 1 },
      ],
      (t, frac, seed) => datasets.trainTestSplit(t as ebm.Tensor, frac as number, seed as number),
      { alsoNames: ['trainTestSplit'] },
    ),
    entry('flattenRows', [tensorArg('flattenRows input', matrix)], (t) => datasets.flattenRows(t as ebm.Tensor)),
    entry(
      'fashionMnist',
      [
        {
          name: 'fashionMnist options',
          spec: opt(
            obj({
              split: opt(oneOf('train', 'test')),
              dir: opt({
                ...custom(
                  (v) => v === datasets.fashionMnistDefaultDir,
                  () => [f.emptyDir, f.good.csv, path.join(dir, 'missing')],
                ),
                namedByValue: true,
              }),
              scale: opt(oneOf('01', '-11', 'none')),
              limit: opt(int(1)),
            }),
          ),
          base: () => ({ split: 'test', limit: 1 }),
        },
      ],
      (o) => datasets.fashionMnist(o as ebm.datasets.FashionMnistOptions),
    ),
    entry('fashionMnistAvailable', [{ name: 'dir', spec: opt(str()), base: () => dir }], (d) =>
      datasets.fashionMnistAvailable(d as string),
    ),
    entry(
      'GaussianMixture',
      [{ name: 'mixture', spec: gmSpec, base: gmBase }],
      (s) => new datasets.GaussianMixture(s as ebm.datasets.GaussianMixtureSpec),
    ),
    entry(
      'GaussianMixture.sample',
      [
        { name: 'n', spec: int(1, 1e8), base: () => 3 },
        { name: 'seed', spec: { ...opt(int(0)), cheap: true }, base: () => 1 },
        atArg,
      ],
      (n, seed, at) => gm.sample(n as number, seed as number, at as ebm.datasets.PathTime),
    ),
    entry(
      'GaussianMixture.sampleWithComponents',
      [{ name: 'n', spec: int(1, 1e8), base: () => 3 }, fixed('seed', () => 1), fixed('at', () => undefined)],
      (n, seed, at) => gm.sampleWithComponents(n as number, seed as number, at as ebm.datasets.PathTime),
    ),
    entry('GaussianMixture.atTime', [{ name: 'at', spec: atSpec(), base: () => ({ path: 've', t: 0.5 }) }], (at) =>
      gm.atTime(at as ebm.datasets.PathTime),
    ),
  ];
  const gmMethods = { logDensity: 0, componentPosteriors: 0, score: 0 } as const;
  entries.push(
    ...entriesFor(gmMethods, (method) =>
      entry(`GaussianMixture.${method}`, [xArg(), atArg], (x, at) =>
        gm[method as keyof typeof gmMethods](x as ebm.Tensor, at as ebm.datasets.PathTime),
      ),
    ),
    ...entriesFor({ pathAlpha: datasets.pathAlpha, pathGamma: datasets.pathGamma }, (name, fn) =>
      entry(
        name,
        [
          { name: `${name}.path`, spec: oneOf('vp', 've'), base: () => 'vp' },
          { name: `${name}.t`, spec: num({ min: 0, max: 1 }), base: () => 0.5 },
          { name, spec: opt(obj(pathRanges()), () => ({ betaMin: 0.2 })), base: () => undefined },
        ],
        (k, t, o) => fn(k as 'vp', t as number, o as ebm.datasets.PathParams),
      ),
    ),
  );
  entries.push(
    entry(
      'imageFolder',
      [
        {
          name: 'imageFolder dir',
          spec: custom(
            (v) => v === f.onePng,
            () => [f.images, f.emptyDir, f.good.csv, path.join(dir, 'missing')],
          ),
          base: () => f.onePng,
          namedByValue: true,
        },
        {
          name: 'imageFolder options',
          spec: opt(
            obj({
              size: opt(union(int(1, 4096), tuple(int(1, 4096), int(1, 4096)))),
              grayscale: opt(bool()),
              limit: opt(int(1)),
              recursive: opt(bool()),
            }),
          ),
          base: () => ({ size: 2 }),
        },
      ],
      (d, o) => datasets.imageFolder(d as string, o as ebm.datasets.ImageFolderOptions),
    ),
  );
  return {
    cases: entries.flatMap((e) => casesOf(e, counter)),
    skipped: counter.skipped,
    probe: () => [
      datasets.toy('8gaussians', 5, 2),
      gm.sample(4, 3),
      datasets.readCsv(f.good.csv),
      datasets.readIdx(f.good.idx),
    ],
  };
}
