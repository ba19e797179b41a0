/** metrics.*: grid NLL, sample statistics, the classifier metrics and the image-prior helpers. */
import * as path from 'node:path';
import * as ebm from '../../lib';
import { absent, entriesFor, entry, fixed, grid, model, modelState, scratchDir, tensorArg } from './fixtures';
import { casesOf, Entry, Group } from './harness';
import { arr, bool, custom, fn, int, num, obj, oneOf, opt, positive, signal, str, tensorSpec, tuple } from './spec';

const { metrics } = ebm;
const IMAGE = [1, 8, 8];
const CLASSES = 3;

/** An array or typed array of numbers (NaN and ±Infinity as `special` allows). */
const series = (o: { minLength?: number; maxLength?: number; special?: boolean; minusInfinity?: boolean } = {}) =>
  arr(
    o.special
      ? num({ anyNumber: true })
      : o.minusInfinity
        ? custom(
            (v) => v === -Infinity || (typeof v === 'number' && Number.isFinite(v)),
            () => [Infinity],
          )
        : num({ double: true }),
    {
      ...(o.minLength !== undefined ? { minLength: o.minLength } : {}),
      ...(o.maxLength !== undefined ? { maxLength: o.maxLength } : {}),
      typed: [Float32Array, Float64Array],
    },
  );

const optObj = (fields: Parameters<typeof obj>[0]) => opt(obj(fields));
const gridSpec = obj({ lo: num({ below: 4 }), hi: num({ above: -4 }), resolution: int(2, 4096) });
const gridBase = () => ({ lo: -4, hi: 4, resolution: 4 });

/** rhat()'s chains: a finite tensor [T ≥ 4, C ≥ 2, ...] or an array of ≥ 2 finite tensors [T ≥ 4, ...] of one shape. */
function rhatChains() {
  const isTensor = (v: unknown): v is ebm.Tensor => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
    const { data, shape } = v as { data?: unknown; shape?: unknown };
    if (!(data instanceof Float32Array) || !Array.isArray(shape) || shape.length === 0) return false;
    if (!shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) return false;
    return shape.reduce((a: number, b: number) => a * b, 1) === data.length && data.every(Number.isFinite);
  };
  const valid = (v: unknown) => {
    if (Array.isArray(v)) {
      return (
        v.length >= 2 &&
        v.every(isTensor) &&
        v.every((t) => t.shape.join() === v[0].shape.join()) &&
        (v[0] as ebm.Tensor).shape[0] >= 4
      );
    }
    return isTensor(v) && v.shape.length >= 2 && v.shape[0] >= 4 && v.shape[1] >= 2;
  };
  const t = (shape: number[], fill = 0.5) =>
    ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill), shape }) as ebm.Tensor;
  const nan = t([6, 2, 3]);
  nan.data[7] = NaN;
  const inf = t([6, 2]);
  inf.data[0] = Infinity;
  return custom(valid, () => [
    t([3, 2, 3]),
    t([6, 1, 3]),
    t([6]),
    nan,
    inf,
    { data: new Float64Array(12), shape: [6, 2] },
    { data: new Float32Array(12), shape: [6, 3] },
    { data: new Float32Array(12) },
    [t([6, 3])],
    [t([6, 3]), t([6, 2])],
    [t([3, 2]), t([3, 2])],
    [t([6, 3]), nan],
    [t([6, 3]), { data: new Float32Array(18) }],
    [t([6, 3]), 'text'],
  ]);
}

