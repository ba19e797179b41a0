/**
 * The quick-start job: train an Energy Discrepancy model on 8 gaussians, then write the learned
 * density, MALA samples, the loss curve, the checkpoint and the metrics to a run folder.
 *   node dist/examples/demo-8gaussians.js [runDir]
 */
import * as path from 'node:path';
import * as ebm from '../lib';
import { RunLog } from '../lib/log/run';
import { curvesPng, densityPng, scatterPng } from '../lib/plot';

async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? 'runs/demo-8gaussians');
  const config = {
    data: { toy: '8gaussians', n: 20000, seed: 0 },
    model: { kind: 'mlp', inputDim: 2, hidden: [128, 128], activation: 'silu', seed: 0 } as ebm.MlpConfig,
    train: {
      loss: { kind: 'ed', t: 1, m: 16, w: 1 } as ebm.LossConfig,
      optimizer: { kind: 'adam', lr: 1e-3 } as ebm.OptimizerConfig,
      batchSize: 128,
      steps: 2000,
      seed: 0,
      logEvery: 100,
    },
  };
  // config.json records the effective config: every default filled in, as ebm train writes it.
  const run = new RunLog(dir, {
    data: config.data,
    model: ebm.validateModelConfig(config.model),
    train: ebm.validateTrainOptions(config.train, false, config.data.n),
  });
  const v = ebm.version();
  console.log(`ebm-torch ${v.ebmTorch} on LibTorch ${v.torch}, device ${v.device}, ${v.numThreads} threads`);
  console.log(`training ED on 8 gaussians → ${dir}`);

  const data = ebm.datasets.toy('8gaussians', config.data.n, config.data.seed);
  const test = ebm.datasets.toy('8gaussians', 5000, 1);
  const model = ebm.energyModel(config.model);
  const result = await ebm.train(model, data, {
    ...config.train,
    onProgress: (p) => {
      run.log(p);
      console.log(
        `step ${String(p.step).padStart(5)}  loss ${p.loss.toFixed(4)}  gap ${(p.gap ?? NaN).toFixed(3)}  ${p.stepsPerSecond.toFixed(0)} steps/s`,
      );
    },
  });
  await model.save(run.file('model.safetensors'));

  const grid = { lo: -4, hi: 4, resolution: 200 };
  const g = await ebm.metrics.gridEnergy(model, grid);
  const nll = await ebm.metrics.gridNll(model, test, { ...grid, resolution: 300 });
  const truth = ebm.datasets.toyLogDensity(ebm.datasets.toyMixture('8gaussians'), test);
  const trueNll = -truth.reduce((s, x) => s + x, 0) / truth.length;
  const samples = await ebm.sample(model, {
    n: 2000,
    seed: 2,
    sampler: { kind: 'mala', steps: 500, stepSize: 0.01, adaptSteps: 200 },
  });
  const mmd2 = ebm.metrics.mmd(samples, ebm.datasets.toy('8gaussians', 2000, 3), { bandwidth: 0.5 });
  const acceptance = samples.acceptRate
    ? samples.acceptRate.reduce((s, x) => s + x, 0) / samples.acceptRate.length
    : NaN;

  run.writePng(
    'density.png',
    densityPng(
      { values: g.energy, ...grid },
      { points: { data: data.data.subarray(0, 2 * 1000), shape: [1000, 2] }, title: 'ED on 8 gaussians: exp(-E)' },
    ),
  );
  run.writePng(
    'samples.png',
    scatterPng(
      [
        { points: test, color: [160, 160, 160], label: 'data' },
        { points: samples, color: [220, 60, 40], label: 'MALA samples' },
      ],
      { lo: -4, hi: 4, title: 'samples from the learned energy' },
    ),
  );
  run.writePng(
    'loss.png',
    curvesPng([{ name: 'ED loss', x: result.history.map((h) => h.step), y: result.history.map((h) => h.loss) }], {
      title: 'training loss',
      xLabel: 'step',
    }),
  );
  const metrics = {
    gridNll: nll,
    trueNll,
    nllGap: nll - trueNll,
    mmd2Samples: mmd2,
    malaAcceptance: acceptance,
    steps: result.steps,
    seconds: result.seconds,
    stepsPerSecond: result.steps / result.seconds,
    torch: v.torch,
    device: model.device,
  };
  run.writeJson('metrics.json', metrics);
  console.log(
    `grid NLL ${nll.toFixed(4)} (true ${trueNll.toFixed(4)}, gap ${(nll - trueNll).toFixed(4)}), ` +
      `MMD² of MALA samples ${mmd2.toExponential(2)}, ${(result.steps / result.seconds).toFixed(0)} steps/s`,
  );
  console.log(
    `wrote ${['config.json', 'metrics.jsonl', 'metrics.json', 'model.safetensors', 'density.png', 'samples.png', 'loss.png'].map((f) => path.join(dir, f)).join('\n      ')}`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
