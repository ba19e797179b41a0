/**
 * Exact resume: a run checkpointed at step k and continued to N (in this process or a new one)
 * ends with the same bits as one uninterrupted N-step run, for every loss kind.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ebm from '../lib';
import { hasTorchPython, referenceDir, referencePython } from './python';
import { skipUnless } from './helpers';
import { assertOneLineError, runCli } from './cli-helpers';

const plain: ebm.MlpConfig = { kind: 'mlp', inputDim: 2, hidden: [32, 32], activation: 'silu', device: 'cpu', seed: 1 };
const timed: ebm.MlpConfig = { ...plain, timeConditioned: true, timeEmbedDim: 8 };

interface Case {
  name: string;
  model: ebm.MlpConfig;
  loss: ebm.LossConfig;
  extra?: Partial<ebm.TrainConfig>;
}

const cases: Case[] = [
  { name: 'ED', model: plain, loss: { kind: 'ed', t: 1, m: 4, w: 1 } },
  { name: 'DSM on the VP path', model: timed, loss: { kind: 'dsm', path: 'vp', levels: 32 } },
  {
    name: 'DiffCLF (offsets and their optimiser state)',
    model: timed,
    loss: { kind: 'diffclf', path: 'vp', levels: 16, k: 4, clfWeight: 1 },
  },
  {
    name: 'CD with a replay buffer',
    model: plain,
    loss: { kind: 'cd', sampler: { kind: 'langevin', steps: 5, stepSize: 0.05 }, buffer: { size: 200, reinit: 0.1 } },
  },
  { name: 'SSM', model: plain, loss: { kind: 'ssm', projections: 2 } },
  {
    name: 'ED with AdamW, EMA, warm-up, clipping and batches with replacement',
    model: plain,
    loss: { kind: 'ed', t: 0.5, m: 4, w: 1 },
    extra: {
      optimizer: { kind: 'adamw', lr: 3e-3, weightDecay: 0.05 },
      // constant after the warm-up: a cosine schedule follows `steps`, which this test changes
      schedule: { kind: 'constant', warmupSteps: 5 },
      ema: { decay: 0.9 },
      gradClip: 0.5,
      replacement: true,
    },
  },
  {
    name: 'ED with SGD and momentum',
    model: plain,
    loss: { kind: 'ed', t: 1, m: 4, w: 1 },
    extra: { optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 } },
  },
];

const ROWS = 300; // not a multiple of the batch: the resumed run starts mid-epoch
const base = { batchSize: 64, seed: 3, logEvery: 5 };

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ebm-resume-'));
}

async function params(model: ebm.EnergyModel): Promise<Record<string, number[]>> {
  const p = await model.parameters();
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Array.from(v.data)]));
}

function assertSameBits(a: Record<string, number[]>, b: Record<string, number[]>, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), what);
  for (const k of Object.keys(a)) {
    const x = a[k];
    const y = b[k];
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
    assert.equal(worst, 0, `${what}: ${k} differs by up to ${worst}`);
  }
}

const data = ebm.datasets.toy('8gaussians', ROWS, 5);

describe('exact resume (train.checkpoint + resumeFrom)', function () {
  this.timeout(300_000);

  for (const c of cases) {
    it(`${c.name}: 20 steps, save, resume to 40 in this process equals 40 steps`, async function () {
      const dir = tmpDir();
      const options = { ...base, ...c.extra, loss: c.loss };
      const whole = ebm.energyModel(c.model);
      const full = await ebm.train(whole, data, { ...options, steps: 40 });

      const ckpt = path.join(dir, 'run.safetensors');
      const first = ebm.energyModel(c.model);
      await ebm.train(first, data, { ...options, steps: 20, checkpoint: { path: ckpt } });
      // A model built with another seed: everything must come from the checkpoint.
      const second = ebm.energyModel({ ...c.model, seed: 99 });
      const resumed = await ebm.train(second, data, { ...options, steps: 40, resumeFrom: ckpt });
      assert.equal(resumed.startStep, 20);
      assert.equal(resumed.steps, 40);
      assert.deepEqual(
        resumed.history.map((h) => h.step),
        [25, 30, 35, 40],
      );
      assertSameBits(await params(second), await params(whole), c.name);
      for (const [name, t] of Object.entries(full.lossParameters)) {
        assert.deepEqual(Array.from(resumed.lossParameters[name].data), Array.from(t.data), name);
      }
      // Reports after the resume cover the same steps as the whole run's, with the same numbers.
      assert.deepEqual(
        resumed.history.map((h) => h.loss),
        full.history.slice(4).map((h) => h.loss),
      );
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  it('every loss kind, across processes: 20 steps in one process, resumed to 40 in another, equals 40 steps in a third', function () {
    const dir = tmpDir();
    const child = path.join(__dirname, 'resume-child.js');
    const env = { ...process.env };
    const leg = (
      name: string,
      model: ebm.MlpConfig,
      options: object,
    ): { startStep: number; parameters: Record<string, number[]>; lossParameters: Record<string, number[]> } => {
      const out = path.join(dir, `${name}.json`);
      execFileSync(process.execPath, [child, JSON.stringify({ model, options, rows: ROWS, out })], {
        env,
        stdio: 'pipe',
      });
      return JSON.parse(fs.readFileSync(out, 'utf8')) as ReturnType<typeof leg>;
    };
    for (const [i, c] of cases.slice(0, 5).entries()) {
      const options = { ...base, ...c.extra, loss: c.loss };
      const ckpt = path.join(dir, `${i}.safetensors`);
      const full = leg(`${i}-full`, c.model, { ...options, steps: 40 });
      leg(`${i}-first`, c.model, { ...options, steps: 20, checkpoint: { path: ckpt } });
      const resumed = leg(`${i}-resumed`, c.model, { ...options, steps: 40, resumeFrom: ckpt });
      assert.equal(resumed.startStep, 20);
      assertSameBits(resumed.parameters, full.parameters, `${c.name} across processes`);
      assertSameBits(resumed.lossParameters, full.lossParameters, `${c.name} loss tensors across processes`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('resumes from the state saved on abort, even when the abort stops a sampler mid-chain', async function () {
    const dir = tmpDir();
    // CD whose 100-step chains make a step long enough for the abort to land inside a run.
    const c = {
      model: plain,
      loss: {
        kind: 'cd',
        sampler: { kind: 'langevin', steps: 100, stepSize: 0.02 },
        buffer: { size: 200, reinit: 0.1 },
      } as ebm.LossConfig,
    };
    const options = { ...base, loss: c.loss, schedule: { kind: 'cosine' as const }, ema: { decay: 0.95 } };
    const whole = ebm.energyModel(c.model);
    await ebm.train(whole, data, { ...options, steps: 60 });
    const wholeParams = await params(whole);

    // Abort: the state of the last completed step is saved, and resuming from it ends the same.
    const onAbort = path.join(dir, 'abort.safetensors');
    const controller = new AbortController();
    const aborted = ebm.energyModel(c.model);
    await assert.rejects(
      ebm.train(aborted, data, {
        ...options,
        steps: 60,
        checkpoint: { path: onAbort },
        signal: controller.signal,
        onProgress: (p) => {
          if (p.step >= 10) controller.abort();
        },
      }),
      (err: unknown) => err instanceof ebm.EbmAbortError && /training state was saved to/.test(err.message),
    );
    const header = fs.readFileSync(onAbort).subarray(0, 65536).toString();
    const savedStep = Number(/"ebm_torch.train.step":"(\d+)"/.exec(header)?.[1]);
    assert.ok(savedStep >= 10 && savedStep < 60, `saved at step ${savedStep}`);
    const m = ebm.energyModel(c.model);
    const r = await ebm.train(m, data, { ...options, steps: 60, resumeFrom: onAbort });
    assert.equal(r.startStep, savedStep);
    assertSameBits(await params(m), wholeParams, `resumed from the abort at step ${savedStep}`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a checkpoint that cannot continue this run, naming why, and leaves the model as it was', async function () {
    const dir = tmpDir();
    const ckpt = path.join(dir, 'run.safetensors');
    const options = { ...base, loss: { kind: 'ed', t: 1, m: 4, w: 1 } as ebm.LossConfig };
    await ebm.train(ebm.energyModel(plain), data, { ...options, steps: 10, checkpoint: { path: ckpt } });
    const model = ebm.energyModel(plain);
    const before = await params(model);
    const refused = async (changes: Partial<ebm.TrainConfig>, pattern: RegExp, rows = data) =>
      assert.rejects(
        ebm.train(model, rows, { ...options, steps: 20, resumeFrom: ckpt, ...changes }),
        (err: unknown) => {
          assert.ok(err instanceof ebm.EbmError, String(err));
          assert.match(err.message, pattern);
          return true;
        },
      );
    await refused(
      { loss: { kind: 'ed', t: 0.5, m: 4, w: 1 } },
      /resumeFrom .* run with loss \{.*"t":1.*this run has \{.*"t":0\.5/,
    );
    await refused({ batchSize: 32 }, /batchSize 64, this run has 32/);
    await refused({ seed: 4 }, /seed 3, this run has 4/);
    await refused({ optimizer: { kind: 'adam', lr: 0.01 } }, /optimizer/);
    await refused({ steps: 10 }, /is at step 10: train\.steps \(10\) must be larger/);
    await refused({}, /rows 300, this run has 200/, ebm.datasets.toy('8gaussians', 200, 5));
    await assert.rejects(
      ebm.train(ebm.energyModel({ ...plain, hidden: [16] }), data, { ...options, steps: 20, resumeFrom: ckpt }),
      /run with model .*this run has/,
    );
    const weightsOnly = path.join(dir, 'weights.safetensors');
    await model.save(weightsOnly);
    await refused({ resumeFrom: weightsOnly }, /holds weights only, not a training state/);
    await refused(
      { resumeFrom: path.join(dir, 'missing.safetensors') },
      /cannot open checkpoint .*missing\.safetensors/,
    );
    await refused({ resumeFrom: '' as string }, /resumeFrom must be a checkpoint path/);
    assertSameBits(await params(model), before, 'a refused resume changes nothing');
    // Safe changes are allowed: logEvery and the checkpoint path.
    const r = await ebm.train(model, data, {
      ...options,
      steps: 20,
      resumeFrom: ckpt,
      logEvery: 2,
      checkpoint: { path: path.join(dir, 'next.safetensors') },
    });
    assert.equal(r.history[0].step, 12);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a safetensors file Python reads: weights as F32, training state under its own prefixes', async function () {
    skipUnless(this, hasTorchPython(), '/usr/bin/python3 has no torch (apt-get install -y python3-torch)');
    const dir = tmpDir();
    const ckpt = path.join(dir, 'run.safetensors');
    const model = ebm.energyModel(timed);
    await ebm.train(model, data, {
      ...base,
      steps: 12,
      loss: { kind: 'diffclf', path: 'vp', levels: 16, k: 4, clfWeight: 1 },
      ema: { decay: 0.9 },
      checkpoint: { path: ckpt },
    });
    const script = `
import json, sys
sys.path.insert(0, sys.argv[2])
from safetensors_reader import read
tensors, meta = read(sys.argv[1])
out = {name: {'dtype': d, 'first': t.reshape(-1)[:1].tolist()} for name, (d, t) in tensors.items()}
print(json.dumps({'tensors': out, 'step': meta['ebm_torch.train.step']}))
`;
    const out = JSON.parse(execFileSync(referencePython, ['-c', script, ckpt, referenceDir]).toString()) as {
      tensors: Record<string, { dtype: string; first: number[] }>;
      step: string;
    };
    assert.equal(out.step, '12');
    const names = Object.keys(out.tensors);
    const weights = Object.keys(await model.parameters());
    for (const w of weights) {
      assert.equal(out.tensors[w].dtype, 'F32', w);
      assert.equal(out.tensors[`optimizer.${w}.step`].dtype, 'I64');
      assert.deepEqual(out.tensors[`optimizer.${w}.step`].first, [12]);
      assert.ok(names.includes(`optimizer.${w}.exp_avg`) && names.includes(`optimizer.${w}.exp_avg_sq`), w);
      assert.ok(names.includes(`ema.${w}`) && names.includes(`trainer.weights.${w}`), w);
    }
    assert.ok(names.includes('loss.diffclf.offsets') && names.includes('optimizer.loss.diffclf.offsets.exp_avg'));
    assert.equal(out.tensors['trainer.rng'].dtype, 'U8');
    assert.equal(out.tensors['trainer.order'].dtype, 'I64');
    // The checkpoint still loads as a model: the EMA weights, what the run ended with.
    const loaded = await ebm.loadModel(ckpt);
    assertSameBits(await params(loaded), await params(model), 'loadModel of a training checkpoint');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('ebm train --resume', function () {
  this.timeout(300_000);

  it('continues a run folder to the same weights as one uninterrupted run, and keeps its log', async function () {
    const dir = tmpDir();
    const config = path.join(dir, 'run.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        name: 'resume-cli',
        data: { toy: '8gaussians', n: 500, seed: 0 },
        model: { kind: 'mlp', inputDim: 2, hidden: [16, 16], seed: 0 },
        train: { loss: { kind: 'ed', t: 1, m: 4, w: 1 }, batchSize: 64, steps: 40, seed: 0, logEvery: 10 },
        eval: { grid: { lo: -4, hi: 4, resolution: 40 } },
      }),
    );
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    assert.equal((await runCli(['train', config, '--out', a, '--steps', '20', '--quiet'], dir)).code, 0);
    const resumed = await runCli(['train', config, '--resume', a, '--quiet'], dir);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /steps 21-40/);
    assert.equal((await runCli(['train', config, '--out', b, '--quiet'], dir)).code, 0);
    const [ma, mb] = await Promise.all([
      ebm.loadModel(path.join(a, 'model.safetensors')),
      ebm.loadModel(path.join(b, 'model.safetensors')),
    ]);
    assertSameBits(await params(ma), await params(mb), 'CLI resume');
    const steps = fs
      .readFileSync(path.join(a, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepEqual(steps, [10, 20, 30, 40]);
    const metrics = JSON.parse(fs.readFileSync(path.join(a, 'metrics.json'), 'utf8')) as {
      steps: number;
      resumedFrom: number;
    };
    assert.equal(metrics.steps, 40);
    assert.equal(metrics.resumedFrom, 20);

    assertOneLineError(await runCli(['train', config, '--resume', a], dir), 1, /already at step 40; pass --steps N/);
    assertOneLineError(
      await runCli(['train', config, '--resume', path.join(dir, 'none')], dir),
      1,
      /no such run folder/,
    );
    assertOneLineError(await runCli(['train', config, '--resume', a, '--out', b], dir), 1, /leave out --out/);
    const changed = path.join(dir, 'changed.json');
    const cfg = JSON.parse(fs.readFileSync(config, 'utf8')) as { train: { batchSize: number } };
    cfg.train.batchSize = 32;
    fs.writeFileSync(changed, JSON.stringify(cfg));
    assertOneLineError(
      await runCli(['train', changed, '--resume', a, '--steps', '60', '--quiet'], dir),
      1,
      /batchSize 64, this run has 32/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
