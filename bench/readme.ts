/**
 * The README's "Performance" section, generated from bench/results.json: the text between the
 * markers below is replaced, nothing else.
 *   npm run bench:readme        (npm run bench does it at the end of a full run)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostics } from './workloads';
import { formatJson, markdownTable, replaceBetweenMarkers, wrap } from '../examples/reproduce/markdown';

export { formatJson };

/** One side of a workload: its rate over the repetitions, peak RSS and diagnostics (means). */
export interface Side extends Diagnostics {
  median: number;
  min: number;
  max: number;
  rates: number[];
  threads: number;
  /** median over the repetitions of the process's peak RSS */
  maxRssMB: number;
  /** smc: the largest |log Z| of the repetitions (the bench's mixture has log Z = 0) */
  logZWorst?: number;
}

/** How a Python configuration allocates (bench/run.ts). */
export type PythonAllocator = 'glibc' | 'glibc-tuned' | 'jemalloc';

/** These cores' peaks at one thread count, in GFLOP/s (bench/gemm-peak.py --json). */
export interface Peaks {
  threads: number;
  /** float32 GEMM at 1024³, the faster of OpenBLAS and oneDNN */
  gemm: number;
  /** the ConvNet workload's largest convolution, LibTorch's conv2d forward */
  conv: number;
  /** GEMM at the ED workload's hidden-layer shape */
  ed_hidden: number;
}

/** ebm-torch's rate in FLOPs against the peak of the same cores. */
export interface Roofline {
  /** FLOPs of the matrix products and convolutions of one step (per chain-step for samplers, per level for smc) */
  flopsPerUnit: number;
  gflops: number;
  peakKind: 'gemm' | 'conv';
  peakGflops: number;
  fractionOfPeak: number;
}

export interface WorkloadResult {
  name: string;
  title: string;
  unit: string;
  target: number;
  warmup: number;
  steps: number;
  reps: number;
  measuredAt: string;
  ours: Side;
  /** by configuration, '<threads>t <allocator>' */
  python: Record<string, Side>;
  /** the fastest configuration (by median) */
  pythonBest: string;
  /** ebm-torch median / the fastest Python configuration's median */
  ratio: number;
  /** the ratio reaches the target and both sides agree (`agreement`) */
  meetsTarget: boolean;
  /** ebm-torch's peak RSS no higher than the fastest Python configuration's */
  rssNoHigher: boolean;
  /** whether both sides' losses (energies) are in the same range */
  agreement: { ok: boolean; note: string };
  roofline?: Roofline;
  /** the bench run that measured this row (a run with --only keeps the other rows' own) */
  run?: RunRecord;
}

/** Which command measured a row, when, and how busy the machine was meanwhile. */
export interface RunRecord {
  command: string;
  generated: string;
  loadAverageStart: number;
  loadAverageEnd: number;
}

/** The run that wrote a results file, as its rows record it. */
export function runOf(r: BenchResults): RunRecord {
  return {
    command: r.command,
    generated: r.generated,
    loadAverageStart: r.machine.loadAverageStart,
    loadAverageEnd: r.machine.loadAverageEnd,
  };
}

/**
 * Why a run under `threads` and `versions` must not be merged into `previous` (rows measured
 * under another BLAS kernel, thread setting or LibTorch would share one table), or undefined.
 */
export function mergeConflict(
  previous: BenchResults,
  threads: BenchResults['threads'],
  versions: { libtorch: string; pythonTorch: string },
): string | undefined {
  const shown = (v: unknown) => (v === undefined ? '(unset)' : String(v));
  const differ: string[] = [];
  const keys = new Set([...Object.keys(previous.threads), ...Object.keys(threads)]) as Set<keyof typeof threads>;
  for (const key of keys) {
    if (JSON.stringify(previous.threads[key]) !== JSON.stringify(threads[key]))
      differ.push(`${key} ${shown(previous.threads[key])} there, ${shown(threads[key])} here`);
  }
  if (previous.versions.libtorch !== versions.libtorch)
    differ.push(`LibTorch ${previous.versions.libtorch} there, ${versions.libtorch} here`);
  if (previous.versions.pythonTorch !== versions.pythonTorch)
    differ.push(`Python's torch ${previous.versions.pythonTorch} there, ${versions.pythonTorch} here`);
  return differ.length === 0
    ? undefined
    : `bench/results.json was measured under another setting (${differ.join('; ')}): --only would put rows ` +
        'of both in one table; run under the same setting, run the whole bench, or write elsewhere with --out FILE';
}

/**
 * A run with --only merged into the results file: its rows and peaks replace the same
 * workloads' and thread counts', the others keep theirs, with the run that measured them.
 * Rows of an older file (before the six Python configurations) are dropped, to be measured again.
 */
