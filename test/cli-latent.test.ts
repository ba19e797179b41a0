import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { readNpy, writeNpy } from '../lib/data/npy';
import { fashionMnistAvailable } from '../lib/data/fashion';
import { prepareLatentRun } from '../lib/cli/latent-run';
import { skipUnless, tmpDir } from './helpers';
import { assertOneLineError, CliResult, decodePng, interruptAtFirstStep, runCli, stripes } from './cli-helpers';

// These models are tiny: one LibTorch thread is plenty, and it keeps the runs fast on a machine
// whose cores are busy (spinning intra-op threads slow small ops down a lot there).
const env = { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '1' };

const ebm = (args: string[], cwd: string): Promise<CliResult> => runCli(args, cwd, { env, timeout: 120_000 });

/** Grey level of a pixel of a grayscale picture (red channel). */
function grey(png: PNG, x: number, y: number): number {
  return png.data[(y * png.width + x) * 4];
}

/** The tiny latent run: 40 PNGs of 16 × 16, latentDim 8, a generator of 8 channels, 20 steps. */
function tinyConfig(name: string): Record<string, unknown> {
  return {
    name,
    data: { imageFolder: { dir: 'pngs', grayscale: true } },
    model: {
      kind: 'latent',
      imageShape: [1, 16, 16],
      latentDim: 8,
      generator: { channels: 8 },
      prior: { hidden: [32] },
      device: 'cpu',
    },
    train: { batchSize: 8, steps: 20, logEvery: 10, checkpoint: { path: 'ckpt.safetensors' } },
  };
}

type Edit = (c: Record<string, unknown>) => void;
const at =
  (key: 'model' | 'train' | 'data', change: (o: Record<string, unknown>) => void): Edit =>
  (c) =>
    change(c[key] as Record<string, unknown>);

