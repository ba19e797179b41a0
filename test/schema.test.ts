import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../lib';
import { runConfigJsonSchemaText, validateRunConfig } from '../lib/cli/schema';
import { optionDefaults } from '../lib/schema/defaults';
import { runCli } from './cli-helpers';
import { tmpDir } from './helpers';

/** The repository root (tests run from dist/test). */
const ROOT = path.resolve(__dirname, '..', '..');
const SCHEMA_FILE = path.join(ROOT, 'schema', 'run-config.schema.json');

/** Paths in `v` whose value is undefined (a default the schemas read but nobody defined). */
function undefinedPaths(v: unknown, at = ''): string[] {
  if (v === undefined) return [at];
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return [];
  return Object.entries(v).flatMap(([k, w]) => undefinedPaths(w, `${at}.${k}`));
}

describe('schemas: one check at the boundary, the effective config, the JSON Schema', () => {
  it('fills every default of every kind, and each one is defined', () => {
    const losses: unknown[] = [
      [{ kind: 'ed', t: 1, m: 2, w: 1 }, false],
      [{ kind: 'dsm', sigma: 0.1 }, false],
      [{ kind: 'dsm', path: 'vp' }, true],
      [{ kind: 'diffclf', path: 've', levels: 4, k: 2, clfWeight: 1 }, true],
      [{ kind: 'cd', sampler: { kind: 'hmc', steps: 2, stepSize: 0.1 }, buffer: { size: 4 } }, false],
      [{ kind: 'ssm' }, false],
      [{ kind: 'ce' }, false],
    ];
    for (const [loss, tc] of losses as Array<[unknown, boolean]>) {
      const out = ebm.validateTrainOptions({ loss, batchSize: 1, steps: 1 }, tc, 1);
      assert.deepEqual(undefinedPaths(out), [], JSON.stringify(loss));
    }
    for (const kind of ebm.samplerKinds) {
      const out = ebm.validateSamplerConfig({ kind, steps: 2, stepSize: 0.1 });
      assert.deepEqual(undefinedPaths(out), [], kind);
    }
    for (const kind of ['adam', 'adamw', 'sgd']) {
      assert.deepEqual(undefinedPaths(ebm.validateOptimizerConfig({ kind, lr: 0.1 })), [], kind);
    }
    const models: unknown[] = [
      { kind: 'mlp', inputDim: 2, hidden: [4] },
      { kind: 'convnet', inputShape: [1, 8, 8], channels: [4] },
      { kind: 'classifier', inputShape: [1, 8, 8] },
      { kind: 'gaussian', mean: [0, 0] },
      { kind: 'gmm', means: [[0, 0]], stds: [1], weights: [1], path: 'vp' },
      { kind: 'doublewell' },
      { kind: 'torchscript', path: 'energy.pt', inputShape: [2] },
    ];
    for (const model of models) assert.deepEqual(undefinedPaths(ebm.validateModelConfig(model)), [], String(model));
    assert.deepEqual(undefinedPaths(ebm.validateLatentConfig({ imageShape: [1, 8, 8] })), []);
  });

  it('returns the effective config: defaults filled in, given values kept', () => {
    const out = ebm.validateTrainOptions(
      { loss: { kind: 'diffclf', path: 'vp', levels: 8, k: 2, clfWeight: 1 }, batchSize: 4, steps: 10, seed: 3 },
      true,
      16,
    );
    const d = optionDefaults();
    assert.equal(out.seed, 3);
    assert.equal(out.logEvery, d.train.logEvery);
    assert.equal(out.gradClip, d.lossGradClip.diffclf, "diffclf's own gradClip default");
    assert.deepEqual(out.optimizer, { kind: 'adam', lr: d.train.optimizer.lr, ...d.optimizer.adam });
    assert.deepEqual(out.schedule, d.train.schedule);
    assert.equal(out.loss.kind, 'diffclf');
    assert.equal((out.loss as { dsmWeight: number }).dsmWeight, d.loss.diffclf.dsmWeight);
    // an option whose absence means "off" stays absent
    assert.ok(!('offsetLr' in out.loss));
    assert.ok(!('ema' in out));
    // a nested default applies when its parent is given
    const cd = ebm.validateLossConfig(
      { kind: 'cd', sampler: { kind: 'langevin', steps: 1, stepSize: 0.1 }, buffer: { size: 4 } },
      false,
    );
    assert.deepEqual((cd as { buffer: unknown }).buffer, { size: 4, reinit: d.loss.cd.buffer.reinit });
  });

  it('ebm train writes the effective config, every default filled in, to config.json', async function () {
    this.timeout(120_000);
    const dir = tmpDir('ebm-schema-');
    try {
      const config = {
        name: 'effective',
        data: { toy: 'moons', n: 64 },
        model: { kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' },
        train: { loss: { kind: 'ed', t: 1, m: 2, w: 1 }, batchSize: 8, steps: 2 },
        eval: { samples: { n: 4, sampler: { kind: 'mala', steps: 2, stepSize: 0.01 } } },
      };
      fs.writeFileSync(path.join(dir, 'effective.json'), JSON.stringify(config));
      const r = await runCli(['train', 'effective.json', '--quiet'], dir);
      assert.equal(r.code, 0, r.stderr);
      const saved = JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'effective', 'config.json'), 'utf8')) as {
        config: Record<string, unknown>;
      };
      const d = optionDefaults();
      assert.deepEqual(saved.config.train, {
        loss: { kind: 'ed', t: 1, m: 2, w: 1, ...d.loss.ed },
        optimizer: { ...d.train.optimizer, ...d.optimizer.adam },
        schedule: d.train.schedule,
        batchSize: 8,
        steps: 2,
        seed: d.train.seed,
        replacement: d.train.replacement,
        logEvery: d.train.logEvery,
        gradClip: d.lossGradClip.ed,
      });
      assert.deepEqual(saved.config.model, { ...d.model.mlp, kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' });
      assert.deepEqual(saved.config.data, { toy: 'moons', n: 64 });
      const evalSpec = saved.config.eval as { samples: unknown; grid: unknown };
      assert.deepEqual(evalSpec.samples, {
        n: 4,
        seed: d.sample.seed,
        sampler: { kind: 'mala', steps: 2, stepSize: 0.01, ...d.sampler.mala },
      });
      assert.deepEqual(Object.keys(evalSpec.grid as object).sort(), ['hi', 'lo', 'resolution']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the committed schema/run-config.schema.json is the generated one, as ebm schema prints and writes it', async () => {
    const text = runConfigJsonSchemaText();
    assert.equal(
      fs.readFileSync(SCHEMA_FILE, 'utf8'),
      text,
      'regenerate it with: ebm schema --out schema/run-config.schema.json',
    );
    const schema = JSON.parse(text) as Record<string, unknown>;
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    const printed = await runCli(['schema'], ROOT);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, text);
    const dir = tmpDir('ebm-schema-');
    try {
      const written = await runCli(['schema', '--out', 'out.json'], dir);
      assert.equal(written.code, 0, written.stderr);
      assert.equal(fs.readFileSync(path.join(dir, 'out.json'), 'utf8'), text);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('carries descriptions and defaults into the JSON Schema', () => {
    const text = runConfigJsonSchemaText();
    assert.match(text, /"description": "perturbation variance \(noise std √t\)"/);
    assert.match(text, new RegExp(`"default": ${optionDefaults().loss.ed.epsilon},\\s*"description": "bit-flip`));
  });

  it('every examples/*.json run config points at the schema and passes it', () => {
    const examples = path.join(ROOT, 'examples');
    const files = fs.readdirSync(examples).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 5, files.join(', '));
    for (const f of files) {
      const raw = JSON.parse(fs.readFileSync(path.join(examples, f), 'utf8')) as Record<string, unknown>;
      assert.equal(raw.$schema, '../schema/run-config.schema.json', f);
      assert.equal(path.resolve(examples, raw.$schema as string), SCHEMA_FILE, f);
      assert.doesNotThrow(() => validateRunConfig(raw), f);
    }
  });

  it('reports a typo in a field, naming it', () => {
    const raw = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', '8gaussians-ed.json'), 'utf8')) as {
      train: Record<string, unknown>;
      model: Record<string, unknown>;
    };
    const typo = (change: (c: typeof raw) => void, pattern: RegExp) => {
      const copy = JSON.parse(JSON.stringify(raw)) as typeof raw;
      change(copy);
      assert.throws(
        () => validateRunConfig(copy),
        (err: unknown) => {
          assert.ok(err instanceof ebm.EbmConfigError);
          assert.match(err.message, pattern);
          return true;
        },
      );
    };
    typo((c) => (c.train.stpes = 5), /^train\.stpes is not a known option \(known: loss, optimizer, /);
    typo(
      (c) => ((c.train.loss as Record<string, unknown>).mm = 4),
      /^train\.loss\.mm is not a known option \(known: kind, t, m, w, perturbation, epsilon\)$/,
    );
    typo((c) => (c.model.hiden = [8]), /^model\.hiden is not a known option/);
    typo((c) => ((c as Record<string, unknown>).evals = {}), /^config\.evals is not a known option/);
    typo((c) => (c.train.steps = 0), /^train\.steps must be >= 1, got 0$/);
  });
});
