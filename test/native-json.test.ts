/**
 * The native JSON layer (nlohmann-json) and the option defaults the addon exports: strict
 * parsing of what crosses from TS and of checkpoint metadata, and one default per option.
 */
import { strict as assert } from 'assert';
import { native } from '../lib/native';

const mlp = (inner: string) => `{"kind": "mlp", "inputDim": 2, "hidden": [8]${inner}}`;

describe('native JSON', () => {
  it('accepts a plain config', () => {
    assert.doesNotThrow(() => native().createModel(mlp('')));
  });

  it('refuses what the old hand-written parser let through', () => {
    // a leading zero, an unpaired surrogate and a repeated key are not JSON (RFC 8259)
    assert.throws(() => native().createModel(mlp(', "seed": 01')), /malformed model config/);
    assert.throws(() => native().createModel(mlp(', "device": "\\ud800"')), /malformed model config/);
    assert.throws(
      () => native().createModel(mlp(', "seed": 1, "seed": 2')),
      /malformed model config: the key 'seed' appears twice/,
    );
  });

  it('refuses a number beyond a double as malformed input, not an internal error', () => {
    assert.throws(
      () => native().createModel(mlp(', "seed": 1e400')),
      (e: Error & { code?: string }) => e.code === 'EBM_IO' && /malformed model config/.test(e.message),
    );
  });

  it('refuses a fraction where an integer belongs (a checkpoint config reaches here without TS)', () => {
    assert.throws(
      () => native().createModel('{"kind": "mlp", "inputDim": 2, "hidden": [2.5]}'),
      /model\.hidden\[0\] must be an integer/,
    );
    assert.throws(() => native().createModel(mlp(', "seed": 1e300')), /model\.seed must be an integer/);
  });

  it('names the byte where parsing stopped', () => {
    assert.throws(() => native().createModel('{"kind": "mlp",]'), /malformed model config: .* at byte \d+/);
  });

  it('refuses a value of the wrong JSON type, naming the field', () => {
    assert.throws(() => native().createModel(mlp(', "activation": 3')), /model\.activation must be a string/);
    assert.throws(() => native().createModel(mlp(', "seed": "1"')), /model\.seed must be an integer/);
  });
});

describe('native option defaults', () => {
  const json = (native() as unknown as { optionDefaultsJson: string }).optionDefaultsJson;
  const defaults = JSON.parse(json) as Record<string, Record<string, Record<string, unknown>>>;
  const kinds = native().kinds();

  it('has one entry per kind of every registry', () => {
    assert.deepEqual(Object.keys(defaults.loss).sort(), [...kinds.losses].sort());
    assert.deepEqual(Object.keys(defaults.sampler).sort(), [...kinds.samplers].sort());
    assert.deepEqual(Object.keys(defaults.model).sort(), [...kinds.models].sort());
  });

  it('holds only optional fields: no default for a field a config must give', () => {
    assert.equal(defaults.loss.ed.t, undefined);
    assert.equal(defaults.loss.ed.m, undefined);
    assert.equal(defaults.loss.diffclf.levels, undefined);
    assert.equal(defaults.loss.diffclf.k, undefined);
    assert.equal(defaults.sampler.langevin.steps, undefined);
    assert.equal(defaults.sampler.langevin.noiseScale, undefined, 'absent means tied to the step size');
    assert.equal(defaults.loss.dsm.levels, undefined, 'absent means continuous time');
    assert.equal(defaults.loss.dsm.path, undefined, 'its presence picks the form');
  });

  it('gives the documented values', () => {
    assert.deepEqual(defaults.loss.ed, { perturbation: 'gaussian', epsilon: 0.1 });
    assert.deepEqual(defaults.loss.cd, { alpha: 0.1, init: 'data', buffer: { reinit: 0.05 } });
    assert.equal(defaults.sampler.mala.targetAccept, 0.574);
    assert.equal(defaults.sampler.hmc.targetAccept, 0.65);
    assert.equal(defaults.optimizer.adamw.weightDecay, 0.01);
    assert.equal(defaults.optimizer.adam.weightDecay, 0);
    assert.equal(defaults.model.mlp.timeMaxFrequency, 64);
    assert.deepEqual(defaults.model.latent.generator, { batchNorm: false });
    assert.deepEqual(defaults.lossGradClip, { ed: 0, dsm: 0, diffclf: 1, cd: 0, ssm: 0, ce: 0 });
    assert.equal(defaults.train.logEvery, 10);
  });
});
