/**
 * What the benchmark runs under, for both sides alike: the machine, the versions, the BLAS and
 * OpenMP environment, and the Python configurations (thread counts × allocators) the ratio picks from.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ebm from '../lib';
import { BenchResults, PythonAllocator } from './readme';

const pythonThreads = [1, 2];

/** Debian's jemalloc (libjemalloc2), if installed. */
function findJemalloc(): string | undefined {
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']) {
    const file = path.join(dir, 'libjemalloc.so.2');
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

/** How the Python side allocates: the environment each setting adds. */
function allocatorSettings(): { name: PythonAllocator; env: Record<string, string> }[] {
  const jemalloc = findJemalloc();
  return [
    { name: 'glibc', env: {} },
    // the thresholds the addon gives glibc (native/core/allocator.cc), through glibc's variables
    {
      name: 'glibc-tuned',
      env: { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(256 << 20) },
    },
    ...(jemalloc ? [{ name: 'jemalloc' as const, env: { LD_PRELOAD: jemalloc } }] : []),
  ];
}

/** One Python configuration: its key in the table ('1t jemalloc'), threads and allocator environment. */
export interface PythonConfig {
  key: string;
  threads: number;
  allocator: PythonAllocator;
  env: Record<string, string>;
}

/** A process environment without inherited allocator settings (each side gets only its own). */
function withoutAllocatorSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'LD_PRELOAD' && !/^MALLOC_.*_$/.test(k)));
}

function cpuModel(): string {
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1].trim();
  } catch {
    // not Linux: os.cpus() below
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function pythonVersions(python: string): { python: string; torch: string } {
  const r = spawnSync(python, ['-c', 'import sys, torch; print(sys.version.split()[0], torch.__version__)'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new Error(`${python} with torch is needed for the reference column: ${r.stderr || r.error?.message}`);
  }
  const [py, torch] = r.stdout.trim().split(' ');
  return { python: py, torch };
}

/** What every workload runs under: the versions, the shared environment and Python's configurations. */
export interface Setup {
  v: ebm.VersionInfo;
  py: { python: string; torch: string };
  env: NodeJS.ProcessEnv;
  machine: BenchResults['machine'];
  allocators: { name: PythonAllocator; env: Record<string, string> }[];
  configs: PythonConfig[];
  threads: BenchResults['threads'];
}

/** Probes the machine and Python once; `o` is the command line's --python and --threads. */
export function benchSetup(o: { python: string; threads?: number }): Setup {
  const v = ebm.version();
  const py = pythonVersions(o.python);
  // The environment ebm-torch gives itself (lib/native.ts), given to Python too: same BLAS and OpenMP settings.
  const env = {
    ...withoutAllocatorSettings(process.env),
    OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? '1',
    OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE',
  };
  const machine = {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageStart: os.loadavg()[0],
    loadAverageEnd: 0,
  };
  const allocators = allocatorSettings();
  const configs: PythonConfig[] = pythonThreads.flatMap((t) =>
    allocators.map((a) => ({ key: `${t}t ${a.name}`, threads: t, allocator: a.name, env: a.env })),
  );
  const threads = {
    ours: o.threads ?? v.numThreads,
    oursSource: o.threads === undefined ? 'library default' : '--threads',
    python: pythonThreads,
    OPENBLAS_NUM_THREADS: env.OPENBLAS_NUM_THREADS,
    OMP_WAIT_POLICY: env.OMP_WAIT_POLICY,
    OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE,
    oursMatrixProducts: v.matrixProducts,
  };
  return { v, py, env, machine, allocators, configs, threads };
}

/** The run's header: what it measures on and with, printed before any workload. */
export function printSetup({ v, py, machine, allocators, configs, threads }: Setup, quick: boolean): void {
  if (!allocators.some((a) => a.name === 'jemalloc'))
    console.log('jemalloc is not installed (apt-get install libjemalloc2): Python runs without it');
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB, load average ${machine.loadAverageStart.toFixed(2)}`,
  );
  console.log(
    `LibTorch ${v.torch} (ebm-torch ${v.ebmTorch}); Python ${py.python}, torch ${py.torch}; node ${process.version}`,
  );
  console.log(
    `threads: ebm-torch ${threads.ours} (${threads.oursSource}); Python ${pythonThreads.join(' and ')}, allocators ` +
      `${allocators.map((a) => a.name).join(', ')} (the fastest of the ${configs.length} counts); ` +
      `OPENBLAS_NUM_THREADS=${threads.OPENBLAS_NUM_THREADS} OMP_WAIT_POLICY=${threads.OMP_WAIT_POLICY} ` +
      `OPENBLAS_CORETYPE=${threads.OPENBLAS_CORETYPE ?? '(unset)'} for both; ebm-torch's MLP products: ${threads.oursMatrixProducts}`,
  );
  console.log(quick ? 'quick smoke run: few steps, one repetition, nothing written\n' : '');
}
