import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { maxAbsDiff, randn, rng, skipUnless, tmpDir } from './helpers';
import { hasTorchPython, referenceDir, referencePython } from './python';

type Act = 'silu' | 'softplus' | 'tanh' | 'elu' | 'leaky_relu';

// Reference activation and its derivative, in float64.
const acts: Record<Act, { f: (z: number) => number; df: (z: number) => number }> = {
  silu: {
    f: (z) => z / (1 + Math.exp(-z)),
    df: (z) => {
      const s = 1 / (1 + Math.exp(-z));
      return s * (1 + z * (1 - s));
    },
  },
  softplus: { f: (z) => Math.log1p(Math.exp(z)), df: (z) => 1 / (1 + Math.exp(-z)) },
  tanh: { f: Math.tanh, df: (z) => 1 - Math.tanh(z) ** 2 },
  elu: { f: (z) => (z > 0 ? z : Math.expm1(z)), df: (z) => (z > 0 ? 1 : Math.exp(z)) },
  leaky_relu: { f: (z) => (z > 0 ? z : 0.2 * z), df: (z) => (z > 0 ? 1 : 0.2) },
};

interface Layer {
  w: number[][]; // [out][in]
  b: number[];
}

/** Hand-written forward and backward pass of an MLP energy: returns E and dE/dx. */
function referenceMlp(layers: Layer[], out: Layer, act: Act, x: number[]): { e: number; grad: number[] } {
  const pre: number[][] = [];
  let h = x;
  for (const L of layers) {
    const z = L.w.map((row, i) => row.reduce((s, w, j) => s + w * h[j], L.b[i]));
    pre.push(z);
    h = z.map(acts[act].f);
  }
  const e = out.w[0].reduce((s, w, j) => s + w * h[j], out.b[0]);
  let g = out.w[0].slice(); // dE/dh of the last hidden layer
  for (let l = layers.length - 1; l >= 0; l--) {
    const dz = g.map((gi, i) => gi * acts[act].df(pre[l][i]));
    const L = layers[l];
    g = L.w[0].map((_, j) => dz.reduce((s, d, i) => s + d * L.w[i][j], 0));
  }
  return { e, grad: g };
}

function randomLayer(rand: () => number, out: number, inp: number, scale: number): Layer {
  return {
    w: Array.from({ length: out }, () => Array.from({ length: inp }, () => scale * randn(rand))),
    b: Array.from({ length: out }, () => scale * randn(rand)),
  };
}

function layerTensors(L: Layer): { weight: ebm.Tensor; bias: ebm.Tensor } {
  return {
    weight: ebm.tensor(L.w.flat(), [L.w.length, L.w[0].length]),
    bias: ebm.tensor(L.b, [L.b.length]),
  };
}

/** Asserts score(x, t) = −∇ₓ energy(x, t) by central differences of step 1e-2, to `tol`. */
async function assertScoreIsMinusFd(
  model: ebm.EnergyModel,
  x: ebm.Tensor,
  t: number | Float32Array | undefined,
  tol: number,
): Promise<void> {
  const [n, d] = x.shape;
  const s = await model.score(x, t);
  assert.deepEqual(s.shape, [n, d]);
  const h = 1e-2;
  for (let k = 0; k < d; k++) {
    const plus = new Float32Array(x.data);
    const minus = new Float32Array(x.data);
    for (let i = 0; i < n; i++) {
      plus[i * d + k] += h;
      minus[i * d + k] -= h;
    }
    const ep = await model.energy({ data: plus, shape: [n, d] }, t);
    const em = await model.energy({ data: minus, shape: [n, d] }, t);
    for (let i = 0; i < n; i++) {
      const fd = -(ep[i] - em[i]) / (2 * h);
      assert.ok(Math.abs(fd - s.data[i * d + k]) < tol, `t ${t}, row ${i}, dim ${k}: fd ${fd} vs ${s.data[i * d + k]}`);
    }
  }
}

