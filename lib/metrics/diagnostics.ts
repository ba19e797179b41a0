/** Sample diagnostics: split R̂ across MCMC chains, and the kernel Stein discrepancy of samples against a model. */
import { EbmAbortError, EbmConfigError, EbmNumericsError, EbmShapeError } from '../errors';
import { EnergyModel, requireModel } from '../model';
import { checkFinite, checkRows, checkTensor, snapshot, Tensor } from '../tensor';
import { checkJobHooks, checkNumber, describeValue, rejectUnknownKeys, requireObject } from '../validate';

export interface RhatResult {
  /** split R̂ of each coordinate, flattened row-major over the per-draw dims (length 1 for [T, C] input) */
  rhat: Float32Array;
  /** the largest entry of `rhat` (Infinity when one is), as stored there */
  max: number;
}

/** Draws each chain needs: split into halves of ≥ 2 draws, so every half has an unbiased variance. */
export const RHAT_MIN_DRAWS = 4;

/** Where draw t of chain c, coordinate k lies: data[base + t * stride + k]. */
interface ChainView {
  data: Float32Array;
  base: number;
  stride: number;
}

/** The chains of rhat()'s input as views (no copies), with T draws of D coordinates each. */
function chainViews(chains: unknown): { views: ChainView[]; draws: number; dims: number } {
  if (Array.isArray(chains)) {
    if (chains.length < 2) {
      throw new EbmConfigError(`chains must hold at least 2 chains for R̂, got an array of ${chains.length}`);
    }
    let shape: readonly number[] = [];
    const views = chains.map((c: unknown, i) => {
      checkTensor(c, `chains[${i}]`);
      if (i === 0) shape = c.shape;
      else if (c.shape.length !== shape.length || c.shape.some((s, k) => s !== shape[k])) {
        throw new EbmShapeError(
          `chains[${i}] has shape [${c.shape.join(', ')}] but chains[0] has [${shape.join(', ')}]; ` +
            'every chain must have the same shape [T, ...dims]',
        );
      }
      checkFinite(c, `chains[${i}]`);
      return { data: c.data, base: 0, stride: c.data.length / c.shape[0] };
    });
    return { views, draws: shape[0], dims: views[0].stride };
  }
  if (typeof chains !== 'object' || chains === null || !('shape' in chains)) {
    throw new EbmShapeError(
      `chains must be a tensor [T, C, ...dims] (T draws of C chains) or an array of per-chain tensors [T, ...dims], ` +
        `got ${describeValue(chains, 0)}`,
    );
  }
  checkTensor(chains, 'chains');
  if (chains.shape.length < 2) {
    throw new EbmShapeError(
      `chains must have shape [T, C, ...dims] (T draws of C chains), got [${chains.shape.join(', ')}]`,
    );
  }
  const [draws, count] = chains.shape;
  if (count < 2) {
    throw new EbmConfigError(
      `chains must hold at least 2 chains for R̂ (its second axis), got shape [${chains.shape.join(', ')}] (C = ${count})`,
    );
  }
  checkFinite(chains, 'chains');
  const dims = chains.data.length / (draws * count);
  const views = Array.from({ length: count }, (_, c) => ({ data: chains.data, base: c * dims, stride: count * dims }));
  return { views, draws, dims };
}

/**
 * Split R̂ (potential scale reduction) of MCMC chains, per coordinate: Gelman et al., Bayesian Data
 * Analysis, 3rd ed. (2013), §11.4 — the split R̂ of Vehtari et al. (2021) *without* their rank-normalisation and
 * folding, so it is blind to chains that differ only in their tails or in scale-free ways; use it on roughly
 * Gaussian coordinates.
 *
 * `chains` is a tensor [T, C] or [T, C, ...dims] (T draws of C chains, e.g. the `trajectory` that
 * `ebm.sample(..., { returnTrajectory: true })` returns, [T, n, ...]) or an array of C per-chain tensors
 * [T, ...dims] of one shape. Drop the warm-up draws first: R̂ measures the draws it is given.
 *
 * Each chain is split into its first and last ⌊T/2⌋ draws (the middle draw is dropped when T is odd), giving
 * m = 2C chains of n = ⌊T/2⌋ draws with means θ̄_j and unbiased variances s_j². Then
 *
 *     W = mean_j s_j²,   B/n = Σ_j (θ̄_j − θ̄)² / (m − 1),   var⁺ = (n − 1)/n · W + B/n,   R̂ = √(var⁺ / W).
 *
 * A coordinate with W = 0 (every half-chain constant) is 1 when B = 0 too (all chains sit at one value: nothing
 * says they disagree) and Infinity otherwise (constant chains at different values never mix), rather than NaN, so
 * `max` stays meaningful. Values near 1 (< 1.01 is the usual bar) say the chains agree; > 1.1 says they have not
 * mixed. Accumulates in float64.
 *
 * Throws EbmShapeError for a malformed tensor or shape, EbmConfigError for fewer than 4 draws or 2 chains,
 * EbmNumericsError for a NaN or ±Inf draw.
 */
