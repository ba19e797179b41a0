/**
 * The standard 2D toy sets (as popularised by the FFJORD / score-matching literature), seeded.
 * 8gaussians and 25gaussians are Gaussian mixtures; toyMixture() gives their exact parameters (25gaussians as the
 * Energy Discrepancy paper defines it).
 */
import { EbmConfigError } from '../errors';
import { Random } from '../random';
import { checkFinite, checkRows, Tensor } from '../tensor';
import { checkNumber, checkOneOf, describeValue, rejectUnknownKeys, requireObject } from '../validate';

export const toyNames = [
  '8gaussians',
  '25gaussians',
  '2spirals',
  'checkerboard',
  'rings',
  'pinwheel',
  'swissroll',
  'moons',
  'circles',
] as const;
export type ToyName = (typeof toyNames)[number];

/** An isotropic 2D Gaussian mixture. */
export interface ToyMixture {
  means: Array<[number, number]>;
  std: number;
  weights: number[];
}

/**
 * Exact parameters of the mixture toys (equal weights, isotropic modes).
 *
 * - 8gaussians: 8 centres on a circle of radius 4/1.414 ≈ 2.83 (the axes and the diagonals), std 0.5/1.414 ≈ 0.354.
 * - 25gaussians: the Energy Discrepancy paper's toy (Schröder et al., NeurIPS 2023): a 5 × 5 grid of centres
 *   (2i, 2j)/1.414 for i, j ∈ {-2, -1, 0, 1, 2} (spacing ≈ 1.414, outermost at ≈ ±2.83) with mode std 0.2/1.414 ≈ 0.141,
 *   i.e. the unit grid {-2, …, 2}² scaled by √2 with std 0.2/√2 (1.414 as in the reference code). Not WGAN-GP's
 *   (centres (2i, 2j)/2.828, std 0.05/2.828).
 */
export function toyMixture(name: '8gaussians' | '25gaussians'): ToyMixture {
  checkOneOf(name, ['8gaussians', '25gaussians'] as const, 'toyMixture name');
  if (name === '8gaussians') {
    // centres on a circle of radius 4, std 0.5, everything divided by 1.414
    const s = 1 / Math.SQRT2;
    const raw: Array<[number, number]> = [
      [1, 0],
      [-1, 0],
      [0, 1],
      [0, -1],
      [s, s],
      [s, -s],
      [-s, s],
      [-s, -s],
    ];
    return {
      means: raw.map(([x, y]) => [(4 * x) / 1.414, (4 * y) / 1.414]),
      std: 0.5 / 1.414,
      weights: Array(8).fill(1 / 8),
    };
  }
  // the Energy Discrepancy paper's definition: centres (2i, 2j), i, j ∈ {-2, …, 2}, std 0.2, all divided by 1.414
  const means: Array<[number, number]> = [];
  for (let x = -2; x <= 2; x++) for (let y = -2; y <= 2; y++) means.push([(2 * x) / 1.414, (2 * y) / 1.414]);
  return { means, std: 0.2 / 1.414, weights: Array(25).fill(1 / 25) };
}