describe('runtime', () => {
  it('reports the LibTorch version, CUDA availability and the device in use', () => {
    const v = ebm.version();
    assert.match(v.torch, /^\d+\.\d+\.\d+/);
    assert.equal(typeof v.cudaAvailable, 'boolean');
    assert.equal(v.device, v.cudaAvailable ? 'cuda:0' : 'cpu');
    assert.ok(v.numThreads >= 1);
    assert.match(v.ebmTorch, /^\d+\.\d+\.\d+/);
  });

  it('sets the intra-op thread count', () => {
    const before = ebm.version().numThreads;
    ebm.setNumThreads(1);
    assert.equal(ebm.version().numThreads, 1);
    ebm.setNumThreads(before);
    assert.equal(ebm.version().numThreads, before);
  });

  it('applies the thread count to jobs on worker threads too (OpenMP keeps it per thread)', async () => {
    // Before the count was applied per job, runs reported LibTorch's default whatever was set.
    const before = ebm.version().numThreads;
    const data = ebm.datasets.toy('8gaussians', 256, 0);
    const run = () =>
      ebm.train(ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' }), data, {
        loss: { kind: 'ed', t: 1, m: 4, w: 1 },
        optimizer: { kind: 'adam', lr: 1e-3 },
        batchSize: 64,
        steps: 2,
      });
    try {
      for (const n of [1, 3, 2]) {
        ebm.setNumThreads(n);
        assert.equal((await run()).threads, n, `setNumThreads(${n})`);
      }
    } finally {
      ebm.setNumThreads(before);
    }
  });
});