export function rhat(chains: Tensor | readonly Tensor[]): RhatResult {
  const { views, draws, dims } = chainViews(chains);
  if (draws < RHAT_MIN_DRAWS) {
    throw new EbmConfigError(
      `chains must have at least ${RHAT_MIN_DRAWS} draws each for split R̂ (two halves of 2 or more), got T = ${draws}`,
    );
  }
  const n = Math.floor(draws / 2);
  // the second half starts after the middle draw when T is odd
  const starts = [0, draws - n];
  const m = 2 * views.length;
  const means = new Float64Array(m * dims);
  const within = new Float64Array(dims);
  // two passes per half-chain (mean, then squared deviations): exact enough for chains far from 0
  views.forEach((v, c) => {
    starts.forEach((start, h) => {
      const mean = means.subarray((2 * c + h) * dims, (2 * c + h + 1) * dims);
      for (let t = start; t < start + n; t++) {
        const o = v.base + t * v.stride;
        for (let k = 0; k < dims; k++) mean[k] += v.data[o + k];
      }
      for (let k = 0; k < dims; k++) mean[k] /= n;
      for (let t = start; t < start + n; t++) {
        const o = v.base + t * v.stride;
        for (let k = 0; k < dims; k++) within[k] += (v.data[o + k] - mean[k]) ** 2;
      }
    });
  });
  const out = new Float32Array(dims);
  let max = -Infinity;
  for (let k = 0; k < dims; k++) {
    const w = within[k] / (m * (n - 1));
    let grand = 0;
    for (let j = 0; j < m; j++) grand += means[j * dims + k];
    grand /= m;
    let between = 0;
    for (let j = 0; j < m; j++) between += (means[j * dims + k] - grand) ** 2;
    between /= m - 1;
    let r: number;
    if (w > 0) r = Math.sqrt((((n - 1) / n) * w + between) / w);
    else r = between > 0 ? Infinity : 1;
    out[k] = r;
    max = Math.max(max, out[k]);
  }
  return { rhat: out, max };
}

export interface KsdOptions {
  /** the time of a time-conditioned model (required for one, refused for any other) */
  t?: number;
  /** IMQ offset c in k(x, y) = (c² + ‖x − y‖²)^β; > 0, default 1 */
  c?: number;
  /** IMQ exponent β; in (−1, 0), default −1/2 */
  beta?: number;
  /** aborts the O(n² d) sum between rows (EbmAbortError) */
  signal?: AbortSignal;
}

export interface KsdResult {
  /** √max(0, ksdSquared): the KSD of the samples' empirical measure */
  ksd: number;
  /** the V-statistic (1/n²) Σ_i Σ_j u(x_i, x_j), including i = j; ≥ 0 up to rounding */
  ksdSquared: number;
  /** rows used */
  n: number;
}

/** Most rows ksd() takes: the pair sum is O(n² d) in TypeScript, about 2·10⁸ d multiply-adds at the cap. */
export const KSD_MAX_ROWS = 20000;

/** Multiply-adds of pair work between yields to the event loop: a few milliseconds. */
const KSD_WORK_PER_YIELD = 2_000_000;

/**
 * Kernel Stein discrepancy of `samples` against the model's density p ∝ exp(−E) (Liu, Lee & Jordan, ICML 2016;
 * Gorham & Mackey, ICML 2017), with the inverse multiquadric kernel k(x, y) = (c² + ‖x − y‖²)^β. With the
 * score s = −∇E (`model.score`, each row flattened to d values), the Stein kernel is
 *
 *     u(x, y) = s(x)ᵀs(y) k + s(x)ᵀ∇_y k + s(y)ᵀ∇_x k + tr(∇_x∇_y k),
 *
 * and with r = x − y, q = c² + ‖r‖²: ∇_x k = 2β q^(β−1) r = −∇_y k and
 * tr(∇_x∇_y k) = −2βd q^(β−1) − 4β(β−1) q^(β−2) ‖r‖². E_{x,y∼p} u = 0, and for β ∈ (−1, 0) the IMQ KSD goes to 0
 * only if the samples converge to p (Gorham & Mackey, for distantly dissipative p), which is why β is limited to
 * that range.
 *
 * Returns the V-statistic KSD² = (1/n²) Σ_{i,j} u(x_i, x_j), the KSD of the empirical measure as Gorham & Mackey
 * define it. Unlike the U-statistic (i ≠ j) it is never negative but biased upward by about E u(x, x)/n
 * (= 2d/n for a standard normal with the defaults), so compare values at equal n.
 *
 * `samples` is [n, ...model.inputShape] with 1 ≤ n ≤ 20000 (KSD_MAX_ROWS). The sum runs in TypeScript with float64
 * accumulation, yielding to the event loop every few milliseconds and checking `signal` there.
 */
