import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { readNpy } from '../lib/data/npy';
import { toyMixture } from '../lib/data/toy';
import { fashionMnistAvailable } from '../lib/data/fashion';
import { prepareRun } from '../lib/cli/run-config';
import { isLatentRunFile, prepareLatentRun } from '../lib/cli/latent-run';
import { energyModel } from '../lib/index';
import { tmpDir } from './helpers';
import { assertOneLineError, CLI, CliResult, decodePng, interruptAtFirstStep, runCli } from './cli-helpers';

const ebm = (args: string[], cwd: string): Promise<CliResult> => runCli(args, cwd, { timeout: 90_000 });

/** The framed plot area (left, top, width, height), walking out from the picture's centre to the grey frame. */
function plotBox(png: PNG): { x0: number; y0: number; w: number; h: number } {
  const isFrame = (x: number, y: number): boolean => {
    const i = (y * png.width + x) * 4;
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    return r === g && g === b && r < 128;
  };
  const cx = Math.floor(png.width / 2);
  const cy = Math.floor(png.height / 2);
  let x0 = cx;
  while (x0 > 0 && !isFrame(x0 - 1, cy)) x0--;
  let x1 = cx;
  while (x1 < png.width - 1 && !isFrame(x1, cy)) x1++;
  let y0 = cy;
  while (y0 > 0 && !isFrame(cx, y0 - 1)) y0--;
  let y1 = cy;
  while (y1 < png.height - 1 && !isFrame(cx, y1)) y1++;
  return { x0, y0, w: x1 - x0, h: y1 - y0 };
}

function plotArea(png: PNG): { w: number; h: number } {
  const { w, h } = plotBox(png);
  return { w, h };
}

function smallConfig(name: string, steps = 300): Record<string, unknown> {
  return {
    name,
    data: { toy: '8gaussians', n: 2000, seed: 0 },
    model: { kind: 'mlp', inputDim: 2, hidden: [32, 32], activation: 'silu', seed: 0 },
    train: {
      loss: { kind: 'ed', t: 1, m: 8, w: 1 },
      optimizer: { kind: 'adam', lr: 0.003 },
      batchSize: 64,
      steps,
      seed: 0,
      logEvery: 50,
    },
    eval: {
      grid: { lo: -4, hi: 4, resolution: 100 },
      samples: { n: 200, seed: 1, sampler: { kind: 'mala', steps: 50, stepSize: 0.01 } },
    },
  };
}

