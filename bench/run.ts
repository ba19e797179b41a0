/**
 * The benchmark suite: every workload of bench/workloads.ts in ebm-torch and in an idiomatic
 * PyTorch-Python reference (bench/reference.py) on the same LibTorch, from the same weights and
 * data, interleaved (ours, then Python in each of its six configurations, ours, ...), each run in a
 * process of its own so that its peak RSS is its own. Python's configurations are what a careful
 * user would try: 1 and 2 threads, each with glibc's allocator as it comes, with the allocator set
 * as the addon sets it for itself (native/core/allocator.cc), and with jemalloc preloaded (PyTorch's
 * own CPU advice); the ratio is against the fastest. A roofline column puts each workload's GFLOP/s
 * (the products of one step, counted by bench/flops.py) against these cores' measured GEMM or
 * convolution peak (bench/gemm-peak.py).
 *
 *   npm run bench                       full run: prints the table, writes bench/results.json and
 *                                       the README's Performance section (bench/readme.ts)
 *   npm run bench -- --quick            smoke run: few steps, one repetition, writes nothing
 *   npm run bench -- --only mala,wgf    some workloads (a full run merges them into results.json)
 *   other flags: --reps N, --threads N (ebm-torch's threads; default the library's),
 *                --python PATH (default /usr/bin/python3),
 *                --out FILE (write the results there, quick runs too, and leave the README alone)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ebm from '../lib';
import {
  BenchResults,
  formatJson,
  formatRate,
  mergeConflict,
  mergeResults,
  Peaks,
  resultsPath,
  runOf,
  Side,
  updateReadme,
  WorkloadResult,
} from './readme';
import { benchSetup, printSetup, Setup } from './environment';
import { energyTraining, Job, Measurement, repetitions, Size, Workload, workloads } from './workloads';

interface Options {
  quick: boolean;
  only?: string[];
  reps?: number;
  threads?: number;
  python: string;
  out?: string;
}

const repoRoot = path.join(__dirname, '..', '..');
const reference = path.join(repoRoot, 'bench', 'reference.py');

/** These cores' GEMM and convolution peaks at a thread count (bench/gemm-peak.py --json). */
function measurePeaks(python: string, threads: number, env: NodeJS.ProcessEnv): Peaks {
  const r = spawnSync(python, [path.join(repoRoot, 'bench', 'gemm-peak.py'), '--json', '--threads', String(threads)], {
    env: { ...env, OMP_NUM_THREADS: String(threads) },
    encoding: 'utf8',
  });
  const line = r.stdout?.trim().split('\n').pop();
  if (r.status !== 0 || !line) throw new Error(`bench/gemm-peak.py failed: ${r.stderr || r.error?.message}`);
  return JSON.parse(line) as Peaks;
}