export async function ksd(model: EnergyModel, samples: Tensor, options: KsdOptions = {}): Promise<KsdResult> {
  requireModel(model);
  const o = requireObject(options, 'options');
  rejectUnknownKeys(o, ['t', 'c', 'beta', 'signal'], 'options');
  checkJobHooks(o, 'options');
  const t = o.t === undefined ? undefined : checkNumber(o.t, 'options.t');
  if (model.timeConditioned && t === undefined) {
    throw new EbmConfigError('options.t is required: ksd needs the time of a time-conditioned model');
  }
  if (!model.timeConditioned && t !== undefined) {
    throw new EbmConfigError('options.t applies only to time-conditioned models, and this one is not');
  }
  const c = o.c === undefined ? 1 : checkNumber(o.c, 'options.c', { above: 0 });
  const beta = o.beta === undefined ? -0.5 : checkNumber(o.beta, 'options.beta', { above: -1 });
  if (!(beta < 0)) throw new EbmConfigError(`options.beta must be < 0 (the IMQ kernel needs β ∈ (−1, 0)), got ${beta}`);
  checkRows(samples, model.inputShape, 'samples');
  const n = samples.shape[0];
  if (n > KSD_MAX_ROWS) {
    throw new EbmConfigError(
      `samples may have at most ${KSD_MAX_ROWS} rows for ksd (its pair sum is O(n²)); pass a random subset, got ${n}`,
    );
  }
  checkFinite(samples, 'samples');
  const signal = options.signal;
  const aborted = () => new EbmAbortError('ksd was aborted');
  if (signal?.aborted) throw aborted();

  // the sum reads the rows across awaits: a copy taken now, as every job of the library works on its inputs at the call
  const rows = snapshot(samples);
  const score = await model.score(rows, t);
  if (signal?.aborted) throw aborted();
  const x = rows.data;
  const s = score.data;
  const d = x.length / n;
  for (let i = 0; i < s.length; i++) {
    if (!Number.isFinite(s[i])) {
      throw new EbmNumericsError(
        `ksd: the model's score is non-finite (${s[i]}) at samples row ${Math.floor(i / d)}, coordinate ${i % d}`,
      );
    }
  }

  const c2 = c * c;
  // u(x, x): r = 0, so both gradient terms vanish and q = c²
  const diagK = c2 ** beta;
  const diagTrace = -2 * beta * d * c2 ** (beta - 1);
  let total = 0;
  let work = 0;
  for (let i = 0; i < n; i++) {
    const oi = i * d;
    let ss = 0;
    for (let k = 0; k < d; k++) ss += s[oi + k] * s[oi + k];
    // one row's pairs (j > i), counted twice for (i, j) and (j, i): u is symmetric
    const diag = ss * diagK + diagTrace;
    let pairs = 0;
    for (let j = i + 1; j < n; j++) {
      const oj = j * d;
      let sxsy = 0;
      let rr = 0;
      let sxr = 0;
      let syr = 0;
      for (let k = 0; k < d; k++) {
        const r = x[oi + k] - x[oj + k];
        const sx = s[oi + k];
        const sy = s[oj + k];
        sxsy += sx * sy;
        rr += r * r;
        sxr += sx * r;
        syr += sy * r;
      }
      const q = c2 + rr;
      const qb1 = q ** (beta - 1);
      const kxy = qb1 * q;
      // s(x)ᵀ∇_y k = −2β q^(β−1) s(x)ᵀr and s(y)ᵀ∇_x k = 2β q^(β−1) s(y)ᵀr
      const sxGradY = -2 * beta * qb1 * sxr;
      const syGradX = 2 * beta * qb1 * syr;
      const trace = -2 * beta * d * qb1 - 4 * beta * (beta - 1) * (qb1 / q) * rr;
      pairs += sxsy * kxy + sxGradY + syGradX + trace;
    }
    total += diag + 2 * pairs;
    work += (n - i) * d;
    if (work >= KSD_WORK_PER_YIELD) {
      work = 0;
      // let timers and I/O run: a full sum at the cap takes seconds
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw aborted();
    }
  }
  const ksdSquared = total / (n * n);
  return { ksd: Math.sqrt(Math.max(0, ksdSquared)), ksdSquared, n };
}
