import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { maxAbsDiff, rejectsWith, skipUnless, tmpDir } from './helpers';
import { hasTorchPython, runReference } from './python';

const rows = [
  [0.5, -1.0],
  [2.0, 0.25],
  [-1.5, 1.0],
];
const x = ebm.tensor(rows.flat(), [3, 2]);

describe('TorchScript energies (your own network)', function () {
  this.timeout(120000);
  const dir = tmpDir();
  const file = (name: string) => path.join(dir, name);

  before(function () {
    skipUnless(this, hasTorchPython(), '/usr/bin/python3 has no torch (apt-get install -y python3-torch)');
  });

  it('gives the energies and scores PyTorch gives, to 1e-5', async () => {
    const ref = runReference<{ energy: number[]; score: number[] }>('scripted_energy.py', {
      kind: 'plain',
      path: file('plain.pt'),
      x: rows,
    });
    const m = ebm.energyModel({ kind: 'torchscript', path: file('plain.pt'), inputShape: [2], device: 'cpu' });
    assert.deepEqual(Object.keys(await m.parameters()), [
      'layers.0.weight',
      'layers.0.bias',
      'layers.2.weight',
      'layers.2.bias',
      'out.weight',
      'out.bias',
    ]);
    assert.ok(maxAbsDiff(await m.energy(x), ref.energy) < 1e-5);
    assert.ok(maxAbsDiff((await m.score(x)).data, ref.score) < 1e-5);
  });

  it('takes forward(x, t) for a time-conditioned module, and an [N, 1] output', async () => {
    const t = [0.1, 0.5, 0.9];
    const ref = runReference<{ energy: number[]; score: number[] }>('scripted_energy.py', {
      kind: 'time',
      path: file('time.pt'),
      x: rows,
      t,
    });
    const m = ebm.energyModel({ kind: 'torchscript', path: file('time.pt'), inputShape: [2], timeConditioned: true });
    assert.equal(m.timeConditioned, true);
    assert.ok(maxAbsDiff(await m.energy(x, Float32Array.from(t)), ref.energy) < 1e-5);
    assert.ok(maxAbsDiff((await m.score(x, Float32Array.from(t))).data, ref.score) < 1e-5);
  });

  it('trains with ED and DSM (its own parameters move), and round-trips without the .pt file', async () => {
    runReference('scripted_energy.py', { kind: 'plain', path: file('train.pt') });
    const m = ebm.energyModel({ kind: 'torchscript', path: file('train.pt'), inputShape: [2], device: 'cpu' });
    const before = await m.energy(x);
    const data = ebm.datasets.toy('8gaussians', 2000, 0);
    const ed = await ebm.train(m, data, {
      loss: { kind: 'ed', t: 1, m: 4, w: 1 },
      optimizer: { kind: 'adam', lr: 1e-2 },
      batchSize: 64,
      steps: 60,
      logEvery: 30,
    });
    assert.ok(ed.history.every((p) => Number.isFinite(p.loss)));
    assert.ok(ed.history[1].loss < ed.history[0].loss + 0.05, 'ED does not diverge');
    const afterEd = await m.energy(x);
    assert.ok(maxAbsDiff(afterEd, before) > 1e-3, 'training changed the energies');
    const dsm = await ebm.train(m, data, {
      loss: { kind: 'dsm', sigma: 0.3 },
      optimizer: { kind: 'adam', lr: 1e-3 },
      batchSize: 64,
      steps: 20,
      logEvery: 10,
    });
    assert.ok(dsm.history.every((p) => Number.isFinite(p.loss)));
    const trained = await m.energy(x);
    const ckpt = file('scripted.safetensors');
    await m.save(ckpt);
    fs.rmSync(file('train.pt'));
    const loaded = await ebm.loadModel(ckpt);
    assert.deepEqual(loaded.config, m.config);
    assert.deepEqual(await loaded.energy(x), trained);
    const [p, q] = await Promise.all([m.parameters(), loaded.parameters()]);
    for (const k of Object.keys(p)) assert.deepEqual(q[k].data, p[k].data, k);
    // samplers work on it like on any energy
    const s = await ebm.sample(loaded, { n: 50, sampler: { kind: 'mala', steps: 20, stepSize: 0.01 }, seed: 1 });
    assert.deepEqual(s.shape, [50, 2]);
  });

  it('bad modules: one clear error each', async () => {
    await rejectsWith(
      async () => ebm.energyModel({ kind: 'torchscript', path: file('missing.pt'), inputShape: [2] }),
      ebm.EbmIoError,
      /cannot open TorchScript module '.*missing.pt'/,
    );
    fs.writeFileSync(file('junk.pt'), 'not a module at all');
    await rejectsWith(
      async () => ebm.energyModel({ kind: 'torchscript', path: file('junk.pt'), inputShape: [2] }),
      ebm.EbmIoError,
      /junk.pt' is not a TorchScript module \(save one with torch.jit.script/,
    );
    runReference('scripted_energy.py', { kind: 'wide', path: file('wide.pt') });
    await rejectsWith(
      async () => ebm.energyModel({ kind: 'torchscript', path: file('wide.pt'), inputShape: [2] }),
      ebm.EbmShapeError,
      /must return one energy per row \(\[2\] or \[2, 1\]\), got \[2, 2\]/,
    );
    runReference('scripted_energy.py', { kind: 'three', path: file('three.pt') });
    await rejectsWith(
      async () => ebm.energyModel({ kind: 'torchscript', path: file('three.pt'), inputShape: [2] }),
      ebm.EbmShapeError,
      /forward\(x\) failed on x of shape \[2, 2\]/,
    );
    await rejectsWith(
      async () => ebm.energyModel({ kind: 'torchscript', path: file('time.pt'), inputShape: [2] }),
      ebm.EbmShapeError,
      /forward\(x\) failed/,
    );
    assert.throws(
      () => ebm.energyModel({ kind: 'torchscript', path: '', inputShape: [2] }),
      /model.path must be the path of a TorchScript module/,
    );
    assert.throws(
      () => ebm.energyModel({ kind: 'torchscript', path: file('plain.pt'), inputShape: [] }),
      /model.inputShape must list/,
    );
  });

  it('ebm train takes a torchscript model, its path relative to the config file', () => {
    const runDir = tmpDir();
    runReference('scripted_energy.py', { kind: 'plain', path: path.join(runDir, 'net.pt') });
    const config = {
      name: 'scripted',
      data: { toy: '8gaussians', n: 2000, seed: 0 },
      model: { kind: 'torchscript', path: 'net.pt', inputShape: [2], device: 'cpu' },
      train: { loss: { kind: 'ed', t: 1, m: 4, w: 1 }, batchSize: 64, steps: 40, logEvery: 20 },
    };
    fs.writeFileSync(path.join(runDir, 'scripted.json'), JSON.stringify(config));
    const cli = path.join(__dirname, '..', 'lib', 'cli', 'main.js');
    const out = spawnSync(
      process.execPath,
      [cli, 'train', path.join(runDir, 'scripted.json'), '--out', path.join(runDir, 'run'), '--quiet'],
      {
        cwd: tmpDir(),
        env: { ...process.env, OMP_NUM_THREADS: '1' },
      },
    );
    assert.equal(out.status, 0, out.stderr.toString());
    assert.ok(fs.existsSync(path.join(runDir, 'run', 'model.safetensors')));
    const saved = JSON.parse(fs.readFileSync(path.join(runDir, 'run', 'config.json'), 'utf8')) as {
      config: { model: { path: string } };
    };
    assert.equal(saved.config.model.path, path.join(runDir, 'net.pt'));
  });
});

