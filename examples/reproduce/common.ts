/** Shared pieces of `npm run reproduce`: the result record, timing, machine facts and figure tiling. */
import * as os from 'node:os';
import { PNG } from 'pngjs';
import { markdownTable, wrap } from './markdown';
import * as ebm from '../../lib';

/** A claim from the papers (or the issue) checked against this run's numbers. */
export interface Claim {
  claim: string;
  holds: boolean;
  /** the numbers behind the verdict */
  measured: string;
}

/** What an experiment hands back: its numbers, its pictures and its verdicts. */
export interface ExperimentOutput<R = unknown> {
  /** every setting that fixes the amount of work (steps, batch, chains, network) */
  budget: Record<string, unknown>;
  seeds: number[];
  results: R;
  claims: Claim[];
  /** PNG files by name (written next to the JSON) */
  figures: Record<string, Buffer>;
  /** where the numbers come from, when not from this run */
  source?: string;
}

/** The committed record of one experiment: examples/results/reproduce-<name>.json. */
export interface ExperimentRecord<R = unknown> extends Omit<ExperimentOutput<R>, 'figures'> {
  experiment: string;
  title: string;
  quick: boolean;
  generated: string;
  command: string;
  machine: MachineInfo;
  wallSeconds: number;
  figures: string[];
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGB: number;
  loadAverageStart: number;
  loadAverageEnd: number;
  /** LibTorch intra-op threads and where that number came from */
  threads: number;
  threadsSource: string;
  libtorch: string;
  node: string;
}

export interface Context {
  quick: boolean;
  /** progress lines */
  log: (line: string) => void;
}

export interface Experiment<R = unknown> {
  name: string;
  title: string;
  run(ctx: Context): Promise<ExperimentOutput<R>>;
  /** the README subsection for a record written by `run` */
  render(record: ExperimentRecord<R>): string;
}

export function machineInfo(loadAverageStart: number): MachineInfo {
  const v = ebm.version();
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageStart,
    loadAverageEnd: os.loadavg()[0],
    threads: v.numThreads,
    threadsSource: process.env.OMP_NUM_THREADS ? `OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS}` : 'library default',
    libtorch: v.torch,
    node: process.version,
  };
}

/** Seconds since `start` (from process.hrtime.bigint()). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Runs `fn` and returns its value with the wall-clock seconds it took. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: secondsSince(start) };
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** A number with `digits` significant digits, exponent form for very small or large magnitudes. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(digits - 1);
  return x
    .toPrecision(digits)
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '');
}

export function fixed(x: number, decimals: number): string {
  return Number.isFinite(x) ? x.toFixed(decimals) : String(x);
}

/** PNG pictures side by side (top-aligned, white gaps), as one PNG. */
export function tilePngs(pngs: Buffer[], gap = 8): Buffer {
  const images = pngs.map((b) => PNG.sync.read(b));
  const width = images.reduce((s, im) => s + im.width, 0) + gap * (images.length - 1);
  const height = Math.max(...images.map((im) => im.height));
  const out = new PNG({ width, height });
  out.data.fill(255);
  let x = 0;
  for (const im of images) {
    PNG.bitblt(im, out, 0, 0, im.width, im.height, x, 0);
    x += im.width + gap;
  }
  return PNG.sync.write(out);
}

/** Total variation distance ½ Σ |a_k − b_k| between two weight vectors. */
export function totalVariation(a: readonly number[], b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += Math.abs(a[k] - b[k]);
  return s / 2;
}

/** A grid of `n` points from lo to hi (1D, [n, 1]). */
export function line1d(lo: number, hi: number, n: number): ebm.Tensor {
  return ebm.tensor(
    Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1)),
    [n, 1],
  );
}

/** Fraction of exp(−E) on a set of points that falls where `inside(i)` holds (a normalised sum). */
export function massFraction(energy: ArrayLike<number>, inside: (i: number) => boolean): number {
  let min = Infinity;
  for (let i = 0; i < energy.length; i++) min = Math.min(min, energy[i]);
  let total = 0;
  let part = 0;
  for (let i = 0; i < energy.length; i++) {
    const p = Math.exp(-(energy[i] - min));
    total += p;
    if (inside(i)) part += p;
  }
  return part / total;
}

/** Text for a PNG: the plots' bitmap font has printable ASCII only, and no '^'. */
export function ascii(text: string): string {
  const map: Record<string, string> = { σ: 'sigma', τ: 'tau', η: 'eta', '²': '^2', '−': '-', '–': '-', ŵ: 'w' };
  return text.replace(/[^\x20-\x7e]/g, (ch) => map[ch] ?? '?');
}

/** A README subsection body: wrapped prose, a table (`right[c]` right-aligns column c), then figures and more. */
export function section(prose: string, rows: string[][], right: boolean[], after: string[] = []): string {
  return [wrap(prose), '', markdownTable(rows, right), ...after.flatMap((a) => ['', a])].join('\n');
}

/** An experiment from its name, title, runner and README renderer. */
export function experiment<R>(
  name: string,
  title: string,
  run: (ctx: Context) => Promise<ExperimentOutput<R>>,
  render: (record: ExperimentRecord<R>) => string,
): Experiment<R> {
  return { name, title, run: (ctx) => run(ctx), render };
}