function usage(message: string): never {
  console.error(
    `${message}\nusage: npm run bench -- [--quick] [--only a,b] [--reps N] [--threads N] [--python PATH] [--out FILE]`,
  );
  console.error(`workloads: ${workloads.map((w) => w.name).join(', ')}`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const o: Options = { quick: false, python: '/usr/bin/python3' };
  const positive = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) usage(`${flag} needs a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--only') {
      o.only = [...(o.only ?? []), ...(argv[++i] ?? '').split(',').filter((s) => s.length > 0)];
      const unknown = o.only.filter((n) => !workloads.some((w) => w.name === n));
      if (o.only.length === 0 || unknown.length > 0) usage(`--only: unknown workload '${unknown.join(', ')}'`);
    } else if (a === '--reps') o.reps = positive(a, argv[++i]);
    else if (a === '--threads') o.threads = positive(a, argv[++i]);
    else if (a === '--python') o.python = argv[++i] ?? usage('--python needs a path');
    else if (a === '--out') o.out = argv[++i] ?? usage('--out needs a path');
    else usage(`unknown argument '${a}'`);
  }
  return o;
}

function writeF32(file: string, t: ebm.Tensor): { path: string; shape: number[] } {
  fs.writeFileSync(file, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return { path: file, shape: [...t.shape] };
}

/** 5000 Fashion-MNIST images when Debian's dataset is installed, else seeded uniform noise. */
function images(scale: '01' | '-11'): { tensor: ebm.Tensor; source: string } {
  if (ebm.datasets.fashionMnistAvailable()) {
    return { tensor: ebm.datasets.fashionMnist({ limit: 5000, scale }).images, source: 'Fashion-MNIST (5000 images)' };
  }
  let s = 12345;
  const data = new Float32Array(5000 * 784).map(() => {
    s = (s * 1103515245 + 12345) % 2147483648;
    const u = s / 2147483648;
    return scale === '01' ? u : 2 * u - 1;
  });
  return { tensor: { data, shape: [5000, 1, 28, 28] }, source: 'random images (Fashion-MNIST is not installed)' };
}

interface Fixtures {
  models: Map<string, string>;
  data: Map<string, { path: string; shape: number[] }>;
  imageSource?: string;
}

/** Writes the data and the starting weights both sides read; trains the samplers' energy. */
async function prepareFixtures(dir: string, selected: Workload[], quick: boolean): Promise<Fixtures> {
  const f: Fixtures = { models: new Map(), data: new Map() };
  const toy = ebm.datasets.toy('8gaussians', 20000, 0);
  for (const w of selected) {
    if (w.data === 'toy' && !f.data.has('toy')) f.data.set('toy', writeF32(path.join(dir, 'toy.f32'), toy));
    if ((w.data === 'images01' || w.data === 'images11') && !f.data.has(w.data)) {
      const im = images(w.data === 'images01' ? '01' : '-11');
      f.imageSource = im.source;
      f.data.set(w.data, writeF32(path.join(dir, `${w.data}.f32`), im.tensor));
    }
    const file = path.join(dir, `${w.model === 'energy' ? 'energy' : w.name}.safetensors`);
    if (w.model === 'energy') {
      if (!fs.existsSync(file)) {
        const steps = quick ? energyTraining.steps.quick : energyTraining.steps.full;
        process.stdout.write(`training the samplers' energy (ED on 8 gaussians, ${steps} steps) ... `);
        const model = ebm.energyModel(energyTraining.model as ebm.MlpConfig);
        const run = await ebm.train(model, toy, {
          loss: energyTraining.loss as ebm.LossConfig,
          optimizer: { kind: 'adam', lr: energyTraining.lr },
          batchSize: energyTraining.batchSize,
          steps,
          logEvery: steps,
        });
        console.log(`loss ${run.history[run.history.length - 1].loss.toFixed(3)}`);
        await model.save(file);
      }
    } else {
      const cfg = w.model as { kind: string };
      const model =
        cfg.kind === 'latent'
          ? ebm.latentEbm(cfg as unknown as ebm.LatentEbmConfig)
          : ebm.energyModel(cfg as ebm.ModelConfig);
      await model.save(file);
    }
    f.models.set(w.name, file);
  }
  return f;
}

