/**
 * The thread count each job runs with when nobody chose one (native/core/threads.h): one thread
 * for latent image priors and for training whose passes are small (rows per pass x weights below
 * 2^24), all cores otherwise. Checked in a child process without OMP_NUM_THREADS, since the suite
 * itself may run with it set.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';

const script = `
const ebm = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
(async () => {
  const points = ebm.datasets.toy('8gaussians', 512, 0);
  const mlp = (hidden) => ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden, device: 'cpu' });
  // 48 rows x 41 weights per pass; 4352 rows (256 x (1 + 16)) x 264k weights
  const small = () => ebm.train(mlp([8]), points, { loss: { kind: 'ed', t: 1, m: 2, w: 1 }, batchSize: 16, steps: 1 });
  const large = () =>
    ebm.train(mlp([512, 512]), points, { loss: { kind: 'ed', t: 1, m: 16, w: 1 }, batchSize: 256, steps: 1 });
  const images = ebm.tensor(new Float32Array(16 * 64).map((_, i) => Math.sin(i)), [16, 1, 8, 8]);
  const latent = () =>
    ebm.latentEbm({ imageShape: [1, 8, 8], latentDim: 4, generator: { channels: 4 }, prior: { hidden: [8] }, device: 'cpu' });
  const latentRun = { batchSize: 8, steps: 1, prior: 'gaussian', posterior: { steps: 1 } };
  const out = {};
  out.small = (await small()).threads;
  out.large = (await large()).threads;
  out.latent = (await ebm.trainLatent(latent(), images, latentRun)).threads;
  out.largeAfterLatent = (await large()).threads;
  ebm.setNumThreads(2);
  out.smallChosen = (await small()).threads;
  out.latentChosen = (await ebm.trainLatent(latent(), images, latentRun)).threads;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function runChild(env: NodeJS.ProcessEnv): Record<string, number> {
  const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
}

describe('default thread counts', () => {
  it('one thread for small passes and latent priors, all cores for large passes, the caller’s count once chosen', function () {
    this.timeout(120_000);
    const env = { ...process.env };
    delete env.OMP_NUM_THREADS;
    const cores = Math.max(1, os.availableParallelism());
    assert.deepEqual(runChild(env), {
      small: 1,
      large: cores,
      latent: 1,
      largeAfterLatent: cores,
      smallChosen: 2,
      latentChosen: 2,
    });
  });

  it('OMP_NUM_THREADS wins over every job’s preference', function () {
    this.timeout(120_000);
    const got = runChild({ ...process.env, OMP_NUM_THREADS: '2' });
    assert.deepEqual(got, { small: 2, large: 2, latent: 2, largeAfterLatent: 2, smallChosen: 2, latentChosen: 2 });
  });
});
