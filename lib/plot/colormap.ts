/** Colour maps by linear interpolation between control points, and a categorical palette. */
import { EbmConfigError } from '../errors';
import { checkNumber, describeValue, rejectUnknownKeys, requireObject } from '../validate';
import { checkRgb, Rgb } from './canvas';

export interface ColorStop {
  /** position in [0, 1]; stops are sorted by it */
  at: number;
  color: Rgb;
}

/** A colour map takes t in [0, 1] (clamped; NaN gives the low end) to a colour. */
export type Colormap = (t: number) => Rgb;

/** Sequential, perceptually ordered dark purple → blue → green → yellow (viridis-like). */
export const sequentialStops: readonly ColorStop[] = [
  { at: 0, color: [68, 1, 84] },
  { at: 0.13, color: [71, 44, 122] },
  { at: 0.25, color: [59, 81, 139] },
  { at: 0.38, color: [44, 113, 142] },
  { at: 0.5, color: [33, 144, 141] },
  { at: 0.63, color: [39, 173, 129] },
  { at: 0.75, color: [92, 200, 99] },
  { at: 0.88, color: [170, 220, 50] },
  { at: 1, color: [253, 231, 37] },
];

/** Diverging blue → light grey → red; 0.5 is the neutral midpoint. */
export const divergingStops: readonly ColorStop[] = [
  { at: 0, color: [49, 54, 149] },
  { at: 0.2, color: [90, 130, 200] },
  { at: 0.4, color: [180, 205, 230] },
  { at: 0.5, color: [242, 242, 242] },
  { at: 0.6, color: [245, 195, 170] },
  { at: 0.8, color: [215, 95, 70] },
  { at: 1, color: [165, 0, 38] },
];

/** Linear interpolation between sorted stops. */
export function interpolateStops(stops: readonly ColorStop[], t: number): Rgb {
  if (!Array.isArray(stops) || stops.length === 0) {
    throw new EbmConfigError(`stops must be a non-empty array of { at, color }, got ${describeValue(stops)}`);
  }
  stops.forEach((stop: unknown, i) => {
    const s = requireObject(stop, `stops[${i}]`);
    rejectUnknownKeys(s, ['at', 'color'], `stops[${i}]`);
    const at = checkNumber(s.at, `stops[${i}].at`, { min: 0, max: 1 });
    if (i > 0 && !(at > stops[i - 1].at)) throw new EbmConfigError(`stops[${i}].at must be > stops[${i - 1}].at`);
    checkRgb(s.color, `stops[${i}].color`);
  });
  return lerpStops(stops, checkT(t));
}

/** A colour map's t: any number (NaN gives the low end), nothing else. */
function checkT(t: unknown): number {
  if (typeof t !== 'number') throw new EbmConfigError(`t must be a number, got ${describeValue(t)}`);
  return t;
}

/** interpolateStops without the checks, for the built-in maps. */
function lerpStops(stops: readonly ColorStop[], t: number): Rgb {
  const u = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t));
  if (u <= stops[0].at) return stops[0].color;
  for (let i = 1; i < stops.length; i++) {
    const b = stops[i];
    if (u <= b.at) {
      const a = stops[i - 1];
      const f = (u - a.at) / (b.at - a.at);
      return [
        Math.round(a.color[0] + f * (b.color[0] - a.color[0])),
        Math.round(a.color[1] + f * (b.color[1] - a.color[1])),
        Math.round(a.color[2] + f * (b.color[2] - a.color[2])),
      ];
    }
  }
  return stops[stops.length - 1].color;
}

export const sequential: Colormap = (t) => lerpStops(sequentialStops, checkT(t));
export const diverging: Colormap = (t) => lerpStops(divergingStops, checkT(t));

/** `n` colours sampled evenly from a map, packed RGB (3n bytes), for fast per-pixel lookup. */
export function colormapTable(map: Colormap, n = 256): Uint8Array {
  if (typeof map !== 'function')
    throw new EbmConfigError(`map must be a colour map function, got ${describeValue(map)}`);
  checkNumber(n, 'n', { integer: true, min: 1, max: 65536 });
  const lut = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) lut.set(map(n === 1 ? 0 : i / (n - 1)), 3 * i);
  return lut;
}

const PALETTE: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

/** The i-th colour of a ten-colour categorical palette (cycles). */
export function categorical(i: number): Rgb {
  checkNumber(i, 'i', { integer: true });
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}
