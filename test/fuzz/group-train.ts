/** Training: train() for every loss, evaluateLoss, and the config validators both ways. */
import * as path from 'node:path';
import * as ebm from '../../lib';
import { adam, loss, LossName, sgd, trainOptions } from './config-specs';
import { entry, fixed, grid, model, modelState, scratchDir, tensorArg } from './fixtures';
import { casesOf, Entry, Group } from './harness';
import { custom, obj, opt, seed, Spec } from './spec';

const ROWS = 8;
const CLASSES = 3;

/** The same options spec, with any labels: validateTrainOptions knows the key but leaves the check to train(). */
function withAnyLabels(spec: Spec): Spec {
  return spec.type === 'object'
    ? {
        ...spec,
        fields: {
          ...spec.fields,
          labels: opt(
            custom(
              () => true,
              () => [],
            ),
          ),
        },
      }
    : spec;
}

export async function trainGroup(): Promise<Group> {
  const dir = scratchDir('train');
  const checkpointPath = path.join(dir, 'checkpoint.safetensors');
  const plain = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
  const tc = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], timeConditioned: true, device: 'cpu' });
  const classifier = ebm.energyModel({ kind: 'classifier', inputShape: [1, 8, 8], classes: CLASSES, device: 'cpu' });
  const labelsOf = (anyValues: boolean) =>
    custom(
      (v) =>
        (v instanceof Int32Array || v instanceof Uint8Array) &&
        v.length === ROWS &&
        (anyValues || v.every((l) => l >= 0 && l < CLASSES)),
      labelSamples,
    );
  const labelSamples = () => [
    new Uint8Array(ROWS - 1),
    new Float32Array(ROWS),
    Array.from({ length: ROWS }, () => 0),
    Int32Array.from({ length: ROWS }, () => -1),
    Uint8Array.from({ length: ROWS }, () => CLASSES),
  ];
  const saved = new Map<ebm.EnergyModel, Record<string, ebm.Tensor>>();
  for (const m of [plain, tc, classifier]) saved.set(m, await m.parameters());
  const restore = (m: ebm.EnergyModel) => () => m.setParameters(saved.get(m) as Record<string, ebm.Tensor>);
  const counter = { skipped: 0 };
  const entries: Entry[] = [];
  const names: LossName[] = ['ed', 'dsm', 'dsm-path', 'diffclf', 'cd', 'cd-buffer', 'ssm', 'ce'];
  for (const name of names) {
    const l = loss(name);
    const m = name === 'ce' ? classifier : l.timeConditioned ? tc : plain;
    const rowShape = [...m.inputShape];
    const data = () => grid(ROWS, rowShape);
    const base = () => ({
      loss: l.base(),
      batchSize: 1,
      steps: 1,
      ...(name === 'ce' ? { labels: Uint8Array.from({ length: ROWS }, (_, i) => i % CLASSES) } : {}),
    });
    const spec = trainOptions({
      loss: l.spec,
      rows: ROWS,
      withHooks: true,
      // labels are read by 'ce' only; other losses check their type and length and ignore them
      labels: name === 'ce' ? labelsOf(false) : opt(labelsOf(true)),
      checkpointPath,
    });
    const models = { state: () => modelState(m), restore: restore(m) };
    const call = (mm: unknown, x: unknown, c: unknown) =>
      ebm.train(mm as ebm.EnergyModel, x as ebm.Tensor, c as ebm.TrainConfig);
    entries.push(
      entry(
        `train(${name})`,
        [fixed('model', () => m), fixed('data', data), { name: 'config', spec, base }],
        call,
        models,
      ),
      entry(
        `validateTrainOptions(${name})`,
        // labels are train()'s to check (against the data and the model)
        [{ name: 'config', spec: withAnyLabels(spec), base }],
        (c) => ebm.validateTrainOptions(c, l.timeConditioned, ROWS),
        { validator: true },
      ),
      entry(
        `validateLossConfig(${name})`,
        [{ name: 'loss', spec: l.spec, base: l.base }],
        (c) => ebm.validateLossConfig(c, l.timeConditioned, 'loss'),
        { validator: true },
      ),
    );
    if (name === 'ed' || name === 'ce') {
      entries.push(
        entry(
          `train(${name}) model, data`,
          [
            { name: 'model', spec: model(), base: () => m },
            tensorArg('data', data, { rowShape, finite: true }),
            fixed('config', base),
          ],
          call,
          models,
        ),
      );
    }
    if (name !== 'ce') {
      entries.push(
        entry(
          `evaluateLoss(${name})`,
          [
            { name: 'model', spec: model(), base: () => m },
            tensorArg('batch', data, { rowShape, finite: true }),
            { name: 'loss', spec: l.spec, base: l.base },
            { name: 'options', spec: opt(obj({ seed: seed() }), () => ({ seed: 1 })), base: () => undefined },
          ],
          (mm, b, c, o) =>
            ebm.evaluateLoss(mm as ebm.EnergyModel, b as ebm.Tensor, c as ebm.LossConfig, o as { seed?: number }),
          { state: () => modelState(m) },
        ),
      );
    }
  }
  const sgdBase = () => ({ loss: { kind: 'ssm' }, optimizer: { kind: 'sgd', lr: 0.01 }, batchSize: 1, steps: 1 });
  const sgdSpec = trainOptions({
    loss: loss('ssm').spec,
    optimizer: sgd(),
    rows: ROWS,
    withHooks: true,
    checkpointPath,
  });
  entries.push(
    entry(
      'train(sgd)',
      [
        fixed('model', () => plain),
        fixed('data', () => grid(ROWS, [2])),
        { name: 'config', spec: sgdSpec, base: sgdBase },
      ],
      (mm, x, c) => ebm.train(mm as ebm.EnergyModel, x as ebm.Tensor, c as ebm.TrainConfig),
      { state: () => modelState(plain), restore: restore(plain) },
    ),
    entry(
      'validateOptimizerConfig(adam)',
      [{ name: 'optimizer', spec: adam(), base: () => ({ kind: 'adam', lr: 0.01 }) }],
      (c) => ebm.validateOptimizerConfig(c),
      {
        validator: true,
      },
    ),
    entry(
      'validateOptimizerConfig(sgd)',
      [{ name: 'optimizer', spec: sgd(), base: () => ({ kind: 'sgd', lr: 0.01 }) }],
      (c) => ebm.validateOptimizerConfig(c),
      {
        validator: true,
      },
    ),
  );
  return {
    cases: entries.flatMap((e) => casesOf(e, counter)),
    skipped: counter.skipped,
    probe: async () => {
      const fresh = ebm.energyModel({ kind: 'mlp', inputDim: 2, hidden: [8], seed: 5, device: 'cpu' });
      const run = await ebm.train(fresh, grid(ROWS, [2]), {
        loss: { kind: 'ed', t: 1, m: 2, w: 1 },
        batchSize: 4,
        steps: 3,
        seed: 2,
      });
      const evaluation = await ebm.evaluateLoss(plain, grid(4, [2]), { kind: 'dsm', sigma: 0.1 }, { seed: 3 });
      return [await fresh.parameters(), run.history.map((h) => h.loss), evaluation];
    },
  };
}
