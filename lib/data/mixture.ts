/**
 * Gaussian mixtures with diagonal covariances in any dimension: exact sampling, log-density,
 * score and component posteriors, also at any time t of a noising path x_t = α_t x_0 + γ_t ε,
 * along which the mixture stays a mixture (means α_t μ_k, variances α_t² σ_k² + γ_t²).
 * The path functions mirror native/core/noise_path.cc exactly.
 */
import type { NoisePathKind } from '../config';
import { optionDefaults } from '../schema/defaults';
import { EbmConfigError } from '../errors';
import { Random } from '../random';
import { checkFinite, checkRows, Tensor } from '../tensor';
import { checkNumber, checkOneOf, rejectUnknownKeys, requireObject } from '../validate';

/** Path parameters; defaults as in the C++ core: β ∈ [0.1, 20] (VP), σ ∈ [0.01, 10] (VE). */
export interface PathParams {
  betaMin?: number;
  betaMax?: number;
  sigmaMin?: number;
  sigmaMax?: number;
}

/** A point on a noising path: which path, the time t ∈ [0, 1], and its parameters. */
export interface PathTime extends PathParams {
  path: NoisePathKind;
  t: number;
}

export interface GaussianMixtureSpec {
  /** K component means, each of length dim */
  means: ReadonlyArray<readonly number[]>;
  /** one std for all; or per component, a number (isotropic) or `dim` numbers (diagonal) */
  stds: number | ReadonlyArray<number | readonly number[]>;
  /** K positive weights summing to 1 (within 1e-6) */
  weights: readonly number[];
}

const rangeKeys = ['betaMin', 'betaMax', 'sigmaMin', 'sigmaMax'] as const;
const pathKeys = ['path', 't', ...rangeKeys] as const;

function resolvePath(
  path: unknown,
  t: unknown,
  opts: unknown,
  where: string,
): { kind: NoisePathKind; t: number; p: Required<PathParams> } {
  const kind = checkOneOf(path, ['vp', 've'] as const, `${where}.path`);
  const time = checkNumber(t, `${where}.t`, { min: 0, max: 1 });
  const o = requireObject(opts, where);
  const num = (key: keyof PathParams, dflt: number) =>
    o[key] === undefined ? dflt : checkNumber(o[key], `${where}.${key}`);
  const d = optionDefaults().model.gmm; // the native path's defaults
  const p = {
    betaMin: num('betaMin', d.betaMin),
    betaMax: num('betaMax', d.betaMax),
    sigmaMin: num('sigmaMin', d.sigmaMin),
    sigmaMax: num('sigmaMax', d.sigmaMax),
  };
  // The same constraints as the noise-path schema (lib/schema/noise-path.ts).
  if (!(p.betaMin > 0 && p.betaMax > p.betaMin)) {
    throw new EbmConfigError(`${where}: need 0 < betaMin < betaMax, got ${p.betaMin}, ${p.betaMax}`);
  }
  if (!(p.sigmaMin > 0 && p.sigmaMax > p.sigmaMin)) {
    throw new EbmConfigError(`${where}: need 0 < sigmaMin < sigmaMax, got ${p.sigmaMin}, ${p.sigmaMax}`);
  }
  return { kind, t: time, p };
}

function alphaOf(kind: NoisePathKind, t: number, p: Required<PathParams>): number {
  if (kind === 've') return 1;
  return Math.exp(-0.5 * (p.betaMin * t + 0.5 * (p.betaMax - p.betaMin) * t * t));
}

function gammaOf(kind: NoisePathKind, t: number, p: Required<PathParams>): number {
  if (kind === 've') return p.sigmaMin * Math.pow(p.sigmaMax / p.sigmaMin, t);
  const a = alphaOf(kind, t, p);
  return Math.sqrt(Math.max(1 - a * a, 1e-12));
}

/** α_t: VP exp(−½(β_min t + ½(β_max − β_min) t²)); VE 1. */
export function pathAlpha(path: NoisePathKind, t: number, opts: PathParams = {}): number {
  rejectUnknownKeys(requireObject(opts, 'pathAlpha'), rangeKeys, 'pathAlpha');
  const r = resolvePath(path, t, opts, 'pathAlpha');
  return alphaOf(r.kind, r.t, r.p);
}

/** γ_t: VP √max(1 − α_t², 1e-12); VE σ_min (σ_max / σ_min)^t. */
export function pathGamma(path: NoisePathKind, t: number, opts: PathParams = {}): number {
  rejectUnknownKeys(requireObject(opts, 'pathGamma'), rangeKeys, 'pathGamma');
  const r = resolvePath(path, t, opts, 'pathGamma');
  return gammaOf(r.kind, r.t, r.p);
}