/** Runs one side once in its own process; a failure (an addon being rebuilt, say) gets one retry 10 s later. */
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv): Measurement {
  let last = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10000);
    const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 1 << 24, timeout: 15 * 60 * 1000 });
    const line = r.stdout?.trim().split('\n').pop();
    if (r.status === 0 && line) return JSON.parse(line) as Measurement;
    last = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(-5).join('\n');
  }
  throw new Error(`${path.basename(cmd)} ${path.basename(args[0])} failed: ${last}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarise(runs: Measurement[]): Side {
  const rates = runs.map((r) => r.rate);
  const avg = (k: keyof Measurement) => {
    const v = runs.map((r) => r[k]).filter((x): x is number => typeof x === 'number');
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  return {
    median: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    rates,
    threads: runs[0].threads,
    maxRssMB: median(runs.map((r) => r.maxRssMB)),
    lossFirst: avg('lossFirst'),
    lossLast: avg('lossLast'),
    energy: avg('energy'),
    acceptRate: avg('acceptRate'),
    bandwidth: avg('bandwidth'),
    logZ: avg('logZ'),
    resamplings: avg('resamplings'),
    ...(runs.some((r) => r.logZ !== undefined)
      ? { logZWorst: Math.max(...runs.map((r) => Math.abs(r.logZ ?? NaN))) }
      : {}),
  };
}

/** Whether the two sides compute the same thing, judged on their loss (or energy) figures. */
function agreement(w: Workload, ours: Side, py: Side): { ok: boolean; note: string } {
  const close = (a?: number, b?: number, rel = 0.1, abs = 0.02) =>
    a !== undefined && b !== undefined && Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + abs;
  const f = (v?: number) => (v === undefined ? '?' : v.toFixed(3));
  if (w.kind === 'smc') {
    // the mixture is normalised: every run's log Z on both sides within the tolerance of 0
    const tol = w.settings.logZTolerance as number;
    const near0 = (s: Side) => s.logZWorst !== undefined && s.logZWorst <= tol;
    const ok =
      near0(ours) &&
      near0(py) &&
      close(ours.energy, py.energy, 0.05, 0.05) &&
      close(ours.acceptRate, py.acceptRate, 0, 0.03);
    return {
      ok,
      note:
        `log Z ${f(ours.logZ)} vs ${f(py.logZ)} (exact 0, every run within ±${tol}: ` +
        `${near0(ours) ? 'yes' : 'NO'}/${near0(py) ? 'yes' : 'NO'}), mean energy ${f(ours.energy)} vs ` +
        `${f(py.energy)}, accept ${f(ours.acceptRate)} vs ${f(py.acceptRate)}, resamplings ` +
        `${ours.resamplings?.toFixed(1) ?? '?'} vs ${py.resamplings?.toFixed(1) ?? '?'}`,
    };
  }
  if (w.kind !== 'sample') {
    const ok = close(ours.lossFirst, py.lossFirst) && close(ours.lossLast, py.lossLast, 0.15, 0.05);
    return { ok, note: `loss ${f(ours.lossFirst)} → ${f(ours.lossLast)} vs ${f(py.lossFirst)} → ${f(py.lossLast)}` };
  }
  let ok = close(ours.energy, py.energy, 0.05, 0.05);
  let note = `mean energy ${f(ours.energy)} vs ${f(py.energy)}`;
  if (ours.acceptRate !== undefined || py.acceptRate !== undefined) {
    ok = ok && close(ours.acceptRate, py.acceptRate, 0, 0.02);
    note += `, accept ${f(ours.acceptRate)} vs ${f(py.acceptRate)}`;
  }
  if (ours.bandwidth !== undefined || py.bandwidth !== undefined) {
    ok = ok && close(ours.bandwidth, py.bandwidth, 0.1, 0);
    note += `, bandwidth ${f(ours.bandwidth)} vs ${f(py.bandwidth)}`;
  }
  return { ok, note };
}

function range(s: Side): string {
  return `${formatRate(s.median)} [${formatRate(s.min)}–${formatRate(s.max)}]`;
}

function printTable(rows: WorkloadResult[]): void {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.python)))];
  const table = [
    [
      'workload',
      'unit',
      'ebm-torch',
      ...keys.map((k) => `python ${k}`),
      'ratio',
      'target',
      'RSS MB ours/py',
      'GFLOP/s',
    ],
    ...rows.map((r) => {
      const best = r.python[r.pythonBest];
      const roof = r.roofline;
      return [
        r.name,
        r.unit,
        range(r.ours),
        ...keys.map((k) => (r.python[k] ? `${range(r.python[k])}${k === r.pythonBest ? ' *' : ''}` : '-')),
        `${r.ratio.toFixed(2)}×`,
        `${r.target}× ${r.meetsTarget ? 'met' : r.agreement.ok ? 'MISSED' : 'VOID (results differ)'}`,
        `${r.ours.maxRssMB.toFixed(0)}/${best.maxRssMB.toFixed(0)}`,
        roof ? `${roof.gflops.toFixed(1)} (${(100 * roof.fractionOfPeak).toFixed(0)}% of ${roof.peakKind})` : '-',
      ];
    }),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join('  '));
  console.log('(* the fastest Python configuration, the one the ratio is against)\n');
  for (const r of rows) console.log(`${r.name}: ${r.agreement.ok ? 'agree' : 'DIFFER'}: ${r.agreement.note}`);
}

/** The job one process of either side runs for a workload; `threads` undefined: the side's default. */
function jobFor(w: Workload, size: Size, fixtures: Fixtures): (threads?: number) => Job {
  return (threads?: number): Job => ({
    workload: w.name,
    kind: w.kind,
    unit: w.unit,
    settings: w.settings,
    warmup: size.warmup,
    steps: size.steps,
    model: fixtures.models.get(w.name) as string,
    ...(w.data === 'none' ? {} : { data: fixtures.data.get(w.data) }),
    ...(threads === undefined ? {} : { threads }),
  });
}

/** `reps` rounds of ebm-torch then each Python configuration, interleaved so that drift hits all alike. */
function interleavedRuns(
  w: Workload,
  job: (threads?: number) => Job,
  reps: number,
  o: Options,
  { env, configs }: Setup,
): { ours: Measurement[]; python: Map<string, Measurement[]> } {
  const ours: Measurement[] = [];
  const python = new Map<string, Measurement[]>(configs.map((c) => [c.key, []]));
  for (let rep = 0; rep < reps; rep++) {
    const a = measure(process.execPath, [path.join(__dirname, 'ours.js'), JSON.stringify(job(o.threads))], env);
    ours.push(a);
    const line = [`  ${rep + 1}/${reps}: ebm-torch ${formatRate(a.rate)}`];
    for (const c of configs) {
      const b = measure(o.python, [reference, JSON.stringify(job(c.threads))], { ...env, ...c.env });
      // the preload took: the process mapped jemalloc (or did not, for glibc)
      if (b.allocator !== (c.allocator === 'jemalloc' ? 'jemalloc' : 'glibc'))
        throw new Error(`python ${c.key} ran with ${b.allocator ?? 'an unknown allocator'}`);
      python.get(c.key)?.push(b);
      line.push(`${c.key} ${formatRate(b.rate)}`);
    }
    console.log(`${line.join(' | ')} ${w.unit}`);
  }
  return { ours, python };
}

/** Measures one workload on both sides and sums it up against the fastest Python configuration and the roofline. */
function runWorkload(
  w: Workload,
  o: Options,
  setup: Setup,
  fixtures: Fixtures,
  peaks: Map<number, Peaks>,
): WorkloadResult {
  const { env, configs } = setup;
  const size = o.quick ? w.quick : w.full;
  const reps = o.reps ?? (o.quick ? repetitions.quick : repetitions.full);
  const job = jobFor(w, size, fixtures);
  const what = w.unit === 'levels/s' ? 'levels' : 'steps';
  console.log(`${w.name}: ${w.title} (${size.steps} timed ${what} after ${size.warmup}, ${reps} repetitions)`);
  const { ours, python } = interleavedRuns(w, job, reps, o, setup);
  const sides = Object.fromEntries(configs.map((c) => [c.key, summarise(python.get(c.key) ?? [])]));
  const best = configs.map((c) => c.key).reduce((a, b) => (sides[b].median > sides[a].median ? b : a));
  const oursSide = summarise(ours);
  const ratio = oursSide.median / sides[best].median;
  const agreed = agreement(w, oursSide, sides[best]);
  // roofline: the reference's products per step (one counted step) at ebm-torch's rate
  const counted = measure(o.python, [reference, JSON.stringify({ ...job(oursSide.threads), countFlops: true })], env);
  if (!peaks.has(oursSide.threads)) peaks.set(oursSide.threads, measurePeaks(o.python, oursSide.threads, env));
  const peak = peaks.get(oursSide.threads) as Peaks;
  // convolutional work: the higher of the two peaks (the addon's convolutions are GEMMs of its own,
  // which can outrun LibTorch's conv2d, so conv2d's speed is no ceiling for them)
  const peakKind = w.roofline === 'conv' && peak.conv > peak.gemm ? 'conv' : 'gemm';
  const gflops = ((counted.flopsPerStep ?? 0) * oursSide.median) / 1e9;
  return {
    name: w.name,
    title: w.title,
    unit: w.unit,
    target: w.target,
    warmup: size.warmup,
    steps: size.steps,
    reps,
    measuredAt: new Date().toISOString(),
    ours: oursSide,
    python: sides,
    pythonBest: best,
    ratio,
    // a speed that computes something else (log Z off 0, other losses) meets nothing
    meetsTarget: ratio >= w.target && agreed.ok,
    rssNoHigher: oursSide.maxRssMB <= sides[best].maxRssMB,
    agreement: agreed,
    roofline: {
      flopsPerUnit: counted.flopsPerStep ?? 0,
      gflops,
      peakKind,
      peakGflops: peak[peakKind],
      fractionOfPeak: gflops / peak[peakKind],
    },
  };
}

/** Writes results.json (or --out) and, unless --out, the README's Performance section. */
function writeResults(
  o: Options,
  setup: Setup,
  rows: WorkloadResult[],
  peaks: Map<number, Peaks>,
  imageSource: string | undefined,
): void {
  const { v, py, machine, threads, allocators } = setup;
  // A full run with --only merges its workloads into the results file; --out writes elsewhere.
  const previous =
    o.only && o.out === undefined && fs.existsSync(resultsPath)
      ? (JSON.parse(fs.readFileSync(resultsPath, 'utf8')) as BenchResults)
      : undefined;
  const fresh: BenchResults = {
    generated: new Date().toISOString(),
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine,
    versions: {
      ebmTorch: v.ebmTorch,
      libtorch: v.torch,
      pythonTorch: py.torch,
      python: py.python,
      node: process.version,
    },
    threads,
    pythonAllocators: allocators.map((a) => a.name),
    peaks: [...peaks.values()],
    images: imageSource,
    workloads: rows,
  };
  for (const w of rows) w.run = runOf(fresh);
  const results = previous
    ? mergeResults(
        previous,
        fresh,
        workloads.map((w) => w.name),
      )
    : fresh;
  const file = o.out ?? resultsPath;
  fs.writeFileSync(file, formatJson(results));
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  if (o.out === undefined) updateReadme(results);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const selected = workloads.filter((w) => !o.only || o.only.includes(w.name));
  const setup = benchSetup(o);
  printSetup(setup, o.quick);
  if (o.only && o.out === undefined && !o.quick && fs.existsSync(resultsPath)) {
    const conflict = mergeConflict(JSON.parse(fs.readFileSync(resultsPath, 'utf8')) as BenchResults, setup.threads, {
      libtorch: setup.v.torch,
      pythonTorch: setup.py.torch,
    });
    if (conflict) throw new Error(conflict);
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebm-bench-'));
  const rows: WorkloadResult[] = [];
  const peaks = new Map<number, Peaks>();
  const started = Date.now();
  let imageSource: string | undefined;
  try {
    const fixtures = await prepareFixtures(dir, selected, o.quick);
    imageSource = fixtures.imageSource;
    for (const w of selected) rows.push(runWorkload(w, o, setup, fixtures, peaks));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  setup.machine.loadAverageEnd = os.loadavg()[0];
  console.log(
    `\n${((Date.now() - started) / 1000).toFixed(0)} s; load average ${setup.machine.loadAverageEnd.toFixed(2)} at the end\n`,
  );
  printTable(rows);
  if (o.quick && o.out === undefined) return;
  writeResults(o, setup, rows, peaks, imageSource);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