/** n points of a toy set, shape [n, 2]. */
export function toy(name: ToyName, n: number, seed = 0): Tensor {
  checkOneOf(name, toyNames, 'toy name');
  checkNumber(n, 'n', { integer: true, min: 1, max: 1e8 });
  checkNumber(seed, 'seed', { integer: true, min: 0 });
  const r = new Random(seed);
  const out = new Float32Array(2 * n);
  const set = (i: number, x: number, y: number) => {
    out[2 * i] = x;
    out[2 * i + 1] = y;
  };
  switch (name) {
    case '8gaussians':
    case '25gaussians': {
      const m = toyMixture(name);
      for (let i = 0; i < n; i++) {
        const [cx, cy] = m.means[r.int(m.means.length)];
        set(i, cx + m.std * r.normal(), cy + m.std * r.normal());
      }
      break;
    }
    case '2spirals':
      for (let i = 0; i < n; i++) {
        const a = (Math.sqrt(r.uniform()) * 540 * 2 * Math.PI) / 360;
        const sign = i % 2 === 0 ? 1 : -1;
        const x = sign * (-Math.cos(a) * a + r.uniform() * 0.5);
        const y = sign * (Math.sin(a) * a + r.uniform() * 0.5);
        set(i, x / 3 + 0.1 * r.normal(), y / 3 + 0.1 * r.normal());
      }
      break;
    case 'checkerboard':
      for (let i = 0; i < n; i++) {
        const x1 = r.uniform() * 4 - 2;
        const x2 = r.uniform() - r.int(2) * 2 + (((Math.floor(x1) % 2) + 2) % 2);
        set(i, 2 * x1, 2 * x2);
      }
      break;
    case 'rings':
      // four concentric circles of radii 0.75, 1.5, 2.25, 3, noise 0.08 added after scaling
      for (let i = 0; i < n; i++) {
        const radius = 3 * [0.25, 0.5, 0.75, 1][r.int(4)];
        const a = 2 * Math.PI * r.uniform();
        set(i, radius * Math.cos(a) + 0.08 * r.normal(), radius * Math.sin(a) + 0.08 * r.normal());
      }
      break;
    case 'pinwheel': {
      const radialStd = 0.3;
      const tangentialStd = 0.1;
      const classes = 5;
      const rate = 0.25;
      for (let i = 0; i < n; i++) {
        const c = r.int(classes);
        const fx = r.normal() * radialStd + 1;
        const fy = r.normal() * tangentialStd;
        const angle = (2 * Math.PI * c) / classes + rate * Math.exp(fx);
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        // row vector (fx, fy) times [[cos, -sin], [sin, cos]]
        set(i, 2 * (fx * cos + fy * sin), 2 * (-fx * sin + fy * cos));
      }
      break;
    }
    case 'swissroll':
      for (let i = 0; i < n; i++) {
        const t = 1.5 * Math.PI * (1 + 2 * r.uniform());
        set(i, (t * Math.cos(t) + r.normal()) / 5, (t * Math.sin(t) + r.normal()) / 5);
      }
      break;
    case 'moons':
      for (let i = 0; i < n; i++) {
        const a = Math.PI * r.uniform();
        const upper = i % 2 === 0;
        const x = upper ? Math.cos(a) : 1 - Math.cos(a);
        const y = upper ? Math.sin(a) : 0.5 - Math.sin(a);
        set(i, 2 * (x + 0.1 * r.normal()) - 1, 2 * (y + 0.1 * r.normal()) - 0.2);
      }
      break;
    case 'circles':
      for (let i = 0; i < n; i++) {
        const radius = i % 2 === 0 ? 1 : 0.5;
        const a = 2 * Math.PI * r.uniform();
        set(i, 3 * (radius * Math.cos(a) + 0.08 * r.normal()), 3 * (radius * Math.sin(a) + 0.08 * r.normal()));
      }
      break;
  }
  return { data: out, shape: [n, 2] };
}

/** Exact log-density of a toy mixture at each row of x ([N, 2]). */
export function toyLogDensity(mixture: ToyMixture, x: Tensor): Float64Array {
  checkToyMixture(mixture);
  checkRows(x, [2], 'x');
  checkFinite(x, 'x');
  const n = x.shape[0];
  const out = new Float64Array(n);
  const v = mixture.std * mixture.std;
  const logNorm = -Math.log(2 * Math.PI * v);
  for (let i = 0; i < n; i++) {
    const px = x.data[2 * i];
    const py = x.data[2 * i + 1];
    let max = -Infinity;
    const terms = mixture.means.map(([mx, my], k) => {
      const t = Math.log(mixture.weights[k]) + logNorm - ((px - mx) ** 2 + (py - my) ** 2) / (2 * v);
      max = Math.max(max, t);
      return t;
    });
    out[i] = max + Math.log(terms.reduce((s, t) => s + Math.exp(t - max), 0));
  }
  return out;
}

/** A ToyMixture as toyMixture() gives it: 2D means, a positive std, positive weights summing to 1. */
function checkToyMixture(value: unknown): void {
  const m = requireObject(value, 'mixture');
  rejectUnknownKeys(m, ['means', 'std', 'weights'], 'mixture');
  if (!Array.isArray(m.means) || m.means.length === 0) {
    throw new EbmConfigError(`mixture.means must be a non-empty array of [x, y] pairs, got ${describeValue(m.means)}`);
  }
  m.means.forEach((mean: unknown, k) => {
    if (!Array.isArray(mean) || mean.length !== 2) {
      throw new EbmConfigError(`mixture.means[${k}] must be an [x, y] pair, got ${describeValue(mean)}`);
    }
    mean.forEach((v: unknown, j) => checkNumber(v, `mixture.means[${k}][${j}]`));
  });
  checkNumber(m.std, 'mixture.std', { above: 0 });
  if (!Array.isArray(m.weights) || m.weights.length !== m.means.length) {
    throw new EbmConfigError(`mixture.weights must have one entry per mean (${m.means.length})`);
  }
  const total = m.weights.reduce(
    (s: number, w: unknown, k) => s + checkNumber(w, `mixture.weights[${k}]`, { above: 0 }),
    0,
  );
  if (Math.abs(total - 1) > 1e-6) throw new EbmConfigError(`mixture.weights must sum to 1, got ${total}`);
}
