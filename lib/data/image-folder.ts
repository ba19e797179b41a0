/**
 * A folder of PNG images as an image tensor [N, C, H, W], for training image models on your own
 * pictures. Decoding is done by pngjs; resizing is done here.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { PNG } from 'pngjs';
import { EbmConfigError, EbmIoError, EbmShapeError } from '../errors';
import { Tensor } from '../tensor';
import { checkNumber, describeValue, optionalBoolean, rejectUnknownKeys, requireObject } from '../validate';

export interface ImageFolderOptions {
  /**
   * Output size: one number for a square, or [height, width]; each a positive integer <= 4096.
   * Default: the size of the first image, and every other image must then have that size.
   */
  size?: number | [number, number];
  /** false (default) → 3 channels R, G, B; true → 1 channel, luma 0.299 R + 0.587 G + 0.114 B */
  grayscale?: boolean;
  /** keep only the first `limit` files (in sorted order); the others are not read */
  limit?: number;
  /** also read PNGs in subfolders (default false); symbolic links to folders are not followed */
  recursive?: boolean;
}

export interface ImageFolder {
  /** [N, C, H, W] float32 in [-1, 1] (0 → -1, 255 → 1) */
  images: Tensor;
  /** the N files, relative to the folder with '/' separators, sorted, in the order of `images` */
  files: string[];
}

/** Largest output size per side. */
const MAX_SIDE = 4096;
/** Image formats that are not read: a folder holding them is refused rather than thinned out. */
const OTHER_IMAGE = /\.(jpe?g|gif|bmp|webp|tiff?|avif|heic|heif|ppm|pgm|pbm|pnm|tga|ico)$/i;

