/** Pictures and numbers shared by `ebm train`, `ebm eval` and `ebm plot`. */
import { EbmIoError, EnergyModel, Tensor } from '../index';
import { checkGridResolves, gridPoints, logSumExp } from '../metrics/grid';
import { curvesPng, densityPng, imageGridPng, scatterPng } from '../plot';
import { GridSpec } from './run-config';

/** One line of metrics.jsonl as far as plots care. */
export interface ProgressRecord {
  step: number;
  loss: number;
  [key: string]: unknown;
}

const ROWS_PER_CALL = 8192;

/** Energies of every row, in chunks (big grids and data sets stay within memory). */
export async function energies(model: EnergyModel, x: Tensor, t?: number): Promise<Float32Array> {
  const n = x.shape[0];
  const per = x.data.length / n;
  if (n <= ROWS_PER_CALL) return model.energy(x, t);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += ROWS_PER_CALL) {
    const k = Math.min(ROWS_PER_CALL, n - i);
    const part = { data: x.data.subarray(i * per, (i + k) * per), shape: [k, ...x.shape.slice(1)] };
    out.set(await model.energy(part, t), i);
  }
  return out;
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/** Energies of a 2D model on the cell-centred grid and log Z over the box (at time t for E(x, t)). */
export async function gridEnergyAt(
  model: EnergyModel,
  grid: GridSpec,
  t?: number,
): Promise<{ energy: Float32Array; logZ: number }> {
  const { points } = gridPoints(grid);
  const energy = await energies(model, points, t);
  const h = (grid.hi - grid.lo) / grid.resolution;
  return { energy, logZ: logSumExp(energy, -1) + 2 * Math.log(h) };
}

/**
 * NLL of 2D rows under exp(-E) normalised on the grid: mean E(test) + log Z. Refuses a grid too coarse for the
 * density as metrics.gridNll does (checkGridResolves); `field` names the grid in that message.
 */
export async function gridNllAt(
  model: EnergyModel,
  test: Tensor,
  grid: GridSpec,
  t: number | undefined,
  field: string,
): Promise<number> {
  const { energy, logZ } = await gridEnergyAt(model, grid, t);
  const testEnergy = await energies(model, test, t);
  checkGridResolves(energy, grid, { x: test, energy: testEnergy }, field);
  return mean(testEnergy) + logZ;
}

/** Reads the training records from the text of a metrics.jsonl file; unreadable lines are counted. */
export function parseMetricsJsonl(text: string): { records: ProgressRecord[]; skipped: number } {
  const records: ProgressRecord[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as unknown;
      if (
        typeof r === 'object' &&
        r !== null &&
        typeof (r as ProgressRecord).step === 'number' &&
        typeof (r as ProgressRecord).loss === 'number'
      ) {
        records.push(r as ProgressRecord);
      } else skipped++;
    } catch {
      skipped++;
    }
  }
  return { records, skipped };
}

/** The loss curve of a run. */
export function lossPng(records: readonly ProgressRecord[], title: string): Buffer {
  if (records.length === 0) throw new EbmIoError('no training records to plot (metrics.jsonl is empty)');
  return curvesPng([{ name: 'loss', x: records.map((r) => r.step), y: records.map((r) => r.loss) }], {
    title,
    xLabel: 'step',
    yLabel: 'loss',
  });
}

/** exp(-E) of a 2D model on the grid, with up to 1000 data points on top. */
export async function densityFigure(
  model: EnergyModel,
  grid: GridSpec,
  title: string,
  points?: Tensor,
  t?: number,
): Promise<Buffer> {
  const { energy } = await gridEnergyAt(model, grid, t);
  const shown = points
    ? { data: points.data.subarray(0, 2 * 1000), shape: [Math.min(1000, points.shape[0]), 2] }
    : undefined;
  return densityPng({ values: energy, ...grid }, { ...(shown ? { points: shown } : {}), title, size: 400 });
}

/** True for image models: rows [C, H, W] with 1 or 3 channels. */
export function isImageShape(rowShape: readonly number[]): boolean {
  return rowShape.length === 3 && (rowShape[0] === 1 || rowShape[0] === 3);
}

export function is2dShape(rowShape: readonly number[]): boolean {
  return rowShape.length === 1 && rowShape[0] === 2;
}

/** Samples as a picture: a scatter plot (over the data when given) for 2D, an image grid for images. */
export function samplesFigure(
  samples: Tensor,
  rowShape: readonly number[],
  options: { title: string; label: string; data?: Tensor; box?: { lo: number; hi: number }; range?: [number, number] },
): Buffer {
  if (is2dShape(rowShape)) {
    const sets = [];
    if (options.data)
      sets.push({ points: options.data, color: [160, 160, 160] as [number, number, number], label: 'data' });
    sets.push({ points: samples, color: [220, 60, 40] as [number, number, number], label: options.label });
    const box = options.box ? { lo: options.box.lo, hi: options.box.hi } : {};
    return scatterPng(sets, { ...box, title: options.title });
  }
  const n = Math.min(100, samples.shape[0]);
  const per = samples.data.length / samples.shape[0];
  const shown = { data: samples.data.subarray(0, n * per), shape: [n, ...samples.shape.slice(1)] };
  return imageGridPng(shown, options.range ? { range: options.range } : {});
}

/** The smallest and largest value of a tensor (for a shared grey scale between data and samples). */
export function valueRange(t: Tensor): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of t.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return hi > lo ? [lo, hi] : undefined;
}
