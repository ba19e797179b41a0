/** Exact 2D evaluation by normalising exp(-E) on a grid. */
import { EnergyModel, requireModel } from '../model';
import { checkRows, Tensor } from '../tensor';
import { checkNumber, requireObject } from '../validate';
import { EbmConfigError } from '../errors';

export interface GridOptions {
  lo: number;
  hi: number;
  /** points per axis */
  resolution: number;
}

export interface GridEnergy {
  /** energies on the grid, row-major: index iy * resolution + ix */
  energy: Float32Array;
  /** log of the normaliser ∫ exp(-E) over the box (Riemann sum, cell-centred) */
  logZ: number;
  /** axis coordinates of the cell centres */
  axis: Float64Array;
}

function checkGrid(o: GridOptions): void {
  requireObject(o, 'grid');
  checkNumber(o.lo, 'grid.lo');
  checkNumber(o.hi, 'grid.hi');
  if (!(o.hi > o.lo)) throw new EbmConfigError(`grid.hi must be > grid.lo, got [${o.lo}, ${o.hi}]`);
  checkNumber(o.resolution, 'grid.resolution', { integer: true, min: 2, max: 4096 });
}

/** Cell-centred grid points, row-major [resolution², 2]. */
export function gridPoints(o: GridOptions): { points: Tensor; axis: Float64Array } {
  checkGrid(o);
  const r = o.resolution;
  const h = (o.hi - o.lo) / r;
  const axis = Float64Array.from({ length: r }, (_, i) => o.lo + (i + 0.5) * h);
  const data = new Float32Array(2 * r * r);
  for (let iy = 0; iy < r; iy++) {
    for (let ix = 0; ix < r; ix++) {
      data[2 * (iy * r + ix)] = axis[ix];
      data[2 * (iy * r + ix) + 1] = axis[iy];
    }
  }
  return { points: { data, shape: [r * r, 2] }, axis };
}

export function logSumExp(values: ArrayLike<number>, scale = 1): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, scale * values[i]);
  if (!Number.isFinite(max)) return max;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += Math.exp(scale * values[i] - max);
  return max + Math.log(s);
}

/** Throws EbmConfigError unless `model` is a model on 2-D inputs; `what` names the caller. */
function require2d(model: unknown, what: string): asserts model is EnergyModel {
  requireModel(model);
  if (model.inputShape.length !== 1 || model.inputShape[0] !== 2) {
    throw new EbmConfigError(`${what} needs a model on 2-D inputs, got input shape [${model.inputShape.join(', ')}]`);
  }
}

/** Energies of a 2D model on a grid and the log-normaliser of exp(-E) over the box. */
export async function gridEnergy(model: EnergyModel, options: GridOptions): Promise<GridEnergy> {
  require2d(model, 'gridEnergy');
  const { points, axis } = gridPoints(options);
  const energy = await model.energy(points);
  const h = (options.hi - options.lo) / options.resolution;
  return { energy, logZ: logSumExp(energy, -1) + 2 * Math.log(h), axis };
}

/**
 * Exact negative log-likelihood of 2D test points under p ∝ exp(-E), normalised on the grid:
 * NLL = mean E(x_test) + log Z. Mass outside the box is ignored, so choose a box that holds it.
 */
export async function gridNll(model: EnergyModel, test: Tensor, options: GridOptions): Promise<number> {
  require2d(model, 'gridNll');
  checkRows(test, [2], 'test');
  const { logZ } = await gridEnergy(model, options);
  const e = await model.energy(test);
  let mean = 0;
  for (let i = 0; i < e.length; i++) mean += e[i];
  return mean / e.length + logZ;
}
