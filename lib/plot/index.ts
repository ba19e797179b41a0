/** PNG pictures: 2D densities and energy landscapes, scatter plots, training curves and image grids. */
import { EbmConfigError } from '../errors';
import { writeFileAtomic } from '../fsutil';

export { Canvas, textWidth, fitText } from './canvas';
export type { Rgb, StrokeOptions, TextOptions } from './canvas';
export { sequential, diverging, categorical, interpolateStops, colormapTable } from './colormap';
export type { Colormap, ColorStop } from './colormap';
export { densityPng } from './density';
export type { DensityGrid, DensityOptions } from './density';
export { scatterPng } from './scatter';
export type { ScatterSet, ScatterOptions } from './scatter';
export { curvesPng } from './curves';
export type { CurveSeries, CurvesOptions } from './curves';
export { imageGridPng } from './image-grid';
export type { ImageGridOptions } from './image-grid';

/** Writes PNG bytes atomically: a temporary file in the same directory, flushed, then renamed over `path`. */
export function writePng(path: string, png: Buffer): void {
  if (!(png instanceof Uint8Array)) throw new EbmConfigError('png must be a Buffer (from densityPng, curvesPng, ...)');
  writeFileAtomic(path, png, 'PNG');
}
