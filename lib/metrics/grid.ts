/** Exact 2D evaluation by normalising exp(-E) on a grid. */
import { EnergyModel, requireModel } from '../model';
import { checkFinite, checkRows, Tensor } from '../tensor';
import { checkNumber, checkSeries, rejectUnknownKeys, requireObject } from '../validate';
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
  rejectUnknownKeys(requireObject(o, 'grid'), ['lo', 'hi', 'resolution'], 'grid');
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
  checkSeries(values, 'logSumExp values');
  checkNumber(scale, 'logSumExp scale');
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
 * The largest grid step, in units of the density's own length scale ({@link gridStepRatio}), that
 * {@link gridNll} accepts. For Gaussian modes of std σ the cell-centred sum over a step h is off by at most
 * 2·exp(−2π²σ²/h²) relative per axis (Poisson summation), wherever the modes fall between the cells: at
 * h = 1.5σ that is under 1e-3 nats in log Z, at 2σ 0.03, at 3σ 0.4, and at 8σ log Z is meaningless.
 */
export const MAX_GRID_STEP_RATIO = 1.5;

/**
 * How many of the density's own length scales one grid step h spans, for p ∝ exp(-E) sampled on a
 * cell-centred grid (`energy` row-major, `resolution` cells a side). From the energy differences d of
 * neighbouring cells along both axes, each pair weighted by its mass w = (p_a + p_b) / 2:
 *
 *     ρ² = Σ w d² / Σ w  (both axes pooled),   returned: u = √(2(√(1 + ρ²) − 1)).
 *
 * d ≈ h ∂E/∂axis, so ρ ≈ h / ℓ with ℓ = (½ E_p‖∇E‖²)^(-½) the density's Fisher length, which is the mode std σ
 * for a Gaussian and for a mixture of separated isotropic Gaussians (wider where modes overlap). For Gaussian
 * modes the differences give ρ² ≈ u²(1 + u²/4) with u = h/σ, at any step, and the returned value
 * inverts that: u = h/σ, ≫ 1 when a mode is narrower than a cell (its mass then sits in a cell whose
 * neighbours lie far above it in energy). Pairs with a non-finite energy are skipped; 0 for a flat density.
 */
export function gridStepRatio(energy: ArrayLike<number>, resolution: number): number {
  let min = Infinity;
  for (let i = 0; i < energy.length; i++) if (energy[i] < min) min = energy[i];
  if (!Number.isFinite(min)) return 0;
  const p = Float64Array.from({ length: energy.length }, (_, i) => Math.exp(min - energy[i]));
  let mass = 0;
  let sum = 0;
  const pair = (a: number, b: number) => {
    const d = energy[b] - energy[a];
    if (!Number.isFinite(d)) return;
    const w = (p[a] + p[b]) / 2;
    mass += w;
    sum += w * d * d;
  };
  for (let iy = 0; iy < resolution; iy++) {
    for (let ix = 0; ix < resolution; ix++) {
      const i = iy * resolution + ix;
      if (ix + 1 < resolution) pair(i, i + 1);
      if (iy + 1 < resolution) pair(i, i + resolution);
    }
  }
  if (!(mass > 0)) return 0;
  const rho2 = sum / mass;
  return Math.sqrt(2 * (Math.sqrt(1 + rho2) - 1));
}

/**
 * How far (nats) a test row inside the box may lie below the lowest grid energy before {@link gridNll} says
 * the grid misses a peak.
 */
export const MAX_PEAK_MISS_NATS = 1;

/**
 * Throws EbmConfigError unless the grid resolves p ∝ exp(-E), checking two things:
 * 1. the step is at most {@link MAX_GRID_STEP_RATIO} times the density's length scale ({@link gridStepRatio});
 * 2. no test row inside the box has an energy more than {@link MAX_PEAK_MISS_NATS} below the lowest grid energy
 *    (a peak between the grid points: on a resolved grid the nearest cell of a Gaussian peak is at most u²/4
 *    above it, u = h/σ).
 * `field` names the grid option in the message: `grid` (so `grid.resolution`) in the library, `eval.grid` in a run
 * config, `--grid` on the command line.
 */
export function checkGridResolves(
  gridEnergy: ArrayLike<number>,
  options: GridOptions,
  test: { x: Tensor; energy: ArrayLike<number> },
  field = 'grid',
): void {
  const { lo, hi, resolution } = options;
  const h = (hi - lo) / resolution;
  const ratio = gridStepRatio(gridEnergy, resolution);
  // a CLI flag (--grid lo,hi,res) has no sub-fields
  const flag = field.startsWith('--');
  const res = flag ? `${field} resolution` : `${field}.resolution`;
  const fix = `raise ${res} or narrow ${flag ? `${field} lo,hi` : `[${field}.lo, ${field}.hi]`}`;
  if (ratio > MAX_GRID_STEP_RATIO) {
    throw new EbmConfigError(
      `${res} ${resolution} is too coarse to resolve the density: the step ${h.toPrecision(3)} is ` +
        `${ratio.toPrecision(3)} times the density's length scale ${(h / ratio).toPrecision(3)} (at most ` +
        `${MAX_GRID_STEP_RATIO}: beyond it log Z depends on where the modes fall between the grid points); ${fix} (resolution ≥ ` +
        `${Math.ceil((resolution * ratio) / MAX_GRID_STEP_RATIO)} on this box)`,
    );
  }
  let min = Infinity;
  for (let i = 0; i < gridEnergy.length; i++) if (gridEnergy[i] < min) min = gridEnergy[i];
  const x = test.x.data;
  for (let i = 0; i < test.energy.length; i++) {
    const inside = x[2 * i] >= lo && x[2 * i] <= hi && x[2 * i + 1] >= lo && x[2 * i + 1] <= hi;
    if (inside && test.energy[i] < min - MAX_PEAK_MISS_NATS) {
      throw new EbmConfigError(
        `${res} ${resolution} is too coarse to resolve the density: test row ${i} (inside the box) has ` +
          `energy ${test.energy[i].toPrecision(4)}, ${(min - test.energy[i]).toPrecision(3)} nats below the lowest ` +
          `grid energy, so the grid misses a peak; ${fix}`,
      );
    }
  }
}

/**
 * Exact negative log-likelihood of 2D test points under p ∝ exp(-E), normalised on the grid:
 * NLL = mean E(x_test) + log Z. Mass outside the box is ignored, so choose a box that holds it.
 *
 * Refuses (EbmConfigError naming `grid.resolution`) a grid too coarse for the density, as
 * {@link checkGridResolves} defines it: a step more than 1.5 times the density's length scale (for a
 * Gaussian mixture, its mode std), or a test row inside the box far below every grid energy.
 */
export async function gridNll(model: EnergyModel, test: Tensor, options: GridOptions): Promise<number> {
  require2d(model, 'gridNll');
  checkRows(test, [2], 'test');
  checkFinite(test, 'test');
  const { energy: grid, logZ } = await gridEnergy(model, options);
  const e = await model.energy(test);
  checkGridResolves(grid, options, { x: test, energy: e });
  let mean = 0;
  for (let i = 0; i < e.length; i++) mean += e[i];
  return mean / e.length + logZ;
}