describe('mlp energy model', () => {
  const timed = ebm.energyModel({
    kind: 'mlp',
    inputDim: 3,
    hidden: [32, 32],
    timeConditioned: true,
    seed: 5,
    device: 'cpu',
  });
  const timedX = ebm.tensor(
    Array.from({ length: 4 * 3 }, (_, i) => Math.sin(1.7 * i + 0.3)),
    [4, 3],
  );
  const timedPerRow = new Float32Array([0.05, 0.3, 0.6, 0.95]);

  for (const act of Object.keys(acts) as Act[]) {
    it(`matches a hand-computed ${act} MLP (energy and score to 1e-5)`, async () => {
      const rand = rng(7);
      const dims = [3, 5, 4];
      const layers = [randomLayer(rand, dims[1], dims[0], 0.5), randomLayer(rand, dims[2], dims[1], 0.5)];
      const out = randomLayer(rand, 1, dims[2], 0.5);
      const model = ebm.energyModel({ kind: 'mlp', inputDim: 3, hidden: [5, 4], activation: act, device: 'cpu' });
      const params: Record<string, ebm.Tensor> = {};
      layers.forEach((L, i) => {
        const t = layerTensors(L);
        params[`layers.${i}.weight`] = t.weight;
        params[`layers.${i}.bias`] = t.bias;
      });
      params['out.weight'] = layerTensors(out).weight;
      params['out.bias'] = layerTensors(out).bias;
      await model.setParameters(params);

      const n = 16;
      const xs = Array.from({ length: n }, () => Array.from({ length: 3 }, () => 1.5 * randn(rand)));
      const x = ebm.tensor(xs.flat(), [n, 3]);
      const energies = await model.energy(x);
      const score = await model.score(x);
      assert.deepEqual(score.shape, [n, 3]);
      const ref = xs.map((xi) => referenceMlp(layers, out, act, xi));
      assert.ok(
        maxAbsDiff(
          energies,
          ref.map((r) => r.e),
        ) < 1e-5,
        'energies differ',
      );
      const refScore = ref.flatMap((r) => r.grad.map((g) => -g));
      assert.ok(maxAbsDiff(score.data, refScore) < 1e-5, `scores differ by ${maxAbsDiff(score.data, refScore)}`);
    });
  }

  it('score is minus the central-difference gradient of the energy (untimed; timed, t one number or per row)', async () => {
    const untimed = ebm.energyModel({
      kind: 'mlp',
      inputDim: 4,
      hidden: [32, 32],
      activation: 'softplus',
      seed: 3,
      device: 'cpu',
    });
    const rand = rng(11);
    const x = ebm.tensor(
      Float32Array.from({ length: 8 * 4 }, () => randn(rand)),
      [8, 4],
    );
    await assertScoreIsMinusFd(untimed, x, undefined, 2e-3);
    // Measured: |fd − score| ≤ 2.3e-6 against scores up to 0.019 (fresh init, small output layer).
    for (const t of [0.2, timedPerRow]) await assertScoreIsMinusFd(timed, timedX, t, 2e-5);
  });

  it('initialisation is fixed by the seed', async () => {
    const x = ebm.tensor([0.1, -0.2, 0.3, 0.4], [2, 2]);
    const e = async (seed: number) =>
      ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [16], seed, device: 'cpu' }).energy(x);
    assert.deepEqual(await e(1), await e(1));
    assert.notDeepEqual(await e(1), await e(2));
  });

  it('time-conditioned: energy and score change with t, and a per-row t gives each row its own time', async () => {
    const x = timedX;
    const n = x.shape[0];
    const d = x.shape[1];
    const [e1, e9] = [await timed.energy(x, 0.1), await timed.energy(x, 0.9)];
    assert.ok(maxAbsDiff(e1, e9) > 1e-4, `t moved the energy by ${maxAbsDiff(e1, e9)}`);
    const perRowEnergy = await timed.energy(x, new Float32Array([0.1, 0.9, 0.1, 0.9]));
    for (let i = 0; i < n; i++) assert.ok(Math.abs(perRowEnergy[i] - (i % 2 ? e9 : e1)[i]) < 1e-6);
    // Measured: max |score(t = 0.05) − score(t = 0.95)| = 6.1e-3 (the FD noise above is 2e-6);
    // rows of score(x, perRow) equal score(x, perRow[i]) exactly.
    const early = await timed.score(x, 0.05);
    const late = await timed.score(x, 0.95);
    assert.ok(maxAbsDiff(early.data, late.data) > 1e-3, `t moved the score by ${maxAbsDiff(early.data, late.data)}`);
    const mixed = await timed.score(x, timedPerRow);
    for (let i = 0; i < n; i++) {
      const alone = await timed.score(x, timedPerRow[i]);
      assert.ok(maxAbsDiff(mixed.data.subarray(i * d, (i + 1) * d), alone.data.subarray(i * d, (i + 1) * d)) < 1e-6);
    }
    await assert.rejects(timed.score(x, new Float32Array([0.1, 0.2])), ebm.EbmShapeError);
    await assert.rejects(timed.score(x), /t is required/);
  });
});

