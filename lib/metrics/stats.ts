/** Sample-based metrics: MMD, mode weights and spreads, R² up to a constant, importance-sampling ESS. */
import { EbmConfigError, EbmNumericsError, EbmShapeError } from '../errors';
import { checkFinite, checkTensor, Tensor } from '../tensor';
import {
  checkNumber,
  checkSeries,
  describeValue,
  optionalBoolean,
  rejectUnknownKeys,
  requireObject,
} from '../validate';

/** Row width of a well-formed tensor of finite values. */
function width(t: Tensor, what: string): number {
  checkTensor(t, what);
  checkFinite(t, what);
  return t.data.length / t.shape[0];
}

/** Throws EbmNumericsError at the first entry that is NaN or ±Inf (−Inf passes with `allowMinusInf`). */
function checkFiniteSeries(values: ArrayLike<number>, what: string, allowMinusInf = false): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) && !(allowMinusInf && v === -Infinity)) {
      throw new EbmNumericsError(`${what} contains a non-finite value (${describeValue(v)}) at index ${i}`);
    }
  }
}

function sqDist(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) {
    const diff = a[i * d + k] - b[j * d + k];
    s += diff * diff;
  }
  return s;
}

/** Median pairwise distance of the pooled rows (the usual RBF bandwidth heuristic), on ≤ 1000 rows. */
export function medianDistance(a: Tensor, b?: Tensor): number {
  const d = width(a, 'a');
  if (b !== undefined && width(b, 'b') !== d)
    throw new EbmShapeError(`a and b must have the same row width (${d} vs ${width(b, 'b')})`);
  const rows: Array<[Float32Array, number]> = [];
  const take = (t: Tensor) => {
    const step = Math.max(1, Math.floor(t.shape[0] / 500));
    for (let i = 0; i < t.shape[0]; i += step) rows.push([t.data, i]);
  };
  take(a);
  if (b !== undefined) take(b);
  const dists: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++)
      dists.push(Math.sqrt(sqDist(rows[i][0], rows[i][1], rows[j][0], rows[j][1], d)));
  }
  dists.sort((x, y) => x - y);
  return dists[Math.floor(dists.length / 2)] ?? 1;
}

export interface MmdOptions {
  /** RBF bandwidth σ in k(x, y) = exp(−|x − y|² / 2σ²); default: median pairwise distance */
  bandwidth?: number;
  /** unbiased U-statistic (default true; can be slightly negative) or the biased V-statistic */
  unbiased?: boolean;
}

/** Squared maximum mean discrepancy between two samples with an RBF kernel. */
export function mmd(a: Tensor, b: Tensor, options: MmdOptions = {}): number {
  const d = width(a, 'a');
  if (width(b, 'b') !== d) throw new EbmShapeError(`a and b must have the same row width (${d} vs ${width(b, 'b')})`);
  const o = requireObject(options, 'options');
  rejectUnknownKeys(o, ['bandwidth', 'unbiased'], 'options');
  optionalBoolean(o, 'unbiased', 'options');
  const bw =
    options.bandwidth === undefined
      ? medianDistance(a, b)
      : checkNumber(o.bandwidth, 'options.bandwidth', { above: 0 });
  const unbiased = options.unbiased ?? true;
  const g = 1 / (2 * bw * bw);
  const mean = (x: Tensor, y: Tensor, same: boolean) => {
    const n = x.shape[0];
    const m = y.shape[0];
    let s = 0;
    for (let i = 0; i < n; i++) {
      for (let j = same ? i + 1 : 0; j < m; j++) s += Math.exp(-g * sqDist(x.data, i, y.data, j, d));
    }
    if (!same) return s / (n * m);
    // symmetric: off-diagonal pairs twice, plus the diagonal (k = 1) for the V-statistic
    return unbiased ? (2 * s) / (n * (n - 1)) : (2 * s + n) / (n * n);
  };
  if (unbiased && (a.shape[0] < 2 || b.shape[0] < 2))
    throw new EbmConfigError('unbiased MMD needs at least 2 rows per set');
  return mean(a, a, true) + mean(b, b, true) - 2 * mean(a, b, false);
}