export function mergeResults(previous: BenchResults, fresh: BenchResults, order: readonly string[]): BenchResults {
  const earlier = runOf(previous);
  const row = (name: string): WorkloadResult | undefined => {
    const mine = fresh.workloads.find((w) => w.name === name);
    if (mine) return mine;
    const old = previous.workloads.find((w) => w.name === name && w.pythonBest !== undefined);
    return old && { ...old, run: old.run ?? earlier };
  };
  const peaks = [...(fresh.peaks ?? [])];
  for (const p of previous.peaks ?? []) if (!peaks.some((q) => q.threads === p.threads)) peaks.push(p);
  peaks.sort((a, b) => b.threads - a.threads);
  return {
    ...fresh,
    images: fresh.images ?? previous.images,
    peaks,
    workloads: order.map(row).filter((w): w is WorkloadResult => w !== undefined),
  };
}

export interface BenchResults {
  generated: string;
  command: string;
  machine: { cpu: string; cores: number; memoryGB: number; loadAverageStart: number; loadAverageEnd: number };
  versions: { ebmTorch: string; libtorch: string; pythonTorch: string; python: string; node: string };
  threads: {
    ours: number;
    oursSource: string;
    python: number[];
    OPENBLAS_NUM_THREADS?: string;
    OMP_WAIT_POLICY?: string;
    /** OpenBLAS's kernel as the environment pinned it for both sides (unset: OpenBLAS picks) */
    OPENBLAS_CORETYPE?: string;
    /** what ebm-torch's hand-written MLP passes multiplied with (VersionInfo.matrixProducts) */
    oursMatrixProducts?: string;
  };
  /** the allocators Python ran with (jemalloc only where installed) */
  pythonAllocators?: PythonAllocator[];
  peaks?: Peaks[];
  /** where the image workloads' data came from */
  images?: string;
  workloads: WorkloadResult[];
}

const repoRoot = path.join(__dirname, '..', '..');
export const resultsPath = path.join(repoRoot, 'bench', 'results.json');
export const readmePath = path.join(repoRoot, 'README.md');
const begin = '<!-- performance:begin (generated by `npm run bench:readme` from bench/results.json) -->';
const end = '<!-- performance:end -->';

export function formatRate(r: number): string {
  if (r >= 1e6) return `${(r / 1e6).toFixed(2)}M`;
  if (r >= 1e4) return `${(r / 1e3).toFixed(0)}k`;
  if (r >= 100) return r.toFixed(0);
  if (r >= 10) return r.toFixed(1);
  return r.toFixed(2);
}