export class GaussianMixture {
  readonly dim: number;
  readonly numComponents: number;
  /** K × dim */
  readonly means: readonly Float64Array[];
  /** K × dim per-coordinate variances */
  readonly variances: readonly Float64Array[];
  /** K, normalised to sum to exactly 1 */
  readonly weights: Float64Array;

  constructor(spec: GaussianMixtureSpec) {
    const s = requireObject(spec, 'mixture');
    rejectUnknownKeys(s, ['means', 'stds', 'weights'], 'mixture');
    const means = checkMeans(s.means);
    const k = means.length;
    const dim = means[0].length;
    this.variances = checkStds(s.stds, k, dim);
    this.weights = checkWeights(s.weights, k);
    this.means = means;
    this.dim = dim;
    this.numComponents = k;
  }

  /** The mixture of x_t = α_t x_0 + γ_t ε for x_0 drawn from this mixture. */
  atTime(at: PathTime): GaussianMixture {
    const o = requireObject(at, 'at');
    rejectUnknownKeys(o, pathKeys, 'at');
    const r = resolvePath(o.path, o.t, o, 'at');
    const a = alphaOf(r.kind, r.t, r.p);
    const g = gammaOf(r.kind, r.t, r.p);
    return new GaussianMixture({
      means: this.means.map((m) => Array.from(m, (v) => a * v)),
      stds: this.variances.map((v) => Array.from(v, (vi) => Math.sqrt(a * a * vi + g * g))),
      weights: Array.from(this.weights),
    });
  }

  /** n seeded samples [n, dim] (from p_t when `at` is given). */
  sample(n: number, seed = 0, at?: PathTime): Tensor {
    return this.sampleWithComponents(n, seed, at).x;
  }

  /** Like sample(), also saying which component drew each row. */
  sampleWithComponents(n: number, seed = 0, at?: PathTime): { x: Tensor; components: Uint32Array } {
    if (at !== undefined) return this.atTime(at).sampleWithComponents(n, seed);
    checkNumber(n, 'n', { integer: true, min: 1, max: 1e8 });
    checkNumber(seed, 'seed', { integer: true, min: 0 });
    const r = new Random(seed);
    const d = this.dim;
    const cumulative = new Float64Array(this.numComponents);
    let acc = 0;
    this.weights.forEach((w, k) => (cumulative[k] = acc += w));
    const stds = this.variances.map((v) => v.map(Math.sqrt));
    const out = new Float32Array(n * d);
    const components = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      let k = 0;
      while (k < this.numComponents - 1 && u >= cumulative[k]) k++;
      components[i] = k;
      const m = this.means[k];
      const s = stds[k];
      for (let j = 0; j < d; j++) out[i * d + j] = m[j] + s[j] * r.normal();
    }
    return { x: { data: out, shape: [n, d] }, components };
  }

  /** log p(x) per row of x [N, dim] (log p_t(x) when `at` is given), via log-sum-exp. */
  logDensity(x: Tensor, at?: PathTime): Float64Array {
    if (at !== undefined) return this.atTime(at).logDensity(x);
    return this.logJoint(x).lse;
  }

  /** p(component k | x_i): one Float64Array of length N per component (they sum to 1 over k). */
  componentPosteriors(x: Tensor, at?: PathTime): Float64Array[] {
    if (at !== undefined) return this.atTime(at).componentPosteriors(x);
    const { joint, lse } = this.logJoint(x);
    const n = lse.length;
    const k = this.numComponents;
    return Array.from({ length: k }, (_, c) => {
      const post = new Float64Array(n);
      for (let i = 0; i < n; i++) post[i] = Math.exp(joint[i * k + c] - lse[i]);
      return post;
    });
  }

  /** ∇_x log p(x) per row, [N, dim] (of p_t when `at` is given). */
  score(x: Tensor, at?: PathTime): Tensor {
    if (at !== undefined) return this.atTime(at).score(x);
    const { joint, lse } = this.logJoint(x);
    const n = lse.length;
    const k = this.numComponents;
    const d = this.dim;
    const out = new Float32Array(n * d);
    const acc = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      acc.fill(0);
      for (let c = 0; c < k; c++) {
        const r = Math.exp(joint[i * k + c] - lse[i]);
        const m = this.means[c];
        const v = this.variances[c];
        for (let j = 0; j < d; j++) acc[j] += (r * (m[j] - x.data[i * d + j])) / v[j];
      }
      for (let j = 0; j < d; j++) out[i * d + j] = acc[j];
    }
    return { data: out, shape: [n, d] };
  }

  /** The exact mean and (full) covariance of the mixture, row-major dim × dim. */
  moments(): { mean: Float64Array; cov: Float64Array } {
    const d = this.dim;
    const mean = new Float64Array(d);
    const cov = new Float64Array(d * d);
    this.weights.forEach((w, c) => {
      const m = this.means[c];
      for (let a = 0; a < d; a++) {
        mean[a] += w * m[a];
        cov[a * d + a] += w * this.variances[c][a];
        for (let b = 0; b < d; b++) cov[a * d + b] += w * m[a] * m[b];
      }
    });
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b] -= mean[a] * mean[b];
    return { mean, cov };
  }

  /** log w_k + log N(x_i; μ_k, diag v_k) as an N × K row-major array, and its log-sum-exp per row. */
  private logJoint(x: Tensor): { joint: Float64Array; lse: Float64Array } {
    checkRows(x, [this.dim], 'x');
    checkFinite(x, 'x');
    const n = x.shape[0];
    const k = this.numComponents;
    const d = this.dim;
    const constant = new Float64Array(k);
    const inv = this.variances.map((v) => v.map((vi) => 1 / vi));
    for (let c = 0; c < k; c++) {
      let logDet = 0;
      for (let j = 0; j < d; j++) logDet += Math.log(this.variances[c][j]);
      constant[c] = Math.log(this.weights[c]) - 0.5 * (d * Math.log(2 * Math.PI) + logDet);
    }
    const joint = new Float64Array(n * k);
    const lse = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let c = 0; c < k; c++) {
        const m = this.means[c];
        const iv = inv[c];
        let q = 0;
        for (let j = 0; j < d; j++) {
          const diff = x.data[i * d + j] - m[j];
          q += diff * diff * iv[j];
        }
        const v = constant[c] - 0.5 * q;
        joint[i * k + c] = v;
        if (v > max) max = v;
      }
      let sum = 0;
      for (let c = 0; c < k; c++) sum += Math.exp(joint[i * k + c] - max);
      lse[i] = max + Math.log(sum);
    }
    return { joint, lse };
  }
}

