import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { native } from '../lib/native';
import { describeValue } from '../lib/validate';
import { rejectsWith, tmpDir } from './helpers';

// Each case feeds one kind of bad input and checks the error class and that the message names
// what was wrong, echoing the value as given: bad input is named, not passed on (NaN data to
// statistics, non-models to native calls, unchecked job hooks and sizes). After all of them the
// process is alive and the model still works.
describe('bad input is rejected with a clear error', () => {
  const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
  const good = ebm.tensor([0, 1, 2, 3], [2, 2]);
  const data = ebm.tensor([0, 1, 2, 3, 4, 5, 6, 7], [4, 2]);
  const withNaN = ebm.tensor([0, 1, 2, NaN], [2, 2]);
  const withInf = ebm.tensor([0, -Infinity, 2, 3], [2, 2]);
  const trainOptions = { loss: { kind: 'dsm', sigma: 0.1 }, batchSize: 2, steps: 1 } as ebm.TrainConfig;
  const sampler = { kind: 'langevin', steps: 1, stepSize: 0.1 } as const;
  const grid = { lo: -1, hi: 1, resolution: 4 };
  const stats = { mean: [0, 0], std: [1, 1] };
  const { datasets, metrics } = ebm;
  const dir = tmpDir();
  const mlp = (extra: Record<string, unknown>) =>
    ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], ...extra } as unknown as ebm.ModelConfig);

  const configCases: Array<[string, () => unknown, RegExp]> = [
    // model configs
    [
      'unknown model kind',
      () => ebm.energyModel({ kind: 'transformer' } as unknown as ebm.ModelConfig),
      /model\.kind must be one of 'mlp'/,
    ],
    ['negative inputDim', () => mlp({ inputDim: -2 }), /model\.inputDim must be >= 1/],
    ['non-integer width', () => mlp({ hidden: [8.5] }), /model\.hidden\[0\] must be an integer/],
    ['zero width', () => mlp({ hidden: [16, 0] }), /model\.hidden\[1\] must be >= 1/],
    ['empty hidden list', () => mlp({ hidden: [] }), /model\.hidden must be a non-empty array/],
    ['unknown activation', () => mlp({ activation: 'relu6' }), /model\.activation must be one of 'silu'/],
    ['malformed device', () => mlp({ device: 'tpu' }), /model\.device must be 'auto', 'cpu'/],
    ['misspelt option', () => mlp({ hiden: [8] }), /model\.hiden is not a known option/],
    ['odd time embedding', () => mlp({ timeConditioned: true, timeEmbedDim: 7 }), /timeEmbedDim must be even/],
    ['thread count 0', () => ebm.setNumThreads(0), /numThreads must be >= 1/],
    // time
    ['t for a model that is not time-conditioned', () => model.energy(good, 0.5), /not time-conditioned/],
    [
      'a time-conditioned model called without t',
      () =>
        ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], timeConditioned: true, device: 'cpu' }).energy(good),
      /t is required/,
    ],
    // options arguments
    ['sample options', () => ebm.sample(model, undefined as never), /^options must be an object, got undefined$/],
    ['train config', () => ebm.train(model, data, null as never), /^config must be an object, got null$/],
    ['setParameters(null)', () => model.setParameters(null as never), /^parameters must be an object, got null$/],
    ['evaluateLoss options', () => ebm.evaluateLoss(model, data, { kind: 'dsm', sigma: 0.1 }, null as never), /null/],
    ['loadModel options', () => ebm.loadModel('m.safetensors', null as never), /^options must be an object/],
    ['gridNll grid', () => metrics.gridNll(model, data, undefined as never), /^grid must be an object/],
    ['mmd options', () => metrics.mmd(data, data, null as never), /^options must be an object, got null/],
    [
      'sample onProgress',
      () => ebm.sample(model, { n: 2, sampler, onProgress: 'yes' as never }),
      /^options\.onProgress must be a function, got 'yes'$/,
    ],
    [
      'sample signal',
      () => ebm.sample(model, { n: 2, sampler, signal: {} as never }),
      /^options\.signal must be an AbortSignal, got \{\}$/,
    ],
    [
      'train signal',
      () => ebm.train(model, data, { ...trainOptions, signal: true as never }),
      /^config\.signal must be an AbortSignal, got true$/,
    ],
    [
      'batchSize 1e12 with replacement',
      () => ebm.train(model, data, { ...trainOptions, batchSize: 1e12, replacement: true }),
      /config\.batchSize must be <= 100000000, got 1000000000000/,
    ],
  ];
  for (const [name, fn, pattern] of configCases) {
    it(`config: ${name}`, async () => {
      await rejectsWith(async () => fn(), ebm.EbmConfigError, pattern);
    });
  }

  it('config: CUDA requested without a CUDA device', async function () {
    if (ebm.version().cudaAvailable) this.skip();
    await rejectsWith(async () => mlp({ device: 'cuda' }), ebm.EbmConfigError, /no usable CUDA device/);
  });

  it('config: non-finite statistics and centres', async () => {
    const bad = { mean: [0, NaN], std: [1, 1] };
    await rejectsWith(
      async () => datasets.applyStandardize(data, bad),
      ebm.EbmConfigError,
      /applyStandardize: stats\.mean\[1\] must be a finite number, got NaN/,
    );
    await rejectsWith(
      async () => datasets.undoStandardize(data, { mean: [0, 0], std: [1, Infinity] }),
      ebm.EbmConfigError,
      /stats\.std\[1\] must be a finite number, got Infinity/,
    );
    await rejectsWith(
      async () => metrics.modeWeights(data, [[0, NaN]]),
      ebm.EbmConfigError,
      /centres\[0\]\[1\] must be a finite number, got NaN/,
    );
  });

  const notModel = /model must be an ebm-torch EnergyModel \(from ebm\.energyModel, ebm\.loadModel, \.\.\.\), got /;
  const modelCases: Array<[string, () => unknown, RegExp]> = [
    ['train({})', () => ebm.train({} as never, data, trainOptions), new RegExp(notModel.source + 'an object$')],
    ['train(null)', () => ebm.train(null as never, data, trainOptions), new RegExp(notModel.source + 'null$')],
    ['sample({})', () => ebm.sample({} as never, { n: 2, sampler }), new RegExp(notModel.source + 'an object$')],
    ['sample(undefined)', () => ebm.sample(undefined as never, { n: 2, sampler }), /got undefined$/],
    ['sample([])', () => ebm.sample([] as never, { n: 2, sampler }), /model must be .*got an array$/],
    ['evaluateLoss({})', () => ebm.evaluateLoss({} as never, data, { kind: 'dsm', sigma: 0.1 }), notModel],
    ['trainLatent({})', () => ebm.trainLatent({} as never, data, {} as never), notModel],
    ['gridNll({})', () => metrics.gridNll({} as never, data, grid), notModel],
    ['gridEnergy(3)', () => metrics.gridEnergy(3 as never, grid), /model must be .*got 3$/],
    ['classifierFeatures(null)', () => metrics.classifierFeatures(null as never, data), /model must be .*got null/],
    ['frechetDistance({})', () => metrics.frechetDistance({} as never, data, data), /^classifier must be an ebm-torch/],
    ['compose([{ model: {} }])', () => ebm.compose([{ model: {} as never }]), /compose\[0\]\.model must be an ebm/],
  ];
  for (const [name, fn, pattern] of modelCases) {
    it(`config: ${name} is not a model`, async () => {
      await rejectsWith(async () => fn(), ebm.EbmConfigError, pattern);
    });
  }

  it('config: a mlp is still refused by frechetDistance and trainLatent, a latent model by train', async () => {
    await rejectsWith(metrics.frechetDistance(model, data, data), ebm.EbmConfigError, /of kind 'mlp'/);
    await rejectsWith(ebm.trainLatent(model as never, data, {} as never), ebm.EbmConfigError, /latent model/);
    const latent = ebm.latentEbm({ imageShape: [1, 8, 8], latentDim: 2, device: 'cpu' });
    await rejectsWith(ebm.train(latent, data, trainOptions), ebm.EbmConfigError, /ebm\.trainLatent/);
  });

  it('config: gridNll and gridEnergy need a model on 2-D inputs', async () => {
    const m3 = ebm.energyModel({ kind: 'mlp', inputDim: 3, hidden: [4], device: 'cpu' });
    const x3 = ebm.tensor(new Float32Array(6), [2, 3]);
    await rejectsWith(
      metrics.gridNll(m3, x3, grid),
      ebm.EbmConfigError,
      /^gridNll needs a model on 2-D inputs, got input shape \[3\]$/,
    );
    await rejectsWith(metrics.gridEnergy(m3, grid), ebm.EbmConfigError, /gridEnergy needs .*\[3\]/);
    assert.ok(Number.isFinite(await metrics.gridNll(model, data, grid)));
  });

  it('describeValue shows what was passed', () => {
    const cases: Array<[unknown, string]> = [
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
      [-0, '-0'],
      [1.5, '1.5'],
      ['2', "'2'"],
      ['a\nb', "'a\\nb'"],
      [2n, '2n'],
      [undefined, 'undefined'],
      [null, 'null'],
      [true, 'true'],
      [Symbol('s'), 'Symbol(s)'],
      [() => 1, 'a function'],
      [[1, NaN, 'x'], "[1, NaN, 'x']"],
      [[1, 2, 3, 4, 5, 6, 7, 8], '[1, 2, 3, 4, 5, 6, …]'],
      [{ a: 1, b: [undefined] }, '{a: 1, b: [undefined]}'],
      [{ a: { b: { c: 1 } } }, '{a: {b: an object}}'],
      [{}, '{}'],
      [new Float32Array(2), 'a Float32Array'],
      [new AbortController(), 'an AbortController'],
      [Object.create(null), '{}'],
    ];
    for (const [value, shown] of cases) assert.equal(describeValue(value), shown);
    assert.equal(describeValue({ a: 1 }, 0), 'an object');
    assert.equal(describeValue([1], 0), 'an array');
  });

  const steps = (v: unknown) => () => ebm.train(model, data, { ...trainOptions, steps: v as number });
  const echoCases: Array<[string, () => unknown, RegExp]> = [
    ['NaN', steps(NaN), /config\.steps must be an integer, got NaN$/],
    ['Infinity', steps(Infinity), /got Infinity$/],
    ['-Infinity', steps(-Infinity), /got -Infinity$/],
    ["the string '2'", steps('2'), /got '2'$/],
    ['a BigInt', steps(2n), /config\.steps must be an integer, got 2n$/],
    ['a symbol', steps(Symbol('s')), /got Symbol\(s\)$/],
    ['a function', steps(() => 2), /got a function$/],
    ['an array', steps([2]), /got \[2\]$/],
    ['BigInt model kind', () => ebm.energyModel({ kind: 1n } as never), /model\.kind must be one of .*; got 1n$/],
    ['BigInt activation', () => mlp({ activation: 1n }), /model\.activation must be one of .*; got 1n$/],
    ['BigInt flag', () => mlp({ spectralNorm: 0n }), /model\.spectralNorm must be true or false, got 0n$/],
    ['BigInt device', () => mlp({ device: 0n }), /model\.device must be .*, got 0n$/],
    [
      'NaN latent kind',
      () => ebm.latentEbm({ kind: NaN, imageShape: [1, 8, 8] } as never),
      /config\.kind must be 'latent' \(or left out\), got NaN$/,
    ],
  ];
  for (const [name, fn, pattern] of echoCases) {
    it(`config: the message echoes ${name} as given`, async () => {
      await rejectsWith(async () => fn(), ebm.EbmConfigError, pattern);
    });
  }

  const shapeCases: Array<[string, unknown, RegExp]> = [
    ['wrong trailing dimension', { data: new Float32Array(6), shape: [2, 3] }, /x must have shape \[N, 2\]/],
    ['wrong rank', { data: new Float32Array(4), shape: [4] }, /x must have shape \[N, 2\]/],
    ['length mismatch', { data: new Float32Array(5), shape: [2, 2] }, /has 5 values but shape \[2, 2\] needs 4/],
    [
      'Float64Array data',
      { data: new Float64Array(4), shape: [2, 2] },
      /x\.data must be a Float32Array, got a Float64Array$/,
    ],
    ['negative dimension', { data: new Float32Array(4), shape: [-2, -2] }, /x\.shape\[0\] must be a positive integer/],
    [
      'a BigInt dimension, echoed as given',
      { data: new Float32Array(4), shape: [2n, 2] },
      /x\.shape\[0\] must be a positive integer, got 2n$/,
    ],
    ['a string dimension, echoed as given', { data: new Float32Array(4), shape: ['2', 2] }, /got '2'$/],
    ['not a tensor', [1, 2, 3, 4], /x\.data must be a Float32Array/],
  ];
  for (const [name, x, pattern] of shapeCases) {
    it(`shape: ${name}`, async () => {
      await rejectsWith(model.energy(x as ebm.Tensor), ebm.EbmShapeError, pattern);
    });
  }

  it('shape: the native layer checks too (TS checks bypassed)', async () => {
    const handle = model.handle;
    const err = await handle.energy({ data: new Float32Array(3), shape: [2, 2] }).catch((e: Error) => e);
    assert.ok(err instanceof Error);
    assert.equal((err as Error & { code: string }).code, 'EBM_SHAPE');
    assert.throws(() => native().createModel('{"kind": "mlp", "inputDim": 2, "hidden": [0]}'), /model\.hidden\[0\]/);
    assert.throws(() => native().createModel('{not json'), /malformed model config/);
  });

  const numericCases: Array<[string, () => unknown, RegExp]> = [
    ['energy NaN', () => model.energy(ebm.tensor([0, NaN, 1, 1], [2, 2])), /x contains NaN or Inf/],
    ['score Inf', () => model.score(ebm.tensor([0, 1, Infinity, 1], [2, 2])), /x contains NaN or Inf/],
    ['standardize NaN', () => datasets.standardize(withNaN), /standardize input .*\(NaN\) at flat index 3/],
    ['standardize -Inf', () => datasets.standardize(withInf), /standardize input .*\(-Infinity\) at flat index 1/],
    ['applyStandardize NaN', () => datasets.applyStandardize(withNaN, stats), /applyStandardize input .*index 3/],
    ['undoStandardize NaN', () => datasets.undoStandardize(withNaN, stats), /undoStandardize input .*index 3/],
    ['minMaxScale NaN', () => datasets.minMaxScale(withNaN), /minMaxScale input .*\(NaN\) at flat index 3/],
    ['ess NaN', () => metrics.ess([0, NaN]), /ess: logWeights contains a non-finite value \(NaN\) at index 1/],
    ['ess +Inf', () => metrics.ess([0, Infinity]), /ess: logWeights .*\(Infinity\) at index 1/],
    ['ess all -Inf', () => metrics.ess([-Infinity, -Infinity]), /all -Infinity/],
    ['r2 NaN model', () => metrics.r2UpToConstant([0, NaN, 1], [1, 2, 3]), /r2UpToConstant: model .*index 1/],
    ['r2 Inf truth', () => metrics.r2UpToConstant([0, 1, 2], [1, 2, Infinity]), /r2UpToConstant: truth .*index 2/],
    ['r2 constant truth', () => metrics.r2UpToConstant([0, 1, 2], [1, 1, 1]), /truth is constant/],
    ['mmd NaN', () => metrics.mmd(withNaN, data), /^a contains a non-finite value \(NaN\) at flat index 3/],
    ['mmd Inf in b', () => metrics.mmd(data, withInf, { bandwidth: 1 }), /^b contains .*\(-Infinity\)/],
    ['medianDistance NaN', () => metrics.medianDistance(withNaN), /^a contains/],
    ['modeWeights NaN', () => metrics.modeWeights(withNaN, [[0, 0]]), /^x contains .*index 3/],
    ['withinModeStd NaN', () => metrics.withinModeStd(withNaN, [[0, 0]]), /^x contains/],
    ['meanAndCovariance NaN', () => metrics.meanAndCovariance(withNaN), /^x contains/],
  ];
  for (const [name, fn, pattern] of numericCases) {
    it(`numerics: ${name}`, async () => {
      await rejectsWith(async () => fn(), ebm.EbmNumericsError, pattern);
    });
  }

  it('parameters: wrong shape and unknown name', async () => {
    await rejectsWith(
      model.setParameters({ 'out.weight': ebm.tensor([1, 2], [1, 2]) }),
      ebm.EbmShapeError,
      /'out\.weight' has shape \[1, 8\], got \[1, 2\]/,
    );
    await rejectsWith(
      model.setParameters({ 'layer.9.weight': ebm.tensor([1], [1]) }),
      ebm.EbmConfigError,
      /no parameter named 'layer\.9\.weight'/,
    );
  });

  it('io: non-existent checkpoint path', async () => {
    await rejectsWith(ebm.loadModel(path.join(dir, 'missing.safetensors')), ebm.EbmIoError, /cannot open checkpoint/);
  });

  it('io: a checkpoint whose stored config has no hidden layers (the TS checks do not see it)', async () => {
    const file = path.join(dir, 'nohidden.safetensors');
    await ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [4], device: 'cpu' }).save(file);
    const bytes = fs.readFileSync(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as {
      __metadata__: Record<string, string>;
    };
    const config = JSON.parse(header.__metadata__['ebm_torch.config']) as { hidden: number[] };
    config.hidden = [];
    header.__metadata__['ebm_torch.config'] = JSON.stringify(config);
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(file, Buffer.concat([length, json, bytes.subarray(8 + headerLength)]));
    await rejectsWith(
      ebm.loadModel(file),
      ebm.EbmIoError,
      /holds an invalid model config: model\.hidden must list at least one layer/,
    );
  });

  it('io: a directory given as the checkpoint', async () => {
    await rejectsWith(ebm.loadModel(dir), ebm.EbmIoError, /is a directory, not a safetensors file/);
  });

  it('io: saving into a directory that does not exist', async () => {
    await rejectsWith(
      model.save(path.join(dir, 'no', 'such', 'dir', 'm.safetensors')),
      ebm.EbmIoError,
      /could not open/,
    );
  });

  it('io: corrupted, truncated and foreign checkpoint files', async () => {
    const file = path.join(dir, 'good.safetensors');
    await model.save(file);
    const bytes = fs.readFileSync(file);

    const garbage = path.join(dir, 'garbage.safetensors');
    fs.writeFileSync(garbage, Buffer.from('this is not a checkpoint at all'));
    await rejectsWith(ebm.loadModel(garbage), ebm.EbmIoError, /not a safetensors file/);

    const truncated = path.join(dir, 'truncated.safetensors');
    fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 10));
    await rejectsWith(ebm.loadModel(truncated), ebm.EbmIoError, /do not match its shape .* or the file's size/);

    const badJson = path.join(dir, 'badjson.safetensors');
    const broken = Buffer.from(bytes);
    broken[8] = 0x5b; // '{' -> '[' breaks the header
    broken[9] = 0x7d;
    fs.writeFileSync(badJson, broken);
    await rejectsWith(ebm.loadModel(badJson), ebm.EbmIoError, /malformed safetensors header/);

    const tiny = path.join(dir, 'tiny.safetensors');
    fs.writeFileSync(tiny, Buffer.from([1, 2, 3]));
    await rejectsWith(ebm.loadModel(tiny), ebm.EbmIoError, /truncated: 3 bytes/);

    const foreign = path.join(dir, 'foreign.safetensors');
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(foreign, Buffer.concat([len, header, Buffer.alloc(4)]));
    await rejectsWith(ebm.loadModel(foreign), ebm.EbmIoError, /was not written by ebm-torch/);
  });

  it('io: a checkpoint whose weights hold NaN', async () => {
    const file = path.join(dir, 'nan.safetensors');
    await model.save(file);
    const bytes = fs.readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    bytes.writeFloatLE(NaN, 8 + n); // first value of the first tensor
    fs.writeFileSync(file, bytes);
    await rejectsWith(ebm.loadModel(file), ebm.EbmNumericsError, /contains NaN or Inf/);
  });

  it('cli: samples that diverge to NaN skip the MMD rather than fail the run', async function () {
    this.timeout(60_000);
    const runDir = tmpDir('ebm-holes-');
    const config = {
      name: 'diverge',
      data: { toy: '8gaussians', n: 200, seed: 0 },
      model: { kind: 'mlp', inputDim: 2, hidden: [8], seed: 0 },
      train: { loss: { kind: 'ed', t: 1, m: 4, w: 1 }, batchSize: 32, steps: 10, logEvery: 5 },
      eval: {
        samples: { n: 50, seed: 1, sampler: { kind: 'langevin', steps: 20, stepSize: 1e38, noiseScale: 1e38 } },
      },
    };
    fs.writeFileSync(path.join(runDir, 'diverge.json'), JSON.stringify(config));
    const cli = path.resolve(__dirname, '../lib/cli/main.js');
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [cli, 'train', 'diverge.json'],
        { cwd: runDir, timeout: 50_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr }),
      );
    });
    try {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /MMD² skipped \(the samples hold NaN or Inf\)/);
      const saved = JSON.parse(fs.readFileSync(path.join(runDir, 'runs', 'diverge', 'metrics.json'), 'utf8')) as object;
      assert.ok(!('sampleMmd2' in saved));
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('the process is still alive and the model still works', async () => {
    const e = await model.energy(good);
    assert.equal(e.length, 2);
    assert.ok(Number.isFinite(e[0]) && Number.isFinite(e[1]));
  });
});
