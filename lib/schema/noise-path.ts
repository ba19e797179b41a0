/** The fields of a noising path (VP or VE), shared by DSM on a path, DiffCLF, the annealed sampler and gmm models. */
import { z } from 'zod';
import type { NativePathDefaults } from '../native';
import { fail, oneOf, positive } from './fields';

export const noisePathKinds = ['vp', 've'] as const;
/**
 * A noising path: 'vp' (variance preserving) or 've' (variance exploding).
 * @useDeclaredType
 */
export type NoisePathKind = (typeof noisePathKinds)[number];

export const pathKind = () =>
  oneOf(noisePathKinds).describe("the noising path: 'vp' (variance preserving) or 've' (variance exploding)");

/** The ranges of a path (VP β, VE σ) and its smallest time, each with its default. */
export function pathRanges(defaults: () => NativePathDefaults) {
  return {
    betaMin: positive()
      .default(() => defaults().betaMin)
      .describe('VP: β at t = 0'),
    betaMax: positive()
      .default(() => defaults().betaMax)
      .describe('VP: β at t = 1 (> betaMin)'),
    sigmaMin: positive()
      .default(() => defaults().sigmaMin)
      .describe('VE: σ at t = 0'),
    sigmaMax: positive()
      .default(() => defaults().sigmaMax)
      .describe('VE: σ at t = 1 (> sigmaMin)'),
    tMin: positive(0.999)
      .default(() => defaults().tMin)
      .describe('the smallest time; time runs over [tMin, 1]'),
  };
}

/** The refinement of a path's ranges: each must be ordered (checked with the defaults filled in). */
export function refineRanges(
  o: { betaMin?: number; betaMax?: number; sigmaMin?: number; sigmaMax?: number },
  ctx: z.core.$RefinementCtx,
): void {
  for (const [lo, hi] of [
    ['betaMin', 'betaMax'],
    ['sigmaMin', 'sigmaMax'],
  ] as const) {
    const min = o[lo];
    const max = o[hi];
    if (min !== undefined && max !== undefined && !(max > min)) {
      fail(ctx, [hi], ` must be > ${lo} (${min}), got ${max}`, max);
    }
  }
}