/** Signatures of other image formats, to say what a `.png` file that is no PNG holds. */
const SIGNATURES: Array<[string, (b: Buffer) => boolean]> = [
  ['JPEG', (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ['GIF', (b) => b.subarray(0, 4).toString('latin1') === 'GIF8'],
  ['BMP', (b) => b.subarray(0, 2).toString('latin1') === 'BM'],
  ['WebP', (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP'],
];

/** Largest number of floats in the images tensor (8 GiB). */
const MAX_FLOATS = 2 ** 31;

const what = 'imageFolder options';

/**
 * Loads every `*.png` file (any case) of `dir`, sorted by name, into one tensor [N, C, H, W] with
 * values v / 127.5 − 1 in [-1, 1]. Files of other image formats (.jpg, .jpeg, .gif, .bmp, .webp,
 * .tif, .tiff, ...) are an error, since leaving them out would silently drop images; other files
 * are ignored. Every PNG colour type and bit depth is read (16-bit channels are rounded to 8 bits
 * first).
 *
 * Alpha is ignored, except that a fully transparent pixel (alpha 0) reads as black, whatever
 * colour it stores; images are not composited over any background.
 *
 * With `size`, images are resized per axis: shrinking averages the source pixels under each
 * output pixel (area / box filter, partial pixels weighted by their overlap), enlarging
 * interpolates bilinearly between pixel centres. Grayscale conversion happens before resizing.
 *
 * Errors: a bad option → EbmConfigError; a missing folder, a folder without PNGs, an image of
 * another format, or a file that cannot be read or decoded → EbmIoError naming it; images of
 * different sizes without `size` → EbmShapeError. Nothing is returned unless every file loaded.
 */
export function imageFolder(dir: string, options: ImageFolderOptions = {}): ImageFolder {
  const o = requireObject(options, what);
  rejectUnknownKeys(o, ['size', 'grayscale', 'limit', 'recursive'], what);
  const size = o.size === undefined ? undefined : checkSize(o.size);
  optionalBoolean(o, 'grayscale', what);
  if (o.limit !== undefined) checkNumber(o.limit, `${what}.limit`, { integer: true, min: 1 });
  optionalBoolean(o, 'recursive', what);
  const grayscale = o.grayscale === true;
  const recursive = o.recursive === true;
  const limit = o.limit === undefined ? Infinity : (o.limit as number);

  if (typeof dir !== 'string' || dir.length === 0) {
    throw new EbmConfigError(`imageFolder dir must be a non-empty string, got ${describeValue(dir)}`);
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new EbmIoError(`image folder ${dir} does not exist`);
    throw new EbmIoError(`cannot access image folder ${dir}: ${(err as Error).message}`);
  }
  if (!stat.isDirectory()) throw new EbmIoError(`image folder ${dir} is not a directory`);

  const { pngs: all, others } = listImages(dir, recursive);
  if (others.length > 0) {
    const more = others.length > 1 ? ` (and ${others.length - 1} more)` : '';
    throw new EbmIoError(
      `${nodePath.join(dir, ...others[0].split('/'))}${more} is not a PNG file: imageFolder reads .png files only; ` +
        'convert it to PNG or move it out of the folder',
    );
  }
  if (all.length === 0) {
    throw new EbmIoError(
      recursive
        ? `image folder ${dir} and its subfolders hold no .png files`
        : `image folder ${dir} holds no .png files (subfolders are searched only with imageFolder options.recursive: true)`,
    );
  }
  const files = all.slice(0, Math.min(all.length, limit));
  const n = files.length;
  const channels = grayscale ? 1 : 3;

  let height = size?.[0] ?? 0;
  let width = size?.[1] ?? 0;
  let out: Float32Array | undefined = size ? allocate(n, channels, height, width) : undefined;

  for (let i = 0; i < n; i++) {
    const file = nodePath.join(dir, ...files[i].split('/'));
    const png = decode(file);
    if (out === undefined) {
      height = png.height;
      width = png.width;
      out = allocate(n, channels, height, width);
    } else if (!size && (png.height !== height || png.width !== width)) {
      throw new EbmShapeError(
        `${file} is ${png.height}×${png.width} (height×width) but ${nodePath.join(dir, files[0])} is ` +
          `${height}×${width}; images must all have one size unless imageFolder options.size is given`,
      );
    }
    const planes = toPlanes(png.data, png.height, png.width, grayscale);
    const resized = resize(planes, channels, png.height, png.width, height, width);
    const base = i * channels * height * width;
    for (let j = 0; j < resized.length; j++) out[base + j] = resized[j] / 127.5 - 1;
  }
  return { images: { data: out as Float32Array, shape: [n, channels, height, width] }, files };
}

function checkSize(value: unknown): [number, number] {
  const range = { integer: true, min: 1, max: MAX_SIDE };
  if (typeof value === 'number') {
    const s = checkNumber(value, `${what}.size`, range);
    return [s, s];
  }
  if (!Array.isArray(value) || value.length !== 2) {
    throw new EbmConfigError(
      `${what}.size must be a positive integer or a [height, width] pair of them, got ${describeValue(value)}`,
    );
  }
  return [checkNumber(value[0], `${what}.size[0]`, range), checkNumber(value[1], `${what}.size[1]`, range)];
}

/**
 * Relative paths ('/'-separated) of the PNG files under `dir`, and of the files of other image
 * formats, each sorted by UTF-16 code units.
 */
function listImages(dir: string, recursive: boolean): { pngs: string[]; others: string[] } {
  const found: string[] = [];
  const others: string[] = [];
  const walk = (rel: string) => {
    const abs = rel === '' ? dir : nodePath.join(dir, ...rel.split('/'));
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      throw new EbmIoError(`cannot list image folder ${abs}: ${(err as Error).message}`);
    }
    for (const e of entries) {
      const name = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (recursive) walk(name);
      } else if (e.isFile() || (e.isSymbolicLink() && isFile(nodePath.join(abs, e.name)))) {
        if (/\.png$/i.test(e.name)) found.push(name);
        else if (OTHER_IMAGE.test(e.name)) others.push(name);
      }
    }
  };
  walk('');
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return { pngs: found.sort(byName), others: others.sort(byName) };
}

function isFile(path: string): boolean {
  try {
    return fs.statSync(path).isFile();
  } catch {
    return false;
  }
}

function allocate(n: number, channels: number, height: number, width: number): Float32Array {
  const count = n * channels * height * width;
  const perImage = channels * height * width;
  const fit = Math.floor(MAX_FLOATS / perImage);
  const hint =
    fit >= 1
      ? `pass imageFolder options.limit (at most ${fit} images at this size) or a smaller options.size`
      : 'pass a smaller imageFolder options.size';
  if (count > MAX_FLOATS) {
    throw new EbmConfigError(
      `imageFolder would load ${n} images of [${channels}, ${height}, ${width}] = ${count} floats, ` +
        `more than the limit of 2^31; ${hint}`,
    );
  }
  try {
    return new Float32Array(count);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new EbmConfigError(`imageFolder cannot allocate ${count} floats (${err.message}); ${hint}`);
    }
    throw err;
  }
}

function decode(file: string): { width: number; height: number; data: Uint8Array } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new EbmIoError(`cannot read image ${file}: ${(err as Error).message}`);
  }
  try {
    const png = PNG.sync.read(bytes);
    if (!(png.width >= 1 && png.height >= 1 && png.data.length === png.width * png.height * 4)) {
      throw new Error(`decoded ${png.data.length} bytes for ${png.width}×${png.height} RGBA`);
    }
    return { width: png.width, height: png.height, data: png.data };
  } catch (err) {
    const other = SIGNATURES.find(([, test]) => test(bytes))?.[0];
    const detail = other ? `it holds ${other} data; convert it to PNG` : (err as Error).message;
    throw new EbmIoError(`${file} is not a valid PNG file (${detail})`);
  }
}

