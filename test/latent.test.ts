import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as ebm from '../lib';
import { maxAbsDiff, rejectsWith, skipUnless, tmpDir } from './helpers';
import { hasTorchPython, runReference } from './python';

// A tiny generator and prior so that each training run takes a second or two.
const small: ebm.LatentEbmConfig = {
  imageShape: [1, 28, 28],
  latentDim: 8,
  generator: { channels: 8 },
  prior: { hidden: [32, 32] },
  device: 'cpu',
  seed: 0,
};

function slice(t: ebm.Tensor, from: number, to: number): ebm.Tensor {
  const per = t.data.length / t.shape[0];
  return { data: t.data.slice(from * per, to * per), shape: [to - from, ...t.shape.slice(1)] };
}

/** Mean of E(z) = energy(z) − ½|z|² over the rows of z: the learned correction to N(0, I). */
async function meanCorrection(model: ebm.LatentEbm, z: ebm.Tensor): Promise<number> {
  const u = await model.energy(z);
  const d = z.shape[1];
  let sum = 0;
  for (let i = 0; i < u.length; i++) {
    let sq = 0;
    for (let j = 0; j < d; j++) sq += z.data[i * d + j] ** 2;
    sum += u[i] - 0.5 * sq;
  }
  return sum / u.length;
}

function gaussianLatents(n: number, d: number, seed: number): ebm.Tensor {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const data = new Float32Array(n * d);
  for (let i = 0; i < data.length; i++)
    data[i] = Math.sqrt(-2 * Math.log(Math.max(next(), 1e-12))) * Math.cos(2 * Math.PI * next());
  return { data, shape: [n, d] };
}

