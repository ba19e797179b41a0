import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as ebm from '../lib';

/** Small seeded PRNG for test fixtures (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export function tmpDir(prefix = 'ebm-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Asserts that `p` rejects with an instance of `cls` whose message matches `pattern`. */
export async function rejectsWith(
  p: Promise<unknown> | (() => unknown),
  cls: abstract new (...args: never[]) => Error,
  pattern: RegExp,
): Promise<Error> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected a ${cls.name}, but nothing was thrown`);
  assert.ok(
    err instanceof cls,
    `expected ${cls.name}, got ${(err as Error).constructor.name}: ${(err as Error).message}`,
  );
  assert.match((err as Error).message, pattern);
  return err as Error;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Skips a test whose prerequisite is missing, with the reason on the console; under CI (where
 * scripts/setup.sh installs every prerequisite) a missing one fails the test instead.
 */
export function skipUnless(ctx: Mocha.Context, available: boolean, reason: string): void {
  if (available) return;
  if (process.env.CI) throw new Error(`CI must run this test, but ${reason}`);
  console.log(`      (skipped: ${reason})`);
  ctx.skip();
}

/** max |a - b| / max(1, max |b|): float rounding of the two paths differs, the values do not. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** Every parameter tensor of two models, but those named in `except`, agrees to `tol` (relDiff). */
export async function sameParameters(
  a: ebm.EnergyModel,
  b: ebm.EnergyModel,
  tol: number,
  except: string[] = [],
): Promise<void> {
  const pa = await a.parameters();
  const pb = await b.parameters();
  assert.deepEqual(Object.keys(pa), Object.keys(pb));
  for (const name of Object.keys(pa)) {
    if (except.includes(name)) continue;
    const d = relDiff(pa[name].data, pb[name].data);
    assert.ok(d < tol, `${name}: ${d}`);
  }
}

/** The norm of a whole gradient from its per-tensor norms (evaluateLoss's gradNorms). */
export function totalNorm(gradNorms: Record<string, number>): number {
  return Math.sqrt(Object.values(gradNorms).reduce((s, g) => s + g * g, 0));
}

/**
 * Two computations of one gradient agree: every tensor's norm to `tol` of the whole gradient's
 * norm. A tensor's own norm is no scale for it: a gauge (the read-out bias of a loss blind to a
 * constant energy shift) has a gradient that is rounding noise, and noise differs between any two
 * summation orders (thread counts, BLAS kernels). A 1 + 10·tol scaling of the gradient still
 * fails for models of fewer than 100 tensors: the largest holds at least 1/√(tensors) of the whole.
 */
export function sameGradNorms(a: Record<string, number>, b: Record<string, number>, tol: number): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  const scale = totalNorm(b);
  assert.ok(scale > 0, 'the reference gradient is zero');
  for (const [key, g] of Object.entries(b)) {
    assert.ok(Math.abs(a[key] - g) <= tol * scale, `${key}: ${a[key]} vs ${g} (whole gradient ${scale})`);
  }
}
