/**
 * The `data` field of a run config (`ebm train`, see cli/run-config.ts): one source of rows, checked
 * without touching files, then loaded as a tensor (pixels scaled, class labels read) with a test set
 * and the true density when it is known.
 */
import * as nodePath from 'node:path';
import { EbmConfigError, EbmIoError, EbmShapeError } from '../errors';
import { firstRows, Tensor } from '../tensor';
import {
  checkNumber,
  checkOneOf,
  describeValue,
  Obj,
  optionalBoolean,
  optionalNumber,
  optionalOneOf,
  rejectUnknownKeys,
  relabel,
  requireNumber,
  requireObject,
} from '../validate';
import { readCsv } from './csv';
import { fashionMnist } from './fashion';
import { readIdx } from './idx';
import { ImageFolderSpec, loadImageFolderSpec, validateImageFolderSpec } from './image-folder-spec';
import { GaussianMixture, GaussianMixtureSpec } from './mixture';
import { readNpy } from './npy';
import { toy, toyLogDensity, toyMixture, ToyName, toyNames } from './toy';

export type PixelScale = '01' | '-11' | 'none';

export type DataSpec =
  | { toy: ToyName; n: number; seed?: number }
  | { npy: string }
  | { csv: string; header?: boolean; delimiter?: string; columns?: number[] }
  | { idx: string; scale?: PixelScale; labels?: string }
  | { fashionMnist: { split?: 'train' | 'test'; limit?: number; scale?: PixelScale; dir?: string } }
  | { imageFolder: ImageFolderSpec }
  | {
      mixture: {
        means: number[][];
        stds: number | number[] | number[][];
        weights: number[];
        n: number;
        seed?: number;
      };
    };

export interface LoadedData {
  /** training rows, shaped [N, ...model input shape] */
  train: Tensor;
  /** rows for the metrics: a fresh draw for generated data, else the first training rows */
  test: Tensor;
  testIsHeldOut: boolean;
  /** class labels of the training rows (fashionMnist, or idx with labels) */
  labels?: Uint8Array | Int32Array;
  /** exact log-density of the data distribution, when known (toy mixtures, `mixture`) */
  logDensity?: (x: Tensor) => Float64Array;
}

const dataSources = ['toy', 'npy', 'csv', 'idx', 'fashionMnist', 'imageFolder', 'mixture'] as const;
const pixelScales = ['01', '-11', 'none'] as const;
/** rows drawn for the metrics of generated data, and the most training rows used for file data */
const TEST_ROWS = 5000;

function requirePath(o: Obj, key: string, path: string, dir: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) {
    throw new EbmConfigError(`${path}.${key} must be a non-empty file path, got ${describeValue(v)}`);
  }
  return nodePath.resolve(dir, v);
}

/** Checks the data spec's shape (no file access) and resolves its paths against `dir`. */
export function validateDataSpec(value: unknown, dir: string, path = 'data'): DataSpec {
  const o = requireObject(value, path);
  const sources = dataSources.filter((k) => o[k] !== undefined);
  if (sources.length !== 1) {
    throw new EbmConfigError(
      sources.length === 0
        ? `${path} needs one source: ${dataSources.map((s) => `"${s}"`).join(', ')}, e.g. { "toy": "8gaussians", "n": 20000 }`
        : `${path} must have exactly one source, got ${sources.map((s) => `"${s}"`).join(' and ')}`,
    );
  }
  switch (sources[0]) {
    case 'toy': {
      rejectUnknownKeys(o, ['toy', 'n', 'seed'], path);
      const name = checkOneOf(o.toy, toyNames, `${path}.toy`);
      const n = requireNumber(o, 'n', path, { integer: true, min: 2, max: 1e8 });
      optionalNumber(o, 'seed', path, { integer: true, min: 0, max: 2 ** 31 });
      return o.seed === undefined ? { toy: name, n } : { toy: name, n, seed: o.seed as number };
    }
    case 'npy':
      rejectUnknownKeys(o, ['npy'], path);
      return { npy: requirePath(o, 'npy', path, dir) };
    case 'csv': {
      rejectUnknownKeys(o, ['csv', 'header', 'delimiter', 'columns'], path);
      const spec: DataSpec = { csv: requirePath(o, 'csv', path, dir) };
      optionalBoolean(o, 'header', path);
      if (o.header !== undefined) spec.header = o.header as boolean;
      if (o.delimiter !== undefined) {
        if (typeof o.delimiter !== 'string' || o.delimiter.length !== 1) {
          throw new EbmConfigError(`${path}.delimiter must be one character, got ${describeValue(o.delimiter)}`);
        }
        spec.delimiter = o.delimiter;
      }
      if (o.columns !== undefined) {
        if (!Array.isArray(o.columns) || o.columns.length === 0) {
          throw new EbmConfigError(`${path}.columns must be a non-empty array of 0-based column numbers`);
        }
        spec.columns = o.columns.map((c: unknown, i: number) =>
          checkNumber(c, `${path}.columns[${i}]`, { integer: true, min: 0 }),
        );
      }
      return spec;
    }
    case 'idx': {
      rejectUnknownKeys(o, ['idx', 'scale', 'labels'], path);
      optionalOneOf(o, 'scale', pixelScales, path);
      const spec: DataSpec = { idx: requirePath(o, 'idx', path, dir) };
      if (o.scale !== undefined) spec.scale = o.scale as PixelScale;
      if (o.labels !== undefined) spec.labels = requirePath(o, 'labels', path, dir);
      return spec;
    }
    case 'fashionMnist': {
      rejectUnknownKeys(o, ['fashionMnist'], path);
      const f = requireObject(o.fashionMnist, `${path}.fashionMnist`);
      const fp = `${path}.fashionMnist`;
      rejectUnknownKeys(f, ['split', 'limit', 'scale', 'dir'], fp);
      optionalOneOf(f, 'split', ['train', 'test'] as const, fp);
      optionalNumber(f, 'limit', fp, { integer: true, min: 1 });
      optionalOneOf(f, 'scale', pixelScales, fp);
      const spec = { ...f } as { split?: 'train' | 'test'; limit?: number; scale?: PixelScale; dir?: string };
      if (f.dir !== undefined) spec.dir = requirePath(f, 'dir', fp, dir);
      return { fashionMnist: spec };
    }
    case 'imageFolder':
      return validateImageFolderSpec(o, dir, path);
    case 'mixture': {
      rejectUnknownKeys(o, ['mixture'], path);
      const mp = `${path}.mixture`;
      const m = requireObject(o.mixture, mp);
      rejectUnknownKeys(m, ['means', 'stds', 'weights', 'n', 'seed'], mp);
      requireNumber(m, 'n', mp, { integer: true, min: 2, max: 1e8 });
      optionalNumber(m, 'seed', mp, { integer: true, min: 0, max: 2 ** 31 });
      relabel(
        /^mixture/,
        mp,
        () =>
          new GaussianMixture({ means: m.means, stds: m.stds, weights: m.weights } as unknown as GaussianMixtureSpec),
      );
      return { mixture: m as unknown as Extract<DataSpec, { mixture: unknown }>['mixture'] };
    }
  }
  throw new EbmConfigError(`${path}: unknown source`);
}

