/**
 * Exact resume of latent image priors: a trainLatent run checkpointed at step k and continued to
 * N (in this process, in another one, after an abort, with 2 ranks) ends with the same bits as one
 * uninterrupted N-step run: both networks, batch-norm statistics, both optimisers, EMA,
 * persistent posterior chains, the prior loss's state, the generator and the data order.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { latentImages, latentOutcome } from './distributed-child';
import { tmpDir } from './helpers';

const model: ebm.LatentEbmConfig = {
  imageShape: [1, 16, 16],
  latentDim: 4,
  generator: { channels: 8, batchNorm: true },
  prior: { hidden: [16] },
  device: 'cpu',
  seed: 3,
};
const ROWS = 60; // not a multiple of the batch: a resumed run starts mid-epoch
const images = latentImages(ROWS, model.imageShape);
const base = { batchSize: 8, steps: 12, logEvery: 3, seed: 5, posterior: { steps: 5 } };

interface Case {
  name: string;
  options: Omit<ebm.LatentTrainOptions, 'batchSize' | 'steps'>;
}

const cases: Case[] = [
  {
    name: 'ED prior, persistent chains, batch norm and EMA',
    options: {
      ...base,
      prior: { loss: { kind: 'ed', t: 0.25, m: 4, w: 1 }, gradClip: 1 },
      posterior: { steps: 5, persistent: true },
      ema: { decay: 0.9 },
    },
  },
  {
    name: 'CD prior with a replay buffer',
    options: {
      ...base,
      prior: {
        loss: {
          kind: 'cd',
          sampler: { kind: 'langevin', steps: 5, stepSize: 0.1 },
          buffer: { size: 40, reinit: 0.1 },
        },
      },
    },
  },
  { name: 'the Gaussian prior (generator only)', options: { ...base, prior: 'gaussian' } },
];

type Outcome = Record<string, number[]>;

function assertSameBits(a: Outcome, b: Outcome, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), what);
  for (const k of Object.keys(a)) {
    let worst = 0;
    for (let i = 0; i < a[k].length; i++) worst = Math.max(worst, Math.abs(a[k][i] - b[k][i]));
    assert.equal(worst, 0, `${what}: ${k} differs by up to ${worst}`);
  }
}

async function uninterrupted(options: Case['options'], steps = base.steps): Promise<Outcome> {
  const m = ebm.latentEbm(model);
  await ebm.trainLatent(m, images, { ...options, batchSize: base.batchSize, steps });
  return latentOutcome(m);
}

describe('latent image priors: exact resume', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = tmpDir('ebm-latent-resume-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const c of cases) {
    it(`${c.name}: 6 steps, then resumed to 12 in this process, equals 12 steps`, async function () {
      const whole = await uninterrupted(c.options);
      const file = path.join(dir, `${c.name.length}.safetensors`);
      const first = ebm.latentEbm(model);
      await ebm.trainLatent(first, images, { ...c.options, batchSize: 8, steps: 6, checkpoint: { path: file } });
      // a fresh model: everything the continuation needs comes from the file
      const second = ebm.latentEbm({ ...model, seed: 99 });
      const run = await ebm.trainLatent(second, images, { ...c.options, batchSize: 8, steps: 12, resumeFrom: file });
      assert.equal(run.startStep, 6);
      assert.deepEqual(
        run.history.map((h) => h.step),
        [9, 12],
      );
      assertSameBits(await latentOutcome(second), whole, c.name);
    });
  }

  it('across processes: 6 steps in one, resumed to 12 in another, equals 12 steps in this one', async function () {
    const c = cases[0];
    const whole = await uninterrupted(c.options);
    const file = path.join(dir, 'across.safetensors');
    const child = path.join(__dirname, 'latent-resume-child.js');
    const leg = (options: object, out: string): { startStep: number; outcome: Outcome } => {
      execFileSync(process.execPath, [child, JSON.stringify({ model, options, rows: ROWS, out })], {
        env: { ...process.env, OMP_NUM_THREADS: '1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      return JSON.parse(fs.readFileSync(out, 'utf8')) as { startStep: number; outcome: Outcome };
    };
    leg({ ...c.options, batchSize: 8, steps: 6, checkpoint: { path: file } }, path.join(dir, 'a.json'));
    const resumed = leg({ ...c.options, batchSize: 8, steps: 12, resumeFrom: file }, path.join(dir, 'b.json'));
    assert.equal(resumed.startStep, 6);
    assertSameBits(resumed.outcome, whole, 'across processes');
  });

  it('resumes from the state saved on abort, even when the abort stops a posterior chain mid-way', async function () {
    // persistent chains, batch norm (its statistics move in the aborted step's forward passes) and a CD prior
    const options = {
      ...base,
      prior: {
        loss: { kind: 'cd' as const, sampler: { kind: 'langevin' as const, steps: 5, stepSize: 0.1 } },
      },
      posterior: { steps: 400, persistent: true },
      logEvery: 1,
    };
    const whole = await uninterrupted(options);
    const file = path.join(dir, 'abort.safetensors');
    const m = ebm.latentEbm(model);
    const controller = new AbortController();
    let aborted = 0;
    await assert.rejects(
      ebm.trainLatent(m, images, {
        ...options,
        batchSize: 8,
        steps: 12,
        checkpoint: { path: file },
        signal: controller.signal,
        // mid-way through the next step's 400-step posterior chain
        onProgress: (p) => {
          if (p.step === 4) setTimeout(() => controller.abort(), 30);
          aborted = p.step;
        },
      }),
      (err: Error) =>
        err instanceof ebm.EbmAbortError &&
        /during step \d+'s posterior sampling\); the training state was saved/.test(err.message),
    );
    assert.ok(aborted >= 4 && aborted < 12, `stopped after step ${aborted}`);
    const resumed = ebm.latentEbm(model);
    const run = await ebm.trainLatent(resumed, images, { ...options, batchSize: 8, steps: 12, resumeFrom: file });
    assert.equal(run.startStep, aborted);
    assertSameBits(await latentOutcome(resumed), whole, 'after an abort');
  });

  it('refuses a checkpoint that cannot continue this run, naming why, and leaves the model as it was', async function () {
    const c = cases[0];
    const file = path.join(dir, 'refuse.safetensors');
    await ebm.trainLatent(ebm.latentEbm(model), images, {
      ...c.options,
      batchSize: 8,
      steps: 6,
      checkpoint: { path: file },
    });
    const m = ebm.latentEbm(model);
    const before = await latentOutcome(m);
    const refused = async (options: Partial<ebm.LatentTrainOptions>, message: RegExp): Promise<void> => {
      await assert.rejects(
        ebm.trainLatent(m, images, { ...c.options, batchSize: 8, steps: 12, resumeFrom: file, ...options }),
        (err: Error) => err instanceof ebm.EbmError && message.test(err.message),
      );
      assertSameBits(await latentOutcome(m), before, 'the model after a refused resume');
    };
    await refused({ generatorLr: 5e-4 }, /was written by a run with generatorLr 0\.0001, this run has 0\.0005/);
    await refused({ seed: 6 }, /written by a run with seed 5, this run has 6/);
    await refused({ steps: 6 }, /is at step 6: steps \(6\) must be larger/);
    await refused({ resumeFrom: path.join(dir, 'missing.safetensors') }, /missing\.safetensors/);
    const weightsOnly = path.join(dir, 'weights.safetensors');
    await m.save(weightsOnly);
    await refused({ resumeFrom: weightsOnly }, /holds weights only, not a training state/);

    // a plain model's training state given to trainLatent, and the reverse
    const plainFile = path.join(dir, 'plain.safetensors');
    const plain = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
    const data = ebm.datasets.toy('8gaussians', 64, 1);
    const loss = { kind: 'ed' as const, t: 1, m: 4, w: 1 };
    await ebm.train(plain, data, { loss, batchSize: 16, steps: 4, checkpoint: { path: plainFile } });
    await refused(
      { resumeFrom: plainFile },
      /holds the training state of an ebm\.train run; this is an ebm\.trainLatent run/,
    );
    await assert.rejects(
      ebm.train(plain, data, { loss, batchSize: 16, steps: 8, resumeFrom: file }),
      /holds the training state of an ebm\.trainLatent run; this is an ebm\.train run/,
    );
  });
});