describe('cli: latent image priors', function () {
  this.timeout(300_000);
  let dir: string;
  let runDir: string;
  let trained: CliResult;
  const files = [
    'config.json',
    'metrics.jsonl',
    'metrics.json',
    'model.safetensors',
    'loss.png',
    'samples.png',
    'reconstructions.png',
    'inpaintings.png',
  ];
  const write = (name: string, value: unknown): string => {
    fs.writeFileSync(path.join(dir, name), typeof value === 'string' ? value : JSON.stringify(value, null, 2));
    return name;
  };

  before(async () => {
    dir = tmpDir('ebm-cli-latent-');
    fs.mkdirSync(path.join(dir, 'pngs'));
    for (let k = 0; k < 40; k++) fs.writeFileSync(path.join(dir, 'pngs', `img${k}.png`), PNG.sync.write(stripes(k)));
    write('tiny.json', tinyConfig('tiny'));
    trained = await ebm(['train', 'tiny.json'], dir);
    runDir = path.join(dir, 'runs', 'tiny');
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('train', () => {
    it('writes the run folder with every file, and progress with the reconstruction error', () => {
      assert.equal(trained.code, 0, trained.stderr);
      for (const f of [...files, 'ckpt.safetensors']) {
        assert.ok(fs.statSync(path.join(runDir, f)).size > 0, `${f} written`);
      }
      assert.deepEqual(
        fs.readdirSync(runDir).filter((f) => f.includes('.tmp')),
        [],
        'no temporary files left',
      );
      assert.equal(
        fs.readdirSync(runDir).filter((f) => /^events\.out\.tfevents\.\d+\./.test(f)).length,
        1,
        'one TensorBoard event file',
      );
      assert.match(trained.stdout, /^tiny: 20 steps in .*, recon mse \d\.\d+, prior loss -?\d/);
      assert.match(trained.stdout, /samples: 64 from the prior \(500 Langevin steps of 0\.2\)/);
      assert.match(trained.stdout, /inpainting \(centre\) mse \d\.\d+ on 16, mean-image fill \d\.\d+/);
      assert.match(trained.stdout, /wrote runs\/tiny\/\{config\.json, .*inpaintings\.png, metrics\.json\}/);
      const steps = trained.stderr.split('\n').filter((l) => l.startsWith('step '));
      assert.equal(steps.length, 2);
      assert.match(steps[0], /^step 10\/20 loss \d+\.\d+ [\d.]+ steps\/s {2}recon mse \d\.\d+ {2}prior loss -?\d/);
      assert.match(trained.stderr, /^training tiny: latent EBM, ED prior, on pngs\/ \(40 images \[1, 16, 16\]\)/);
    });

    it('config.json holds the effective config: every default filled in', () => {
      const saved = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as {
        config: Record<string, Record<string, unknown>>;
      };
      const { model, train, data } = saved.config;
      const evalSpec = saved.config.eval;
      assert.deepEqual(model, {
        kind: 'latent',
        imageShape: [1, 16, 16],
        latentDim: 8,
        generator: { channels: 8, batchNorm: false },
        prior: { hidden: [32], activation: 'leaky_relu' },
        likelihoodSigma: 0.3,
        device: 'cpu',
        seed: 0,
      });
      assert.deepEqual(train.prior, {
        loss: { kind: 'ed', t: 0.25, m: 16, w: 1, perturbation: 'gaussian', epsilon: 0.1 },
        lr: 5e-5,
        gradClip: 0,
      });
      assert.deepEqual(train.posterior, { steps: 20, stepSize: 0.1, sigma: 0.3, persistent: false });
      assert.equal(train.generatorLr, 1e-4);
      assert.deepEqual(train.betas, [0.5, 0.999]);
      assert.equal(train.seed, 0);
      assert.deepEqual(train.checkpoint, { path: 'ckpt.safetensors', every: 0 });
      assert.deepEqual(evalSpec, {
        samples: { n: 64, seed: 0, prior: { steps: 500, stepSize: 0.2 } },
        reconstruct: { n: 16, seed: 0 },
        inpaint: { n: 16, mask: 'centre', seed: 0 },
      });
      assert.deepEqual(data, { imageFolder: { dir: path.join(dir, 'pngs'), grayscale: true } });
    });

    it('metrics.jsonl has one record per report, metrics.json finite final numbers', () => {
      const lines = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
      const records = lines.map((l) => JSON.parse(l) as Record<string, number>);
      assert.deepEqual(
        records.map((r) => r.step),
        [10, 20],
      );
      for (const r of records) {
        for (const key of ['loss', 'reconMse', 'priorLoss', 'energyPosterior', 'energyNoise', 'prior.gap']) {
          assert.ok(Number.isFinite(r[key]), `${key} = ${r[key]}`);
        }
      }
      const m = JSON.parse(fs.readFileSync(path.join(runDir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(m.steps, 20);
      assert.equal(m.prior, 'ed');
      for (const key of [
        'seconds',
        'stepsPerSecond',
        'reconMse',
        'priorLoss',
        'energyPosterior',
        'energyNoise',
        'msPosterior',
        'msGenerator',
        'msPrior',
        'reconstructMse',
        'inpaintMse',
        'meanFillMse',
      ]) {
        assert.equal(typeof m[key], 'number', key);
        assert.ok(Number.isFinite(m[key] as number), `${key} = ${m[key]}`);
      }
      for (const [key, v] of Object.entries(m)) {
        if (typeof v === 'number') assert.ok(Number.isFinite(v), `${key} = ${v}`);
      }
      // the final report's numbers, not some other record's
      assert.equal(m.reconMse, records[1].reconMse);
      assert.deepEqual(m.imageShape, [1, 16, 16]);
      assert.equal(m.inpaintRows, 16);
    });

    it('draws the pictures: loss curve, a grid of samples, strips of inputs over outputs', () => {
      const loss = decodePng(path.join(runDir, 'loss.png'));
      assert.deepEqual([loss.width, loss.height], [640, 400]);
      // 16 × 16 images magnified 4 times, 1-pixel gaps: 64 samples in 8 × 8 tiles of 65 pixels
      const samples = decodePng(path.join(runDir, 'samples.png'));
      assert.deepEqual([samples.width, samples.height], [8 * 65 - 1, 8 * 65 - 1]);

      // 16 inputs over their 16 reconstructions
      const recon = decodePng(path.join(runDir, 'reconstructions.png'));
      assert.deepEqual([recon.width, recon.height], [16 * 65 - 1, 2 * 65 - 1]);
      // the top row shows the inputs as they are: image 0 bright on the left, image 1 on the right
      assert.equal(grey(recon, 10, 30), 230);
      assert.equal(grey(recon, 50, 30), 20);
      assert.equal(grey(recon, 65 + 10, 30), 20);
      assert.equal(grey(recon, 65 + 50, 30), 230);

      // masked inputs, fills and originals: 3 rows of 16
      const inpaint = decodePng(path.join(runDir, 'inpaintings.png'));
      assert.deepEqual([inpaint.width, inpaint.height], [16 * 65 - 1, 3 * 65 - 1]);
      const centre = 32; // the centre 8 × 8 pixels (32 × 32 on screen) are missing
      assert.equal(grey(inpaint, centre, centre), 128, 'missing pixels drawn mid-grey');
      assert.equal(grey(inpaint, 2, 2), 230, 'observed pixels of the masked input');
      assert.equal(grey(inpaint, 2, 65 + 2), 230, 'the fill keeps the observed pixels');
      assert.equal(grey(inpaint, 62, 65 + 2), 20, 'the fill keeps the observed pixels');
      assert.equal(grey(inpaint, centre, 130 + centre), 20, 'originals in the bottom row');
    });

    it('ebm plot redraws loss.png of a latent run from metrics.jsonl', async () => {
      fs.rmSync(path.join(runDir, 'loss.png'));
      const r = await ebm(['plot', runDir], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), path.join('runs', 'tiny', 'loss.png'));
      assert.deepEqual([decodePng(path.join(runDir, 'loss.png')).width], [640]);
    });

    it('also trains an ordinary convnet on a PNG folder', async () => {
      const cfg = {
        name: 'convnet-pngs',
        data: { imageFolder: { dir: 'pngs', grayscale: true, size: 8, limit: 32 } },
        model: { kind: 'convnet', inputShape: [1, 8, 8], channels: [4, 8], device: 'cpu', seed: 0 },
        train: { loss: { kind: 'ed', t: 0.5, m: 4, w: 1 }, batchSize: 8, steps: 10, logEvery: 5 },
      };
      const r = await ebm(['train', write('convnet.json', cfg), '--quiet'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /convnet-pngs: 10 steps in/);
      const saved = JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'convnet-pngs', 'config.json'), 'utf8')) as {
        config: { data: unknown };
      };
      assert.deepEqual(saved.config.data, {
        imageFolder: { dir: path.join(dir, 'pngs'), size: 8, grayscale: true, limit: 32 },
      });
    });

    it('Ctrl-C stops training, keeps the weights and exits 130', async () => {
      const cfg = tinyConfig('long');
      Object.assign(cfg.train as object, { steps: 1_000_000, checkpoint: undefined });
      write('long.json', cfg);
      const { code, stderr } = await interruptAtFirstStep(['train', 'long.json'], dir, env);
      assert.equal(code, 130, stderr);
      const lines = stderr.trim().split('\n');
      assert.match(lines[lines.length - 1], /^ebm: interrupted during training after step \d+\/1000000; kept /);
      assert.ok(fs.existsSync(path.join(dir, 'runs', 'long', 'model.safetensors')));
      assert.ok(!fs.existsSync(path.join(dir, 'runs', 'long', 'metrics.json')));
    });
  });

  describe('sample', () => {
    const model = (): string => path.join(runDir, 'model.safetensors');

    it('generates images into an NPY [n, C, H, W] and an image grid', async () => {
      const r = await ebm(
        ['sample', model(), '--n', '10', '--steps', '20', '--seed', '3', '--out', 'g.npy', '--png', 'g.png'],
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^wrote g\.npy \[10, 1, 16, 16\] \(latent prior chain: 20 Langevin steps of 0\.2/);
      const x = readNpy(path.join(dir, 'g.npy'));
      assert.deepEqual(x.shape, [10, 1, 16, 16]);
      assert.ok(
        x.data.every((v) => Number.isFinite(v) && v >= -1 && v <= 1),
        'images in [-1, 1]',
      );
      // 10 images: 3 rows of 4 tiles of 65 pixels
      const png = decodePng(path.join(dir, 'g.png'));
      assert.deepEqual([png.width, png.height], [4 * 65 - 1, 3 * 65 - 1]);
      // the same seed gives the same images
      const again = await ebm(['sample', model(), '--n', '10', '--steps', '20', '--seed', '3', '--out', 'h.npy'], dir);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(readNpy(path.join(dir, 'h.npy')).data, x.data);
    });

    it('defaults: 64 images into samples.npy', async () => {
      const sub = path.join(dir, 'defaults');
      fs.mkdirSync(sub);
      const r = await ebm(['sample', model()], sub);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(readNpy(path.join(sub, 'samples.npy')).shape, [64, 1, 16, 16]);
    });

    it('an energy sampler or its flags on a latent model: usage error (2), nothing written', async () => {
      const sub = path.join(dir, 'refused');
      fs.mkdirSync(sub);
      assertOneLineError(
        await ebm(['sample', model(), '--sampler', 'langevin', '--steps', '5', '--step-size', '0.1'], sub),
        2,
        /--sampler does not apply to a latent model: it samples through its prior chain/,
      );
      assertOneLineError(
        await ebm(['sample', model(), '--sampler', 'mala'], sub),
        2,
        /--sampler does not apply to a latent model/,
      );
      assertOneLineError(await ebm(['sample', model(), '--t', '0.5'], sub), 2, /--t applies only to energy samplers/);
      assertOneLineError(await ebm(['sample', model(), '--step-size', '0'], sub), 2, /--step-size must be > 0/);
      assert.deepEqual(fs.readdirSync(sub), []);
    });
  });

  describe('bad configs: one line naming the field, exit 1, no run folder', () => {
    const cases: Array<[string, Edit, RegExp]> = [
      [
        'odd-shape',
        at('model', (m) => (m.imageShape = [1, 15, 16])),
        /model\.imageShape: height and width must be even/,
      ],
      [
        'dsm-prior',
        at('train', (t) => (t.prior = { loss: { kind: 'dsm', sigma: 0.1 } })),
        /train\.prior\.loss\.kind must be 'ed' or 'cd' for a latent prior, got 'dsm'/,
      ],
      [
        'scale-01',
        (c) => (c.data = { fashionMnist: { limit: 200, scale: '01' } }),
        /data\.fashionMnist\.scale must be '-11' for a latent model/,
      ],
      [
        'scale-none',
        (c) => (c.data = { fashionMnist: { limit: 200, scale: 'none' } }),
        /data\.fashionMnist\.scale must be '-11' .*got 'none'/,
      ],
      [
        'no-folder',
        at('data', (d) => (d.imageFolder = { dir: 'nowhere', grayscale: true })),
        /data\.imageFolder\.dir: folder .*nowhere does not exist/,
      ],
      [
        'no-dir',
        at('data', (d) => (d.imageFolder = { grayscale: true })),
        /data\.imageFolder\.dir must be a non-empty folder path/,
      ],
      [
        'bad-size',
        at('data', (d) => (d.imageFolder = { dir: 'pngs', size: [16] })),
        /data\.imageFolder\.size must be a number or \[height, width\]/,
      ],
      [
        'rgb',
        at('data', (d) => (d.imageFolder = { dir: 'pngs' })),
        /data has rows of 768 values \(\[3, 16, 16\]\) but the model takes \[1, 16, 16\]/,
      ],
      [
        'wrong-size',
        at('data', (d) => (d.imageFolder = { dir: 'pngs', grayscale: true, size: 20 })),
        /data has rows of 400 values .* the model takes \[1, 16, 16\] \(256 values\)/,
      ],
      ['raw-pixels', (c) => (c.data = { npy: 'raw.npy' }), /data: a latent model trains on images scaled to \[-1, 1\]/],
      ['toy', (c) => (c.data = { toy: '8gaussians', n: 100 }), /data\.toy: a latent model trains on images/],
      [
        'big-batch',
        at('train', (t) => (t.batchSize = 100)),
        /train\.batchSize \(100\) is larger than the dataset \(40 images\)/,
      ],
      ['typo', at('train', (t) => (t.generatorLR = 1e-3)), /train\.generatorLR is not a known option/],
      ['model-typo', at('model', (m) => (m.latentDims = 4)), /model\.latentDims is not a known option/],
      ['eval-key', (c) => (c.eval = { samples: { n: 4, bogus: 1 } }), /eval\.samples\.bogus is not a known option/],
      [
        'eval-mask',
        (c) => (c.eval = { inpaint: { mask: 'corner' } }),
        /eval\.inpaint\.mask must be one of 'centre', 'half'/,
      ],
      ['eval-n', (c) => (c.eval = { samples: { n: 0 } }), /eval\.samples\.n must be >= 1, got 0/],
      ['on-progress', at('train', (t) => (t.onProgress = 1)), /train\.onProgress cannot be set in a config file/],
    ];

    before(() => {
      // pixels 0..255, not rescaled
      const data = new Float32Array(40 * 256);
      for (let i = 0; i < data.length; i++) data[i] = i % 256;
      writeNpy(path.join(dir, 'raw.npy'), { data, shape: [40, 1, 16, 16] });
    });

    for (const [name, edit, pattern] of cases) {
      it(name, async () => {
        const cfg = tinyConfig(name);
        edit(cfg);
        const r = await ebm(['train', write(`${name}.json`, cfg)], dir);
        assertOneLineError(r, 1, new RegExp(`^ebm: ${name}\\.json: .*${pattern.source}`));
        assert.ok(!fs.existsSync(path.join(dir, 'runs', name)), `no run folder for ${name}`);
      });
    }
  });

  describe('config loading', () => {
    it("fashionMnist data: the scale defaults to '-11' and the images are in [-1, 1]", function () {
      skipUnless(this, fashionMnistAvailable(), 'Fashion-MNIST is not installed (dataset-fashion-mnist)');
      const cfg = tinyConfig('fm');
      cfg.data = { fashionMnist: { limit: 200 } };
      (cfg.model as { imageShape: number[] }).imageShape = [1, 28, 28];
      const run = prepareLatentRun(path.join(dir, write('fm.json', cfg)), { steps: 5 });
      assert.deepEqual(run.config.data, { fashionMnist: { limit: 200, scale: '-11' } });
      assert.deepEqual(run.images.shape, [200, 1, 28, 28]);
      let [lo, hi] = [Infinity, -Infinity];
      for (const v of run.images.data) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
      assert.ok(lo >= -1 && lo < -0.99 && hi <= 1 && hi > 0.99, `[${lo}, ${hi}]`);
      assert.equal(run.config.train.steps, 5);
    });

    it('flat rows are reshaped to the image shape; eval counts are capped to the data', () => {
      const data = new Float32Array(6 * 256).map((_, i) => ((i % 256) / 255) * 2 - 1);
      writeNpy(path.join(dir, 'flat.npy'), { data, shape: [6, 256] });
      const cfg = tinyConfig('flat');
      cfg.data = { npy: 'flat.npy' };
      cfg.train = { batchSize: 4, steps: 5 };
      const run = prepareLatentRun(path.join(dir, write('flat.json', cfg)));
      assert.deepEqual(run.images.shape, [6, 1, 16, 16]);
      assert.equal(run.config.eval.reconstruct.n, 6);
      assert.equal(run.config.eval.inpaint.n, 6);
      assert.equal(run.config.train.logEvery, 5);
    });
  });

  it('help: ebm train and ebm sample describe latent models', async () => {
    const train = await ebm(['train', '--help'], dir);
    assert.match(train.stdout, /"imageFolder": \{ "dir"/);
    assert.match(train.stdout, /"kind": "latent"/);
    assert.match(train.stdout, /reconstructions\.png/);
    const sample = await ebm(['sample', '--help'], dir);
    assert.match(sample.stdout, /latent image prior/);
  });
});
