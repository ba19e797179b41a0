/**
 * The `data` field of a run config (`ebm train`, see cli/run-config.ts): one source of rows, checked
 * without touching files, then loaded as a tensor (pixels scaled, class labels read) with a test set
 * and the true density when it is known.
 */
import * as nodePath from 'node:path';
import { z } from 'zod';
import { EbmConfigError, EbmIoError, EbmShapeError } from '../errors';
import { bool, fail, int, num, obj, oneOf, pick, text, typeTail } from '../schema/fields';
import { firstRows, Tensor } from '../tensor';
import { describeValue } from '../validate';
import { readCsv } from './csv';
import { fashionMnist } from './fashion';
import { readIdx } from './idx';
import { ImageFolderSchema, loadImageFolderSpec, resolveImageFolder } from './image-folder-spec';
import { GaussianMixture } from './mixture';
import { readNpy } from './npy';
import { toy, toyLogDensity, toyMixture, toyNames } from './toy';

const pixelScales = ['01', '-11', 'none'] as const;
export type PixelScale = (typeof pixelScales)[number];
const pixelScale = () =>
  oneOf(pixelScales).describe("pixels 0..255 to [0, 1] ('01'), to [-1, 1] ('-11'), or as stored ('none')");

/** A file path (relative paths are resolved against the config file's folder). */
const file = (what: string) => text('a non-empty file path').describe(what);
const dataSeed = () => int(0, 2 ** 31).describe('seed of the draw (default 0; the test rows use seed + 1)');

const Toy = obj({
  toy: oneOf(toyNames).describe('a 2D toy distribution'),
  n: int(2, 1e8).describe('rows drawn'),
  seed: dataSeed().optional(),
});
const Npy = obj({ npy: file('float32/float64 .npy, [N, ...]') });
const Csv = obj({
  csv: file('a CSV file of numbers, one row per line'),
  header: bool().optional().describe('whether the first line names the columns (default: detected)'),
  delimiter: z
    .string({ error: (iss) => ` must be one character, got ${describeValue(iss.input)}` })
    .length(1, { error: (iss) => ` must be one character, got ${describeValue(iss.input)}` })
    .optional()
    .describe("the delimiter (default ',')"),
  columns: z
    .array(int(0), { error: () => ' must be a non-empty array of 0-based column numbers' })
    .min(1, { error: () => ' must be a non-empty array of 0-based column numbers' })
    .optional()
    .describe('the columns to read, 0-based (default: all)'),
});
const Idx = obj({
  idx: file('an IDX file (gzip or not), e.g. file-idx3-ubyte.gz'),
  scale: pixelScale().optional(),
  labels: file("class labels, uint8 or int32 IDX, one per row (for the 'ce' loss)").optional(),
});
const FashionMnist = obj({
  fashionMnist: obj({
    split: oneOf(['train', 'test']).optional().describe("'train' (default) or 'test'"),
    limit: int(1).optional().describe('the first `limit` images'),
    scale: pixelScale().optional(),
    dir: file("the folder of the IDX files (default: Debian's dataset-fashion-mnist)").optional(),
  }).describe('Fashion-MNIST images [N, 1, 28, 28] and their labels'),
});
const ImageFolder = obj({ imageFolder: ImageFolderSchema });

/** A selector: `array` for an array, `other` for a number, else the tail of a value of neither kind. */
const arrayOr =
  (array: number, other: number) =>
  (v: unknown): number | string =>
    Array.isArray(v) ? array : typeof v === 'number' ? other : ` must be a number or an array, got ${describeValue(v)}`;

const numbers = (what: string) => z.array(num(), { error: (iss) => typeTail(iss.input, what) });
const Mixture = obj({
  mixture: obj({
    means: z
      .array(numbers('an array of numbers'), { error: (iss) => typeTail(iss.input, 'an array of rows') })
      .describe('K component means, each of length dim'),
    stds: pick([num(), z.array(pick([num(), numbers('an array of numbers')], arrayOr(1, 0)))], arrayOr(1, 0)).describe(
      'one std for all, one per component, or one row of per-coordinate stds per component',
    ),
    weights: numbers('an array of numbers').describe('K weights (sum 1)'),
    n: int(2, 1e8).describe('rows drawn'),
    seed: dataSeed().optional(),
  })
    .superRefine((m, ctx) => {
      // the mixture's own checks, as datasets.GaussianMixture makes them
      try {
        new GaussianMixture({ means: m.means, stds: m.stds, weights: m.weights });
      } catch (err) {
        if (!(err instanceof EbmConfigError)) throw err;
        const tail = err.message.replace(/^mixture/, '');
        fail(ctx, [], /^[.[ :]/.test(tail) ? tail : `: ${tail}`);
      }
    })
    .describe('a diagonal Gaussian mixture in any dimension (its exact log-density is known)'),
});

const dataSources = ['toy', 'npy', 'csv', 'idx', 'fashionMnist', 'imageFolder', 'mixture'] as const;

/** The `data` of a run config: one source of rows. */
export const DataSpecSchema = pick([Toy, Npy, Csv, Idx, FashionMnist, ImageFolder, Mixture], (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return ` must be an object, got ${describeValue(v)}`;
  const sources = dataSources.filter((k) => (v as Record<string, unknown>)[k] !== undefined);
  if (sources.length === 1) return dataSources.indexOf(sources[0]);
  return sources.length === 0
    ? ` needs one source: ${dataSources.map((s) => `"${s}"`).join(', ')}, e.g. { "toy": "8gaussians", "n": 20000 }`
    : ` must have exactly one source, got ${sources.map((s) => `"${s}"`).join(' and ')}`;
}).meta({ id: 'data', description: 'one source of rows' });

export type DataSpec = z.output<typeof DataSpecSchema>;

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

/** rows drawn for the metrics of generated data, and the most training rows used for file data */
const TEST_ROWS = 5000;

/** The spec with its paths resolved against `dir` (a config file's folder). */
export function resolveDataPaths(spec: DataSpec, dir: string): DataSpec {
  const at = (p: string) => nodePath.resolve(dir, p);
  if ('npy' in spec) return { ...spec, npy: at(spec.npy) };
  if ('csv' in spec) return { ...spec, csv: at(spec.csv) };
  if ('idx' in spec)
    return { ...spec, idx: at(spec.idx), ...(spec.labels !== undefined ? { labels: at(spec.labels) } : {}) };
  if ('fashionMnist' in spec && spec.fashionMnist.dir !== undefined) {
    return { fashionMnist: { ...spec.fashionMnist, dir: at(spec.fashionMnist.dir) } };
  }
  if ('imageFolder' in spec) return { imageFolder: resolveImageFolder(spec.imageFolder, dir) };
  return spec;
}

/** Whether the data carries class labels (what the 'ce' loss needs). */
export function dataHasLabels(spec: DataSpec): boolean {
  return 'fashionMnist' in spec || ('idx' in spec && spec.labels !== undefined);
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