// Modules scripted by another PyTorch than the addon's LibTorch (test/fixtures/torchscript/make.py
// wrote them with Debian 12's 1.13 and Debian 13's 2.6): the addon built against either loads
// the other's MLP and gives the energies that PyTorch gave; a module using an operator this
// LibTorch lacks fails with an error naming this LibTorch's version and the file's format.
describe('TorchScript modules from another PyTorch version', () => {
  const fixtures = path.resolve(__dirname, '../../test/fixtures/torchscript');
  const expected = JSON.parse(fs.readFileSync(path.join(fixtures, 'expected.json'), 'utf8')) as Record<
    string,
    { torch: string; rows: number[][]; energy: number[] }
  >;
  const ours = ebm.version().torch;

  for (const name of Object.keys(expected).filter((n) => n.startsWith('mlp-'))) {
    it(`${name} (scripted by PyTorch ${expected[name].torch}) gives its energies to 1e-5`, async () => {
      const e = expected[name];
      const m = ebm.energyModel({
        kind: 'torchscript',
        path: path.join(fixtures, name),
        inputShape: [2],
        device: 'cpu',
      });
      const got = await m.energy(ebm.tensor(e.rows.flat(), [e.rows.length, 2]));
      assert.ok(maxAbsDiff(got, e.energy) < 1e-5, `${Array.from(got)} vs ${e.energy}`);
    });
  }

  it('an operator this LibTorch lacks: the error names both versions', async () => {
    const name = 'attention-torch2.6.pt';
    const load = async () =>
      ebm.energyModel({ kind: 'torchscript', path: path.join(fixtures, name), inputShape: [2], device: 'cpu' });
    if (ours.startsWith('1.')) {
      await rejectsWith(
        load,
        ebm.EbmIoError,
        new RegExp(
          `is a TorchScript archive this LibTorch cannot load: Unknown builtin op: aten::scaled_dot_product_attention.*` +
            `this addon runs LibTorch ${ours.replace(/\./g, '\\.')}.*the file's format is version \\d+`,
        ),
      );
    } else {
      const e = expected[name];
      const got = await (await load()).energy(ebm.tensor(e.rows.flat(), [e.rows.length, 2]));
      assert.ok(maxAbsDiff(got, e.energy) < 1e-5, `${Array.from(got)} vs ${e.energy}`);
    }
  });
});
