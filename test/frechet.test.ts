import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { rejectsWith, skipUnless, tmpDir } from './helpers';

describe('Fréchet distance with the project’s Fashion-MNIST classifier', function () {
  this.timeout(300000);
  let classifier: ebm.EnergyModel;
  const cachePath = path.join(tmpDir(), 'classifier.safetensors');

  before(function () {
    skipUnless(
      this,
      ebm.datasets.fashionMnistAvailable(),
      'Fashion-MNIST is not installed (apt-get install -y dataset-fashion-mnist)',
    );
  });

  it('trains a classifier with the ce loss, caches it, and reloads it from the cache', async () => {
    const first = await ebm.metrics.fashionClassifier({ cachePath, limit: 12000, steps: 300 });
    console.log(`      classifier test accuracy ${first.testAccuracy.toFixed(3)} (300 steps on 12k images)`);
    assert.equal(first.trained, true);
    assert.ok(first.testAccuracy > 0.7, `accuracy ${first.testAccuracy}`);
    const again = await ebm.metrics.fashionClassifier({ cachePath });
    assert.equal(again.trained, false, 'loaded from the cache');
    assert.equal(again.testAccuracy, first.testAccuracy);
    classifier = again.model;
  });

  it('an abort stops the training with EbmAbortError and caches nothing', async () => {
    const file = path.join(tmpDir(), 'aborted.safetensors');
    const ctrl = new AbortController();
    let last = 0;
    await rejectsWith(
      ebm.metrics.fashionClassifier({
        cachePath: file,
        limit: 2000,
        steps: 100000,
        signal: ctrl.signal,
        onProgress: (p) => {
          last = p.step;
          ctrl.abort();
        },
      }),
      ebm.EbmAbortError,
      /abort/,
    );
    assert.equal(last, 50, 'stopped at the first report');
    assert.equal(fs.existsSync(file), false);
    await rejectsWith(
      ebm.metrics.fashionClassifier({ cachePath: file, signal: ctrl.signal }),
      ebm.EbmAbortError,
      /before it started/,
    );
  });

  it('is ~0 for the same images, small for two real samples, large for noise', async () => {
    const test = ebm.datasets.fashionMnist({ split: 'test', scale: '-11', limit: 2000 }).images;
    const half = 1000 * 784;
    const a = { data: test.data.subarray(0, half), shape: [1000, 1, 28, 28] };
    const b = { data: test.data.subarray(half, 2 * half), shape: [1000, 1, 28, 28] };
    let seed = 1;
    const noise = {
      data: Float32Array.from({ length: half }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1),
      shape: [1000, 1, 28, 28],
    };
    const blurred = { data: a.data.map((v) => 0.5 * v), shape: a.shape };
    const same = await ebm.metrics.frechetDistance(classifier, a, a);
    const real = await ebm.metrics.frechetDistance(classifier, a, b);
    const dim = await ebm.metrics.frechetDistance(classifier, a, blurred);
    const fake = await ebm.metrics.frechetDistance(classifier, a, noise);
    console.log(
      `      FD: same ${same.toExponential(1)}, real vs real ${real.toFixed(2)}, real vs dimmed ${dim.toFixed(2)}, real vs noise ${fake.toFixed(2)}`,
    );
    assert.ok(Math.abs(same) < 1e-3 * Math.max(1, real), `same ${same}`);
    assert.ok(real < dim && dim < fake, 'ordered by how far the sets are from real images');
    assert.ok(fake > 10 * real);
    const swapped = await ebm.metrics.frechetDistance(classifier, b, a);
    assert.ok(Math.abs(swapped - real) < 1e-6 * Math.max(1, real), 'symmetric');
  });

  it('needs a classifier model', async () => {
    const mlp = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [4], device: 'cpu' });
    const x = ebm.tensor([0, 0, 1, 1], [2, 2]);
    await rejectsWith(ebm.metrics.frechetDistance(mlp, x, x), ebm.EbmConfigError, /must be a 'classifier'/);
  });
});
