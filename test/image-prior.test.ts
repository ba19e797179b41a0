/** ebm.metrics.imagePrior: a latent image prior scored on held-out images. */
import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import * as fs from 'node:fs';
import { rejectsWith, rng, tmpDir } from './helpers';

const SHAPE = [1, 8, 8] as const;
const PER = 64;

/**
 * Stripes: the left half bright (even k) or the right half (odd k), at ±`level` with a little
 * seeded jitter, so that held-out images are new draws of the training distribution.
 */
function stripes(n: number, seed: number, level = 0.8): ebm.Tensor {
  const rand = rng(seed);
  const data = new Float32Array(n * PER);
  for (let k = 0; k < n; k++) {
    for (let p = 0; p < PER; p++) {
      const bright = p % 8 < 4 === (k % 2 === 0);
      data[k * PER + p] = (bright ? level : -level) + 0.1 * (rand() - 0.5);
    }
  }
  return { data, shape: [n, ...SHAPE] };
}

/** The result without its wall time: what two runs with one seed must agree on. */
function numbers(r: ebm.metrics.ImagePriorResult): Omit<ebm.metrics.ImagePriorResult, 'seconds'> {
  const { seconds, ...rest } = r;
  assert.ok(seconds >= 0);
  return rest;
}

const tiny: ebm.LatentEbmConfig = {
  imageShape: [...SHAPE],
  latentDim: 4,
  generator: { channels: 4 },
  prior: { hidden: [16] },
  device: 'cpu',
  seed: 0,
};

// few posterior steps keep every call well under a second
const fast = { posterior: { steps: 10 }, prior: { steps: 50 } };

