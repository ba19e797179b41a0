import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { rejectsWith, tmpDir } from './helpers';

/** A safetensors file from a header object and a data section. */
function safetensorsBytes(header: Record<string, unknown>, data: Buffer): Buffer {
  const text = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([len, text, data]);
}

describe('checkpoint integrity', () => {
  const dir = tmpDir();
  const model = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [4], device: 'cpu' });

  it('refuses trailing bytes after the last tensor (the reference implementation does)', async () => {
    const file = path.join(dir, 'trailing.safetensors');
    await model.save(file);
    await ebm.loadModel(file); // the file as written loads
    fs.appendFileSync(file, Buffer.from([0, 0, 0, 0]));
    await rejectsWith(ebm.loadModel(file), ebm.EbmIoError, /has 4 bytes after its last tensor/);
  });

  it('refuses tensors whose data_offsets overlap, and gaps between tensors', async () => {
    const overlap = path.join(dir, 'overlap.safetensors');
    const f32 = { dtype: 'F32', shape: [1] };
    fs.writeFileSync(
      overlap,
      safetensorsBytes({ a: { ...f32, data_offsets: [0, 4] }, b: { ...f32, data_offsets: [0, 4] } }, Buffer.alloc(4)),
    );
    await rejectsWith(ebm.loadModel(overlap), ebm.EbmIoError, /tensor '[ab]' overlaps the bytes of another tensor/);
    const gap = path.join(dir, 'gap.safetensors');
    fs.writeFileSync(
      gap,
      safetensorsBytes({ a: { ...f32, data_offsets: [0, 4] }, b: { ...f32, data_offsets: [8, 12] } }, Buffer.alloc(12)),
    );
    await rejectsWith(ebm.loadModel(gap), ebm.EbmIoError, /4 bytes before tensor 'b' belong to no tensor/);
  });

  it('says what is wrong with a header length, naming the cap', async () => {
    const file = path.join(dir, 'huge-header.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(200n << 20n);
    fs.writeFileSync(file, Buffer.concat([len, Buffer.from('{}')]));
    await rejectsWith(
      ebm.loadModel(file),
      ebm.EbmIoError,
      /header of 209715200 bytes, over the format's cap of 104857600 bytes/,
    );
    const short = path.join(dir, 'short-header.safetensors');
    len.writeBigUInt64LE(1000n);
    fs.writeFileSync(short, Buffer.concat([len, Buffer.from('{}')]));
    await rejectsWith(ebm.loadModel(short), ebm.EbmIoError, /header of 1000 bytes does not fit in the file's 10 bytes/);
  });

  it('echoes negative offsets as written', async () => {
    const file = path.join(dir, 'negative.safetensors');
    fs.writeFileSync(
      file,
      safetensorsBytes({ a: { dtype: 'F32', shape: [1], data_offsets: [-8, -4] } }, Buffer.alloc(4)),
    );
    await rejectsWith(ebm.loadModel(file), ebm.EbmIoError, /data_offsets \[-8, -4\]/);
  });

  it("removes temp files of dead writers at the next save or load of their target, and nobody else's", async () => {
    const file = path.join(dir, 'm.safetensors');
    const dead = `${file}.tmp-999999999-0`; // above any Linux pid_max
    const alive = `${file}.tmp-${process.pid}-77`;
    const other = `${file}.tmp-notmine`;
    for (const f of [dead, alive, other]) fs.writeFileSync(f, 'partial');
    await model.save(file);
    assert.equal(fs.existsSync(dead), false);
    assert.equal(fs.existsSync(alive), true);
    assert.equal(fs.existsSync(other), true);
    fs.writeFileSync(dead, 'partial');
    await ebm.loadModel(file);
    assert.equal(fs.existsSync(dead), false);
    fs.rmSync(alive);
    fs.rmSync(other);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('m.safetensors')),
      ['m.safetensors'],
    );
  });

  it('save takes an AbortSignal: a save waiting behind a run is cancelled and writes nothing', async () => {
    const busy = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [64, 64], device: 'cpu' });
    const file = path.join(dir, 'never-saved.safetensors');
    const ctrl = new AbortController();
    const run = ebm.train(busy, ebm.datasets.toy('8gaussians', 2000, 0), {
      loss: { kind: 'ed', t: 1, m: 4, w: 1 },
      batchSize: 64,
      steps: 300,
      logEvery: 100,
    });
    const save = busy.save(file, { signal: ctrl.signal });
    ctrl.abort();
    await rejectsWith(save, ebm.EbmAbortError, /saving was aborted before it started/);
    await run;
    assert.equal(fs.existsSync(file), false);
    await rejectsWith(
      busy.save(file, { signal: 'x' as never }),
      ebm.EbmConfigError,
      /options.signal must be an AbortSignal/,
    );
    await busy.save(file, { signal: new AbortController().signal });
    assert.ok(fs.existsSync(file));
  });

  /** Rewrites the model config stored in a checkpoint's metadata. */
  function editConfig(file: string, edit: (config: Record<string, unknown>) => void): void {
    const bytes = fs.readFileSync(file);
    const len = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as Record<string, Record<string, string>>;
    const meta = header.__metadata__ as Record<string, string>;
    const config = JSON.parse(meta['ebm_torch.config'] as string) as Record<string, unknown>;
    edit(config);
    meta['ebm_torch.config'] = JSON.stringify(config);
    fs.writeFileSync(file, safetensorsBytes(header, bytes.subarray(8 + len)));
  }

  it("an unknown choice in a checkpoint's model config is a clear error, not another choice", async () => {
    const file = path.join(dir, 'gmm-path.safetensors');
    const gmm = ebm.energyModel({
      kind: 'gmm',
      means: [
        [0, 0],
        [1, 1],
      ],
      stds: [0.5, 0.5],
      weights: [0.5, 0.5],
      path: 've',
      device: 'cpu',
    });
    await gmm.save(file);
    assert.equal((await ebm.loadModel(file)).timeConditioned, true);
    editConfig(file, (c) => (c.path = 'vx'));
    await rejectsWith(
      ebm.loadModel(file),
      ebm.EbmIoError,
      /invalid model config: model\.path must be one of 'vp', 've'; got 'vx'/,
    );
    const mlp = path.join(dir, 'mlp-activation.safetensors');
    await model.save(mlp);
    editConfig(mlp, (c) => (c.activation = 'relu6'));
    await rejectsWith(
      ebm.loadModel(mlp),
      ebm.EbmIoError,
      /invalid model config: .*activation must be one of 'silu', .*; got 'relu6'/,
    );
  });
});