/** RGBA bytes → channel planes [C, H, W] with values 0..255; alpha 0 reads as black. */
function toPlanes(rgba: Uint8Array, height: number, width: number, grayscale: boolean): Float64Array {
  const hw = height * width;
  const planes = new Float64Array((grayscale ? 1 : 3) * hw);
  for (let p = 0; p < hw; p++) {
    if (rgba[4 * p + 3] === 0) continue; // fully transparent → black
    const r = rgba[4 * p];
    const g = rgba[4 * p + 1];
    const b = rgba[4 * p + 2];
    if (grayscale) {
      // integer weights, one division: a gray pixel (r = g = b) keeps its exact value
      planes[p] = (299 * r + 587 * g + 114 * b) / 1000;
    } else {
      planes[p] = r;
      planes[hw + p] = g;
      planes[2 * hw + p] = b;
    }
  }
  return planes;
}

/** For each output index along one axis: the first source index and the weights from there on. */
interface AxisTaps {
  start: Int32Array;
  weights: Float64Array[];
}

function axisTaps(inLen: number, outLen: number): AxisTaps {
  const start = new Int32Array(outLen);
  const weights: Float64Array[] = [];
  for (let o = 0; o < outLen; o++) {
    if (outLen === inLen) {
      start[o] = o;
      weights.push(Float64Array.of(1));
    } else if (outLen < inLen) {
      // area average over the source interval [lo, hi) that output pixel o covers
      const lo = (o * inLen) / outLen;
      const hi = ((o + 1) * inLen) / outLen;
      const first = Math.floor(lo);
      const last = Math.min(inLen, Math.ceil(hi));
      const w = new Float64Array(last - first);
      let sum = 0;
      for (let j = first; j < last; j++) {
        w[j - first] = Math.max(0, Math.min(hi, j + 1) - Math.max(lo, j));
        sum += w[j - first];
      }
      for (let k = 0; k < w.length; k++) w[k] /= sum;
      start[o] = first;
      weights.push(w);
    } else {
      // bilinear between pixel centres (half-pixel alignment), clamped at the borders
      const src = Math.min(inLen - 1, Math.max(0, ((o + 0.5) * inLen) / outLen - 0.5));
      const i0 = Math.floor(src);
      const f = src - i0;
      start[o] = i0;
      weights.push(i0 + 1 < inLen && f > 0 ? Float64Array.of(1 - f, f) : Float64Array.of(1));
    }
  }
  return { start, weights };
}

/** Resizes channel planes [C, h, w] → [C, H, W]: first along the width, then along the height. */
function resize(src: Float64Array, channels: number, h: number, w: number, H: number, W: number): Float64Array {
  if (h === H && w === W) return src;
  const tx = axisTaps(w, W);
  const ty = axisTaps(h, H);
  const mid = new Float64Array(channels * h * W);
  for (let row = 0; row < channels * h; row++) {
    for (let x = 0; x < W; x++) {
      const wts = tx.weights[x];
      const s = row * w + tx.start[x];
      let acc = 0;
      for (let k = 0; k < wts.length; k++) acc += wts[k] * src[s + k];
      mid[row * W + x] = acc;
    }
  }
  const out = new Float64Array(channels * H * W);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < H; y++) {
      const wts = ty.weights[y];
      const s = c * h + ty.start[y];
      for (let x = 0; x < W; x++) {
        let acc = 0;
        for (let k = 0; k < wts.length; k++) acc += wts[k] * mid[(s + k) * W + x];
        out[(c * H + y) * W + x] = acc;
      }
    }
  }
  return out;
}