export function renderPerformance(r: BenchResults): string {
  const m = r.machine;
  const reps = [...new Set(r.workloads.map((w) => w.reps))].join(' or ');
  const cell = (s: Side) => `${formatRate(s.median)} (${formatRate(s.min)}–${formatRate(s.max)})`;
  const missedBy = (w: WorkloadResult) =>
    w.agreement.ok
      ? `**missed** by ${(100 * (1 - w.ratio / w.target)).toFixed(0)}%`
      : '**void**: the two sides compute different things';
  const rows = [
    [
      'Workload',
      'Unit',
      'ebm-torch',
      'Fastest PyTorch-Python',
      'Ratio',
      'Target',
      'Peak RSS, MB',
      'Same loss',
      'GFLOP/s (of peak)',
    ],
    ...r.workloads.map((w) => {
      const py = w.python[w.pythonBest];
      const roof = w.roofline;
      return [
        `\`${w.name}\`: ${w.title}; ${w.steps} timed ${w.unit === 'levels/s' ? 'levels' : 'steps'}`,
        w.unit,
        cell(w.ours),
        `${cell(py)}, ${w.pythonBest}`,
        `${w.ratio.toFixed(2)}×`,
        `${w.target}× ${w.meetsTarget ? 'met' : missedBy(w)}`,
        `${w.ours.maxRssMB.toFixed(0)} / ${py.maxRssMB.toFixed(0)}${w.rssNoHigher ? '' : ' **higher**'}`,
        w.agreement.ok ? 'yes' : '**no**',
        roof
          ? `${roof.gflops.toFixed(1)} (${(100 * roof.fractionOfPeak).toFixed(0)}% of ${roof.peakKind} ${roof.peakGflops.toFixed(0)})`
          : '-',
      ];
    }),
  ];
  const keys = [...new Set(r.workloads.flatMap((w) => Object.keys(w.python)))];
  const all = [
    ['Workload', ...keys.map((k) => `\`${k}\``)],
    ...r.workloads.map((w) => [
      `\`${w.name}\``,
      ...keys.map((k) =>
        w.python[k]
          ? `${w.python[k].median === w.python[w.pythonBest].median ? '**' : ''}${formatRate(w.python[k].median)}${w.python[k].median === w.python[w.pythonBest].median ? '**' : ''}`
          : '-',
      ),
    ]),
  ];
  // The library picks threads per job (native/core/threads.h): name the workloads that differ.
  const odd = r.workloads.filter((w) => w.ours.threads !== r.threads.ours).map((w) => `${w.name} ${w.ours.threads}`);
  const oursThreads = `${r.threads.ours} threads (${r.threads.oursSource}${odd.length ? `; ${odd.join(', ')}` : ''})`;
  const allocators = r.pythonAllocators ?? ['glibc'];
  const peaks = (r.peaks ?? [])
    .map(
      (p) =>
        `${p.threads} thread${p.threads > 1 ? 's' : ''}: GEMM ${p.gemm.toFixed(0)}, convolution ${p.conv.toFixed(0)}`,
    )
    .join('; ');
  const prose =
    `Measured on ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB: ${provenance(r)}. The bench itself adds 1 to 2 ` +
    'to the load average; more means other work shared the machine and the ratios are noisier. Both sides run ' +
    `LibTorch ${r.versions.libtorch} (PyTorch-Python: Debian's python3-torch ${r.versions.pythonTorch}, Python ` +
    `${r.versions.python}) from the same starting weights and data, with the same hyper-parameters and work per ` +
    `step (bench/workloads.ts, bench/reference.py). ebm-torch ran on ${oursThreads}. Python ran in ` +
    `${r.threads.python.length * allocators.length} configurations, each a careful user might pick: ` +
    `${r.threads.python.join(' and ')} threads, each with ${allocators.map((a) => allocatorWords[a]).join(', ')}; ` +
    'the ratio is against the fastest of them (named in the table; all of them in the second table). ' +
    'ebm-torch tunes glibc for itself (native/core/allocator.cc), so the tuned-glibc column gives Python the same ' +
    `setting. Both sides with OPENBLAS_NUM_THREADS=${r.threads.OPENBLAS_NUM_THREADS} and ` +
    `OMP_WAIT_POLICY=${r.threads.OMP_WAIT_POLICY}` +
    (r.threads.OPENBLAS_CORETYPE
      ? `, and with OpenBLAS's kernel pinned by this machine's environment (OPENBLAS_CORETYPE=${r.threads.OPENBLAS_CORETYPE}), which ` +
        "holds back every product that goes through OpenBLAS (all of Python's; oneDNN picks its own kernel), see the " +
        'Speed section for the ratios with the pin removed'
      : '') +
    `. ebm-torch's MLP passes multiplied with ${r.threads.oursMatrixProducts ?? 'LibTorch'}. Medians of ${reps} runs per side, interleaved, each in a process ` +
    'of its own (min–max in parentheses); timed steps follow a warm-up; ratio = ebm-torch / the fastest ' +
    'PyTorch-Python; targets from issue 23 (and a peak RSS no higher than that Python\'s); "Same loss": both ' +
    "sides' losses (samplers: mean energies, acceptance rates, bandwidths; SMC: also both log Z estimates near the " +
    "exact 0) agree, and a target counts as met only then. GFLOP/s: ebm-torch's rate " +
    'times the FLOPs of the matrix products and convolutions of one step (counted on the reference by ' +
    "bench/flops.py; elementwise work is not counted), against the peak these cores reach at ebm-torch's " +
    `thread count (bench/gemm-peak.py, GFLOP/s: ${peaks || 'not measured'}, the latest of each thread count; each row is set against its own run's).` +
    (r.images ? ` Image workloads: ${r.images}.` : '');
  return [
    wrap(prose),
    '',
    markdownTable(rows, [false, false, true, true, true, false, true, false, true]),
    '',
    'Every Python configuration (medians, the fastest in bold):',
    '',
    markdownTable(all, [false, ...keys.map(() => true)]),
  ].join('\n');
}

/** Which run measured which rows: one clause per run, the latest first. */
function provenance(r: BenchResults): string {
  const latest = runOf(r);
  const groups = new Map<string, { run: RunRecord; names: string[] }>();
  for (const w of r.workloads) {
    const run = w.run ?? latest;
    const key = `${run.command}\u0000${run.generated}`;
    const g = groups.get(key) ?? { run, names: [] };
    g.names.push(w.name);
    groups.set(key, g);
  }
  const runs = [...groups.values()].sort((a, b) => b.run.generated.localeCompare(a.run.generated));
  const clause = ({ run, names }: { run: RunRecord; names: string[] }, i: number) => {
    const which =
      runs.length === 1
        ? 'every row'
        : i === runs.length - 1
          ? 'every other row'
          : `the ${names.map((n) => `\`${n}\``).join(', ')} row${names.length > 1 ? 's' : ''}`;
    return (
      `${which} by \`${run.command}\` on ${run.generated.slice(0, 10)} (load average ` +
      `${run.loadAverageStart.toFixed(1)} at the start and ${run.loadAverageEnd.toFixed(1)} at the end)`
    );
  };
  return runs.map(clause).join('; ');
}

const allocatorWords: Record<PythonAllocator, string> = {
  glibc: "glibc's allocator as it comes (`glibc`)",
  'glibc-tuned':
    'glibc with the thresholds the addon sets (`MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456`, `glibc-tuned`)',
  jemalloc: 'jemalloc preloaded (`LD_PRELOAD=libjemalloc.so.2`, `jemalloc`)',
};

/** Replaces the text between the README's markers with the section for `results`. */
export function updateReadme(results: BenchResults, file = readmePath): void {
  replaceBetweenMarkers(file, begin, end, renderPerformance(results));
  console.log(`updated the Performance section of ${path.relative(process.cwd(), file)}`);
}

if (require.main === module) {
  updateReadme(JSON.parse(fs.readFileSync(resultsPath, 'utf8')) as BenchResults);
}