describe('checkpoints', () => {
  it('save/loadModel round-trips the exact energies', async () => {
    const dir = tmpDir();
    const model = ebm.energyModel({
      kind: 'mlp',
      inputDim: 2,
      hidden: [8, 8],
      activation: 'elu',
      seed: 5,
      device: 'cpu',
    });
    const file = path.join(dir, 'model.safetensors');
    await model.save(file);
    const loaded = await ebm.loadModel(file);
    assert.deepEqual(loaded.config, model.config);
    const x = ebm.tensor([0, 1, 2, 3, -1, -2], [3, 2]);
    assert.deepEqual(await loaded.energy(x), await model.energy(x));
    assert.deepEqual(fs.readdirSync(dir), ['model.safetensors'], 'no temp files left behind');
  });

  it('is readable from Python (plain json + torch) with the same numbers', async function () {
    const python = referencePython;
    skipUnless(this, hasTorchPython(), '/usr/bin/python3 has no torch (apt-get install -y python3-torch)');
    const dir = tmpDir();
    const file = path.join(dir, 'm.safetensors');
    const model = ebm.energyModel({
      kind: 'mlp',
      inputDim: 2,
      hidden: [8, 8],
      activation: 'silu',
      seed: 9,
      device: 'cpu',
    });
    await model.save(file);
    const script = `
import json, sys, torch
sys.path.insert(0, sys.argv[2])
from safetensors_reader import read
tensors, meta = read(sys.argv[1])
assert all(d == 'F32' for d, _ in tensors.values())
p = {name: t for name, (_, t) in tensors.items()}
x = torch.tensor([[0.5, -1.0], [2.0, 0.25]])
h = x
for i in range(2):
    h = torch.nn.functional.silu(h @ p[f'layers.{i}.weight'].T + p[f'layers.{i}.bias'])
e = (h @ p['out.weight'].T + p['out.bias']).squeeze(1)
print(json.dumps({'energy': e.tolist(), 'kind': json.loads(meta['ebm_torch.config'])['kind']}))
`;
    const out = JSON.parse(execFileSync(python, ['-c', script, file, referenceDir]).toString()) as {
      energy: number[];
      kind: string;
    };
    assert.equal(out.kind, 'mlp');
    const ours = await model.energy(ebm.tensor([0.5, -1.0, 2.0, 0.25], [2, 2]));
    assert.ok(maxAbsDiff(ours, out.energy) < 1e-5);
  });
});

/** Rewrites a checkpoint's header as an older format wrote it: that format, `key` not in the config. */
function rewriteAsFormat(file: string, format: string, key: string): void {
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString()) as { __metadata__: Record<string, string> };
  const config = JSON.parse(header.__metadata__['ebm_torch.config']) as Record<string, unknown>;
  delete config[key];
  header.__metadata__['ebm_torch.config'] = JSON.stringify(config);
  header.__metadata__['ebm_torch.format'] = format;
  let text = JSON.stringify(header);
  while (text.length % 8 !== 0) text += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(text), raw.subarray(8 + n)]));
}

describe('time embedding frequency (timeMaxFrequency)', () => {
  const timed: ebm.MlpConfig = {
    kind: 'mlp',
    inputDim: 2,
    hidden: [16, 16],
    timeConditioned: true,
    timeEmbedDim: 8,
    seed: 2,
    device: 'cpu',
  };
  const x = ebm.tensor([0.5, -1, 2, 0.25, -0.3, 0.7], [3, 2]);

  it('is stored in the checkpoint config (default 64) and changes the energy', async () => {
    const dir = tmpDir();
    const model = ebm.energyModel(timed);
    await model.save(path.join(dir, 'm.safetensors'));
    const loaded = await ebm.loadModel(path.join(dir, 'm.safetensors'));
    assert.equal((loaded.config as ebm.MlpConfig).timeMaxFrequency, 64);
    const other = ebm.energyModel({ ...timed, timeMaxFrequency: 1000 });
    assert.ok(maxAbsDiff(await model.energy(x, 0.3), await other.energy(x, 0.3)) > 1e-4);
  });

  it('is 1000 for a format-1 checkpoint, which was trained with that embedding', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'old.safetensors');
    const old = ebm.energyModel({ ...timed, timeMaxFrequency: 1000 });
    await old.save(file);
    // as version 1 wrote it: format "1", no timeMaxFrequency in the config
    rewriteAsFormat(file, '1', 'timeMaxFrequency');
    const loaded = await ebm.loadModel(file);
    assert.equal((loaded.config as ebm.MlpConfig).timeMaxFrequency, 1000);
    assert.deepEqual(await loaded.energy(x, 0.3), await old.energy(x, 0.3));
  });

  it('rejects values outside [1, 10000]', () => {
    assert.throws(() => ebm.energyModel({ ...timed, timeMaxFrequency: 0.5 }), /timeMaxFrequency must be >= 1/);
    assert.throws(() => ebm.energyModel({ ...timed, timeMaxFrequency: Infinity }), /timeMaxFrequency/);
  });
});

