/**
 * The package as a consumer gets it: `npm pack` of this checkout, installed offline (from the npm
 * cache the set-up filled) into a scratch project, used from TypeScript compiled as CommonJS and
 * as ESM, and through `npx ebm train` with a shipped example.
 *
 * The install runs with --ignore-scripts and the addon this checkout built is copied in, so the
 * test does not compile LibTorch code a second time (minutes on 2 cores); what the install script
 * itself does is covered by its own messages test below.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../..');
const NPM = 'npm';
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  devOptional?: boolean;
  [field: string]: unknown;
}

/**
 * `npm ci --offline` of the tarball plus @types/node. The set-up's `npm ci` cached package
 * tarballs but no registry metadata, so a plain offline `npm install` cannot resolve names; the
 * scratch project gets a lockfile built from this repository's (the runtime dependency tree, as
 * a consumer's install would resolve it), which npm fills from the cache by integrity.
 */
function installOffline(project: string, tarball: string): void {
  const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const own = lock.packages[''];
  const local = path.basename(tarball);
  fs.copyFileSync(tarball, path.join(project, local));
  const typesNode = lock.packages['node_modules/@types/node'];
  const dependencies = { 'ebm-torch': `file:${local}`, '@types/node': typesNode.version as string };
  const packages: Record<string, LockEntry> = {
    '': { name: 'consumer', version: '1.0.0', dependencies },
    'node_modules/ebm-torch': {
      version: own.version,
      resolved: `file:${local}`,
      integrity: `sha512-${createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`,
      hasInstallScript: true,
      license: own.license,
      dependencies: own.dependencies,
      bin: own.bin,
      engines: own.engines,
    },
  };
  const wanted = new Set(['node_modules/@types/node', 'node_modules/undici-types']);
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '') continue;
    if (entry.dev === true && !wanted.has(key)) continue;
    const copy: LockEntry = { ...entry };
    delete copy.dev;
    delete copy.devOptional;
    packages[key] = copy;
  }
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies }),
  );
  fs.writeFileSync(
    path.join(project, 'package-lock.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }),
  );
  run(NPM, ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);
}

const CONSUMER_CODE = `
  const model = energyModel({ kind: 'mlp', inputDim: 2, hidden: [16], seed: 3 });
  const data = datasets.toy('8gaussians', 256, 1);
  const run = async (): Promise<void> => {
    const result = await train(model, data, {
      loss: { kind: 'ed', t: 1, m: 4, w: 1 },
      optimizer: { kind: 'adam', lr: 1e-3 },
      batchSize: 32,
      steps: 5,
      seed: 0,
    });
    const e = await model.energy(tensor([0, 0, 1, 1, -2, 0.5], [3, 2]));
    console.log(JSON.stringify({ steps: result.steps, energies: Array.from(e), version: version() }));
  };
  run().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
`;