function checkMeans(value: unknown): Float64Array[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new EbmConfigError('mixture.means must be a non-empty array of mean vectors');
  }
  let dim = -1;
  return value.map((m: unknown, k) => {
    if (!Array.isArray(m) || m.length === 0) {
      throw new EbmConfigError(`mixture.means[${k}] must be a non-empty array of numbers`);
    }
    if (dim < 0) dim = m.length;
    if (m.length !== dim) {
      throw new EbmConfigError(`mixture.means[${k}] has ${m.length} entries but mixture.means[0] has ${dim}`);
    }
    return Float64Array.from(m, (v: unknown, j) => checkNumber(v, `mixture.means[${k}][${j}]`));
  });
}

function checkStds(value: unknown, k: number, dim: number): Float64Array[] {
  const positive = { above: 0 };
  if (typeof value === 'number') {
    const s = checkNumber(value, 'mixture.stds', positive);
    return Array.from({ length: k }, () => new Float64Array(dim).fill(s * s));
  }
  if (!Array.isArray(value) || value.length !== k) {
    throw new EbmConfigError(`mixture.stds must be a number or an array of ${k} entries (one per component)`);
  }
  return value.map((s: unknown, c) => {
    if (typeof s === 'number') {
      const v = checkNumber(s, `mixture.stds[${c}]`, positive);
      return new Float64Array(dim).fill(v * v);
    }
    if (!Array.isArray(s) || s.length !== dim) {
      throw new EbmConfigError(`mixture.stds[${c}] must be a number or an array of ${dim} numbers (the dimension)`);
    }
    return Float64Array.from(s, (v: unknown, j) => checkNumber(v, `mixture.stds[${c}][${j}]`, positive) ** 2);
  });
}

function checkWeights(value: unknown, k: number): Float64Array {
  if (!Array.isArray(value) || value.length !== k) {
    throw new EbmConfigError(`mixture.weights must be an array of ${k} numbers (one per component)`);
  }
  const w = Float64Array.from(value, (v: unknown, c) => checkNumber(v, `mixture.weights[${c}]`, { above: 0 }));
  const sum = w.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-6) throw new EbmConfigError(`mixture.weights must sum to 1 (within 1e-6), got ${sum}`);
  return w.map((v) => v / sum);
}