export async function metricsGroup(): Promise<Group> {
  const dir = scratchDir('metrics');
  const m2 = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
  const m3 = ebm.energyModel({ kind: 'mlp', inputDim: 3, hidden: [8], device: 'cpu' });
  const classifier = ebm.energyModel({ kind: 'classifier', inputShape: [1, 8, 8], classes: CLASSES, device: 'cpu' });
  const twoD = custom(
    (v) => v === m2,
    () => [m3, classifier, {}],
  );
  const isClassifier = custom(
    (v) => v === classifier,
    () => [m2, {}],
  );
  const points = (n = 4) => grid(n, [2]);
  const images = (n = 4) => grid(n, IMAGE);
  const centres = arr(tuple(num(), num()), { minLength: 1 });
  const onM2 = { state: () => modelState(m2) };
  const onClassifier = { state: () => modelState(classifier) };
  const counter = { skipped: 0 };
  const entries: Entry[] = [
    entry('gridPoints', [{ name: 'grid', spec: gridSpec, base: gridBase }], (g) =>
      metrics.gridPoints(g as ebm.metrics.GridOptions),
    ),
    entry(
      'gridEnergy',
      [
        { name: 'model', spec: twoD, base: () => m2 },
        { name: 'grid', spec: gridSpec, base: gridBase },
      ],
      (m, g) => metrics.gridEnergy(m as ebm.EnergyModel, g as ebm.metrics.GridOptions),
      { ...onM2, alsoNames: ['gridEnergy'] },
    ),
    entry(
      'gridNll',
      [
        fixed('model', () => m2),
        tensorArg('test', points, { rowShape: [2], finite: true }),
        { name: 'grid', spec: gridSpec, base: gridBase },
      ],
      (m, t, g) => metrics.gridNll(m as ebm.EnergyModel, t as ebm.Tensor, g as ebm.metrics.GridOptions),
      onM2,
    ),
    entry(
      'logSumExp',
      [
        { name: 'values', spec: series({ special: true }), base: () => [1, 2, 3] },
        { name: 'scale', spec: opt(num()), base: () => -1 },
      ],
      (v, s) => metrics.logSumExp(v as number[], s as number),
    ),
    entry(
      'mmd',
      [
        tensorArg('a', points, { width: 2, finite: true, rows: (n) => n >= 2 }),
        tensorArg('b', () => points(3), { width: 2, finite: true, rows: (n) => n >= 2 }),
        {
          name: 'options',
          spec: opt(obj({ bandwidth: opt(positive()), unbiased: opt(bool()) })),
          base: () => ({ bandwidth: 1 }),
        },
      ],
      (a, b, o) => metrics.mmd(a as ebm.Tensor, b as ebm.Tensor, o as ebm.metrics.MmdOptions),
      // a row-count rule of the unbiased statistic
      { alsoNames: ['unbiased MMD'] },
    ),
    entry(
      'medianDistance',
      [
        tensorArg('a', points, { width: 2, finite: true }),
        { name: 'b', spec: opt(tensorSpec({ width: 2, finite: true })), base: () => points(2) },
      ],
      (a, b) => metrics.medianDistance(a as ebm.Tensor, b as ebm.Tensor),
    ),
  ];
  entries.push(
    ...entriesFor(
      { assignModes: metrics.assignModes, modeWeights: metrics.modeWeights, withinModeStd: metrics.withinModeStd },
      (name, f) =>
        entry(
          name,
          [
            tensorArg('x', points, { width: 2, finite: true }),
            {
              name: 'centres',
              spec: centres,
              base: () => [
                [0, 0],
                [1, 1],
              ],
            },
          ],
          (x, c) => f(x as ebm.Tensor, c as number[][]),
        ),
    ),
  );
  entries.push(
    entry(
      'r2UpToConstant',
      [
        { name: 'model', spec: series({ minLength: 3, maxLength: 3 }), base: () => [1, 2, 4] },
        { name: 'truth', spec: series({ minLength: 3, maxLength: 3 }), base: () => [1, 3, 4] },
      ],
      (a, b) => metrics.r2UpToConstant(a as number[], b as number[]),
      // equal-length and constant-truth rules
      { alsoNames: ['r2', 'r2UpToConstant'] },
    ),
    entry(
      'ess',
      [{ name: 'logWeights', spec: series({ minLength: 1, minusInfinity: true }), base: () => [0, -1, -Infinity] }],
      (w) => metrics.ess(w as number[]),
    ),
    entry(
      'meanAndCovariance',
      [tensorArg('x', points, { finite: true, rows: (n) => n >= 2 })],
      (x) => metrics.meanAndCovariance(x as ebm.Tensor),
      {
        alsoNames: ['meanAndCovariance'],
      },
    ),
  );
  entries.push(
    ...entriesFor(
      { classifierFeatures: metrics.classifierFeatures, classifierLogits: metrics.classifierLogits },
      (name, f) =>
        entry(
          name,
          [
            { name: 'model', spec: isClassifier, base: () => classifier },
            tensorArg('x', images, { rowShape: IMAGE, finite: true }),
          ],
          (m, x) => f(m as ebm.EnergyModel, x as ebm.Tensor),
          onClassifier,
        ),
    ),
  );
  entries.push(
    entry(
      'classifierAccuracy',
      [
        fixed('model', () => classifier),
        fixed('x', () => images()),
        {
          name: 'labels',
          spec: arr(int(0, CLASSES - 1), { minLength: 4, maxLength: 4, typed: [Uint8Array, Int32Array] }),
          base: () => [0, 1, 2, 0],
        },
      ],
      (m, x, l) => metrics.classifierAccuracy(m as ebm.EnergyModel, x as ebm.Tensor, l as number[]),
      onClassifier,
    ),
    entry(
      'frechetDistance',
      [
        { name: 'classifier', spec: isClassifier, base: () => classifier },
        tensorArg('a', images, { rowShape: IMAGE, finite: true, rows: (n) => n >= 2 }),
        tensorArg('b', () => images(3), { rowShape: IMAGE, finite: true, rows: (n) => n >= 2 }),
      ],
      (c, a, b) => metrics.frechetDistance(c as ebm.EnergyModel, a as ebm.Tensor, b as ebm.Tensor),
      onClassifier,
    ),
    entry(
      'fashionClassifier',
      [
        {
          name: 'options',
          spec: optObj({
            cachePath: opt(str()),
            retrain: opt(bool()),
            limit: opt(int(1)),
            steps: opt(int(1, 1e9)),
            seed: opt(int(0)),
            dir: opt(str()),
            onProgress: opt(fn()),
          }),
          // no data there: a bad value that got through would fail fast, and never train
          base: () => ({ cachePath: path.join(dir, 'classifier.safetensors'), dir, limit: 1, steps: 1 }),
        },
      ],
      (o) => metrics.fashionClassifier(o as ebm.metrics.FashionClassifierOptions),
    ),
    entry(
      'inpaintMask',
      [
        // at most 2^31 values in all
        { name: 'n', spec: int(1, 2 ** 31 / 64), base: () => 2 },
        {
          name: 'imageShape',
          spec: arr(int(1), {
            minLength: 3,
            maxLength: 3,
            rule: (s) => 2 * (s as number[]).reduce((a, b) => a * b, 1) <= 2 ** 31,
          }),
          base: () => [...IMAGE],
        },
        { name: 'kind', spec: oneOf('centre', 'half'), base: () => 'half' },
      ],
      (n, s, k) => metrics.inpaintMask(n as number, s as number[], k as ebm.metrics.MaskKind),
    ),
    entry(
      'imageMse',
      [
        tensorArg('a', images, { rowShape: IMAGE, finite: true, rows: (n) => n === 4 }),
        tensorArg('b', images, { rowShape: IMAGE, finite: true, rows: (n) => n === 4 }),
        {
          name: 'mask',
          spec: opt(tensorSpec({ rowShape: IMAGE, finite: true, rows: (n) => n === 4 })),
          base: () => metrics.inpaintMask(4, IMAGE, 'half'),
        },
      ],
      (a, b, k) => metrics.imageMse(a as ebm.Tensor, b as ebm.Tensor, k as ebm.Tensor),
      { alsoNames: ['imageMse'] },
    ),
    entry(
      'meanFill',
      [
        tensorArg('images', images, { rowShape: IMAGE, finite: true, rows: (n) => n === 4 }),
        tensorArg('mask', () => metrics.inpaintMask(4, IMAGE, 'half'), {
          rowShape: IMAGE,
          finite: true,
          rows: (n) => n === 4,
        }),
        tensorArg('data', () => images(2), { rowShape: IMAGE, finite: true }),
      ],
      (x, k, d) => metrics.meanFill(x as ebm.Tensor, k as ebm.Tensor, d as ebm.Tensor),
      { alsoNames: ['meanFill'] },
    ),
  );
  entries.push(
    entry('rhat', [{ name: 'chains', spec: rhatChains(), base: () => grid(6, [2, 3]) }], (c) =>
      metrics.rhat(c as ebm.Tensor),
    ),
    entry(
      'ksd',
      [
        { name: 'model', spec: model(), base: () => m2 },
        tensorArg('samples', points, { rowShape: [2], finite: true, rows: (n) => n <= metrics.KSD_MAX_ROWS }),
        {
          name: 'options',
          spec: opt(
            obj({
              // m2 is not time-conditioned
              t: absent([0.5]),
              c: opt(positive()),
              beta: opt(num({ above: -1, below: 0 })),
              signal: opt(signal()),
            }),
          ),
          base: () => ({ c: 1, beta: -0.5 }),
        },
      ],
      (m, x, o) => metrics.ksd(m as ebm.EnergyModel, x as ebm.Tensor, o as ebm.metrics.KsdOptions),
      // a model on other inputs is refused through the samples' row shape
      { ...onM2, alsoNames: ['samples'] },
    ),
  );
  return {
    cases: entries.flatMap((e) => casesOf(e, counter)),
    skipped: counter.skipped,
    probe: async () => [
      await metrics.gridNll(m2, points(), gridBase()),
      metrics.mmd(points(), points(3)),
      await metrics.frechetDistance(classifier, images(), images(3)),
    ],
  };
}
