/**
 * Fashion-MNIST from Debian's `dataset-fashion-mnist` package (gzip'd IDX files). Uncompressed
 * copies with the same names minus `.gz` are accepted too.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { EbmConfigError, EbmIoError } from '../errors';
import { Tensor } from '../tensor';
import { checkNumber, checkOneOf, describeValue, optionalOneOf, rejectUnknownKeys, requireObject } from '../validate';
import { readIdx } from './idx';

export const fashionMnistDefaultDir = '/usr/share/datasets/fashion-mnist/';

/** Label names, indexed by label. */
export const fashionMnistClasses = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export interface FashionMnistOptions {
  /** 'train' (60000 images, default) or 'test' (10000) */
  split?: 'train' | 'test';
  /** directory holding the IDX files (default /usr/share/datasets/fashion-mnist/) */
  dir?: string;
  /** pixel range: '01' (default) → [0, 1], '-11' → [-1, 1], 'none' → raw 0..255 */
  scale?: '01' | '-11' | 'none';
  /** keep only the first `limit` examples */
  limit?: number;
}

export interface FashionMnist {
  /** [N, 1, 28, 28] float32 */
  images: Tensor;
  /** N labels in 0..9 */
  labels: Uint8Array;
}

const files = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

const installHint = 'install it with `apt-get install -y dataset-fashion-mnist`';

/** Loads one split of Fashion-MNIST. Missing files → EbmIoError with the install command. */
export function fashionMnist(options: FashionMnistOptions = {}): FashionMnist {
  const o = requireObject(options, 'fashionMnist options');
  rejectUnknownKeys(o, ['split', 'dir', 'scale', 'limit'], 'fashionMnist options');
  optionalOneOf(o, 'split', ['train', 'test'], 'fashionMnist options');
  const scale = o.scale === undefined ? '01' : checkOneOf(o.scale, ['01', '-11', 'none'], 'fashionMnist options.scale');
  if (o.limit !== undefined) checkNumber(o.limit, 'fashionMnist options.limit', { integer: true, min: 1 });
  const split = options.split ?? 'train';
  const dir = checkDir(options.dir);

  const imagesFile = locate(dir, files[split].images);
  const labelsFile = locate(dir, files[split].labels);
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || images.shape[1] !== 28 || images.shape[2] !== 28) {
    throw new EbmIoError(
      `${imagesFile} should hold uint8 images [N, 28, 28], got ${images.dtype} [${images.shape.join(', ')}]`,
    );
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new EbmIoError(
      `${labelsFile} should hold uint8 labels [N], got ${labels.dtype} [${labels.shape.join(', ')}]`,
    );
  }
  if (labels.shape[0] !== images.shape[0]) {
    throw new EbmIoError(`${labelsFile} has ${labels.shape[0]} labels but ${imagesFile} has ${images.shape[0]} images`);
  }
  const n = Math.min(images.shape[0], options.limit ?? Infinity);
  const labelData = labels.data.slice(0, n);
  const bad = labelData.findIndex((l) => l > 9);
  if (bad >= 0) throw new EbmIoError(`${labelsFile}: label ${bad} is ${labelData[bad]}, expected 0..9`);

  const pixels = images.data;
  const out = new Float32Array(n * 784);
  if (scale === 'none') {
    for (let i = 0; i < out.length; i++) out[i] = pixels[i];
  } else if (scale === '01') {
    for (let i = 0; i < out.length; i++) out[i] = pixels[i] / 255;
  } else {
    for (let i = 0; i < out.length; i++) out[i] = pixels[i] / 127.5 - 1;
  }
  return { images: { data: out, shape: [n, 1, 28, 28] }, labels: labelData };
}

/** True when all four Fashion-MNIST files are present in `dir`. */
export function fashionMnistAvailable(dir: string = fashionMnistDefaultDir): boolean {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new EbmConfigError(`fashionMnistAvailable dir must be a non-empty string, got ${describeValue(dir)}`);
  }
  return Object.values(files).every((split) => Object.values(split).every((name) => findFile(dir, name) !== undefined));
}

function checkDir(dir: unknown): string {
  const d = dir === undefined ? fashionMnistDefaultDir : dir;
  if (typeof d !== 'string' || d.length === 0) {
    throw new EbmConfigError(`fashionMnist options.dir must be a non-empty string, got ${describeValue(d)}`);
  }
  if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) {
    throw new EbmIoError(`Fashion-MNIST directory ${d} does not exist; ${installHint}`);
  }
  return d;
}

function findFile(dir: string, name: string): string | undefined {
  for (const candidate of [`${name}.gz`, name]) {
    const p = nodePath.join(dir, candidate);
    if (fs.existsSync(p) && fs.statSync(p).isFile()) return p;
  }
  return undefined;
}

function locate(dir: string, name: string): string {
  const found = findFile(dir, name);
  if (!found) throw new EbmIoError(`Fashion-MNIST file ${nodePath.join(dir, name)}.gz is missing; ${installHint}`);
  return found;
}