describe('cli: the ebm command', () => {
  let dir: string;
  let runDir: string;
  let trained: CliResult;

  before(async () => {
    dir = tmpDir('ebm-cli-');
    fs.writeFileSync(path.join(dir, 'small.json'), JSON.stringify(smallConfig('small'), null, 2));
    trained = await ebm(['train', 'small.json'], dir);
    runDir = path.join(dir, 'runs', 'small');
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('train', () => {
    it('writes the run folder with every file', () => {
      assert.equal(trained.code, 0, trained.stderr);
      for (const f of [
        'config.json',
        'metrics.jsonl',
        'model.safetensors',
        'metrics.json',
        'loss.png',
        'density.png',
        'samples.png',
      ]) {
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
      assert.match(trained.stdout, /small: 300 steps in/);
      assert.match(trained.stdout, /grid NLL/);
      // stderr is not a terminal here: plain progress lines every logEvery steps
      const steps = trained.stderr.split('\n').filter((l) => l.startsWith('step '));
      assert.equal(steps.length, 6);
      assert.match(steps[0], /^step 50\/300 loss -?\d+\.\d+ [\d.]+ steps\/s$/);
    });

    it('records the config and one JSON line per progress report', () => {
      const saved = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as {
        config: { train: { steps: number }; eval: { grid: unknown } };
        torch: string;
      };
      assert.equal(saved.config.train.steps, 300);
      assert.deepEqual(saved.config.eval.grid, { lo: -4, hi: 4, resolution: 100 });
      assert.equal(typeof saved.torch, 'string');
      const lines = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
      assert.equal(lines.length, 6);
      const last = JSON.parse(lines[5]) as { step: number; loss: number };
      assert.equal(last.step, 300);
      assert.ok(Number.isFinite(last.loss));
    });

    it('writes metrics.json with finite numbers', () => {
      const m = JSON.parse(fs.readFileSync(path.join(runDir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
      for (const key of ['gridNll', 'trueNll', 'nllGap', 'meanEnergy', 'finalLoss', 'stepsPerSecond', 'sampleMmd2']) {
        assert.equal(typeof m[key], 'number', key);
        assert.ok(Number.isFinite(m[key] as number), `${key} = ${m[key]}`);
      }
      for (const [key, v] of Object.entries(m)) {
        if (typeof v === 'number') assert.ok(Number.isFinite(v), `${key} = ${v}`);
      }
      assert.equal(m.steps, 300);
      assert.ok((m.sampleAcceptance as number) > 0 && (m.sampleAcceptance as number) <= 1);
      // 300 small steps already beat a standard normal by a wide margin (its NLL here is about 6.7)
      assert.ok((m.gridNll as number) < 5, `gridNll ${m.gridNll}`);
    });

    it('draws density.png with a 400×400 plot area that is not blank', () => {
      const png = decodePng(path.join(runDir, 'density.png'));
      assert.deepEqual(plotArea(png), { w: 400, h: 400 });
      assert.ok(png.width > 400 && png.height > 400);
      const colours = new Set<number>();
      for (let i = 0; i < png.data.length; i += 4 * 97) {
        colours.add((png.data[i] << 16) | (png.data[i + 1] << 8) | png.data[i + 2]);
      }
      assert.ok(colours.size > 20, `only ${colours.size} colours`);
      const loss = decodePng(path.join(runDir, 'loss.png'));
      assert.deepEqual([loss.width, loss.height], [640, 400]);
    });

    it('--steps, --out and --quiet: only the summary', async () => {
      const r = await ebm(['train', 'small.json', '--steps', '20', '--out', 'quiet-run', '--quiet'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /small: 20 steps in/);
      const m = JSON.parse(fs.readFileSync(path.join(dir, 'quiet-run', 'metrics.json'), 'utf8')) as { steps: number };
      assert.equal(m.steps, 20);
    });

    it('Ctrl-C stops training, keeps the files and exits 130', async () => {
      fs.writeFileSync(path.join(dir, 'long.json'), JSON.stringify(smallConfig('long', 1_000_000)));
      const { code, stderr } = await interruptAtFirstStep(['train', 'long.json'], dir);
      assert.equal(code, 130, stderr);
      const lines = stderr.trim().split('\n');
      assert.match(lines[lines.length - 1], /^ebm: interrupted during training after step \d+\/1000000; kept /);
      for (const f of ['config.json', 'metrics.jsonl', 'model.safetensors']) {
        assert.ok(fs.existsSync(path.join(dir, 'runs', 'long', f)), f);
      }
      assert.ok(!fs.existsSync(path.join(dir, 'runs', 'long', 'metrics.json')));
    });

    it('Ctrl-C before the first report names only the files that exist', async () => {
      const cfg = smallConfig('early', 1_000_000);
      (cfg.train as { logEvery: number }).logEvery = 1_000_000;
      fs.writeFileSync(path.join(dir, 'early.json'), JSON.stringify(cfg));
      const child = spawn(process.execPath, [CLI, 'train', 'early.json', '--quiet'], { cwd: dir });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      // interrupt once the run folder exists (training has started, no report yet)
      const started = Date.now();
      while (!fs.existsSync(path.join(dir, 'runs', 'early', 'config.json')) && Date.now() - started < 30000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.equal(code, 130, stderr);
      assert.ok(!fs.existsSync(path.join(dir, 'runs', 'early', 'metrics.jsonl')));
      assert.match(stderr, /kept runs\/early\/\{config.json, model.safetensors\}\n$/);
    });
  });

  describe('errors: one line, non-zero status, nothing created', () => {
    const write = (name: string, text: string): void => fs.writeFileSync(path.join(dir, name), text);

    it('unknown flag', async () => {
      assertOneLineError(await ebm(['train', 'small.json', '--bogus'], dir), 2, /unknown option --bogus/);
    });

    it('a flag given twice (parseArgs alone would keep the last)', async () => {
      const r = await ebm(['train', 'small.json', '--steps', '10', '--steps', '20', '--out', 'twice'], dir);
      assertOneLineError(r, 2, /option --steps was given more than once/);
      assert.equal(fs.existsSync(path.join(dir, 'twice')), false);
    });

    it('bad flag value', async () => {
      assertOneLineError(await ebm(['train', 'small.json', '--steps', '12x'], dir), 2, /--steps must be an integer/);
      assertOneLineError(await ebm(['train', 'small.json', '--steps'], dir), 2, /--steps needs a value/);
    });

    it('missing config file', async () => {
      assertOneLineError(await ebm(['train', 'nope.json'], dir), 1, /nope\.json: no such file/);
    });

    it('malformed JSON names the file, line and column', async () => {
      write('broken.json', '{\n  "name": "broken",\n  "data": { "toy": "8gaussians" "n": 10 }\n}\n');
      assertOneLineError(
        await ebm(['train', 'broken.json'], dir),
        1,
        /broken\.json: invalid JSON at line 3, column 33/,
      );
      assert.ok(!fs.existsSync(path.join(dir, 'runs', 'broken')));
    });

    it('invalid config field: the folder is not created', async () => {
      const cfg = smallConfig('bad-t');
      (cfg.train as { loss: { t: number } }).loss.t = -1;
      write('bad-t.json', JSON.stringify(cfg));
      assertOneLineError(await ebm(['train', 'bad-t.json'], dir), 1, /bad-t\.json: train\.loss\.t must be > 0, got -1/);
      assert.ok(!fs.existsSync(path.join(dir, 'runs', 'bad-t')), 'no run folder for an invalid config');
    });

    it('unknown keys, bad data and mismatched shapes are caught before anything is written', async () => {
      const cases: Array<[string, (c: Record<string, unknown>) => void, RegExp]> = [
        ['extra-key', (c) => (c.extras = 1), /config\.extras is not a known option/],
        ['bad-toy', (c) => (c.data = { toy: '9gaussians', n: 100 }), /data\.toy must be one of/],
        ['no-file', (c) => (c.data = { npy: 'missing.npy' }), /missing\.npy does not exist/],
        [
          'bad-dim',
          (c) => ((c.model as { inputDim: number }).inputDim = 3),
          /data has rows of 2 values .* the model takes \[3\]/,
        ],
        [
          'bad-sampler',
          (c) => ((c.eval as { samples: { sampler: { stepSize: number } } }).samples.sampler.stepSize = 0),
          /eval\.samples\.sampler\.stepSize must be > 0/,
        ],
      ];
      for (const [name, edit, pattern] of cases) {
        const cfg = smallConfig(name);
        edit(cfg);
        write(`${name}.json`, JSON.stringify(cfg));
        assertOneLineError(await ebm(['train', `${name}.json`], dir), 1, pattern);
        assert.ok(!fs.existsSync(path.join(dir, 'runs', name)), `no run folder for ${name}`);
      }
    });

    it('unknown command and missing arguments', async () => {
      assertOneLineError(await ebm(['frobnicate'], dir), 2, /unknown command 'frobnicate'/);
      assertOneLineError(await ebm(['train'], dir), 2, /needs <config\.json>/);
      assertOneLineError(
        await ebm(['sample', path.join(runDir, 'model.safetensors'), '--steps', '10', '--step-size', '0.1'], dir),
        2,
        /needs --sampler/,
      );
      assertOneLineError(
        await ebm(['sample', 'm.safetensors', '--sampler', 'gibbs', '--steps', '1', '--step-size', '1'], dir),
        2,
        /--sampler must be one of/,
      );
    });

    it('sample: unknown flag and bad flag value, no samples.npy written', async () => {
      const model = path.join(runDir, 'model.safetensors');
      const base = ['sample', model, '--sampler', 'mala', '--steps', '5', '--step-size', '0.01'];
      assertOneLineError(
        await ebm([...base, '--bogus'], dir),
        2,
        /unknown option --bogus for 'ebm sample' \(see 'ebm sample --help'\)/,
      );
      assertOneLineError(await ebm([...base, '--n', '0'], dir), 2, /--n must be >= 1, got 0/);
      assertOneLineError(await ebm([...base, '--device', 'gpu'], dir), 2, /--device must be auto, cpu, cuda or cuda:N/);
      assert.ok(!fs.existsSync(path.join(dir, 'samples.npy')), 'no samples.npy after a usage error');
    });

    describe('ebm eval', () => {
      /** Runs `ebm eval`; an error must leave stdout empty (no partial JSON) and create no file. */
      async function evalFails(args: string[], code: number, pattern: RegExp): Promise<void> {
        const before = fs.readdirSync(dir).sort();
        const r = await ebm(['eval', ...args], dir);
        assertOneLineError(r, code, pattern);
        assert.equal(r.stdout, '', 'nothing on stdout');
        assert.deepEqual(fs.readdirSync(dir).sort(), before, 'no file created');
      }
      const model = (): string => path.join(runDir, 'model.safetensors');

      it('bad --data: unknown toy, malformed spec, bad n or seed, unknown extension (usage, 2)', async () => {
        await evalFails(
          [model(), '--data', 'toy:9gaussians'],
          2,
          /--data: unknown toy '9gaussians' \(toys: 8gaussians, 25gaussians, .*moons/,
        );
        await evalFails([model(), '--data', 'toy:'], 2, /--data: unknown toy '' \(toys: /);
        await evalFails(
          [model(), '--data', 'toy:8gaussians:10:1:extra'],
          2,
          /--data toy:NAME\[:n\[:seed\]\], got 'toy:8gaussians:10:1:extra'/,
        );
        await evalFails([model(), '--data', 'toy:8gaussians:abc'], 2, /--data toy n must be an integer, got 'abc'/);
        await evalFails([model(), '--data', 'toy:8gaussians:0'], 2, /--data toy n must be >= 1, got 0/);
        await evalFails([model(), '--data', 'toy:8gaussians:10:-1'], 2, /--data toy seed must be >= 0, got -1/);
        await evalFails(
          [model(), '--data', 'points.txt'],
          2,
          /--data must be a \.npy file, a \.csv file or toy:NAME\[:n\[:seed\]\], got 'points\.txt'/,
        );
      });

      it('missing --data, or --data without a value (usage, 2)', async () => {
        await evalFails(
          [model()],
          2,
          /'ebm eval' needs --data file\.npy\|file\.csv\|toy:NAME \(see 'ebm eval --help'\)/,
        );
        await evalFails([model(), '--data'], 2, /option --data needs a value \(see 'ebm eval --help'\)/);
      });

      it('a --data file that does not exist (failure, 1)', async () => {
        await evalFails([model(), '--data', 'missing.npy'], 1, /NPY file missing\.npy does not exist/);
        await evalFails([model(), '--data', 'missing.csv'], 1, /CSV file missing\.csv does not exist/);
      });

      it('bad --grid (usage, 2)', async () => {
        const data = ['--data', 'toy:8gaussians:100'];
        await evalFails(
          [model(), ...data, '--grid', '-4,4'],
          2,
          /--grid must be lo,hi,resolution \(e\.g\. -4,4,300\), got '-4,4'/,
        );
        await evalFails([model(), ...data, '--grid', '4,-4,100'], 2, /--grid needs lo < hi, got 4,-4/);
        await evalFails([model(), ...data, '--grid', '-4,4,1'], 2, /--grid resolution must be >= 2, got 1/);
        await evalFails([model(), ...data, '--grid', '-4,4,5000'], 2, /--grid resolution must be <= 4096, got 5000/);
        await evalFails(
          [model(), ...data, '--grid', '-4,4,1.5'],
          2,
          /--grid resolution must be an integer, got '1\.5'/,
        );
        await evalFails([model(), ...data, '--grid', '-4,x,100'], 2, /--grid hi must be a number, got 'x'/);
      });

      it('unknown flag, stray argument, bad --t and --device (usage, 2)', async () => {
        const data = ['--data', 'toy:8gaussians:100'];
        await evalFails(
          [model(), ...data, '--bogus'],
          2,
          /unknown option --bogus for 'ebm eval' \(see 'ebm eval --help'\)/,
        );
        await evalFails([model(), ...data, '--sampler', 'mala'], 2, /unknown option --sampler for 'ebm eval'/);
        await evalFails([model(), 'extra', ...data], 2, /unexpected argument 'extra' for 'ebm eval'/);
        await evalFails([...data], 2, /'ebm eval' needs <model\.safetensors>/);
        await evalFails([model(), ...data, '--t', '2'], 2, /--t must be <= 1, got 2/);
        await evalFails(
          [model(), ...data, '--device', 'gpu'],
          2,
          /--device must be auto, cpu, cuda or cuda:N, got 'gpu'/,
        );
      });

      it('--t or a non-2D --grid on a model that does not take them (usage, 2)', async () => {
        // the trained model is E(x) on 2D points: --t does not apply
        await evalFails(
          [model(), '--data', 'toy:8gaussians:100', '--t', '0.5'],
          2,
          /--t applies only to time-conditioned models/,
        );
        // a model on 3 values per row: no square grid
        const m3 = path.join(dir, 'mlp3.safetensors');
        await energyModel({ kind: 'mlp', inputDim: 3, hidden: [4], device: 'cpu', seed: 0 }).save(m3);
        await evalFails(
          ['mlp3.safetensors', '--data', 'toy:8gaussians:100', '--grid', '-4,4,50'],
          2,
          /--grid applies only to 2D models; this model takes \[3\]/,
        );
      });

      it('25gaussians: exact NLL on the default grid; a grid too coarse for the density is refused (failure, 1)', async () => {
        // the exact density as a model: on the default grid (step 0.027 = 0.19 mode std) the grid NLL is the
        // true NLL; at --grid -4,4,30 the step is 1.89 mode stds (gridNll's limit is 1.5)
        const m = toyMixture('25gaussians');
        const stds = m.means.map(() => m.std);
        await energyModel({ kind: 'gmm', means: m.means, stds, weights: m.weights, device: 'cpu' }).save(
          path.join(dir, 'gmm25.safetensors'),
        );
        const r = await ebm(['eval', 'gmm25.safetensors', '--data', 'toy:25gaussians:2000:1'], dir);
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout) as Record<string, number>;
        assert.ok(Math.abs(out.nllGap) < 1e-3, `nllGap ${out.nllGap}`);
        await evalFails(
          ['gmm25.safetensors', '--data', 'toy:25gaussians:100', '--grid', '-4,4,30'],
          1,
          /--grid resolution 30 is too coarse to resolve the density: the step 0\.267 is 1\.8\d times .*raise --grid resolution or narrow --grid lo,hi/,
        );
      });

      it('a model file that does not exist (failure, 1)', async () => {
        await evalFails(
          ['nope.safetensors', '--data', 'toy:8gaussians:100'],
          1,
          /cannot open checkpoint 'nope\.safetensors'.*no such file/i,
        );
      });

      it('a model file that is not a safetensors file (failure, 1)', async () => {
        fs.writeFileSync(path.join(dir, 'garbage.safetensors'), 'this is not a model\n'.repeat(20));
        await evalFails(
          ['garbage.safetensors', '--data', 'toy:8gaussians:100'],
          1,
          /checkpoint 'garbage\.safetensors' is not a safetensors file/,
        );
        fs.writeFileSync(path.join(dir, 'empty.safetensors'), '');
        await evalFails(
          ['empty.safetensors', '--data', 'toy:8gaussians:100'],
          1,
          /checkpoint 'empty\.safetensors' is truncated/,
        );
        // a well-formed safetensors file that ebm-torch did not write: no config in its metadata
        const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }));
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(header.length));
        fs.writeFileSync(path.join(dir, 'foreign.safetensors'), Buffer.concat([len, header, Buffer.alloc(8)]));
        await evalFails(
          ['foreign.safetensors', '--data', 'toy:8gaussians:100'],
          1,
          /checkpoint 'foreign\.safetensors' has no 'ebm_torch\.config' metadata: it was not written by ebm-torch/,
        );
      });
    });
  });

  describe('help and version', () => {
    for (const command of ['train', 'sample', 'eval', 'plot']) {
      it(`ebm ${command} --help`, async () => {
        const r = await ebm([command, '--help'], dir);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^Usage: ebm ${command} `));
        assert.equal(r.stderr, '');
      });
    }

    it('ebm --help lists the commands; ebm --version names LibTorch', async () => {
      const help = await ebm(['--help'], dir);
      assert.equal(help.code, 0);
      for (const c of ['train', 'sample', 'eval', 'plot']) assert.match(help.stdout, new RegExp(`\\n  ${c} `));
      const v = await ebm(['--version'], dir);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /^ebm-torch \d+\.\d+\.\d+\nLibTorch \d+\.\d+/);
    });
  });

  describe('sample, eval, plot on the trained model', () => {
    it('sample writes an NPY of the requested shape and a PNG', async () => {
      const model = path.join(runDir, 'model.safetensors');
      const args = ['sample', model, '--sampler', 'mala', '--steps', '30', '--step-size', '0.01', '--n', '150'];
      const r = await ebm([...args, '--seed', '3', '--out', 's.npy', '--png', 's.png'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /acceptance rate 0\.\d+|acceptance rate 1\.000/);
      const x = readNpy(path.join(dir, 's.npy'));
      assert.deepEqual(x.shape, [150, 2]);
      assert.ok(x.data.every(Number.isFinite));
      const png = decodePng(path.join(dir, 's.png'));
      assert.ok(png.width > 400 && png.height > 400);
    });

    it('eval prints JSON with a finite grid NLL and the true NLL', async () => {
      const r = await ebm(
        ['eval', path.join(runDir, 'model.safetensors'), '--data', 'toy:8gaussians:1000:5', '--grid', '-4,4,120'],
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, number>;
      assert.equal(out.rows, 1000);
      for (const key of ['meanEnergy', 'gridNll', 'trueNll', 'nllGap']) assert.ok(Number.isFinite(out[key]), key);
    });

    it('plot rewrites loss.png and density.png', async () => {
      for (const f of ['loss.png', 'density.png']) fs.rmSync(path.join(runDir, f));
      const r = await ebm(['plot', runDir], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        r.stdout.trim().split('\n'),
        ['loss.png', 'density.png'].map((f) => path.join('runs', 'small', f)),
      );
      assert.deepEqual(plotArea(decodePng(path.join(runDir, 'density.png'))), { w: 400, h: 400 });
      assert.ok(decodePng(path.join(runDir, 'loss.png')).width === 640);
    });

    it('plot of a folder that is not a run fails with one line', async () => {
      assertOneLineError(await ebm(['plot', 'nowhere'], dir), 1, /run folder nowhere does not exist/);
    });
  });
});

describe('cli: the example configs', () => {
  const examples = path.resolve(__dirname, '../../examples');
  let dir: string;
  before(() => {
    dir = tmpDir('ebm-examples-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every examples/*.json passes the full config check and loads its data', () => {
    const files = fs.readdirSync(examples).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 3, `examples: ${files.join(', ')}`);
    const latent = files.filter((f) => isLatentRunFile(path.join(examples, f)));
    assert.deepEqual(latent.sort(), [
      'fashion-mnist-latent-cd.json',
      'fashion-mnist-latent-ed.json',
      'fashion-mnist-latent-gaussian.json',
    ]);
    for (const f of files) {
      const file = path.join(examples, f);
      if (latent.includes(f) && !fashionMnistAvailable()) {
        // every field is checked before the data is read: only the missing data set remains
        assert.throws(() => prepareLatentRun(file), /dataset-fashion-mnist/);
        continue;
      }
      // latent image priors have a config of their own (lib/cli/latent-run.ts)
      const rows = latent.includes(f) ? prepareLatentRun(file).images.shape[0] : prepareRun(file).data.train.shape[0];
      assert.ok(rows > 0, f);
    }
  });

  it('ebm train examples/8gaussians-ed.json: density.png shows the 8 modes', async () => {
    const out = path.join(dir, '8gaussians-ed');
    const r = await ebm(['train', path.join(examples, '8gaussians-ed.json'), '--out', out, '--quiet'], dir);
    assert.equal(r.code, 0, r.stderr);
    const png = decodePng(path.join(out, 'density.png'));
    const box = plotBox(png);
    assert.deepEqual([box.w, box.h], [400, 400]);
    const lo = -4;
    const hi = 4;
    // Green grows monotonically along the sequential colour map (1 at zero density, 231 at the
    // peak); the red data dots only lower it, so the 90th percentile of a small window is a
    // conservative reading of the density there.
    const greenAt = (x: number, y: number): number => {
      const cx = Math.round(box.x0 + ((x - lo) / (hi - lo)) * box.w);
      const cy = Math.round(box.y0 + ((hi - y) / (hi - lo)) * box.h);
      const g: number[] = [];
      for (let dy = -6; dy <= 6; dy++)
        for (let dx = -6; dx <= 6; dx++) g.push(png.data[((cy + dy) * png.width + cx + dx) * 4 + 1]);
      g.sort((a, b) => a - b);
      return g[Math.floor(0.9 * g.length)];
    };
    const { means } = toyMixture('8gaussians');
    const modes = means.map(([x, y]) => greenAt(x, y));
    // halfway (in angle) between neighbouring modes on the same circle, and the centre
    const radius = Math.hypot(means[0][0], means[0][1]);
    const gaps = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => {
      const a = ((k + 0.5) * Math.PI) / 4;
      return greenAt(radius * Math.cos(a), radius * Math.sin(a));
    });
    const background = Math.max(greenAt(0, 0), ...gaps);
    // seen (seed 0): modes 135..227, between the modes 13..59, centre 1
    const weakest = Math.min(...modes);
    assert.ok(
      weakest > 2 * background && weakest > background + 50,
      `modes ${modes.join(' ')}; background ${background}`,
    );
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as { nllGap: number };
    assert.ok(metrics.nllGap < 0.15, `grid NLL gap ${metrics.nllGap}`);
  });
});
