/** Pictures of latent image priors for `ebm train` and `ebm sample`: image grids and masks. */
import { EbmConfigError, EbmIoError, Tensor } from '../index';
import { curvesPng, imageGridPng } from '../plot';
import { ProgressRecord } from './figures';

/** Largest side of an image grid (as imageGridPng allows). */
const MAX_SIDE = 8192;
/** Most tiles per row in the strips of reconstructions and inpaintings. */
export const STRIP_COLUMNS = 16;

export interface GridLayout {
  columns: number;
  /** integer magnification */
  scale: number;
}

/**
 * Columns and magnification for `count` images of h × w shown in `bands` rows each (a strip of
 * inputs over outputs has 2 or 3 bands), at most `maxColumns` per row: tiles of about 56 pixels,
 * smaller when the picture would be too large. Undefined when it does not fit at scale 1.
 */
export function gridLayout(
  count: number,
  bands: number,
  h: number,
  w: number,
  maxColumns: number,
): GridLayout | undefined {
  const cap = Math.max(1, Math.min(count, maxColumns, Math.floor((MAX_SIDE + 1) / (w + 1))));
  // as many rows as the cap needs, evenly filled (20 images in 2 rows of 10, not 16 and 4)
  const columns = Math.ceil(count / Math.ceil(count / cap));
  const rows = Math.ceil(count / columns) * bands;
  for (let scale = Math.max(1, Math.round(56 / Math.max(h, w))); scale >= 1; scale--) {
    if (columns * (w * scale + 1) - 1 <= MAX_SIDE && rows * (h * scale + 1) - 1 <= MAX_SIDE) return { columns, scale };
  }
  return undefined;
}

/**
 * The most of `count` images (halving from min(count, maxShown)) whose picture fits, with its
 * layout: `bands` rows per run of columns, at most `maxColumns` columns (default: a square grid).
 */
export function shownLayout(
  count: number,
  imageShape: readonly number[],
  maxShown: number,
  bands = 1,
  maxColumns?: number,
): { shown: number; layout: GridLayout } {
  const [, h, w] = imageShape;
  for (let shown = Math.min(count, maxShown); shown >= 1; shown = Math.floor(shown / 2)) {
    const layout = gridLayout(shown, bands, h, w, maxColumns ?? Math.ceil(Math.sqrt(shown)));
    if (layout) return { shown, layout };
  }
  return { shown: 1, layout: { columns: 1, scale: 1 } };
}

/** The layout of `count` images of `imageShape`, or an EbmConfigError naming `field` (e.g. eval.samples.n). */
export function requireLayout(
  count: number,
  bands: number,
  imageShape: readonly number[],
  maxColumns: number,
  field: string,
): GridLayout {
  const [, h, w] = imageShape;
  const layout = gridLayout(count, bands, h, w, maxColumns);
  if (!layout) {
    throw new EbmConfigError(
      `${field}: ${count} images of ${h}×${w} do not fit in a picture of ${MAX_SIDE}×${MAX_SIDE} pixels; lower it`,
    );
  }
  return layout;
}

/** Square-ish grid of images in [-1, 1] (e.g. generated samples). */
export function samplesGridPng(images: Tensor, layout: GridLayout): Buffer {
  return imageGridPng(images, { range: [-1, 1], columns: layout.columns, scale: layout.scale });
}

/**
 * Images of the same count side by side in strips: for each run of `layout.columns` images, one
 * row from every tensor in turn (e.g. inputs over reconstructions). A short last run is padded
 * with black tiles.
 */
export function stripsPng(tensors: Tensor[], layout: GridLayout): Buffer {
  const n = tensors[0].shape[0];
  const per = tensors[0].data.length / n;
  const { columns } = layout;
  const runs = Math.ceil(n / columns);
  const data = new Float32Array(runs * tensors.length * columns * per).fill(-1);
  for (let r = 0; r < runs; r++) {
    const from = r * columns;
    const k = Math.min(columns, n - from);
    tensors.forEach((t, b) => {
      data.set(t.data.subarray(from * per, (from + k) * per), (r * tensors.length + b) * columns * per);
    });
  }
  const shown = { data, shape: [runs * tensors.length * columns, ...tensors[0].shape.slice(1)] };
  return imageGridPng(shown, { range: [-1, 1], columns, scale: layout.scale });
}

/** The images with their missing pixels (mask 0) drawn mid-grey. */
export function shadeMissing(images: Tensor, mask: Tensor): Tensor {
  const data = images.data.slice();
  for (let i = 0; i < data.length; i++) if (mask.data[i] === 0) data[i] = 0;
  return { data, shape: [...images.shape] };
}

/** loss.png of a latent run: the reconstruction error per pixel (log scale), else the generator loss. */
export function latentLossPng(records: readonly ProgressRecord[], title: string): Buffer {
  if (records.length === 0) throw new EbmIoError('no training records to plot (metrics.jsonl is empty)');
  const recon = records.every((r) => typeof r.reconMse === 'number' && (r.reconMse as number) > 0);
  const x = records.map((r) => r.step);
  if (recon) {
    return curvesPng([{ name: 'reconstruction MSE', x, y: records.map((r) => r.reconMse as number) }], {
      title,
      xLabel: 'step',
      yLabel: 'MSE per pixel',
      logY: true,
    });
  }
  return curvesPng([{ name: 'loss', x, y: records.map((r) => r.loss) }], { title, xLabel: 'step', yLabel: 'loss' });
}