describe('latent EBM prior', function () {
  this.timeout(120000);
  let images: ebm.Tensor;
  let trained: ebm.LatentEbm;
  let run: ebm.TrainRun;

  before(function () {
    skipUnless(this, ebm.datasets.fashionMnistAvailable(), 'Fashion-MNIST is not installed (dataset-fashion-mnist)');
    images = ebm.datasets.fashionMnist({ split: 'train', limit: 320, scale: '-11' }).images;
  });

  before(async function () {
    if (!images) return;
    trained = ebm.latentEbm(small);
    // learning rates above the paper's (1e-4, 5e-5) so that 150 steps show learning
    run = await ebm.trainLatent(trained, images, {
      batchSize: 32,
      steps: 150,
      seed: 0,
      logEvery: 50,
      generatorLr: 2e-3,
      prior: { lr: 1e-3 },
    });
  });

  it('fills every default into the config it holds and saves', () => {
    const m = ebm.latentEbm({ imageShape: [1, 28, 28] });
    assert.deepEqual(m.config, {
      kind: 'latent',
      imageShape: [1, 28, 28],
      latentDim: 64,
      generator: { channels: 64, batchNorm: false },
      prior: { hidden: [200, 200, 200], activation: 'leaky_relu' },
      likelihoodSigma: 0.3,
      device: 'auto',
      seed: 0,
    });
    assert.deepEqual(m.inputShape, [64]);
    assert.ok(m instanceof ebm.EnergyModel);
  });

  it('trains: finite reports with every metric, reconstruction error falling', () => {
    assert.equal(run.steps, 150);
    assert.equal(run.history.length, 3);
    // the ED prior's gradient took the loss's one-pass head, as ebm.train's ED does
    assert.equal(run.onePassLossHead, true);
    for (const p of run.history) {
      for (const key of [
        'loss',
        'reconMse',
        'priorLoss',
        'energyPosterior',
        'energyNoise',
        'posteriorGradNorm',
        'generatorGradNorm',
        'priorGradNorm',
        'prior.gap',
        'msPosterior',
      ] as const) {
        assert.ok(Number.isFinite(p[key]), `${key} = ${p[key]} at step ${p.step}`);
      }
    }
    const first = run.history[0].reconMse ?? NaN;
    const last = run.history[run.history.length - 1].reconMse ?? NaN;
    assert.ok(last < 0.5 * first, `recon mse ${first} -> ${last}`);
  });

  it('the ED prior gives posterior latents lower energy than N(0, I) draws', async () => {
    const z = await trained.infer(slice(images, 0, 128), { seed: 5 });
    const post = await meanCorrection(trained, z);
    const noise = await meanCorrection(trained, gaussianLatents(512, 8, 7));
    assert.ok(post < noise - 2, `E(posterior) ${post} vs E(noise) ${noise}`);
  });

  it("'gaussian' trains no prior: E stays exactly 0, so the prior is N(0, I)", async () => {
    const m = ebm.latentEbm(small);
    const r = await ebm.trainLatent(m, images, { batchSize: 32, steps: 20, prior: 'gaussian', logEvery: 10 });
    assert.equal(r.history[1].energyPosterior, 0);
    assert.equal(r.history[1].priorLoss, undefined);
    assert.equal(r.onePassLossHead, false);
    const p = await m.parameters();
    assert.ok(p['prior.out.weight'].data.every((v) => v === 0));
    const z = gaussianLatents(16, 8, 1);
    const u = await m.energy(z);
    u.forEach((e, i) => {
      let sq = 0;
      for (let j = 0; j < 8; j++) sq += z.data[i * 8 + j] ** 2;
      assert.ok(Math.abs(e - 0.5 * sq) < 1e-4);
    });
  });

  it('trains with a CD prior (short-run prior Langevin negatives)', async () => {
    const m = ebm.latentEbm(small);
    const r = await ebm.trainLatent(m, images, {
      batchSize: 32,
      steps: 20,
      logEvery: 10,
      prior: {
        loss: { kind: 'cd', sampler: { kind: 'langevin', steps: 10, stepSize: 0.08 }, init: 'noise', alpha: 0 },
      },
    });
    assert.ok(Number.isFinite(r.history[1].priorLoss));
    assert.ok(Number.isFinite(r.history[1]['prior.energyNeg']));
  });

  it('is reproducible: the same seed gives the same weights, another seed others', async () => {
    const a = ebm.latentEbm(small);
    const b = ebm.latentEbm(small);
    const c = ebm.latentEbm(small);
    const opts = { batchSize: 16, steps: 5, seed: 3 };
    await ebm.trainLatent(a, images, opts);
    await ebm.trainLatent(b, images, opts);
    await ebm.trainLatent(c, images, { ...opts, seed: 4 });
    const [pa, pb, pc] = await Promise.all([a.parameters(), b.parameters(), c.parameters()]);
    assert.deepEqual(pa['generator.layers.0.weight'].data, pb['generator.layers.0.weight'].data);
    assert.deepEqual(pa['prior.layers.0.weight'].data, pb['prior.layers.0.weight'].data);
    assert.notDeepEqual(pa['generator.layers.0.weight'].data, pc['generator.layers.0.weight'].data);
  });

  it('generate, reconstruct, infer, decode: shapes, range and consistency', async () => {
    const g = await trained.generate({ n: 5, seed: 1, prior: { steps: 50 } });
    assert.deepEqual(g.shape, [5, 1, 28, 28]);
    assert.ok(g.data.every((v) => v > -1 && v < 1));
    const again = await trained.generate({ n: 5, seed: 1, prior: { steps: 50 } });
    assert.deepEqual(again.data, g.data);
    const x = slice(images, 0, 6);
    const z = await trained.infer(x, { seed: 9 });
    assert.deepEqual(z.shape, [6, 8]);
    const r = await trained.reconstruct(x, { seed: 9 });
    assert.deepEqual(r.shape, [6, 1, 28, 28]);
    // reconstruct = decode ∘ infer for the same chain seed
    assert.deepEqual((await trained.decode(z)).data, r.data);
  });

  it('inpaint keeps observed pixels bit for bit, never reads missing ones, and beats a mean fill', async () => {
    const x = slice(images, 0, 64);
    const mask = new Float32Array(x.data.length).fill(1);
    for (let i = 0; i < 64; i++) for (let p = 14 * 28; p < 784; p++) mask[i * 784 + p] = 0; // bottom half missing
    const holed = x.data.slice();
    for (let i = 0; i < holed.length; i++) if (mask[i] === 0) holed[i] = NaN;
    const out = await trained.inpaint({ data: holed, shape: x.shape }, { data: mask, shape: x.shape }, { seed: 2 });
    assert.deepEqual(out.shape, x.shape);
    let model = 0;
    let meanFill = 0;
    const mean = new Float32Array(784);
    for (let i = 0; i < 320; i++) for (let p = 0; p < 784; p++) mean[p] += images.data[i * 784 + p] / 320;
    for (let i = 0; i < out.data.length; i++) {
      if (mask[i] === 1) assert.equal(out.data[i], x.data[i]);
      else {
        assert.ok(Number.isFinite(out.data[i]));
        model += (out.data[i] - x.data[i]) ** 2;
        meanFill += (mean[i % 784] - x.data[i]) ** 2;
      }
    }
    assert.ok(model < meanFill, `inpainting error ${model} vs mean fill ${meanFill}`);
    // nothing missing: the images come back unchanged
    const all = await trained.inpaint(x, { data: new Float32Array(x.data.length).fill(1), shape: x.shape });
    assert.deepEqual(all.data, x.data);
  });

  it('denoise returns clean-shaped images closer to the clean ones than the noisy input', async () => {
    const x = slice(images, 0, 64);
    const noisy = x.data.slice();
    const z = gaussianLatents(1, noisy.length, 11).data;
    for (let i = 0; i < noisy.length; i++) noisy[i] = Math.max(-1, Math.min(1, noisy[i] + 0.5 * z[i]));
    const clean = await trained.denoise({ data: noisy, shape: x.shape }, { sigma: 0.5, seed: 3 });
    assert.deepEqual(clean.shape, x.shape);
    let before = 0;
    let after = 0;
    for (let i = 0; i < noisy.length; i++) {
      before += (noisy[i] - x.data[i]) ** 2;
      after += (clean.data[i] - x.data[i]) ** 2;
    }
    assert.ok(after < before, `denoised error ${after} vs noisy ${before}`);
  });

  it('round-trips through a checkpoint: weights, config and generate() bit-equal', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'latent.safetensors');
    await trained.save(file);
    const loaded = await ebm.loadModel(file);
    assert.ok(loaded instanceof ebm.LatentEbm);
    const typed = await ebm.loadLatentEbm(file);
    assert.deepEqual(loaded.config, trained.config);
    const [p, q] = await Promise.all([trained.parameters(), typed.parameters()]);
    assert.deepEqual(Object.keys(q).sort(), Object.keys(p).sort());
    for (const k of Object.keys(p)) assert.deepEqual(q[k].data, p[k].data, k);
    const a = await trained.generate({ n: 3, seed: 4, prior: { steps: 20 } });
    const b = await typed.generate({ n: 3, seed: 4, prior: { steps: 20 } });
    assert.deepEqual(b.data, a.data);
    // an ordinary energy checkpoint is not a latent model
    const mlp = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [4] });
    await mlp.save(path.join(dir, 'mlp.safetensors'));
    await rejectsWith(
      ebm.loadLatentEbm(path.join(dir, 'mlp.safetensors')),
      ebm.EbmConfigError,
      /'mlp' model, not a latent/,
    );
  });

  it('writes checkpoints during and after a run', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'ckpt.safetensors');
    const m = ebm.latentEbm(small);
    await ebm.trainLatent(m, images, { batchSize: 16, steps: 20, logEvery: 10, checkpoint: { path: file, every: 10 } });
    const loaded = await ebm.loadLatentEbm(file);
    assert.deepEqual(
      (await loaded.parameters())['prior.layers.0.weight'].data,
      (await m.parameters())['prior.layers.0.weight'].data,
    );
  });

  it('an abort mid-run rejects with EbmAbortError and leaves a usable model', async () => {
    const m = ebm.latentEbm(small);
    const ctrl = new AbortController();
    await rejectsWith(
      ebm.trainLatent(m, images, {
        batchSize: 32,
        steps: 100000,
        logEvery: 5,
        signal: ctrl.signal,
        onProgress: (p) => {
          if (p.step >= 10) ctrl.abort();
        },
      }),
      ebm.EbmAbortError,
      /aborted after \d+ steps/,
    );
    const g = await m.generate({ n: 2, seed: 0, prior: { steps: 5 } });
    assert.ok(g.data.every(Number.isFinite));
  });

  it('trains on a folder of PNG images', async () => {
    const dir = tmpDir();
    for (let k = 0; k < 40; k++) {
      const png = new PNG({ width: 16, height: 16 });
      for (let p = 0; p < 256; p++) {
        const v = p % 16 < 8 === (k % 2 === 0) ? 230 : 20;
        png.data.set([v, v, v, 255], p * 4);
      }
      fs.writeFileSync(path.join(dir, `img${k}.png`), PNG.sync.write(png));
    }
    const folder = ebm.datasets.imageFolder(dir, { grayscale: true });
    const m = ebm.latentEbm({ ...small, imageShape: [1, 16, 16] });
    const r = await ebm.trainLatent(m, folder.images, { batchSize: 8, steps: 10, logEvery: 5 });
    assert.ok(Number.isFinite(r.history[1].reconMse));
    assert.deepEqual((await m.generate({ n: 2, prior: { steps: 5 } })).shape, [2, 1, 16, 16]);
  });

  describe('bad input: one clear error each, nothing written', () => {
    it('configs', () => {
      assert.throws(() => ebm.latentEbm({ imageShape: [1, 27, 28] }), /height and width must be even/);
      assert.throws(
        () => ebm.latentEbm({ imageShape: [1, 28] as never }),
        /imageShape must be \[channels, height, width\]/,
      );
      assert.throws(() => ebm.latentEbm({ imageShape: [1, 28, 28], latentDim: 0 }), /latentDim must be >= 1/);
      assert.throws(() => ebm.latentEbm({ imageShape: [1, 28, 28], prior: { hidden: [] } }), /prior.hidden/);
      assert.throws(
        () => ebm.latentEbm({ imageShape: [1, 28, 28], likelihoodSigma: -1 }),
        /likelihoodSigma must be > 0/,
      );
      assert.throws(
        () => ebm.latentEbm({ imageShape: [1, 28, 28], generator: { chanels: 4 } as never }),
        /chanels is not a known option/,
      );
      assert.throws(() => ebm.energyModel({ kind: 'latent' } as never), /built by ebm.latentEbm/);
    });

    it('training options and data', async () => {
      const m = ebm.latentEbm(small);
      const dir = tmpDir();
      const ckpt = path.join(dir, 'never.safetensors');
      const base = { batchSize: 8, steps: 2, checkpoint: { path: ckpt } };
      await rejectsWith(
        ebm.trainLatent(m, { data: new Float32Array(8 * 784), shape: [8, 784] }, base),
        ebm.EbmShapeError,
        /images must have shape \[N, 1, 28, 28\]/,
      );
      await rejectsWith(
        ebm.trainLatent(m, images, { ...base, prior: { loss: { kind: 'dsm', sigma: 0.1 } as never } }),
        ebm.EbmConfigError,
        /options.prior.loss.kind must be 'ed' or 'cd'/,
      );
      await rejectsWith(
        ebm.trainLatent(m, images, { ...base, batchSize: 1000 }),
        ebm.EbmConfigError,
        /larger than the dataset/,
      );
      await rejectsWith(
        ebm.trainLatent(m, images, { ...base, posterior: { stepSize: 0 } }),
        ebm.EbmConfigError,
        /posterior.stepSize must be > 0/,
      );
      const nan = slice(images, 0, 8);
      nan.data[100] = NaN;
      await rejectsWith(ebm.trainLatent(m, nan, base), ebm.EbmNumericsError, /images.*non-finite|NaN/);
      const raw = slice(images, 0, 8);
      raw.data[5] = 255;
      await rejectsWith(ebm.trainLatent(m, raw, base), ebm.EbmConfigError, /scaled to \[-1, 1\]/);
      await rejectsWith(
        ebm.train(m, images, { loss: { kind: 'ed', t: 1, m: 4, w: 1 }, batchSize: 8, steps: 1 } as never),
        ebm.EbmConfigError,
        /trainLatent/,
      );
      assert.equal(fs.existsSync(ckpt), false);
      assert.deepEqual(fs.readdirSync(dir), []);
    });

    it('masks and inference options', async () => {
      const x = slice(images, 0, 4);
      await rejectsWith(
        trained.inpaint(x, { data: new Float32Array(784), shape: [1, 1, 28, 28] }),
        ebm.EbmShapeError,
        /mask must have the shape of the images/,
      );
      const half = new Float32Array(x.data.length).fill(0.5);
      await rejectsWith(
        trained.inpaint(x, { data: half, shape: x.shape }),
        ebm.EbmConfigError,
        /only 0 \(missing\) and 1 \(observed\)/,
      );
      await rejectsWith(trained.denoise(x, {} as never), ebm.EbmConfigError, /options.sigma must be a finite number/);
      await rejectsWith(trained.generate({ n: 0 }), ebm.EbmConfigError, /options.n must be >= 1/);
      await rejectsWith(trained.infer(x, { steps: -1 }), ebm.EbmConfigError, /options.steps must be >= 0/);
      await rejectsWith(
        trained.decode({ data: new Float32Array(3), shape: [1, 3] }),
        ebm.EbmShapeError,
        /z must have shape \[N, 8\]/,
      );
    });
  });

  describe('generator architecture', () => {
    it('32×32 RGB with BatchNorm: PyTorch (F.conv_transpose2d, F.batch_norm) computes the same images and energies', async function () {
      skipUnless(this, hasTorchPython(), '/usr/bin/python3 has no torch (apt-get install -y python3-torch)');
      const m = ebm.latentEbm({ ...small, imageShape: [3, 32, 32], generator: { channels: 4, batchNorm: true } });
      const n = 24;
      const data = new Float32Array(n * 3 * 32 * 32);
      for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.9;
      const rgb = { data, shape: [n, 3, 32, 32] };
      // a few steps, so that the running statistics and weights are not at their initial values
      await ebm.trainLatent(m, rgb, { batchSize: 8, steps: 6, logEvery: 3, generatorLr: 1e-2, prior: { lr: 1e-2 } });
      const params = await m.parameters();
      assert.ok(
        params['generator.norms.0.running_mean'].data.some((v) => v !== 0),
        'running mean was updated',
      );
      const dir = tmpDir();
      const file = path.join(dir, 'rgb.safetensors');
      await m.save(file);
      const z = gaussianLatents(5, 8, 21);
      const rows = Array.from({ length: 5 }, (_, i) => Array.from(z.data.subarray(i * 8, (i + 1) * 8)));
      const ref = runReference<{ images: number[]; energy: number[] }>('latent.py', { file, z: rows });
      const images = await m.decode(z);
      assert.deepEqual(images.shape, [5, 3, 32, 32]);
      assert.ok(maxAbsDiff(images.data, ref.images) < 1e-5, `images differ by ${maxAbsDiff(images.data, ref.images)}`);
      assert.ok(maxAbsDiff(await m.energy(z), ref.energy) < 1e-4);
    });

    it('decodes each latent on its own outside training (BatchNorm on running averages)', async () => {
      const m = ebm.latentEbm({ ...small, generator: { channels: 4, batchNorm: true } });
      await ebm.trainLatent(m, images, { batchSize: 16, steps: 4, logEvery: 2, generatorLr: 1e-2 });
      const z = gaussianLatents(4, 8, 3);
      const batch = await m.decode(z);
      const first = await m.decode({ data: z.data.slice(0, 8), shape: [1, 8] });
      assert.ok(maxAbsDiff(first.data, batch.data.subarray(0, 784)) < 1e-6);
    });
  });
});
