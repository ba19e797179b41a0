import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeIdx } from '../lib/data/idx';
import { rng, tmpDir } from './helpers';

const CLI = path.resolve(__dirname, '../lib/cli/main.js');

function ebm(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

// `ebm train` with the cross-entropy loss: labels come from an IDX file beside the images.
describe('cli: classifier training with labels', () => {
  let dir: string;
  const rows = 256;

  before(() => {
    dir = tmpDir('ebm-cli-labels-');
    // two classes of 8x8 images: a bright left half (0) or a bright right half (1), plus noise
    const r = rng(3);
    const images = new Uint8Array(rows * 64);
    const labels = new Uint8Array(rows);
    for (let i = 0; i < rows; i++) {
      labels[i] = i % 2;
      for (let p = 0; p < 64; p++) {
        const left = p % 8 < 4;
        const bright = left === (labels[i] === 0);
        images[i * 64 + p] = Math.round((bright ? 180 : 40) + 60 * r());
      }
    }
    writeIdx(path.join(dir, 'images-idx3-ubyte'), images, [rows, 8, 8]);
    writeIdx(path.join(dir, 'labels-idx1-ubyte'), labels, [rows]);
    writeIdx(path.join(dir, 'short-idx1-ubyte'), labels.subarray(0, 100), [100]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const config = (data: Record<string, unknown>) => ({
    name: 'halves',
    data,
    model: { kind: 'classifier', inputShape: [1, 8, 8], featureDim: 16, seed: 0 },
    train: {
      loss: { kind: 'ce' },
      optimizer: { kind: 'adam', lr: 0.003 },
      batchSize: 32,
      steps: 150,
      seed: 0,
      logEvery: 50,
    },
  });
  const write = (name: string, data: Record<string, unknown>): string => {
    fs.writeFileSync(path.join(dir, name), JSON.stringify(config(data)));
    return name;
  };

  it('trains on the labels of data.idx and reports the accuracy', async () => {
    const file = write('ok.json', { idx: 'images-idx3-ubyte', scale: '01', labels: 'labels-idx1-ubyte' });
    const r = await ebm(['train', file, '--out', 'run', '--quiet'], dir);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'metrics.json'), 'utf8')) as { accuracy: number };
    // a trivially separable task: an untrained net sits near 0.5
    assert.ok(m.accuracy > 0.95, `accuracy ${m.accuracy}`);
    assert.match(r.stdout, /classifier accuracy \d+\.\d % on 256 training rows/);
  });

  it("'ce' without labels, or with labels for other rows, is refused before anything is written", async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['nolabels.json', { idx: 'images-idx3-ubyte' }, /train\.loss 'ce' needs class labels/],
      ['short.json', { idx: 'images-idx3-ubyte', labels: 'short-idx1-ubyte' }, /has 100 labels for 256 data rows/],
      [
        'images.json',
        { idx: 'images-idx3-ubyte', labels: 'images-idx3-ubyte' },
        /must hold uint8 or int32 labels \[N\]/,
      ],
      ['missing.json', { idx: 'images-idx3-ubyte', labels: 'nowhere-idx1-ubyte' }, /does not exist/],
    ];
    for (const [name, data, pattern] of cases) {
      const r = await ebm(['train', write(name, data), '--out', `run-${name}`], dir);
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], pattern);
      assert.equal(fs.existsSync(path.join(dir, `run-${name}`)), false, `${name}: no run folder`);
    }
  });
});
