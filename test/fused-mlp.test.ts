import { strict as assert } from 'node:assert';
import * as ebm from '../lib';
import { randn, relDiff, rng, sameGradNorms, sameParameters } from './helpers';

// The MLP's hand-written passes (native/core/models/mlp_passes.cc) against LibTorch's autograd on
// the same weights (fusedPasses: false): energies, scores, loss gradients, a training run and a
// sampler run agree to 1e-5 (relative to each quantity's scale).

function points(n: number, dim: number, seed: number): ebm.Tensor {
  const r = rng(seed);
  return ebm.tensor(
    Array.from({ length: n * dim }, () => 2 * randn(r)),
    [n, dim],
  );
}

function pair(cfg: ebm.MlpConfig): [ebm.EnergyModel, ebm.EnergyModel] {
  return [ebm.energyModel({ ...cfg, fusedPasses: true }), ebm.energyModel({ ...cfg, fusedPasses: false })];
}

/** One batch's loss and per-tensor gradient norms (evaluateLoss) agree to 1e-5 of the whole gradient. */
async function sameLossAndGradients(
  a: ebm.EnergyModel,
  b: ebm.EnergyModel,
  data: ebm.Tensor,
  loss: ebm.LossConfig,
  seed: number,
): Promise<void> {
  const ea = await ebm.evaluateLoss(a, data, loss, { seed });
  const eb = await ebm.evaluateLoss(b, data, loss, { seed });
  assert.ok(Math.abs(ea.loss - eb.loss) < 1e-5 * Math.max(1, Math.abs(eb.loss)));
  sameGradNorms(ea.gradNorms, eb.gradNorms, 1e-5);
}

/** The same short SGD run on both models ends at the same weights (to 1e-5). */
async function sameSgdRun(
  a: ebm.EnergyModel,
  b: ebm.EnergyModel,
  data: ebm.Tensor,
  loss: ebm.LossConfig,
  batchSize: number,
  seed: number,
): Promise<void> {
  for (const model of [a, b])
    await ebm.train(model, data, { loss, batchSize, steps: 6, optimizer: { kind: 'sgd', lr: 0.02 }, seed });
  await sameParameters(a, b, 1e-5);
}

const cases: { name: string; cfg: ebm.MlpConfig; t?: number }[] = [
  { name: 'SiLU 3-96-96-1', cfg: { kind: 'mlp', inputDim: 3, hidden: [96, 96], device: 'cpu', seed: 3 } },
  {
    name: 'time-conditioned tanh 2-48-40-32-1',
    cfg: {
      kind: 'mlp',
      inputDim: 2,
      hidden: [48, 40, 32],
      activation: 'tanh',
      timeConditioned: true,
      timeEmbedDim: 16,
      device: 'cpu',
      seed: 4,
    },
    t: 0.3,
  },
  {
    name: 'ELU 2-64-1',
    cfg: { kind: 'mlp', inputDim: 2, hidden: [64], activation: 'elu', device: 'cpu', seed: 5 },
  },
  {
    name: 'leaky ReLU 4-32-32-1',
    cfg: { kind: 'mlp', inputDim: 4, hidden: [32, 32], activation: 'leaky_relu', device: 'cpu', seed: 6 },
  },
  {
    name: "time-conditioned SiLU 2-40-40-40-1, embedding at the input only ('input')",
    cfg: {
      kind: 'mlp',
      inputDim: 2,
      hidden: [40, 40, 40],
      timeConditioned: true,
      timeEmbedDim: 8,
      timeInjection: 'input',
      device: 'cpu',
      seed: 7,
    },
    t: 0.6,
  },
];

describe('fused MLP passes against autograd', () => {
  for (const { name, cfg, t } of cases) {
    it(`${name}: energies and scores agree over several row blocks`, async () => {
      const [fused, reference] = pair(cfg);
      // 6000 rows: several of the passes' row blocks (1365 to 4096 rows at these widths), the last one partial
      const x = points(6000, cfg.inputDim, 1);
      assert.ok(relDiff(await fused.energy(x, t), await reference.energy(x, t)) < 1e-5);
      const sf = await fused.score(x, t);
      const sr = await reference.score(x, t);
      assert.ok(relDiff(sf.data, sr.data) < 1e-5, `score: ${relDiff(sf.data, sr.data)}`);
    });
  }

  it('ED gradients and an SGD run agree (the hand-written parameter gradients)', async () => {
    const cfg = cases[0].cfg;
    const [fused, reference] = pair(cfg);
    const data = points(256, cfg.inputDim, 2);
    const loss: ebm.LossConfig = { kind: 'ed', t: 0.5, m: 8, w: 1 };
    await sameLossAndGradients(fused, reference, data, loss, 1);
    const run = (model: ebm.EnergyModel) =>
      // batch 256 x (1 + M) rows is large enough for the thread rule to use every core
      ebm.train(model, data, { loss, batchSize: 256, steps: 10, optimizer: { kind: 'sgd', lr: 0.05 }, seed: 7 });
    const [rf, rr] = [await run(fused), await run(reference)];
    assert.ok(
      relDiff(
        rf.history.map((h) => h.loss),
        rr.history.map((h) => h.loss),
      ) < 1e-5,
    );
    await sameParameters(fused, reference, 1e-5);
  });

  for (const { name, cfg } of cases) {
    it(`${name}: DSM gradients agree (the hand-written double backward)`, async () => {
      const [fused, reference] = pair(cfg);
      const data = points(300, cfg.inputDim, 5);
      const loss: ebm.LossConfig = cfg.timeConditioned ? { kind: 'dsm', path: 've' } : { kind: 'dsm', sigma: 0.3 };
      await sameLossAndGradients(fused, reference, data, loss, 3);
      await sameSgdRun(fused, reference, data, loss, 100, 8);
    });
  }

  for (const { name, cfg } of cases.filter((c) => c.cfg.timeConditioned)) {
    it(`${name}: DiffCLF + DSM gradients and an SGD run agree`, async () => {
      const [fused, reference] = pair(cfg);
      const data = points(128, cfg.inputDim, 3);
      const loss: ebm.LossConfig = { kind: 'diffclf', path: 'vp', levels: 16, k: 4, clfWeight: 1, dsmWeight: 1 };
      await sameLossAndGradients(fused, reference, data, loss, 2);
      await sameSgdRun(fused, reference, data, loss, 64, 9);
    });
  }

  it('Langevin and MALA chains agree step for step', async () => {
    const [fused, reference] = pair(cases[0].cfg);
    for (const sampler of [
      { kind: 'langevin', stepSize: 0.1, steps: 30 },
      { kind: 'mala', stepSize: 0.2, steps: 30 },
    ] as const) {
      const a = await ebm.sample(fused, { n: 700, sampler, seed: 3 });
      const b = await ebm.sample(reference, { n: 700, sampler, seed: 3 });
      assert.ok(relDiff(a.data, b.data) < 1e-5, `${sampler.kind}: ${relDiff(a.data, b.data)}`);
    }
  });

  it('a composition of MLPs sums its parts’ fused gradients', async () => {
    const [f1, r1] = pair(cases[0].cfg);
    const [f2, r2] = pair({ ...cases[0].cfg, seed: 9 });
    const fused = ebm.compose([
      { model: f1, weight: 0.5 },
      { model: f2, weight: 2 },
    ]);
    const reference = ebm.compose([
      { model: r1, weight: 0.5 },
      { model: r2, weight: 2 },
    ]);
    const x = points(600, 3, 4);
    const sf = await fused.score(x);
    const sr = await reference.score(x);
    assert.ok(relDiff(sf.data, sr.data) < 1e-5);
  });
});
