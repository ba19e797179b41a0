import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { native } from '../lib/native';
import { rejectsWith, tmpDir } from './helpers';

// Each case feeds one kind of bad input and checks the error class and that the message says
// what was wrong. After all of them the process is alive and the model still works.
describe('bad input is rejected with a clear error', () => {
  const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
  const good = ebm.tensor([0, 1, 2, 3], [2, 2]);
  const dir = tmpDir();
  const mlp = (extra: Record<string, unknown>) =>
    ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], ...extra } as unknown as ebm.ModelConfig);

  const configCases: Array<[string, () => unknown, RegExp]> = [
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

  const shapeCases: Array<[string, unknown, RegExp]> = [
    ['wrong trailing dimension', { data: new Float32Array(6), shape: [2, 3] }, /x must have shape \[N, 2\]/],
    ['wrong rank', { data: new Float32Array(4), shape: [4] }, /x must have shape \[N, 2\]/],
    ['length mismatch', { data: new Float32Array(5), shape: [2, 2] }, /has 5 values but shape \[2, 2\] needs 4/],
    ['Float64Array data', { data: new Float64Array(4), shape: [2, 2] }, /x\.data must be a Float32Array/],
    ['negative dimension', { data: new Float32Array(4), shape: [-2, -2] }, /x\.shape\[0\] must be a positive integer/],
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

  it('numerics: NaN in the input', async () => {
    await rejectsWith(model.energy(ebm.tensor([0, NaN, 1, 1], [2, 2])), ebm.EbmNumericsError, /x contains NaN or Inf/);
  });

  it('numerics: Inf in the input to score', async () => {
    await rejectsWith(
      model.score(ebm.tensor([0, 1, Infinity, 1], [2, 2])),
      ebm.EbmNumericsError,
      /x contains NaN or Inf/,
    );
  });

  it('config: t for a model that is not time-conditioned', async () => {
    await rejectsWith(model.energy(good, 0.5), ebm.EbmConfigError, /not time-conditioned/);
  });

  it('config: a time-conditioned model called without t', async () => {
    const tc = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], timeConditioned: true, device: 'cpu' });
    await rejectsWith(tc.energy(good), ebm.EbmConfigError, /t is required/);
  });

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

  it('the process is still alive and the model still works', async () => {
    const e = await model.energy(good);
    assert.equal(e.length, 2);
    assert.ok(Number.isFinite(e[0]) && Number.isFinite(e[1]));
  });
});