/** Index of the nearest centre for each row. */
export function assignModes(x: Tensor, centres: ReadonlyArray<ReadonlyArray<number>>): Uint32Array {
  const d = width(x, 'x');
  if (!Array.isArray(centres) || centres.length === 0) {
    throw new EbmConfigError(`centres must be a non-empty array of points, got ${describeValue(centres)}`);
  }
  centres.forEach((c: unknown, k) => {
    if (!Array.isArray(c) || c.length !== d) {
      throw new EbmShapeError(
        `centres[${k}] must be an array of ${d} coordinates (the width of x), got ${describeValue(c)}`,
      );
    }
    c.forEach((v, j) => checkNumber(v, `centres[${k}][${j}]`));
  });
  const flat = Float32Array.from(centres.flat());
  const out = new Uint32Array(x.shape[0]);
  for (let i = 0; i < x.shape[0]; i++) {
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < centres.length; k++) {
      const dist = sqDist(x.data, i, flat, k, d);
      if (dist < bestD) {
        bestD = dist;
        best = k;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Fraction of rows nearest to each centre: the mode-weight estimate for a mixture. */
export function modeWeights(x: Tensor, centres: ReadonlyArray<ReadonlyArray<number>>): number[] {
  const modes = assignModes(x, centres);
  const counts = new Array<number>(centres.length).fill(0);
  for (const k of modes) counts[k]++;
  return counts.map((c) => c / x.shape[0]);
}

/** Pooled per-coordinate standard deviation of rows around their nearest centre. */
export function withinModeStd(x: Tensor, centres: ReadonlyArray<ReadonlyArray<number>>): number {
  const d = width(x, 'x');
  const modes = assignModes(x, centres);
  let s = 0;
  for (let i = 0; i < x.shape[0]; i++) {
    for (let k = 0; k < d; k++) s += (x.data[i * d + k] - centres[modes[i]][k]) ** 2;
  }
  return Math.sqrt(s / (x.shape[0] * d));
}

/**
 * R² between a model's log-density and the true one up to an additive constant:
 * 1 − Σ((a − ā) − (b − b̄))² / Σ(b − b̄)², with a = model log-density (−E), b = the truth.
 */
export function r2UpToConstant(model: ArrayLike<number>, truth: ArrayLike<number>): number {
  checkSeries(model, 'r2UpToConstant: model');
  checkSeries(truth, 'r2UpToConstant: truth');
  if (model.length !== truth.length || model.length < 2)
    throw new EbmShapeError('r2 needs two equal-length series (>= 2)');
  checkFiniteSeries(model, 'r2UpToConstant: model');
  checkFiniteSeries(truth, 'r2UpToConstant: truth');
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < model.length; i++) {
    ma += model[i];
    mb += truth[i];
  }
  ma /= model.length;
  mb /= truth.length;
  let res = 0;
  let tot = 0;
  for (let i = 0; i < model.length; i++) {
    res += (model[i] - ma - (truth[i] - mb)) ** 2;
    tot += (truth[i] - mb) ** 2;
  }
  if (!(tot > 0)) throw new EbmNumericsError('r2UpToConstant: truth is constant, so R² is undefined');
  return 1 - res / tot;
}

/** Normalised effective sample size (Σw)² / (n Σw²) of importance weights given as log-weights. */
export function ess(logWeights: ArrayLike<number>): number {
  const n = checkSeries(logWeights, 'ess: logWeights').length;
  if (n === 0) throw new EbmShapeError('ess: logWeights needs at least one weight');
  checkFiniteSeries(logWeights, 'ess: logWeights', true);
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logWeights[i]);
  if (max === -Infinity) throw new EbmNumericsError('ess: logWeights are all -Infinity, so every weight is 0');
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp(logWeights[i] - max);
    s += w;
    s2 += w * w;
  }
  return (s * s) / (n * s2);
}

/** Column means and covariance of the rows of x. */
export function meanAndCovariance(x: Tensor): { mean: number[]; cov: number[][] } {
  const d = width(x, 'x');
  const n = x.shape[0];
  if (n < 2) throw new EbmShapeError(`meanAndCovariance needs at least 2 rows, got ${n}`);
  const mean = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k] += x.data[i * d + k] / n;
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++)
        cov[a][b] += ((x.data[i * d + a] - mean[a]) * (x.data[i * d + b] - mean[b])) / (n - 1);
    }
  }
  return { mean, cov };
}
