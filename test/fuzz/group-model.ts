/** Models: energyModel and validateModelConfig for every kind, compose, loadModel, the model methods, tensors. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../../lib';
import {
  absent,
  device,
  entriesFor,
  entry,
  existingFile,
  fixed,
  grid,
  model,
  modelState,
  scratchDir,
  tensorArg,
  timeFor,
  writablePath,
} from './fixtures';
import { casesOf, Entry, Group } from './harness';
import {
  arr,
  bool,
  custom,
  int,
  num,
  obj,
  oneOf,
  opt,
  positive,
  seed,
  signal,
  Spec,
  str,
  tensorSpec,
  tuple,
  union,
} from './spec';

const activation = () => opt(oneOf(...ebm.activations));
const even = (v: number) => v % 2 === 0;
const sumsToOne = (w: readonly unknown[]) => Math.abs((w as number[]).reduce((a, b) => a + b, 0) - 1) <= 1e-6;

/** A Gaussian mixture of two components in 2D (one with a noising path). */
function gmmSpec(withPath: boolean): Spec {
  const k = withPath ? 1 : 2;
  const row = (of: Spec) => arr(of, { minLength: 2, maxLength: 2 });
  // with a path, its ranges must be ordered (defaults: beta 0.1..20, sigma 0.01..10)
  const ordered = (below: number | undefined, above: number | undefined) =>
    opt(positive(withPath ? { ...(below ? { below } : {}), ...(above ? { above } : {}) } : {}));
  return obj({
    kind: oneOf('gmm'),
    means: arr({ ...row(num()), also: ['stds'] }, { minLength: k, maxLength: k, also: ['weights', 'stds'] }),
    stds: union(arr(positive(), { minLength: k, maxLength: k }), arr(row(positive()), { minLength: k, maxLength: k })),
    weights: arr(positive(), { minLength: k, maxLength: k, rule: sumsToOne }),
    path: opt(oneOf('vp', 've')),
    betaMin: ordered(20, undefined),
    betaMax: ordered(undefined, 0.1),
    sigmaMin: ordered(10, undefined),
    sigmaMax: ordered(undefined, 0.01),
    tMin: opt(positive({ max: 0.999 })),
    device: device(),
  });
}

