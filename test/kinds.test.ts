/** The TS kind unions and the native registry tables list the same kinds. */
import { strict as assert } from 'node:assert';
import * as ebm from '../lib';

describe('kinds: TypeScript and the native registries agree', () => {
  const native = ebm.kinds();
  it('losses', () => assert.deepEqual([...native.losses].sort(), [...ebm.lossKinds].sort()));
  it('samplers', () => assert.deepEqual([...native.samplers].sort(), [...ebm.samplerKinds].sort()));
  it('models (compose and latent are built by ebm.compose and ebm.latentEbm)', () =>
    assert.deepEqual([...native.models].sort(), [...ebm.modelKinds, 'compose', 'latent'].sort()));
});