describe('where the time embedding enters (timeInjection)', () => {
  const timed: ebm.MlpConfig = {
    kind: 'mlp',
    inputDim: 2,
    hidden: [16, 16, 16],
    timeConditioned: true,
    timeEmbedDim: 8,
    seed: 2,
    device: 'cpu',
  };
  const x = ebm.tensor([0.5, -1, 2, 0.25, -0.3, 0.7], [3, 2]);

  it("'input' has no time weights in the hidden layers; 'every' has one per later layer; both are stored", async () => {
    const dir = tmpDir();
    const names = async (m: ebm.EnergyModel) => Object.keys(await m.parameters()).sort();
    const input = ebm.energyModel({ ...timed, timeInjection: 'input' });
    const every = ebm.energyModel({ ...timed, timeInjection: 'every' });
    assert.deepEqual(
      (await names(input)).filter((n) => n.startsWith('time.')),
      [],
    );
    assert.deepEqual(
      (await names(every)).filter((n) => n.startsWith('time.')),
      ['time.1.weight', 'time.2.weight'],
    );
    // the first layer reads [x, emb] either way
    assert.deepEqual((await input.parameters())['layers.0.weight'].shape, [16, 10]);
    for (const [name, m] of [
      ['input', input],
      ['every', every],
    ] as const) {
      await m.save(path.join(dir, `${name}.safetensors`));
      const loaded = await ebm.loadModel(path.join(dir, `${name}.safetensors`));
      assert.equal((loaded.config as ebm.MlpConfig).timeInjection, name);
      assert.deepEqual(await loaded.energy(x, 0.3), await m.energy(x, 0.3));
    }
    assert.throws(
      () => ebm.energyModel({ ...timed, timeInjection: 'hidden' as 'input' }),
      /model\.timeInjection must be one of 'input', 'every'/,
    );
  });

  // Today the native default is 'every' too; this guards the loader's rule for old files against a change of
  // the default (make it 'input' and, without the rule, this fails: format-2 files hold time.<i>.weight).
  it("is 'every' for a format-2 checkpoint, whose layout that was", async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'old.safetensors');
    const old = ebm.energyModel({ ...timed, timeInjection: 'every' });
    await old.save(file);
    // as version 2 wrote it: format "2", no timeInjection in the config
    rewriteAsFormat(file, '2', 'timeInjection');
    const loaded = await ebm.loadModel(file);
    assert.equal((loaded.config as ebm.MlpConfig).timeInjection, 'every');
    assert.deepEqual(await loaded.energy(x, 0.3), await old.energy(x, 0.3));
  });
});

describe('the event loop during native work', () => {
  it('keeps firing timers while a ~2 s native job runs', async () => {
    const model = ebm.energyModel({ kind: 'mlp', inputDim: 64, hidden: [512, 512, 512], device: 'cpu' });
    const rand = rng(1);
    // Size one call to take about two seconds on this machine, measured with a small probe.
    const probeRows = 4096;
    const probe = ebm.tensor(
      Float32Array.from({ length: probeRows * 64 }, () => randn(rand)),
      [probeRows, 64],
    );
    const t0 = performance.now();
    await model.score(probe);
    const perRow = (performance.now() - t0) / probeRows;
    const n = Math.min(2_000_000, Math.max(probeRows, Math.round(2000 / perRow)));
    const x = { data: new Float32Array(n * 64).fill(0.1), shape: [n, 64] };

    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const start = performance.now();
    await model.score(x);
    const elapsed = performance.now() - start;
    clearInterval(timer);
    assert.ok(elapsed > 500, `the job should be long enough to matter (took ${elapsed.toFixed(0)} ms)`);
    // A blocked loop would give 0 ticks; allow generous scheduling slack.
    assert.ok(ticks >= (elapsed / 10) * 0.3, `${ticks} ticks in ${elapsed.toFixed(0)} ms`);
  });
});