/** Each model kind: a valid base config and the spec of its fields. */
export const modelKindsUnderTest: Array<{ name: string; base: () => object; spec: Spec }> = [
  {
    name: 'mlp',
    base: () => ({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' }),
    spec: obj({
      kind: oneOf('mlp'),
      inputDim: int(1, 1 << 24),
      hidden: arr(int(1, 65536), { minLength: 1 }),
      activation: activation(),
      timeConditioned: opt(bool()),
      timeEmbedDim: opt(int(2, 4096, { rule: even })),
      timeMaxFrequency: opt(num({ min: 1, max: 1e4 })),
      spectralNorm: opt(bool()),
      device: device(),
      seed: seed(),
    }),
  },
  {
    name: 'convnet',
    base: () => ({ kind: 'convnet', inputShape: [1, 8, 8], channels: [4], device: 'cpu' }),
    spec: obj({
      kind: oneOf('convnet'),
      inputShape: tuple(int(1, 64), int(2, 4096), int(2, 4096)),
      channels: arr(int(1, 4096), { minLength: 1, maxLength: 8 }),
      activation: activation(),
      device: device(),
      seed: seed(),
    }),
  },
  {
    name: 'classifier',
    base: () => ({ kind: 'classifier', inputShape: [1, 8, 8], classes: 3, device: 'cpu' }),
    spec: obj({
      kind: oneOf('classifier'),
      inputShape: tuple(int(1, 64), int(4, 1024), int(4, 1024)),
      classes: opt(int(2, 100000)),
      featureDim: opt(int(1, 65536)),
      device: device(),
      seed: seed(),
    }),
  },
  {
    name: 'gaussian',
    base: () => ({ kind: 'gaussian', mean: [0, 0], std: 1, device: 'cpu' }),
    spec: obj({
      kind: oneOf('gaussian'),
      mean: arr(num(), { minLength: 1 }),
      std: opt(positive()),
      device: device(),
    }),
  },
  {
    name: 'gaussian-cov',
    base: () => ({
      kind: 'gaussian',
      mean: [0, 0],
      cov: [
        [1, 0],
        [0, 1],
      ],
      device: 'cpu',
    }),
    spec: obj({
      kind: oneOf('gaussian'),
      mean: arr(num(), { minLength: 2, maxLength: 2, also: ['cov'] }),
      // symmetric positive definiteness is the native side's check
      cov: opt(arr(arr(num(), { minLength: 2, maxLength: 2 }), { minLength: 2, maxLength: 2 })),
      device: device(),
    }),
  },
  {
    name: 'gmm',
    base: () => ({
      kind: 'gmm',
      means: [
        [0, 0],
        [1, 1],
      ],
      stds: [0.5, 0.5],
      weights: [0.5, 0.5],
      device: 'cpu',
    }),
    spec: gmmSpec(false),
  },
  {
    name: 'gmm-path',
    base: () => ({ kind: 'gmm', means: [[0, 0]], stds: [[0.5, 1]], weights: [1], path: 've', device: 'cpu' }),
    spec: gmmSpec(true),
  },
  {
    name: 'doublewell',
    base: () => ({ kind: 'doublewell', dim: 2, device: 'cpu' }),
    spec: obj({ kind: oneOf('doublewell'), dim: opt(int(1, 65536)), barrier: opt(positive()), device: device() }),
  },
  {
    name: 'torchscript',
    base: () => ({ kind: 'torchscript', path: '/nonexistent/energy.pt', inputShape: [2], device: 'cpu' }),
    spec: obj({
      kind: oneOf('torchscript'),
      path: str(),
      inputShape: arr(int(1, 1 << 24), { minLength: 1, maxLength: 8 }),
      timeConditioned: opt(bool()),
      device: device(),
    }),
  },
];

export async function modelGroup(): Promise<Group> {
  const dir = scratchDir('model');
  const m = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
  const tc = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], timeConditioned: true, device: 'cpu' });
  const other = ebm.energyModel({ kind: 'gaussian', mean: [0, 0], std: 1, device: 'cpu' });
  const checkpoint = path.join(dir, 'model.safetensors');
  await m.save(checkpoint);
  const notCheckpoint = path.join(dir, 'notes.txt');
  fs.writeFileSync(notCheckpoint, 'not a checkpoint\n');
  const empty = path.join(dir, 'empty.safetensors');
  fs.writeFileSync(empty, '');
  const x = () => grid(2, [2]);
  const params = await m.parameters();
  const paramSpec = obj(
    Object.fromEntries(
      Object.entries(params).map(([name, t]) => [
        name,
        opt(
          t.shape.length === 1
            ? tensorSpec({ rank: 1, rows: (n) => n === t.shape[0], finite: true })
            : tensorSpec({ rowShape: t.shape.slice(1), rows: (n) => n === t.shape[0], finite: true }),
        ),
      ]),
    ),
  );
  const checkpointPath = existingFile(
    (p) => p === checkpoint,
    () => [dir, path.join(dir, 'missing.safetensors'), notCheckpoint, empty],
  );
  const loadOptions = opt(obj({ device: device() }), () => ({ device: 'cpu' }));
  const counter = { skipped: 0 };
  const entries: Entry[] = [];
  for (const kind of modelKindsUnderTest) {
    const arg = { name: 'model', spec: kind.spec, base: kind.base };
    entries.push(entry(`energyModel(${kind.name})`, [arg], (c) => ebm.energyModel(c as ebm.ModelConfig)));
    entries.push(
      entry(`validateModelConfig(${kind.name})`, [arg], (c) => ebm.validateModelConfig(c), { validator: true }),
    );
  }
  const methods = { energy: 'energy', score: 'score' } as const;
  entries.push(
    ...entriesFor(methods, (method) =>
      entry(
        `model.${method}`,
        [tensorArg('x', x, { rowShape: [2], finite: true }), { name: 't', spec: absent(), base: () => undefined }],
        (a, t) => m[method as keyof typeof methods](a as ebm.Tensor, t as number),
      ),
    ),
    ...entriesFor(methods, (method) =>
      entry(
        `timeConditioned.${method}`,
        [tensorArg('x', x, { rowShape: [2], finite: true }), { name: 't', spec: timeFor(2), base: () => 0.5 }],
        (a, t) => tc[method as keyof typeof methods](a as ebm.Tensor, t as number),
      ),
    ),
  );
  entries.push(
    entry(
      'model.save',
      [
        { name: 'path', spec: writablePath(dir), base: () => path.join(dir, 'saved.safetensors'), namedByValue: true },
        { name: 'options', spec: opt(obj({ signal: opt(signal()) }), () => ({})), base: () => undefined },
      ],
      (p, o) => m.save(p as string, o as { signal?: AbortSignal }),
    ),
    entry('model.setParameters', [{ name: 'parameters', spec: paramSpec, base: () => ({}) }], (v) =>
      m.setParameters(v as Record<string, ebm.Tensor>),
    ),
    entry(
      'compose',
      [
        {
          name: 'compose',
          spec: arr(obj({ model: model(), weight: opt(num()) }), { minLength: 1 }),
          base: () => [{ model: m, weight: 0.5 }, { model: other }],
        },
      ],
      (parts) => ebm.compose(parts as Array<{ model: ebm.EnergyModel }>),
    ),
    entry(
      'loadModel',
      [
        { name: 'path', spec: checkpointPath, base: () => checkpoint, namedByValue: true },
        { name: 'options', spec: loadOptions, base: () => undefined },
      ],
      (p, o) => ebm.loadModel(p as string, o as { device?: ebm.Device }),
    ),
    entry(
      'loadLatentEbm',
      [
        { name: 'path', spec: checkpointPath, base: () => checkpoint, namedByValue: true, fuzz: false },
        { name: 'options', spec: loadOptions, base: () => undefined },
      ],
      (p, o) => ebm.loadLatentEbm(p as string, o as { device?: ebm.Device }),
      // a valid path holds a plain model, which loadLatentEbm refuses: every case fails for the options first
    ),
    entry(
      'tensor',
      [
        {
          name: 'data',
          spec: union(
            arr(num({ anyNumber: true }), { minLength: 4, maxLength: 4 }),
            custom(
              (v) => v instanceof Float32Array && v.length === 4,
              () => [new Float32Array(3), new Float64Array(4)],
            ),
          ),
          base: () => [1, 2, 3, 4],
        },
        fixed('shape', () => [2, 2]),
      ],
      (d, s) => ebm.tensor(d as number[], s as number[]),
    ),
    entry(
      'tensor(shape)',
      [
        fixed('data', () => [1, 2, 3, 4]),
        {
          name: 'shape',
          spec: arr(int(1), { minLength: 1, rule: (s) => (s as number[]).reduce((a, b) => a * b, 1) === 4 }),
          base: () => [2, 2],
        },
      ],
      (d, s) => ebm.tensor(d as number[], s as number[]),
    ),
    entry('checkTensor', [tensorArg('t', x), fixed('what', () => 't')], (t, w) => ebm.checkTensor(t, w as string)),
    entry('checkFinite', [tensorArg('t', x, { finite: true }), fixed('what', () => 't')], (t, w) =>
      ebm.checkFinite(t as ebm.Tensor, w as string),
    ),
    entry('rows', [tensorArg('t', x)], (t) => ebm.rows(t as ebm.Tensor)),
    entry('row', [fixed('t', x), { name: 'i', spec: int(0, 1), base: () => 1 }], (t, i) =>
      ebm.row(t as ebm.Tensor, i as number),
    ),
    entry(
      'row(t)',
      [tensorArg('t', x, { rows: (n) => n >= 2 }), fixed('i', () => 1)],
      (t, i) => ebm.row(t as ebm.Tensor, i as number),
      { alsoNames: ['i'] },
    ),
    entry('setNumThreads', [{ name: 'numThreads', spec: int(1, 1024), base: () => 1 }], (n) =>
      ebm.setNumThreads(n as number),
    ),
  );
  const state = async () => [await modelState(m), await modelState(tc), await modelState(other)];
  for (const e of entries)
    if (e.name.startsWith('model.') || e.name.startsWith('timeConditioned.') || e.name === 'compose') e.state = state;
  const cases = entries.flatMap((e) => casesOf(e, counter));
  return {
    cases,
    skipped: counter.skipped,
    probe: async () => {
      const fresh = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], seed: 3, device: 'cpu' });
      const loaded = await ebm.loadModel(checkpoint);
      return [
        await modelState(fresh),
        await modelState(loaded),
        await ebm.compose([{ model: m }, { model: other, weight: 2 }]).energy(x()),
      ];
    },
  };
}
