/** Image grids: a batch of grayscale or RGB images tiled with 1-pixel gaps. */
import { Canvas, Rgb } from './canvas';
import { intOption, optionsObject } from './options';
import { EbmConfigError, EbmShapeError } from '../errors';
import { checkFinite, checkTensor, Tensor } from '../tensor';
import { describeValue } from '../validate';

export interface ImageGridOptions {
  /** tiles per row (default ceil(sqrt(N))) */
  columns?: number;
  /** integer magnification 1..64 (default: enough for tiles of about 32 px) */
  scale?: number;
  /** values mapped to 0..255 (default: the data's min..max) */
  range?: [number, number];
  /** [height, width] of each image, needed for flat [N, H*W] (or [N, 3*H*W]) input */
  imageShape?: [number, number];
}

const TILE_GAP: Rgb = [128, 128, 128];
const MAX_GRID_SIDE = 8192;

/**
 * Tiles a batch of images: [N, H, W] or [N, 1, H, W] grayscale, [N, 3, H, W] RGB, or flat
 * [N, H*W] / [N, 3*H*W] with options.imageShape. Values in `range` map to 0..255 (clipped);
 * tiles are separated by 1-pixel grey gaps.
 */
export function imageGridPng(images: Tensor, options?: ImageGridOptions): Buffer {
  checkTensor(images, 'images');
  const o = optionsObject(options, ['columns', 'scale', 'range', 'imageShape']);
  let imageShape: [number, number] | undefined;
  if (o.imageShape !== undefined) {
    const v = o.imageShape;
    if (
      !Array.isArray(v) ||
      v.length !== 2 ||
      !v.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)
    ) {
      throw new EbmConfigError(
        `options.imageShape must be [height, width] with positive integers, got ${describeValue(v)}`,
      );
    }
    imageShape = [v[0], v[1]];
  }
  const shape = images.shape;
  const n = shape[0];
  let channels: number;
  let h: number;
  let w: number;
  if (shape.length === 2) {
    if (!imageShape) {
      throw new EbmShapeError(`images has flat shape [${shape.join(', ')}]; pass options.imageShape = [height, width]`);
    }
    [h, w] = imageShape;
    if (shape[1] === h * w) channels = 1;
    else if (shape[1] === 3 * h * w) channels = 3;
    else {
      throw new EbmShapeError(
        `images has ${shape[1]} values per row but options.imageShape [${h}, ${w}] needs ${h * w} (grayscale) or ${3 * h * w} (RGB)`,
      );
    }
  } else if (shape.length === 3) {
    [channels, h, w] = [1, shape[1], shape[2]];
  } else if (shape.length === 4 && (shape[1] === 1 || shape[1] === 3)) {
    [channels, h, w] = [shape[1], shape[2], shape[3]];
  } else {
    throw new EbmShapeError(
      `images must have shape [N, H, W], [N, 1, H, W], [N, 3, H, W] or [N, H*W] with options.imageShape; got [${shape.join(', ')}]`,
    );
  }
  if (imageShape && shape.length > 2 && (imageShape[0] !== h || imageShape[1] !== w)) {
    throw new EbmShapeError(
      `options.imageShape [${imageShape.join(', ')}] does not match images [${shape.join(', ')}]`,
    );
  }
  checkFinite(images, 'images');
  const columns = Math.min(n, intOption(o, 'columns', Math.ceil(Math.sqrt(n)), 1, 4096));
  const scale = intOption(o, 'scale', Math.min(16, Math.max(1, Math.ceil(32 / Math.max(h, w)))), 1, 64);
  let lo: number;
  let hi: number;
  if (o.range !== undefined) {
    const r = o.range;
    if (
      !Array.isArray(r) ||
      r.length !== 2 ||
      !r.every((v) => typeof v === 'number' && Number.isFinite(v)) ||
      !(r[1] > r[0])
    ) {
      throw new EbmConfigError(`options.range must be [low, high] with finite low < high, got ${describeValue(r)}`);
    }
    [lo, hi] = [r[0], r[1]];
  } else {
    lo = Infinity;
    hi = -Infinity;
    for (const v of images.data) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    // a constant batch shows as mid grey
    if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  }
  const gridRows = Math.ceil(n / columns);
  const tw = w * scale;
  const th = h * scale;
  const width = columns * tw + columns - 1;
  const height = gridRows * th + gridRows - 1;
  if (width > MAX_GRID_SIDE || height > MAX_GRID_SIDE) {
    throw new EbmConfigError(
      `the image grid would be ${width}×${height} pixels (at most ${MAX_GRID_SIDE} per side); lower options.scale or change options.columns`,
    );
  }
  const c = new Canvas(width, height, TILE_GAP);
  const d = c.data;
  const src = images.data;
  const plane = h * w;
  const k = 255 / (hi - lo);
  const byte = (v: number): number => Math.min(255, Math.max(0, Math.round((v - lo) * k)));
  for (let i = 0; i < n; i++) {
    const ox = (i % columns) * (tw + 1);
    const oy = Math.floor(i / columns) * (th + 1);
    const base = i * channels * plane;
    for (let y = 0; y < th; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < tw; x++) {
        const sp = base + sy * w + Math.floor(x / scale);
        const o4 = ((oy + y) * width + ox + x) * 4;
        const r = byte(src[sp]);
        d[o4] = r;
        d[o4 + 1] = channels === 3 ? byte(src[sp + plane]) : r;
        d[o4 + 2] = channels === 3 ? byte(src[sp + 2 * plane]) : r;
      }
    }
  }
  return c.toPng();
}
