import { EbmNumericsError, EbmShapeError } from './errors';
import { checkNumber, describeValue } from './validate';

/** A dense float32 tensor, row-major. */
export interface Tensor {
  data: Float32Array;
  shape: readonly number[];
}

/** Builds a tensor, checking that the shape matches the data length. */
export function tensor(data: Float32Array | readonly number[], shape: readonly number[]): Tensor {
  if (!(data instanceof Float32Array)) {
    const bad = Array.isArray(data) ? data.findIndex((v) => typeof v !== 'number') : -1;
    if (!Array.isArray(data) || bad >= 0) {
      const what =
        bad >= 0
          ? `data[${bad}] must be a number, got ${describeValue(data[bad])}`
          : `data must be a Float32Array or an array of numbers, got ${describeValue(data, 0)}`;
      throw new EbmShapeError(`tensor ${what}`);
    }
  }
  if (!Array.isArray(shape)) {
    throw new EbmShapeError(`tensor shape must be an array of positive integers, got ${describeValue(shape)}`);
  }
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
  const t = { data: values, shape: [...shape] };
  checkTensor(t, 'tensor');
  return t;
}

/** Throws EbmShapeError unless `t` is a well-formed tensor; `what` names it in the message. */
export function checkTensor(t: unknown, what: string): asserts t is Tensor {
  if (typeof t !== 'object' || t === null) {
    throw new EbmShapeError(
      `${what} must be a tensor { data: Float32Array, shape: number[] }, got ${describeValue(t, 0)}`,
    );
  }
  const { data, shape } = t as { data?: unknown; shape?: unknown };
  if (!(data instanceof Float32Array))
    throw new EbmShapeError(`${what}.data must be a Float32Array, got ${describeValue(data, 0)}`);
  if (!Array.isArray(shape) || shape.length === 0) {
    throw new EbmShapeError(
      `${what}.shape must be a non-empty array of positive integers, got ${describeValue(shape)}`,
    );
  }
  let count = 1;
  shape.forEach((s: unknown, i) => {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 1) {
      throw new EbmShapeError(`${what}.shape[${i}] must be a positive integer, got ${describeValue(s)}`);
    }
    count *= s;
  });
  if (count !== data.length) {
    throw new EbmShapeError(`${what}.data has ${data.length} values but shape [${shape.join(', ')}] needs ${count}`);
  }
}

/** Throws EbmShapeError unless `t` is [N, ...rest] with the given trailing dimensions. */
export function checkRows(t: Tensor, rest: readonly number[], what: string): void {
  checkTensor(t, what);
  const ok = t.shape.length === rest.length + 1 && rest.every((d, i) => t.shape[i + 1] === d);
  if (!ok) {
    throw new EbmShapeError(`${what} must have shape [N, ${rest.join(', ')}], got [${t.shape.join(', ')}]`);
  }
}

/** Throws EbmNumericsError if any value is NaN or ±Inf. */
export function checkFinite(t: Tensor, what: string): void {
  checkTensor(t, what);
  const d = t.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      throw new EbmNumericsError(`${what} contains a non-finite value (${d[i]}) at flat index ${i}`);
    }
  }
}

/** Number of rows (the first dimension). */
export function rows(t: Tensor): number {
  checkTensor(t, 't');
  return t.shape[0];
}

/** Row i of a [N, D] tensor as a view. */
export function row(t: Tensor, i: number): Float32Array {
  checkNumber(i, 'row index i', { integer: true, min: 0, max: rows(t) - 1 });
  const d = t.data.length / rows(t);
  return t.data.subarray(i * d, (i + 1) * d);
}

/** A copy of a tensor's values (the input of a job that starts later must not see later writes). */
export function snapshot(x: Tensor): Tensor {
  return { data: x.data.slice(), shape: [...x.shape] };
}

/** The first `n` rows of a tensor, as a view. */
export function firstRows(t: Tensor, n: number): Tensor {
  const k = Math.min(n, t.shape[0]);
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return { data: t.data.subarray(0, k * per), shape: [k, ...t.shape.slice(1)] };
}