describe('package: npm pack installed into a fresh project', function () {
  this.timeout(600_000);
  let scratch = '';
  let tarball = '';

  before(function () {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ebm-pack-'));
    const packed = JSON.parse(run(NPM, ['pack', '--json', '--pack-destination', scratch], REPO)) as Array<{
      filename: string;
    }>;
    tarball = path.join(scratch, packed[0].filename);
  });

  after(function () {
    if (scratch !== '') fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('holds the compiled library, its types, the CLI, examples, native sources, METHODS.md and LICENSE', function () {
    const entries = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' })
      .split('\n')
      .map((e) => e.replace(/^package\//, ''));
    for (const required of [
      'package.json',
      'dist/lib/index.js',
      'dist/lib/index.d.ts',
      'dist/lib/cli/main.js',
      'examples/8gaussians-ed.json',
      'examples/fashion-mnist-prior.ts',
      'dist/examples/demo-8gaussians.js',
      'native/bindings/addon.cc',
      'CMakeLists.txt',
      'binding.gyp',
      'scripts/install.js',
      'METHODS.md',
      'LICENSE',
      'README.md',
    ]) {
      assert.ok(entries.includes(required), `the tarball lacks ${required}`);
    }
    // Source maps point at lib/*.ts, which must ship with them.
    assert.ok(entries.includes('lib/index.ts'));
    for (const e of entries) {
      assert.doesNotMatch(e, /^(dist\/test|test|build|node_modules|runs)\//, `shipped by mistake: ${e}`);
    }
    const internal = fs.readFileSync(path.join(REPO, 'dist/lib/model.d.ts'), 'utf8');
    assert.doesNotMatch(internal, /\bhandle\b|runExclusive/, 'internal members are stripped from the types');
  });

  it('installs offline, and TypeScript compiled as CommonJS and as ESM trains and evaluates with it', function () {
    const project = path.join(scratch, 'consumer');
    fs.mkdirSync(project);
    installOffline(project, tarball);
    const installed = path.join(project, 'node_modules', 'ebm-torch');
    fs.mkdirSync(path.join(installed, 'build', 'Release'), { recursive: true });
    fs.copyFileSync(
      path.join(REPO, 'build', 'Release', 'ebm_torch.node'),
      path.join(installed, 'build', 'Release', 'ebm_torch.node'),
    );

    fs.writeFileSync(
      path.join(project, 'use.cts'),
      `import { energyModel, datasets, tensor, train, version } from 'ebm-torch';\n${CONSUMER_CODE}`,
    );
    fs.writeFileSync(
      path.join(project, 'use.mts'),
      `import { energyModel, datasets, tensor, train, version } from 'ebm-torch';\n${CONSUMER_CODE}`,
    );
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          types: ['node'],
          outDir: 'out',
        },
        files: ['use.cts', 'use.mts'],
      }),
    );
    // Type errors in the shipped declarations (or a missing `types` export) fail here.
    run(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
    const env = { ...process.env, OMP_NUM_THREADS: '1' };
    for (const file of ['out/use.cjs', 'out/use.mjs']) {
      const out = JSON.parse(run(process.execPath, [file], project, env)) as {
        steps: number;
        energies: number[];
        version: { ebmTorch: string };
      };
      assert.equal(out.steps, 5, file);
      assert.equal(out.energies.length, 3, file);
      for (const e of out.energies) assert.ok(Number.isFinite(e), `${file}: finite energies`);
      assert.match(out.version.ebmTorch, /^\d+\.\d+\.\d+/, file);
    }

    // The CLI through npx, with an example the package ships.
    const example = path.join(installed, 'examples', '8gaussians-ed.json');
    const stdout = run(
      'npx',
      ['--no-install', 'ebm', 'train', example, '--steps', '20', '--out', 'run', '--quiet'],
      project,
      env,
    );
    assert.match(stdout, /8gaussians-ed/);
    const metrics = JSON.parse(fs.readFileSync(path.join(project, 'run', 'metrics.json'), 'utf8')) as {
      steps: number;
    };
    assert.equal(metrics.steps, 20);
    assert.ok(fs.existsSync(path.join(project, 'run', 'model.safetensors')));
  });

  it('the install script compiles only under node_modules, and says what to do when that fails', function () {
    // In the repository it is a no-op (setup.sh builds there).
    const here = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'install.js')], { encoding: 'utf8' });
    assert.equal(here.status, 0);
    assert.equal(here.stdout, '');
    // Under node_modules with no LibTorch and no cmake-js, the one piece of advice is npm rebuild.
    const fake = path.join(scratch, 'node_modules', 'ebm-torch');
    fs.mkdirSync(path.join(fake, 'scripts'), { recursive: true });
    for (const file of ['install.js', 'build-native.js'])
      fs.copyFileSync(path.join(REPO, 'scripts', file), path.join(fake, 'scripts', file));
    const failed = spawnSync(process.execPath, [path.join(fake, 'scripts', 'install.js')], {
      cwd: fake,
      encoding: 'utf8',
      env: { ...process.env, npm_config_offline: 'true' },
      timeout: 120_000,
    });
    assert.notEqual(failed.status, 0);
    assert.match(failed.stderr, /compiling the native addon/);
    assert.match(failed.stderr, /npm rebuild ebm-torch/);
    assert.match(failed.stderr, /LIBTORCH/);
  });
});
