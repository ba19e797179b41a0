/**
 * `ebm eval <latent model> --images FOLDER`: the numbers of metrics.imagePrior on held-out images,
 * as JSON and metrics.json, with the pictures; bad input gets one clear line.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as ebm from '../lib';
import { tmpDir } from './helpers';
import { assertOneLineError, decodePng, runCli, stripes } from './cli-helpers';

const env = { ...process.env, OMP_NUM_THREADS: '1' };

function writeFolder(dir: string, ks: number[], png: (k: number) => PNG = stripes): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const k of ks) fs.writeFileSync(path.join(dir, `${String(k).padStart(3, '0')}.png`), PNG.sync.write(png(k)));
}

/** A flat grey image of `size` × `size`. */
function grey(size: number): PNG {
  const png = new PNG({ width: size, height: size });
  png.data.fill(128);
  return png;
}

describe('cli: ebm eval of a latent image prior', function () {
  this.timeout(180_000);
  let dir: string;

  before(async () => {
    dir = tmpDir('ebm-cli-latent-eval-');
    writeFolder(path.join(dir, 'train'), [...Array(32).keys()]);
    // held-out images: other files of the same two kinds
    writeFolder(path.join(dir, 'held-out'), [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    const model = ebm.latentEbm({
      imageShape: [1, 16, 16],
      latentDim: 8,
      generator: { channels: 8 },
      prior: { hidden: [32] },
      device: 'cpu',
      seed: 3,
    });
    const { images } = ebm.datasets.imageFolder(path.join(dir, 'train'), { grayscale: true });
    await ebm.trainLatent(model, images, { batchSize: 8, steps: 20, logEvery: 10, generatorLr: 3e-3 });
    await model.save(path.join(dir, 'latent.safetensors'));
    const classifier = ebm.energyModel({ kind: 'classifier', inputShape: [1, 16, 16], device: 'cpu', seed: 1 });
    await classifier.save(path.join(dir, 'classifier.safetensors'));
    const small = ebm.energyModel({ kind: 'classifier', inputShape: [1, 8, 8], device: 'cpu', seed: 1 });
    await small.save(path.join(dir, 'classifier-8.safetensors'));
    const plain = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
    await plain.save(path.join(dir, 'plain.safetensors'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints the numbers of metrics.imagePrior on the held-out folder, writes them and the pictures into --out', async () => {
    const args = ['--n', '6', '--posterior-steps', '8', '--noise', '0.2,0.4', '--seed', '5'];
    const r = await runCli(
      ['eval', 'latent.safetensors', '--images', 'held-out', '--classifier', 'classifier.safetensors', ...args],
      dir,
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const cli = JSON.parse(r.stdout) as ebm.metrics.ImagePriorResult & { model: string; images: string };
    assert.match(r.stderr, /ebm eval: generate 0\/\d+ images/);
    assert.match(r.stderr, /ebm eval: denoise \d+\/\d+ images/);

    const model = await ebm.loadModel(path.join(dir, 'latent.safetensors'));
    assert.ok(model instanceof ebm.LatentEbm);
    const { images } = ebm.datasets.imageFolder(path.join(dir, 'held-out'), { grayscale: true });
    const classifier = await ebm.loadModel(path.join(dir, 'classifier.safetensors'));
    const api = await ebm.metrics.imagePrior(model, images, {
      n: 6,
      classifier,
      posterior: { steps: 8 },
      noise: [0.2, 0.4],
      seed: 5,
    });
    const { seconds: s1, model: m, images: i, ...fromCli } = cli;
    const { seconds: s2, ...fromApi } = api;
    assert.ok(s1 >= 0 && s2 >= 0);
    assert.equal(m, 'latent.safetensors');
    assert.equal(i, 'held-out');
    assert.deepEqual(fromCli, fromApi, 'the CLI and the API give the same numbers');
    assert.equal(fromCli.heldOut, 10);
    assert.equal(fromCli.rows, 6);
    assert.ok(typeof fromCli.frechet === 'number' && Number.isFinite(fromCli.frechet));

    const out = path.join(dir, 'eval');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')), cli);
    for (const file of [
      'generated.png',
      'reconstructed.png',
      'inpainted-centre.png',
      'inpainted-half.png',
      'denoised.png',
    ]) {
      const png = decodePng(path.join(out, file));
      assert.ok(png.width >= 16 && png.height >= 16, file);
    }
  });

  it('--no-frechet skips the Fréchet distance (samples are still drawn for generated.png); --out names the folder', async () => {
    const r = await runCli(
      [
        'eval',
        'latent.safetensors',
        '--images',
        'held-out',
        '--no-frechet',
        '--n',
        '4',
        '--posterior-steps',
        '4',
        '--noise',
        '0.3',
        '--out',
        'ev2',
      ],
      dir,
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const cli = JSON.parse(r.stdout) as ebm.metrics.ImagePriorResult;
    assert.equal(cli.frechet, null);
    assert.equal(cli.generated, 0);
    assert.ok(fs.existsSync(path.join(dir, 'ev2', 'metrics.json')));
    assert.ok(fs.existsSync(path.join(dir, 'ev2', 'generated.png')));
  });

  describe('bad input: one clear line, nothing written', () => {
    const cases: Array<[string, () => string[], number, RegExp]> = [
      ['--data with a latent model', () => ['eval', 'latent.safetensors', '--data', 'toy:8gaussians'], 2, /--images/],
      ['a latent model without --images', () => ['eval', 'latent.safetensors'], 2, /latent image model.*--images/],
      [
        '--images with a plain energy model',
        () => ['eval', 'plain.safetensors', '--images', 'held-out'],
        2,
        /--images applies only to latent image models.*--data/,
      ],
      [
        'images of another size than the model takes',
        () => ['eval', 'latent.safetensors', '--images', 'small', '--no-frechet'],
        1,
        /the images are \[1, 8, 8\] but the model takes \[1, 16, 16\]/,
      ],
      [
        'a folder with images of mixed sizes',
        () => ['eval', 'latent.safetensors', '--images', 'mixed', '--no-frechet'],
        1,
        /--images mixed: .*size/,
      ],
      [
        'a folder with a file that is not a PNG',
        () => ['eval', 'latent.safetensors', '--images', 'with-jpeg', '--no-frechet'],
        1,
        /photo\.jpg is not a PNG file/,
      ],
      [
        'no classifier for the image size',
        () => ['eval', 'latent.safetensors', '--images', 'held-out'],
        2,
        /default Fréchet classifier takes .*\[1, 28, 28\].*--classifier.*--no-frechet/,
      ],
      [
        '--classifier of another kind',
        () => ['eval', 'latent.safetensors', '--images', 'held-out', '--classifier', 'plain.safetensors'],
        1,
        /--classifier plain\.safetensors holds a 'mlp' model/,
      ],
      [
        '--classifier of another image shape',
        () => ['eval', 'latent.safetensors', '--images', 'held-out', '--classifier', 'classifier-8.safetensors'],
        1,
        /--classifier classifier-8\.safetensors takes images \[1, 8, 8\] but the model's are \[1, 16, 16\]/,
      ],
      [
        '--images and --data together',
        () => ['eval', 'plain.safetensors', '--images', 'held-out', '--data', 'toy:8gaussians'],
        2,
        /--images and --data exclude each other/,
      ],
      [
        '--n beyond the images given',
        () => ['eval', 'latent.safetensors', '--images', 'held-out', '--no-frechet', '--n', '11'],
        2,
        /--n 11 is more than the 10 images/,
      ],
      [
        'a latent-only flag with --data',
        () => ['eval', 'plain.safetensors', '--data', 'toy:8gaussians', '--noise', '0.1'],
        2,
        /--noise applies only with --images/,
      ],
    ];
    before(() => {
      writeFolder(path.join(dir, 'small'), [0, 1, 2], () => grey(8));
      writeFolder(path.join(dir, 'mixed'), [0, 1, 2]);
      fs.writeFileSync(path.join(dir, 'mixed', '003.png'), PNG.sync.write(grey(8)));
      writeFolder(path.join(dir, 'with-jpeg'), [0, 1, 2]);
      fs.writeFileSync(path.join(dir, 'with-jpeg', 'photo.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
    });
    for (const [name, args, code, pattern] of cases) {
      it(name, async () => {
        const before = fs.readdirSync(dir).sort();
        const given = args();
        const r = await runCli(given.includes('--images') ? [...given, '--out', 'bad-eval'] : given, dir, { env });
        assertOneLineError(r, code, pattern);
        assert.equal(r.stdout, '');
        assert.deepEqual(fs.readdirSync(dir).sort(), before, 'no folder or file written');
      });
    }
  });
});
