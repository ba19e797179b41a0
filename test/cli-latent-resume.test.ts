/**
 * `ebm train --resume` of latent image priors: a run killed with SIGKILL (during a checkpoint
 * write, too) and resumed each time ends with the weights of one uninterrupted run; run configs
 * take `checkpoint: { every }` without a path (the run folder's model.safetensors).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as ebm from '../lib';
import { trainingStep } from '../lib/cli/resume';
import { latentOutcome } from './distributed-child';
import { tmpDir } from './helpers';
import { assertOneLineError, CLI, runCli, stripes } from './cli-helpers';

const env = { ...process.env, OMP_NUM_THREADS: '1' };

function latentConfig(name: string, steps: number): Record<string, unknown> {
  return {
    name,
    data: { imageFolder: { dir: 'pngs', grayscale: true } },
    model: {
      kind: 'latent',
      imageShape: [1, 16, 16],
      latentDim: 8,
      generator: { channels: 8, batchNorm: true },
      prior: { hidden: [32] },
      device: 'cpu',
    },
    train: {
      batchSize: 8,
      steps,
      logEvery: 2,
      prior: { loss: { kind: 'ed', t: 0.25, m: 4, w: 1 } },
      posterior: { steps: 20, persistent: true },
      checkpoint: { every: 2 },
    },
    eval: { samples: { n: 4 }, reconstruct: { n: 4 }, inpaint: { n: 4 } },
  };
}

/**
 * Starts `ebm <args>` and kills it with SIGKILL as the `nth` checkpoint write of the run folder
 * begins (its temp file appears); resolves with whether it was killed and whether the temp file
 * was still there after the kill (the write was cut short).
 */
function killAtWrite(
  args: string[],
  cwd: string,
  runDir: string,
  nth: number,
): Promise<{ killed: boolean; cut: boolean }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: 'ignore' });
  const seen = new Set<string>(); // one write's temp file raises several events
  let killed = false;
  const watcher = fs.watch(runDir, (_event, name) => {
    if (killed || !name?.startsWith('model.safetensors.tmp-')) return;
    seen.add(name);
    if (seen.size < nth) return;
    killed = child.kill('SIGKILL');
  });
  return new Promise((resolve) =>
    child.on('close', () => {
      watcher.close();
      const cut = fs.readdirSync(runDir).some((f) => f.startsWith('model.safetensors.tmp-'));
      resolve({ killed, cut });
    }),
  );
}

async function outcome(file: string): Promise<Record<string, number[]>> {
  const model = await ebm.loadModel(file);
  assert.ok(model instanceof ebm.LatentEbm);
  return latentOutcome(model);
}

describe('cli: latent priors resume', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => {
    dir = tmpDir('ebm-cli-latent-resume-');
    fs.mkdirSync(path.join(dir, 'pngs'));
    for (let k = 0; k < 36; k++) fs.writeFileSync(path.join(dir, 'pngs', `${k}.png`), PNG.sync.write(stripes(k)));
    fs.writeFileSync(path.join(dir, 'latent.json'), JSON.stringify(latentConfig('latent', 40)));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('killed with SIGKILL four times (during checkpoint writes) and resumed each time, ends with the weights of one run', async function () {
    const whole = await runCli(['train', 'latent.json', '--out', 'whole', '--quiet'], dir, { env, timeout: 120_000 });
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(trainingStep(path.join(dir, 'whole', 'model.safetensors')), 40, 'the end-of-run checkpoint');

    const runDir = path.join(dir, 'killed');
    fs.mkdirSync(runDir);
    const kills: string[] = [];
    let cuts = 0;
    // the first run is killed as its 3rd checkpoint write starts; a resumed one first removes the
    // temp file the kill left (one more name), then writes
    let args = ['train', 'latent.json', '--out', 'killed', '--quiet'];
    for (const nth of [3, 3, 4, 3]) {
      const k = await killAtWrite(args, dir, runDir, nth);
      if (!k.killed) break; // the run finished first
      const step = trainingStep(path.join(runDir, 'model.safetensors'));
      kills.push(`step ${step}${k.cut ? ' (write cut short)' : ''}`);
      if (k.cut) cuts++;
      assert.ok(step !== undefined && step > 0, 'a checkpoint survives the kill');
      args = ['train', 'latent.json', '--resume', 'killed', '--quiet'];
    }
    console.log(`      killed at: ${kills.join(', ')}`);
    assert.ok(kills.length >= 3, `killed ${kills.length} times`);
    const last = await runCli(args, dir, { env, timeout: 120_000 });
    assert.equal(last.code, 0, last.stderr);
    assert.match(last.stdout, /latent: steps \d+-40 in/);
    const a = await outcome(path.join(dir, 'whole', 'model.safetensors'));
    const b = await outcome(path.join(runDir, 'model.safetensors'));
    for (const key of Object.keys(a)) assert.deepEqual(b[key], a[key], key);
    const metrics = JSON.parse(fs.readFileSync(path.join(runDir, 'metrics.json'), 'utf8')) as { resumedFrom?: number };
    assert.ok((metrics.resumedFrom ?? 0) > 0);
    const records = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"step"'))
      .map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepEqual(
      records,
      Array.from({ length: 20 }, (_, i) => 2 * (i + 1)),
      'one record per report, none repeated',
    );
    console.log(`      ${cuts} of the kills left a temp file behind (the write was cut short)`);
  });

  it('refuses to resume a latent folder with another config, naming the field, and a plain run folder with a latent config', async function () {
    const changed = latentConfig('latent', 40);
    (changed.train as Record<string, unknown>).generatorLr = 5e-4;
    fs.writeFileSync(path.join(dir, 'changed.json'), JSON.stringify(changed));
    const r = await runCli(['train', 'changed.json', '--resume', 'whole', '--steps', '50', '--quiet'], dir, { env });
    assertOneLineError(r, 1, /written by a run with generatorLr 0\.0001, this run has 0\.0005/);

    fs.writeFileSync(
      path.join(dir, 'plain.json'),
      JSON.stringify({
        name: 'plain',
        data: { toy: '8gaussians', n: 256 },
        model: { kind: 'mlp', inputDim: 2, hidden: [16] },
        train: {
          loss: { kind: 'ed', t: 1, m: 4, w: 1 },
          batchSize: 32,
          steps: 10,
          logEvery: 5,
          checkpoint: { every: 5 },
        },
      }),
    );
    const plain = await runCli(['train', 'plain.json', '--out', 'plain', '--quiet'], dir, { env });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(trainingStep(path.join(dir, 'plain', 'model.safetensors')), 10, '{ every } writes model.safetensors');
    assert.ok(!fs.readdirSync(path.join(dir, 'plain')).some((f) => f.endsWith('undefined')));
    const wrong = await runCli(['train', 'latent.json', '--resume', 'plain', '--quiet'], dir, { env });
    assertOneLineError(wrong, 1, /holds the training state of an ebm\.train run; this is an ebm\.trainLatent run/);
  });
});