function scalePixels(values: ArrayLike<number>, scale: PixelScale): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < out.length; i++) {
    const v = values[i];
    out[i] = scale === '01' ? v / 255 : scale === '-11' ? v / 127.5 - 1 : v;
  }
  return out;
}

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** Class labels from an IDX file: uint8 or int32, one per data row. */
function readLabels(file: string, rows: number): Uint8Array | Int32Array {
  const idx = readIdx(file);
  if (idx.shape.length !== 1 || !(idx.data instanceof Uint8Array || idx.data instanceof Int32Array)) {
    throw new EbmIoError(
      `labels file ${file} must hold uint8 or int32 labels [N], got ${idx.dtype} [${idx.shape.join(', ')}]`,
    );
  }
  if (idx.shape[0] !== rows) {
    throw new EbmShapeError(`labels file ${file} has ${idx.shape[0]} labels for ${rows} data rows`);
  }
  return idx.data;
}

/** Loads the rows a data spec describes (without reshaping), plus a test set and the true density when known. */
export function loadData(spec: DataSpec): LoadedData {
  if ('toy' in spec) {
    const seed = spec.seed ?? 0;
    const mixtureToy = spec.toy === '8gaussians' || spec.toy === '25gaussians';
    const mix = mixtureToy ? toyMixture(spec.toy as '8gaussians' | '25gaussians') : undefined;
    return {
      train: toy(spec.toy, spec.n, seed),
      test: toy(spec.toy, TEST_ROWS, seed + 1),
      testIsHeldOut: true,
      logDensity: mix ? (x) => toyLogDensity(mix, x) : undefined,
    };
  }
  if ('mixture' in spec) {
    const { means, stds, weights, n, seed = 0 } = spec.mixture;
    const gm = new GaussianMixture({ means, stds, weights });
    return {
      train: gm.sample(n, seed),
      test: gm.sample(TEST_ROWS, seed + 1),
      testIsHeldOut: true,
      logDensity: (x) => gm.logDensity(x),
    };
  }
  let train: Tensor;
  let labels: Uint8Array | Int32Array | undefined;
  if ('npy' in spec) {
    train = readNpy(spec.npy);
  } else if ('csv' in spec) {
    train = readCsv(spec.csv, {
      header: spec.header ?? 'auto',
      ...(spec.delimiter !== undefined ? { delimiter: spec.delimiter } : {}),
      ...(spec.columns !== undefined ? { columns: spec.columns } : {}),
    });
  } else if ('imageFolder' in spec) {
    train = loadImageFolderSpec(spec.imageFolder);
  } else if ('idx' in spec) {
    const idx = readIdx(spec.idx);
    train = { data: scalePixels(idx.data, spec.scale ?? 'none'), shape: idx.shape };
    if (spec.labels !== undefined) labels = readLabels(spec.labels, train.shape[0]);
  } else {
    const fm = fashionMnist(spec.fashionMnist);
    train = fm.images;
    labels = fm.labels;
  }
  if (train.shape.length === 1) train = { data: train.data, shape: [train.shape[0], 1] };
  return { train, test: firstRows(train, TEST_ROWS), testIsHeldOut: false, ...(labels ? { labels } : {}) };
}

/** Reshapes [N, ...] rows to [N, ...rowShape] when the per-row sizes agree; `what` names the data. */
export function fitRows(t: Tensor, rowShape: readonly number[], what: string): Tensor {
  const per = product(t.shape.slice(1));
  const want = product(rowShape);
  if (per !== want) {
    throw new EbmShapeError(
      `${what} has rows of ${per} values ([${t.shape.slice(1).join(', ')}]) but the model takes [${rowShape.join(', ')}] (${want} values)`,
    );
  }
  return { data: t.data, shape: [t.shape[0], ...rowShape] };
}