describe('metrics.imagePrior', function () {
  this.timeout(120_000);
  const train = stripes(40, 1);
  const heldOut = stripes(16, 2);
  let trained: ebm.LatentEbm;
  let classifier: ebm.EnergyModel;

  before(async () => {
    trained = ebm.latentEbm(tiny);
    // learning rates above the defaults so that 100 steps learn the two kinds of stripes
    await ebm.trainLatent(trained, train, {
      batchSize: 8,
      steps: 100,
      logEvery: 50,
      generatorLr: 3e-3,
      prior: { lr: 1e-3 },
    });
    // an untrained classifier of this image size: its features still define a Fréchet distance
    classifier = ebm.energyModel({ kind: 'classifier', inputShape: [...SHAPE], device: 'cpu', seed: 1 });
  });

  it('gives finite numbers of the documented shape, and a trained model beats the mean fill and an untrained model', async () => {
    // the default posterior chain (20 steps): fewer do not remove strong noise
    const r = await ebm.metrics.imagePrior(trained, heldOut, { prior: fast.prior, classifier, n: 10 });
    assert.equal(r.heldOut, 16);
    assert.equal(r.rows, 10);
    assert.equal(r.generated, 16);
    assert.deepEqual(r.imageShape, [1, 8, 8]);
    assert.equal(r.meanFillFrom, 'held-out');
    assert.deepEqual(
      r.denoise.map((d) => d.sigma),
      [0.1, 0.2, 0.4],
    );
    assert.deepEqual(r.posterior, { steps: 20, stepSize: 0.1, sigma: 0.3 });
    assert.deepEqual(r.prior, { steps: 50, stepSize: 0.2 });
    assert.equal(r.seed, 0);
    const values = [
      r.frechet as number,
      r.reconMse,
      ...Object.values(r.inpaintMse),
      ...Object.values(r.meanFillMse),
      ...r.denoise.flatMap((d) => [d.psnr, d.noisyPsnr]),
    ];
    for (const v of values) assert.ok(Number.isFinite(v), `${v}`);
    assert.ok((r.frechet as number) >= 0);
    for (const kind of ['centre', 'half'] as const) {
      // the missing pixels of stripes follow from the observed ones; the mean image is mid-grey there
      assert.ok(r.inpaintMse[kind] > 0, `${kind}: scored on the missing pixels, not the kept ones`);
      assert.ok(
        r.inpaintMse[kind] < 0.5 * r.meanFillMse[kind],
        `${kind}: ${r.inpaintMse[kind]} vs mean fill ${r.meanFillMse[kind]}`,
      );
    }
    // strong noise: the prior over stripes removes most of it
    const strong = r.denoise[2];
    assert.ok(strong.psnr > strong.noisyPsnr, `σ 0.4: denoised ${strong.psnr} dB vs noisy ${strong.noisyPsnr} dB`);

    const untrained = await ebm.metrics.imagePrior(ebm.latentEbm(tiny), heldOut, { frechet: false, n: 10 });
    assert.ok(r.reconMse < 0.5 * untrained.reconMse, `recon mse ${r.reconMse} vs untrained ${untrained.reconMse}`);
    assert.deepEqual(untrained.meanFillMse, r.meanFillMse, 'the baseline does not depend on the model');
  });

  it('is the documented computation: chains with seed + 1 … seed + 4, the first n images, masks centre and half', async () => {
    const seed = 7;
    const n = 6;
    const r = await ebm.metrics.imagePrior(trained, heldOut, { ...fast, classifier, n, seed, noise: [] });
    const x = { data: heldOut.data.slice(0, n * PER), shape: [n, ...SHAPE] };
    const chain = { steps: 10, stepSize: 0.1 };
    const generated = await trained.generate({ n: 16, prior: { steps: 50, stepSize: 0.2 }, seed: seed + 1 });
    assert.equal(r.frechet, await ebm.metrics.frechetDistance(classifier, generated, heldOut));
    const recon = await trained.reconstruct(x, { ...chain, seed: seed + 2 });
    assert.equal(r.reconMse, ebm.metrics.imageMse(recon, x));
    for (const [k, kind] of (['centre', 'half'] as const).entries()) {
      const mask = ebm.metrics.inpaintMask(n, [...SHAPE], kind);
      const filled = await trained.inpaint(x, mask, { ...chain, seed: seed + 3 + k });
      assert.equal(r.inpaintMse[kind], ebm.metrics.imageMse(filled, x, mask), kind);
      // the fill's mean over all 16 held-out images, not only the n scored
      assert.equal(r.meanFillMse[kind], ebm.metrics.imageMse(ebm.metrics.meanFill(x, mask, heldOut), x, mask), kind);
    }
    assert.deepEqual(r.denoise, []);
  });

  it('PSNR of the noisy input is 10 log10(4 / σ²) where clipping is rare, higher where it is not', async () => {
    assert.equal(ebm.metrics.psnr(0.01), 10 * Math.log10(400));
    // pixels within ±0.35: noise of std 0.05 or 0.1 reaches ±1 with probability < 1e-10
    const grey = stripes(40, 3, 0.3);
    const r = await ebm.metrics.imagePrior(trained, grey, {
      ...fast,
      frechet: false,
      noise: [0.05, 0.1],
      posterior: { steps: 2 },
    });
    for (const d of r.denoise) {
      // 40 × 64 squared deviates: the MSE is σ² within ±3 % (1 std), ±0.13 dB; 0.5 dB is ~4 std
      const expected = 10 * Math.log10(4 / d.sigma ** 2);
      assert.ok(Math.abs(d.noisyPsnr - expected) < 0.5, `σ ${d.sigma}: ${d.noisyPsnr} dB vs ${expected} dB`);
      assert.ok(Number.isFinite(d.psnr));
    }
    // pixels at ±0.8 and σ 1: clipping at ±1 removes much of the error
    const clipped = await ebm.metrics.imagePrior(trained, heldOut, { ...fast, frechet: false, noise: [1] });
    assert.ok(clipped.denoise[0].noisyPsnr > 10 * Math.log10(4) + 1, `${clipped.denoise[0].noisyPsnr} dB`);
  });

  it('is reproducible: the same seed gives the same numbers, another seed others', async () => {
    const options = { ...fast, classifier, n: 8, noise: [0.2] };
    const a = await ebm.metrics.imagePrior(trained, heldOut, { ...options, seed: 3 });
    const b = await ebm.metrics.imagePrior(trained, heldOut, { ...options, seed: 3 });
    const c = await ebm.metrics.imagePrior(trained, heldOut, { ...options, seed: 4 });
    assert.deepEqual(numbers(b), numbers(a));
    assert.notEqual(c.reconMse, a.reconMse);
    assert.notEqual(c.denoise[0].noisyPsnr, a.denoise[0].noisyPsnr, 'the noise follows the seed');
    assert.notEqual(c.frechet, a.frechet);
  });

  it('frechet: false skips generation; a reference set fills the mean; keep returns the pictures', async () => {
    const none = await ebm.metrics.imagePrior(trained, heldOut, { ...fast, frechet: false, noise: [] });
    assert.equal(none.frechet, null);
    assert.equal(none.generated, 0);

    const withRef = await ebm.metrics.imagePrior(trained, heldOut, { ...fast, frechet: false, reference: train });
    assert.equal(withRef.meanFillFrom, 'reference');
    const mask = ebm.metrics.inpaintMask(16, [...SHAPE], 'half');
    assert.equal(
      withRef.meanFillMse.half,
      ebm.metrics.imageMse(ebm.metrics.meanFill(heldOut, mask, train), heldOut, mask),
    );
    assert.notEqual(withRef.meanFillMse.half, none.meanFillMse.half);

    const { result, images } = await ebm.metrics.imagePriorWithImages(trained, heldOut, {
      ...fast,
      frechet: false,
      noise: [0.2],
      keep: 5,
    });
    assert.deepEqual(
      numbers(result),
      numbers(await ebm.metrics.imagePrior(trained, heldOut, { ...fast, frechet: false, noise: [0.2] })),
    );
    assert.deepEqual(images.heldOut.data, heldOut.data.slice(0, 5 * PER));
    for (const t of [
      images.heldOut,
      images.generated as ebm.Tensor,
      images.reconstructed,
      images.inpainted.centre.mask,
      images.inpainted.half.filled,
      images.denoised[0].noisy,
      images.denoised[0].denoised,
    ]) {
      assert.deepEqual(t.shape, [5, ...SHAPE]);
    }
    // the fill keeps the observed pixels; the noisy images are clipped to [-1, 1]
    const { mask: centre, filled } = images.inpainted.centre;
    for (let i = 0; i < filled.data.length; i++)
      if (centre.data[i] === 1) assert.equal(filled.data[i], heldOut.data[i]);
    assert.ok(images.denoised[0].noisy.data.every((v) => v >= -1 && v <= 1));
  });

  it('reports progress per phase, in order, up to the total; an abort rejects with EbmAbortError', async () => {
    const seen: Array<[number, number, string]> = [];
    await ebm.metrics.imagePrior(trained, heldOut, {
      ...fast,
      classifier,
      n: 4,
      noise: [0.1, 0.2],
      onProgress: (done, total, phase) => seen.push([done, total, phase]),
    });
    const total = 16 + 4 * (1 + 2 + 2);
    assert.ok(seen.every(([, t]) => t === total));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] >= seen[i - 1][0], 'done never goes back');
    assert.deepEqual(seen.at(-1), [total, total, 'denoise']);
    const phases = seen.map(([, , p]) => p).filter((p, i, all) => i === 0 || all[i - 1] !== p);
    assert.deepEqual(phases, ['generate', 'frechet', 'reconstruct', 'inpaint', 'denoise']);

    const ctrl = new AbortController();
    await rejectsWith(
      ebm.metrics.imagePrior(trained, heldOut, {
        ...fast,
        frechet: false,
        signal: ctrl.signal,
        onProgress: (_d, _t, phase) => {
          if (phase === 'inpaint') ctrl.abort();
        },
      }),
      ebm.EbmAbortError,
      /abort/,
    );
    ctrl.abort();
    await rejectsWith(
      ebm.metrics.imagePrior(trained, heldOut, { frechet: false, signal: ctrl.signal }),
      ebm.EbmAbortError,
      /aborted before generate|aborted before reconstruct/,
    );
  });

  it('an abort stops the default classifier’s one-off training too, and nothing is cached', async () => {
    const cache = tmpDir();
    const saved = process.env.EBM_TORCH_CACHE;
    process.env.EBM_TORCH_CACHE = cache;
    try {
      const model = ebm.latentEbm({ ...tiny, imageShape: [1, 28, 28] });
      const images = { data: new Float32Array(4 * 784).fill(0.5), shape: [4, 1, 28, 28] };
      const ctrl = new AbortController();
      await rejectsWith(
        ebm.metrics.imagePrior(model, images, {
          ...fast,
          n: 2,
          signal: ctrl.signal,
          onProgress: (_d, _t, phase) => {
            if (phase === 'frechet') ctrl.abort();
          },
        }),
        ebm.EbmAbortError,
        /classifier training was aborted/,
      );
      assert.deepEqual(fs.readdirSync(cache), []);
    } finally {
      if (saved === undefined) delete process.env.EBM_TORCH_CACHE;
      else process.env.EBM_TORCH_CACHE = saved;
    }
  });

  describe('bad input: one clear error each', () => {
    it('a model that is not a latent one', async () => {
      const mlp = ebm.energyModel({ kind: 'mlp', inputDim: 64, hidden: [4], device: 'cpu' });
      await rejectsWith(
        ebm.metrics.imagePrior(mlp as unknown as ebm.LatentEbm, heldOut),
        ebm.EbmConfigError,
        /imagePrior needs a latent image model .* got a model of kind 'mlp'/,
      );
      await rejectsWith(
        ebm.metrics.imagePrior({} as ebm.LatentEbm, heldOut),
        ebm.EbmConfigError,
        /model must be an ebm-torch EnergyModel/,
      );
    });

    it('images of another shape, too few, or with NaN / Inf', async () => {
      const big = { data: new Float32Array(4 * 256), shape: [4, 1, 16, 16] };
      await rejectsWith(
        ebm.metrics.imagePrior(trained, big),
        ebm.EbmShapeError,
        /images must have shape \[N, 1, 8, 8\], got \[4, 1, 16, 16\]/,
      );
      const flat = { data: heldOut.data, shape: [16, 64] };
      await rejectsWith(
        ebm.metrics.imagePrior(trained, flat),
        ebm.EbmShapeError,
        /images must have shape \[N, 1, 8, 8\]/,
      );
      const one = { data: heldOut.data.slice(0, PER), shape: [1, ...SHAPE] };
      await rejectsWith(ebm.metrics.imagePrior(trained, one), ebm.EbmShapeError, /at least 2 held-out images, got 1/);
      for (const bad of [NaN, Infinity]) {
        const data = heldOut.data.slice();
        data[70] = bad;
        await rejectsWith(
          ebm.metrics.imagePrior(trained, { data, shape: heldOut.shape }),
          ebm.EbmNumericsError,
          new RegExp(`images contains a non-finite value \\(${bad}\\) at flat index 70`),
        );
      }
    });

    it('a classifier for another shape, or none where the default one does not fit', async () => {
      await rejectsWith(
        ebm.metrics.imagePrior(trained, heldOut),
        ebm.EbmShapeError,
        /the default Fashion-MNIST classifier takes images \[1, 28, 28\] but the model's are \[1, 8, 8\]; pass .*options\.classifier, or options\.frechet: false/,
      );
      const other = ebm.energyModel({ kind: 'classifier', inputShape: [1, 12, 12], device: 'cpu' });
      await rejectsWith(
        ebm.metrics.imagePrior(trained, heldOut, { classifier: other }),
        ebm.EbmShapeError,
        /options\.classifier takes images \[1, 12, 12\]/,
      );
      const mlp = ebm.energyModel({ kind: 'mlp', inputDim: 64, hidden: [4], device: 'cpu' });
      await rejectsWith(
        ebm.metrics.imagePrior(trained, heldOut, { classifier: mlp }),
        ebm.EbmConfigError,
        /options\.classifier must be a 'classifier'/,
      );
      await rejectsWith(
        ebm.metrics.imagePrior(trained, heldOut, { classifier, frechet: false }),
        ebm.EbmConfigError,
        /options\.classifier applies only to the Fréchet distance/,
      );
    });

    it('options', async () => {
      const cases: Array<[unknown, RegExp, new (m: string) => Error]> = [
        [{ n: 17 }, /options\.n \(17\) is more than the 16 held-out images/, ebm.EbmConfigError],
        [{ n: 0 }, /options\.n must be >= 1, got 0/, ebm.EbmConfigError],
        [{ generated: 1, classifier }, /options\.generated must be >= 2/, ebm.EbmConfigError],
        [{ noise: [0.1, -1] }, /options\.noise\[1\] must be > 0, got -1/, ebm.EbmConfigError],
        [{ noise: 0.1 }, /options\.noise must be an array/, ebm.EbmConfigError],
        [{ posterior: { steps: -1 } }, /options\.posterior\.steps must be >= 0/, ebm.EbmConfigError],
        [{ posterior: { stepSize: 0 } }, /options\.posterior\.stepSize must be > 0/, ebm.EbmConfigError],
        [{ frechet: 'no' }, /options\.frechet must be true or false/, ebm.EbmConfigError],
        [{ seed: -1 }, /options\.seed must be >= 0/, ebm.EbmConfigError],
        [{ bogus: 1 }, /options\.bogus is not a known option/, ebm.EbmConfigError],
        [{ keep: 4 }, /options\.keep is not a known option of imagePrior/, ebm.EbmConfigError],
        [{ onProgress: 1 }, /options\.onProgress must be a function/, ebm.EbmConfigError],
        [
          { frechet: false, reference: { data: new Float32Array(4 * 256), shape: [4, 1, 16, 16] } },
          /options\.reference must have shape \[N, 1, 8, 8\]/,
          ebm.EbmShapeError,
        ],
      ];
      for (const [options, pattern, cls] of cases) {
        await rejectsWith(
          ebm.metrics.imagePrior(trained, heldOut, options as ebm.metrics.ImagePriorOptions),
          cls,
          pattern,
        );
      }
    });
  });
});
