/** Small preprocessing steps on float32 tensors; statistics are accumulated in float64. */
import { EbmConfigError, EbmShapeError } from '../errors';
import { Random } from '../random';
import { checkFinite, checkTensor, Tensor } from '../tensor';
import { checkNumber } from '../validate';

/** Per-column statistics from standardize(), reusable on other data with applyStandardize(). */
export interface StandardizeStats {
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
}

export interface Standardized {
  tensor: Tensor;
  mean: Float64Array;
  std: Float64Array;
}

export interface TrainTestSplit {
  train: Tensor;
  test: Tensor;
  /** rows of the input that went to train / test, in output order (to split labels the same way) */
  trainIndices: Uint32Array;
  testIndices: Uint32Array;
}

/**
 * Shifts and scales each column of a [N, D] tensor to mean 0 and (population) std 1.
 * A constant column gets std 1, so it maps to 0 rather than to NaN.
 */
export function standardize(t: Tensor): Standardized {
  const [n, d] = matrixShape(t, 'standardize input');
  checkFinite(t, 'standardize input');
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += t.data[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  // Two passes: subtracting the mean first avoids the cancellation of E[x²] − E[x]².
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const c = t.data[i * d + j] - mean[j];
      std[j] += c * c;
    }
  }
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(std[j] / n);
    std[j] = s > 0 && Number.isFinite(s) ? s : 1;
  }
  return { tensor: applyStandardize(t, { mean, std }), mean, std };
}

/** (x − mean) / std per column, with statistics from standardize() (e.g. of the training split). */
export function applyStandardize(t: Tensor, stats: StandardizeStats): Tensor {
  const [n, d] = matrixShape(t, 'applyStandardize input');
  checkFinite(t, 'applyStandardize input');
  checkStats(stats, d, 'applyStandardize');
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) out[i * d + j] = (t.data[i * d + j] - stats.mean[j]) / stats.std[j];
  }
  return { data: out, shape: [n, d] };
}

/** The inverse of applyStandardize: x · std + mean per column (e.g. to map samples back). */
export function undoStandardize(t: Tensor, stats: StandardizeStats): Tensor {
  const [n, d] = matrixShape(t, 'undoStandardize input');
  checkFinite(t, 'undoStandardize input');
  checkStats(stats, d, 'undoStandardize');
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) out[i * d + j] = t.data[i * d + j] * stats.std[j] + stats.mean[j];
  }
  return { data: out, shape: [n, d] };
}

/** Maps each column of a [N, D] tensor linearly onto [lo, hi]; a constant column maps to (lo + hi) / 2. */
export function minMaxScale(t: Tensor, lo = -1, hi = 1): Tensor {
  const [n, d] = matrixShape(t, 'minMaxScale input');
  checkFinite(t, 'minMaxScale input');
  checkNumber(lo, 'minMaxScale lo');
  checkNumber(hi, 'minMaxScale hi');
  if (!(hi > lo)) throw new EbmConfigError(`minMaxScale needs lo < hi, got lo = ${lo}, hi = ${hi}`);
  const min = new Float64Array(d).fill(Infinity);
  const max = new Float64Array(d).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = t.data[i * d + j];
      if (v < min[j]) min[j] = v;
      if (v > max[j]) max[j] = v;
    }
  }
  const out = new Float32Array(n * d);
  for (let j = 0; j < d; j++) {
    const range = max[j] - min[j];
    for (let i = 0; i < n; i++) {
      out[i * d + j] = range > 0 ? lo + ((t.data[i * d + j] - min[j]) / range) * (hi - lo) : (lo + hi) / 2;
    }
  }
  return { data: out, shape: [n, d] };
}

/**
 * Splits the rows (first dimension) of a tensor of any rank into shuffled train and test sets.
 * round(N · testFraction) rows go to test; both sides get at least one row. Same seed, same split.
 */
export function trainTestSplit(t: Tensor, testFraction: number, seed = 0): TrainTestSplit {
  checkTensor(t, 'trainTestSplit input');
  checkNumber(testFraction, 'testFraction', { above: 0 });
  if (!(testFraction < 1)) throw new EbmConfigError(`testFraction must be < 1, got ${testFraction}`);
  checkNumber(seed, 'seed', { integer: true, min: 0 });
  const n = t.shape[0];
  const nTest = Math.round(n * testFraction);
  if (nTest < 1 || nTest > n - 1) {
    throw new EbmConfigError(
      `trainTestSplit: testFraction ${testFraction} of ${n} rows leaves ${nTest} test and ${n - nTest} train rows; ` +
        'both need at least one',
    );
  }
  const perm = new Random(seed).permutation(n);
  const testIndices = perm.slice(0, nTest);
  const trainIndices = perm.slice(nTest);
  return {
    train: gatherRows(t, trainIndices),
    test: gatherRows(t, testIndices),
    trainIndices,
    testIndices,
  };
}

/** [N, ...rest] → [N, prod(rest)] (a 1D [N] becomes [N, 1]). Shares the data: no copy. */
export function flattenRows(t: Tensor): Tensor {
  checkTensor(t, 'flattenRows input');
  const n = t.shape[0];
  return { data: t.data, shape: [n, t.data.length / n] };
}

function gatherRows(t: Tensor, indices: Uint32Array): Tensor {
  const n = t.shape[0];
  const width = t.data.length / n;
  const out = new Float32Array(indices.length * width);
  indices.forEach((r, i) => out.set(t.data.subarray(r * width, (r + 1) * width), i * width));
  return { data: out, shape: [indices.length, ...t.shape.slice(1)] };
}

function matrixShape(t: Tensor, what: string): [number, number] {
  checkTensor(t, what);
  if (t.shape.length !== 2) throw new EbmShapeError(`${what} must be 2D [N, D], got [${t.shape.join(', ')}]`);
  return [t.shape[0], t.shape[1]];
}

function checkStats(stats: StandardizeStats, d: number, what: string): void {
  if (typeof stats !== 'object' || stats === null) {
    throw new EbmConfigError(`${what}: stats must be { mean, std } from standardize()`);
  }
  for (const key of ['mean', 'std'] as const) {
    const v = stats[key] as ArrayLike<number> | undefined | null;
    if (!v || typeof v.length !== 'number' || v.length !== d) {
      throw new EbmShapeError(`${what}: stats.${key} must have ${d} entries (one per column), got ${v?.length}`);
    }
  }
  for (let j = 0; j < d; j++) {
    checkNumber(stats.mean[j], `${what}: stats.mean[${j}]`);
    checkNumber(stats.std[j], `${what}: stats.std[${j}]`, { above: 0 });
  }
}
